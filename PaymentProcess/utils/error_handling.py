"""Exception taxonomy of the engine.

Every exception the engine raises on purpose derives from :class:`PaymentProcessError`
and carries the process exit code of spec section 11, so ``main`` can turn any of them
into one line on stderr and the right exit status without a traceback.
"""

from __future__ import annotations

from typing import Any

PAID_NOT_WRITTEN = 5
"""Exit code: the event is paid (FINAL), but an output file of the run was not written."""


class PaymentProcessError(Exception):
    """Base class: a failure the engine understands. ``exit_code`` follows spec section 11."""

    exit_code = 4


class ConfigurationError(PaymentProcessError):
    """Bad arguments, no db URI, unknown payment event, malformed run configuration."""

    exit_code = 2


class ValidationError(PaymentProcessError):
    """Input that violates a business rule (reported as findings, exit 1)."""

    exit_code = 1


class CriticalValidationError(ValidationError):
    """Critical findings block a final run before anything is written."""


class StageError(PaymentProcessError):
    """The event's stage refuses the requested run (already final, running, no dry run)."""

    exit_code = 3


class ConcurrencyError(StageError):
    """Another run holds the event or the embedded store directory."""


class RepositoryError(PaymentProcessError):
    """The store failed or could not be reached while running; a final run can be resumed."""

    exit_code = 4


class SequenceNumberError(PaymentProcessError):
    """A number sequence could not be allocated consistently."""

    exit_code = 4


class PaidNotWrittenError(PaymentProcessError):
    """The payments are FINAL but the run's output files could not be written (exit 5).

    ``stats`` is the final run's record (``PaymentEventStats``), so its summary is printed
    all the same. The 835 and bank-file steps raise their own subclasses.
    """

    exit_code = PAID_NOT_WRITTEN

    def __init__(self, message: str, stats: Any) -> None:
        super().__init__(message)
        self.stats = stats
