"""Payment event configuration documents: event, inclusion criteria, funding source, interest."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from PaymentProcess.data.models.common import DOCUMENT_CONFIG, DateField, Money, Text
from PaymentProcess.data.models.payment_center import PaymentCenterType

EVENT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
"""A payment event id: 1-100 ASCII letters, digits, ``.``, ``_``, ``:`` or ``-``.

It can never be a query operator, contain a ``$`` or a ``.`` path separator at its
start, or carry control characters; the command line and the config loader check it.
"""


def is_event_id(value: Any) -> bool:
    """True when ``value`` is a string matching :data:`EVENT_ID_PATTERN`."""
    return isinstance(value, str) and EVENT_ID_PATTERN.fullmatch(value) is not None


class RunMode(StrEnum):
    """What a run does: estimate (dry run) or pay (final)."""

    DRY_RUN = "dry-run"
    FINAL = "final"


class Stage(StrEnum):
    """``PaymentEvent.stage`` (spec section 9)."""

    NEW = "NEW"
    DRY_RUN = "DRY_RUN"
    FINAL_RUNNING = "FINAL_RUNNING"
    FINAL = "FINAL"


class Business(BaseModel):
    """Line of business and state, used to pick interest overrides."""

    model_config = DOCUMENT_CONFIG
    line_of_business: Text
    state: Text


class DryRunRecord(BaseModel):
    """``PaymentEvent.dry_run``: written by the engine, read by the final run's admission."""

    model_config = DOCUMENT_CONFIG
    run_id: Text
    fingerprint: Text
    critical_findings: Annotated[int, Field(ge=0)]
    run_by: str | None = None


class ApprovalRecord(BaseModel):
    """``PaymentEvent.approval``: the dry run a named approver approved (spec section 14)."""

    model_config = DOCUMENT_CONFIG
    run_id: Text
    fingerprint: Text
    approver: Text
    approved_at: datetime


class FinalRunRecord(BaseModel):
    """``PaymentEvent.final_run``: written by the engine, read by a resumed final run."""

    model_config = DOCUMENT_CONFIG
    run_id: Text
    inputs_fingerprint: Text
    backup_complete: bool = False
    resumed_by: list[Text] = []


ENGINE_OWNED_FIELDS = ("stage", "dry_run", "final_run", "approval", "approvals")


class PaymentEvent(BaseModel):
    """One payment cycle (``PaymentEvent`` collection)."""

    model_config = DOCUMENT_CONFIG
    id: Text = Field(alias="_id")
    name: str = ""
    pc_type: Annotated[PaymentCenterType, Field(strict=False)]
    type: str = "REGULAR"
    business: Business
    due_date: DateField
    inclusion_criteria_id: Text
    funding_source_id: Text
    interest_rules_id: Text
    min_payment_amount: Money = Decimal("0.01")
    payment_reduction_pct: Money = Decimal("0.00")
    stage: Annotated[Stage, Field(strict=False)] = Stage.NEW
    dry_run: DryRunRecord | None = None
    final_run: FinalRunRecord | None = None
    approval: ApprovalRecord | None = None
    approvals: list[ApprovalRecord] = []

    @model_validator(mode="before")
    @classmethod
    def _engine_fields_not_null(cls, data: Any) -> Any:
        """The engine's own records are absent or documents, never an explicit null."""
        if isinstance(data, dict):
            for name in ENGINE_OWNED_FIELDS:
                if name in data and data[name] is None:
                    raise ValueError(f"{name} is null")
        return data

    @model_validator(mode="after")
    def _check_ranges(self) -> PaymentEvent:
        if self.min_payment_amount < 0:
            raise ValueError("min_payment_amount is negative")
        if not 0 <= self.payment_reduction_pct <= 100:
            raise ValueError("payment_reduction_pct is outside 0..100")
        return self


class InclusionCriteria(BaseModel):
    """Which benefit plans and payees an event may pay; ``None`` keys allow every payee."""

    model_config = DOCUMENT_CONFIG
    id: Text = Field(alias="_id")
    benefit_plan_ids: Annotated[frozenset[Text], Field(strict=False)]
    payment_center_keys: Annotated[frozenset[Text] | None, Field(strict=False)] = None


class CheckRange(BaseModel):
    """Inclusive range of check numbers a funding source may issue."""

    model_config = DOCUMENT_CONFIG
    start: Annotated[int, Field(ge=1)]
    end: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _ordered(self) -> CheckRange:
        if self.end < self.start:
            raise ValueError("check_range end is below start")
        return self


class FundingSource(BaseModel):
    """Bank account context: check number range, EFT trace prefix and ``bank``.

    ``bank`` is kept raw: it is judged by
    :class:`~PaymentProcess.data.models.bank.FundingSourceBank` only when the event pays
    an EFT (``BANK_INVALID``), so a funding source that pays checks only needs none.
    """

    model_config = DOCUMENT_CONFIG
    id: Text = Field(alias="_id")
    name: str = ""
    check_range: CheckRange
    eft_trace_prefix: Annotated[str, Field(max_length=20)]
    bank: Any = None


class SequenceAllocation(BaseModel):
    """A block of numbers given to one event (recorded so that a replay gets it again)."""

    model_config = DOCUMENT_CONFIG
    event_id: Text
    start: Annotated[int, Field(ge=0, lt=2**63)]
    count: Annotated[int, Field(ge=0, lt=2**63)]


class NumberSequence(BaseModel):
    """A ``Sequences`` document: check numbers, EFT traces or PaymentCenter ids."""

    model_config = DOCUMENT_CONFIG
    id: Text = Field(alias="_id")
    next: Annotated[int, Field(ge=0, lt=2**63)]
    allocations: list[SequenceAllocation] = []


class InterestOverride(BaseModel):
    """Replaces the fields it gives for one state and line of business."""

    model_config = DOCUMENT_CONFIG
    state: Text
    line_of_business: Text
    annual_rate_pct: Money | None = None
    grace_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    min_interest: Money | None = None


@dataclass(frozen=True, slots=True)
class InterestTerms:
    """The interest rate, grace period and minimum in force for one event."""

    annual_rate_pct: Decimal
    grace_days: int
    min_interest: Decimal


class InterestRules(BaseModel):
    """Prompt-pay interest rules with per-state/line-of-business overrides."""

    model_config = DOCUMENT_CONFIG
    id: Text = Field(alias="_id")
    annual_rate_pct: Money
    grace_days: Annotated[int, Field(ge=0, le=3650)]
    min_interest: Money
    overrides: list[InterestOverride] = []

    @model_validator(mode="after")
    def _non_negative(self) -> InterestRules:
        values = [self.annual_rate_pct, self.min_interest]
        for override in self.overrides:
            values += [v for v in (override.annual_rate_pct, override.min_interest)
                       if v is not None]
        if any(v < 0 for v in values):
            raise ValueError("a rate or minimum is negative")
        return self

    def terms_for(self, business: Business) -> InterestTerms:
        """Apply the first override matching the event's state and line of business."""
        terms = InterestTerms(self.annual_rate_pct, self.grace_days, self.min_interest)
        for override in self.overrides:
            if (override.state, override.line_of_business) == (
                business.state,
                business.line_of_business,
            ):
                return InterestTerms(
                    _first(override.annual_rate_pct, terms.annual_rate_pct),
                    _first(override.grace_days, terms.grace_days),
                    _first(override.min_interest, terms.min_interest),
                )
        return terms


def _first(value, default):
    return default if value is None else value
