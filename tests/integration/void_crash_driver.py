"""``python -m tests.integration.void_crash_driver CHECKPOINT ARGS...``: runs
``python -m PaymentProcess.controls ARGS`` and sends SIGKILL to itself right after the void's
checkpoint named CHECKPOINT (``begin``, ``writes``, ``finished``): a real process death."""

from __future__ import annotations

import os
import signal
import sys

from PaymentProcess.controls import void
from PaymentProcess.controls.__main__ import main


def install(checkpoint: str) -> None:
    """Kill the process after the void's checkpoint ``checkpoint``."""
    original = void.VoidProcessor._checkpoint

    def killing(self: void.VoidProcessor, name: str, collections: list[str]) -> None:
        original(self, name, collections)
        if name == checkpoint:
            os.kill(os.getpid(), signal.SIGKILL)

    void.VoidProcessor._checkpoint = killing


if __name__ == "__main__":
    install(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
