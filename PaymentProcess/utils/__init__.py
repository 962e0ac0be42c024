"""Cross-cutting helpers: logging, exceptions, money."""

from PaymentProcess.utils.error_handling import (
    ConcurrencyError,
    ConfigurationError,
    CriticalValidationError,
    PaymentProcessError,
    RepositoryError,
    SequenceNumberError,
    StageError,
    ValidationError,
)
from PaymentProcess.utils.logging import configure_logging, get_logger

__all__ = ["ConcurrencyError", "ConfigurationError", "CriticalValidationError",
           "PaymentProcessError", "RepositoryError", "SequenceNumberError", "StageError",
           "ValidationError", "configure_logging", "get_logger"]
