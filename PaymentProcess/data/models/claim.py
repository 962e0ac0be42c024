"""Claim documents (``ClaimWSCore``) and their service lines, validated with pydantic.

The models are strict about structure and money (a bad amount is the finding
``BAD_AMOUNT``) but keep the fields the business rules judge — frequency code,
identifiers, linkage — as plain optional text, so that each defect becomes the spec's
own finding instead of a generic parse error.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from bson.decimal128 import Decimal128
from pydantic import BaseModel, Field

from PaymentProcess.data.models.common import (
    DOCUMENT_CONFIG,
    MAX_TEXT,
    DateField,
    Money,
    OptionalText,
    Text,
)
from PaymentProcess.utils.money import BadAmount, parse_amount

AMOUNT_FIELDS = ("billed", "allowed", "deductible", "coinsurance", "copay", "cob_paid")


class ClaimType(StrEnum):
    """Kind of claim form."""

    PROFESSIONAL = "PROFESSIONAL"
    INSTITUTIONAL = "INSTITUTIONAL"
    DENTAL = "DENTAL"


class ClaimStatus(StrEnum):
    """Adjudication outcome; a DENIED claim pays nothing."""

    APPROVED = "APPROVED"
    DENIED = "DENIED"


class FrequencyCode(StrEnum):
    """1 original, 7 replacement, 8 void."""

    ORIGINAL = "1"
    REPLACEMENT = "7"
    VOID = "8"


class ServiceLine(BaseModel):
    """One service line as adjudicated: the six amounts drive the payment."""

    model_config = DOCUMENT_CONFIG
    line_no: Annotated[int, Field(ge=0, le=10**6)] | None = None
    procedure_code: Annotated[str, Field(max_length=48)] | None = None
    units: Any = None
    service_date: DateField | None = None
    billed: Money
    allowed: Money
    deductible: Money
    coinsurance: Money
    copay: Money
    cob_paid: Money


class Claim(BaseModel):
    """A claim version staged for a payment event."""

    model_config = DOCUMENT_CONFIG
    id: Text = Field(alias="_id")
    ClaimCore_ID: Text
    PaymentEvent_ID: Text
    ClaimType: Annotated[ClaimType, Field(strict=False)]
    ClaimStatus: Annotated[ClaimStatus, Field(strict=False)]
    FrequencyCode: OptionalText = None
    ParentClaimCore_ID: Text
    OriginalClaimCore_ID: OptionalText = None
    VoidClaimCore_ID: OptionalText = None
    BenefitPlan_ID: OptionalText = None
    received_date: DateField
    patient_control_number: OptionalText = None
    NPI: OptionalText = None
    TIN: OptionalText = None
    MemberID: OptionalText = None
    provider: dict[str, Any] | None = None
    member: dict[str, Any] | None = None
    service_lines: list[ServiceLine]

    @property
    def reference(self) -> str | None:
        """The version a 7 replaces or an 8 voids."""
        if self.FrequencyCode == FrequencyCode.REPLACEMENT:
            return self.OriginalClaimCore_ID
        if self.FrequencyCode == FrequencyCode.VOID:
            return self.VoidClaimCore_ID
        return None


# ---------------------------------------------------------------- fast construction
# ``Claim.model_validate`` costs about 100 µs for a claim of a few lines, most of the
# engine's compute time. ``construct_claim`` builds the very same ``Claim`` directly when
# every field has the plain, exact type the model accepts as is; for anything else it
# returns None and the caller runs the full validation, which reports the findings.
# A property test checks that both agree on random valid and invalid documents.

_CLAIM_TEXT = ("ClaimCore_ID", "PaymentEvent_ID", "ParentClaimCore_ID")
_CLAIM_OPTIONAL_TEXT = ("FrequencyCode", "OriginalClaimCore_ID", "VoidClaimCore_ID",
                        "BenefitPlan_ID", "patient_control_number", "NPI", "TIN", "MemberID")
_CLAIM_TYPES = {member.value: member for member in ClaimType}
_CLAIM_STATUSES = {member.value: member for member in ClaimStatus}
_LINE_FIELDS = frozenset(ServiceLine.model_fields)
_CLAIM_FIELDS = frozenset(name for name in Claim.model_fields if name != "id")
_MISSING = object()


def _build(cls: type[BaseModel], values: dict[str, Any], fields_set: set[str]) -> Any:
    """What ``model_validate`` would return, from values already validated."""
    instance = cls.__new__(cls)
    object.__setattr__(instance, "__dict__", values)
    object.__setattr__(instance, "__pydantic_fields_set__", fields_set)
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


def _plain_text(value: Any, limit: int) -> bool:
    return type(value) is str and 0 < len(value) <= limit


def _optional(value: Any) -> Any:
    """The model's value of an optional identifier, or _MISSING when it needs validation."""
    if value is None or value == "":
        return None
    if type(value) is str and len(value) <= MAX_TEXT:
        return value
    return _MISSING


def _construct_line(document: Any) -> ServiceLine | None:
    if type(document) is not dict:
        return None
    line_no = document.get("line_no")
    if line_no is not None and not (type(line_no) is int and 0 <= line_no <= 10**6):
        return None
    code = document.get("procedure_code")
    if code is not None and not (type(code) is str and len(code) <= 48):
        return None
    service_date = document.get("service_date")
    if service_date is not None:
        if type(service_date) is not datetime or service_date.tzinfo is not None:
            return None
        service_date = service_date.date()
    values: dict[str, Any] = {"line_no": line_no, "procedure_code": code,
                              "units": document.get("units"), "service_date": service_date}
    for name in AMOUNT_FIELDS:
        amount = document.get(name, _MISSING)
        if type(amount) is not Decimal128:
            return None
        try:
            values[name] = parse_amount(amount)
        except BadAmount:
            return None
    return _build(ServiceLine, values, set(_LINE_FIELDS.intersection(document)))


def construct_claim(document: Any) -> Claim | None:
    """The ``Claim`` that ``Claim.model_validate(document)`` returns, or None to validate."""
    if type(document) is not dict:
        return None
    document_id = document.get("_id")
    if not _plain_text(document_id, MAX_TEXT):
        return None
    values: dict[str, Any] = {"id": document_id}
    for name in _CLAIM_TEXT:
        value = document.get(name)
        if not _plain_text(value, MAX_TEXT):
            return None
        values[name] = value
    claim_type = _CLAIM_TYPES.get(document.get("ClaimType")) \
        if type(document.get("ClaimType")) is str else None
    status = _CLAIM_STATUSES.get(document.get("ClaimStatus")) \
        if type(document.get("ClaimStatus")) is str else None
    if claim_type is None or status is None:
        return None
    values["ClaimType"], values["ClaimStatus"] = claim_type, status
    for name in _CLAIM_OPTIONAL_TEXT:
        value = _optional(document.get(name))
        if value is _MISSING:
            return None
        values[name] = value
    received = document.get("received_date")
    if type(received) is not datetime or received.tzinfo is not None:
        return None
    values["received_date"] = received.date()
    for name in ("provider", "member"):
        party = document.get(name)
        if party is not None:
            if type(party) is not dict or not all(type(key) is str for key in party):
                return None
            party = dict(party)
        values[name] = party
    raw_lines = document.get("service_lines")
    if type(raw_lines) is not list:
        return None
    lines = []
    for raw in raw_lines:
        line = _construct_line(raw)
        if line is None:
            return None
        lines.append(line)
    values["service_lines"] = lines
    fields_set = set(_CLAIM_FIELDS.intersection(document))
    fields_set.add("id")
    return _build(Claim, values, fields_set)


def claim_label(doc: Any) -> str:
    """A printable ClaimCore_ID for a raw document, even a malformed one (for findings)."""
    if isinstance(doc, dict):
        for field in ("ClaimCore_ID", "_id"):
            value = doc.get(field)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value)[:64]
    return "<unidentified>"

