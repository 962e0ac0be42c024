"""Collection names of the data contract (spec section 3) and the indexes the engine uses."""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.database import Database

PAYMENT_EVENT = "PaymentEvent"
INCLUSION_CRITERIA = "InclusionCriteria"
FUNDING_SOURCE = "FundingSource"
INTEREST_RULES = "InterestRules"
PAYMENT_CENTER = "PaymentCenter"
PAYMENT_CENTER_WS = "PaymentCenterWS"
CLAIM_WS = "ClaimWSCore"
CLAIM_FIN = "ClaimFinCore"
OVER_UNDER = "OverUnder"
SEQUENCES = "Sequences"
PAYMENT_INFO = "PaymentInfo"
PAYMENTS = "Payments"
PAYMENT_ESTIMATE = "PaymentEstimate"
PAYMENT_SETTLEMENT = "PaymentSettlement"
PAYMENT_EVENT_STATS = "PaymentEventStats"
RUN_BACKUP = "RunBackup"
REMITTANCE_FILE = "RemittanceFile"
CONTROL_ACTION = "ControlAction"
TREASURY_FILE = "TreasuryFile"
INPUT_MANIFEST = "InputManifest"

INDEXES: dict[str, list[tuple[list[tuple[str, int]], dict]]] = {
    CLAIM_WS: [([("PaymentEvent_ID", ASCENDING), ("ParentClaimCore_ID", ASCENDING),
                 ("_id", ASCENDING)], {}),
               ([("denial_reason", ASCENDING)], {"sparse": True})],
    CLAIM_FIN: [([("ParentClaimCore_ID", ASCENDING)], {}), ([("ClaimCore_IDs", ASCENDING)], {}),
                ([("PaymentEvent_ID", ASCENDING), ("PaymentCenter_ID", ASCENDING)], {})],
    PAYMENT_CENTER: [([("key", ASCENDING)], {"unique": True})],
    OVER_UNDER: [([("PaymentCenter_ID", ASCENDING), ("status", ASCENDING)], {})],
    PAYMENT_INFO: [([("PaymentEvent_ID", ASCENDING)], {})],
    PAYMENTS: [([("PaymentEvent_ID", ASCENDING)], {})],
    RUN_BACKUP: [([("PaymentEvent_ID", ASCENDING)], {})],
    CONTROL_ACTION: [([("PaymentEvent_ID", ASCENDING)], {})],
    PAYMENT_SETTLEMENT: [([("PaymentEvent_ID", ASCENDING)], {}),
                         ([("new_over_id", ASCENDING)], {})],
    PAYMENT_EVENT_STATS: [([("PaymentEvent_ID", ASCENDING)], {})],
    INPUT_MANIFEST: [([("PaymentEvent_ID", ASCENDING)], {})],
}


def ensure_indexes(db: Database) -> None:
    """Create the indexes behind every lookup the engine makes (idempotent)."""
    for collection, indexes in INDEXES.items():
        for keys, options in indexes:
            db[collection].create_index(keys, **options)
