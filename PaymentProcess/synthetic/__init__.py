"""Deterministic synthetic payment cycles: ``generate(db, SyntheticOptions(...))``."""

from PaymentProcess.synthetic.generator import (
    FIRST_DUE_DATE,
    PRIOR_EVENT_ID,
    GenerationSummary,
    SyntheticOptions,
    event_id,
    generate,
)
from PaymentProcess.synthetic.malformed import CRITICAL_CODES
from PaymentProcess.synthetic.parties import npi_is_valid

__all__ = [
    "CRITICAL_CODES",
    "FIRST_DUE_DATE",
    "PRIOR_EVENT_ID",
    "GenerationSummary",
    "SyntheticOptions",
    "event_id",
    "generate",
    "npi_is_valid",
]
