"""PaymentProcess: the payment cycle engine (dry run and exactly-once final run)."""

from PaymentProcess.core.claim_processor import ClaimTransformer
from PaymentProcess.core.payment_center import PaymentCenterManager
from PaymentProcess.core.payment_processor import PaymentProcessor
from PaymentProcess.core.service_line_processor import ServiceLineProcessor
from PaymentProcess.core.validation import Validation

__all__ = [
    "ClaimTransformer",
    "PaymentCenterManager",
    "PaymentProcessor",
    "ServiceLineProcessor",
    "Validation",
]
__version__ = "0.1.0"
