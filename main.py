"""Run the payment cycle engine: ``python main.py -p PE -m dry-run|final``."""

import sys

from PaymentProcess.main import main

if __name__ == "__main__":
    sys.exit(main())
