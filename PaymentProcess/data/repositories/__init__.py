"""Data access: one repository per store area, all on the process's single connection."""

from PaymentProcess.data.repositories.claim_repository import ClaimRepository
from PaymentProcess.data.repositories.event_repository import EventRepository
from PaymentProcess.data.repositories.payment_center_repo import PaymentCenterRepository
from PaymentProcess.data.repositories.payment_repository import PaymentRepository

__all__ = ["ClaimRepository", "EventRepository", "PaymentCenterRepository", "PaymentRepository"]
