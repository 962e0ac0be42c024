"""The engine's command line, killed at a chosen checkpoint: a real process death on demand.

``python -m tests.integration.crash_driver WHEN ARGS...`` runs ``main(ARGS)`` and, when
the run reaches the checkpoint named by ``WHEN``:

- ``kill:NAME:N``: the ``N``-th (0-based) checkpoint called NAME sends SIGKILL to itself;
- ``wait:NAME:FILE``: at the first checkpoint NAME, creates ``FILE.reached`` and waits
  (at most 60 s) for ``FILE`` to exist, then goes on: a run held at a known point while a
  test starts another;
- ``none``: no crash.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from PaymentProcess.core import payment_processor
from PaymentProcess.main import main

WAIT_LIMIT = 60.0


def install(when: str) -> None:
    """Patch the processor's checkpoint hook according to ``when``."""
    if when == "none":
        return
    action, name, argument = when.split(":", 2)
    original = payment_processor.PaymentProcessor._hook
    seen: dict[str, int] = {}

    def hook(self: payment_processor.PaymentProcessor, checkpoint: str) -> None:
        original(self, checkpoint)
        count = seen.get(checkpoint, 0)
        seen[checkpoint] = count + 1
        if checkpoint != name:
            return
        if action == "kill" and count == int(argument):
            os.kill(os.getpid(), signal.SIGKILL)
        if action == "wait" and count == 0:
            release = Path(argument)
            Path(f"{argument}.reached").touch()
            deadline = time.monotonic() + WAIT_LIMIT
            while not release.exists() and time.monotonic() < deadline:
                time.sleep(0.02)

    payment_processor.PaymentProcessor._hook = hook


if __name__ == "__main__":
    install(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
