"""Claim documents (``ClaimWSCore``) and their service lines, validated with pydantic.

The models are strict about structure and money (a bad amount is the finding
``BAD_AMOUNT``) but keep the fields the business rules judge — frequency code,
identifiers, linkage — as plain optional text, so that each defect becomes the spec's
own finding instead of a generic parse error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

from PaymentProcess.data.models.common import (
    DOCUMENT_CONFIG,
    DateField,
    Money,
    OptionalText,
    Party,
    ProcedureCode,
    Text,
    Units,
    _date,
    _optional_text,
    _party,
    _procedure_code,
    _text,
    _units,
)
from PaymentProcess.utils.money import parse_amount

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
    procedure_code: ProcedureCode = None
    units: Units = None
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
    provider: Party = None
    member: Party = None
    service_lines: list[ServiceLine]

    @property
    def reference(self) -> str | None:
        """The version a 7 replaces or an 8 voids."""
        if self.FrequencyCode == FrequencyCode.REPLACEMENT:
            return self.OriginalClaimCore_ID
        if self.FrequencyCode == FrequencyCode.VOID:
            return self.VoidClaimCore_ID
        return None


def claim_label(doc: Any) -> str:
    """A printable ClaimCore_ID for a raw document, even a malformed one (for findings)."""
    if isinstance(doc, dict):
        for field in ("ClaimCore_ID", "_id"):
            value = doc.get(field)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value)  # bounded by the report (printable)
    return "<unidentified>"


# --- fast path ------------------------------------------------------------------------------
# ``Claim.model_validate`` costs about 120 µs a claim through pydantic's Python-level field
# validators. Nearly every stored claim has the plain shape the store writes (text, dates,
# Decimal128 amounts, lists of documents), so :func:`fast_claim` builds the same model by
# calling the very same field validators directly, and steps aside (returns None) at the
# first value of any other shape, leaving the document to ``model_validate`` and its
# findings. tests/unit/test_claim_fast_path.py checks it against ``model_validate``.

_CLAIM_OPTIONAL_TEXT = ("FrequencyCode", "OriginalClaimCore_ID", "VoidClaimCore_ID",
                        "BenefitPlan_ID", "patient_control_number", "NPI", "TIN", "MemberID")
_CLAIM_TYPES = {member.value: member for member in ClaimType}
_CLAIM_STATUSES = {member.value: member for member in ClaimStatus}
_MAX_LINE_NO = 10**6
_new_model = object.__new__
_set_attribute = object.__setattr__


def _built(cls: type[BaseModel], values: dict[str, Any]) -> Any:
    """A model instance holding already validated ``values`` (``model_construct``'s result,
    without its per-field alias and default lookups)."""
    model = _new_model(cls)
    _set_attribute(model, "__dict__", values)
    _set_attribute(model, "__pydantic_fields_set__", set(values))
    _set_attribute(model, "__pydantic_extra__", None)
    _set_attribute(model, "__pydantic_private__", None)
    return model


def _fast_line(document: Any) -> ServiceLine | None:
    if type(document) is not dict:
        return None
    line_no = document.get("line_no")
    if line_no is not None and (type(line_no) is not int or not 0 <= line_no <= _MAX_LINE_NO):
        return None
    service_date = document.get("service_date")
    values = {
        "line_no": line_no,
        "procedure_code": _procedure_code(document.get("procedure_code")),
        "units": _units(document.get("units")),
        "service_date": None if service_date is None else _date(service_date),
    }
    for name in AMOUNT_FIELDS:
        values[name] = parse_amount(document[name])  # BadAmount is a ValueError
    return _built(ServiceLine, values)


def fast_claim(document: dict[str, Any]) -> Claim | None:
    """The :class:`Claim` ``model_validate`` would build, or None to let it decide.

    None is not a verdict: the document may be valid in a shape the fast path does not
    take (an int identifier, a tuple of lines...) or invalid; either way the caller
    validates it with the model, which also names every defect.
    """
    get = document.get
    try:
        claim_type, claim_status = document["ClaimType"], document["ClaimStatus"]
        optional = [get(name) for name in _CLAIM_OPTIONAL_TEXT]
        raw_lines = document["service_lines"]
        if (type(claim_type) is not str or type(claim_status) is not str
                or type(raw_lines) is not list
                or any(value is not None and type(value) is not str for value in optional)):
            return None
        text = dict(zip(_CLAIM_OPTIONAL_TEXT, map(_optional_text, optional), strict=True))
        lines = [_fast_line(raw_line) for raw_line in raw_lines]
        if None in lines:
            return None
        values = {
            "id": _text(document["_id"]),
            "ClaimCore_ID": _text(document["ClaimCore_ID"]),
            "PaymentEvent_ID": _text(document["PaymentEvent_ID"]),
            "ClaimType": _CLAIM_TYPES[claim_type],
            "ClaimStatus": _CLAIM_STATUSES[claim_status],
            "FrequencyCode": text["FrequencyCode"],
            "ParentClaimCore_ID": _text(document["ParentClaimCore_ID"]),
            "OriginalClaimCore_ID": text["OriginalClaimCore_ID"],
            "VoidClaimCore_ID": text["VoidClaimCore_ID"],
            "BenefitPlan_ID": text["BenefitPlan_ID"],
            "received_date": _date(document["received_date"]),
            "patient_control_number": text["patient_control_number"],
            "NPI": text["NPI"],
            "TIN": text["TIN"],
            "MemberID": text["MemberID"],
            "provider": _party(get("provider")),
            "member": _party(get("member")),
            "service_lines": lines,
        }
    except (KeyError, ValueError):  # a field missing or failing its validator
        return None
    return _built(Claim, values)
