"""Core logic: orchestration, validation, chains, lines, settlement, payees."""

from PaymentProcess.core.claim_processor import ClaimTransformer, evaluate_batch, group_by_parent
from PaymentProcess.core.payment_center import PaymentCenterManager
from PaymentProcess.core.payment_processor import PaymentProcessor, Repositories, RunSettings
from PaymentProcess.core.service_line_processor import ServiceLineProcessor
from PaymentProcess.core.settlement import settle_payee
from PaymentProcess.core.validation import Validation

__all__ = ["ClaimTransformer", "PaymentCenterManager", "PaymentProcessor", "Repositories",
           "RunSettings", "ServiceLineProcessor", "Validation", "evaluate_batch",
           "group_by_parent", "settle_payee"]
