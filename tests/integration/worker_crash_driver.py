"""The engine's command line with pass 1 failing in a forked worker: a worker's death on demand.

``python -m tests.integration.worker_crash_driver WHAT ARGS...`` runs ``main(ARGS)``; the
first batch of pass 1 that a forked worker (not the run) computes then

- ``kill``: sends SIGKILL to the worker itself (the out-of-memory killer, say);
- ``fail``: raises ``RuntimeError("worker fault injected")``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from PaymentProcess.core import payment_processor
from PaymentProcess.main import main

RUN_PID = os.getpid()


def install(what: str) -> None:
    """Patch pass 1's batch function according to ``what``."""
    original = payment_processor.first_pass

    def first_pass(*args: Any) -> Any:
        if os.getpid() != RUN_PID:
            if what == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("worker fault injected")
        return original(*args)

    payment_processor.first_pass = first_pass


if __name__ == "__main__":
    install(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
