"""Loading and validating a payment event's configuration documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from pymongo.database import Database

from PaymentProcess.data.models.event import (
    ENGINE_OWNED_FIELDS,
    FundingSource,
    InclusionCriteria,
    InterestRules,
    NumberSequence,
    PaymentEvent,
    is_event_id,
)
from PaymentProcess.data.repositories.collections import (
    FUNDING_SOURCE,
    INCLUSION_CRITERIA,
    INTEREST_RULES,
    PAYMENT_EVENT,
    SEQUENCES,
)
from PaymentProcess.utils.error_handling import ConfigurationError


@dataclass(frozen=True, slots=True)
class EventConfig:
    """An event with its criteria, funding source and interest rules, all valid."""

    event: PaymentEvent
    criteria: InclusionCriteria
    funding: FundingSource
    interest: InterestRules
    documents: tuple[dict[str, Any], ...]


class ConfigInvalid(Exception):
    """The event's configuration is missing or malformed: the finding CONFIG_INVALID."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


MAX_PROBLEMS_PER_DOCUMENT = 10


def describe_errors(collection: str, document_id: Any, exc: PydanticValidationError) -> list[str]:
    """One line per defect: ``Collection <id>: field: message`` (at most ten a document)."""
    errors = exc.errors(include_url=False, include_input=False)
    problems = [
        f"{collection} {document_id!r}: {'.'.join(str(p) for p in e['loc'])[:120] or '<document>'}"
        f": {e['msg']}"
        for e in errors[:MAX_PROBLEMS_PER_DOCUMENT]
    ]
    if len(errors) > MAX_PROBLEMS_PER_DOCUMENT:
        problems.append(f"{collection} {document_id!r}: and "
                        f"{len(errors) - MAX_PROBLEMS_PER_DOCUMENT} more defects")
    return problems


class ConfigLoader:
    """Reads the event and the three documents it names, validated with pydantic."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def load_payment_event(self, payment_event_id: str) -> tuple[dict[str, Any], PaymentEvent]:
        """The event (raw and validated); unknown event is a usage error (exit 2).

        The id is checked before it reaches the store: only a plain string matching
        ``EVENT_ID_PATTERN`` is ever used in a query, never a document or an operator.
        """
        if not is_event_id(payment_event_id):
            raise ConfigurationError("invalid payment event id: 1-100 letters, digits, '.', "
                                     "'_', ':' or '-', starting with a letter or digit")
        raw = self.db[PAYMENT_EVENT].find_one({"_id": payment_event_id})
        if raw is None:
            raise ConfigurationError(f"unknown payment event {payment_event_id!r}")
        try:
            return raw, PaymentEvent.model_validate(raw)
        except PydanticValidationError as exc:
            raise ConfigInvalid(describe_errors(PAYMENT_EVENT, payment_event_id, exc)) from None

    def _load(self, model: type[BaseModel], collection: str, document_id: Any,
              problems: list[str]) -> tuple[dict[str, Any] | None, Any]:
        raw = self.db[collection].find_one({"_id": document_id})
        if raw is None:
            problems.append(f"{collection} {document_id!r} is missing")
            return None, None
        try:
            return raw, model.model_validate(raw)
        except PydanticValidationError as exc:
            problems.extend(describe_errors(collection, document_id, exc))
            return raw, None

    def _check_sequences(self, funding_source_id: str, problems: list[str]) -> None:
        """The number sequences the event draws from must be well formed when present.

        A missing sequence starts at its default (spec 3.1); one whose ``next`` is not a
        whole number, or whose recorded allocations are garbage, would make the final
        run fail half-way or give a number twice, so it is ``CONFIG_INVALID`` up front.
        Sequences are not part of the fingerprint: they only move in final runs.
        """
        for name in (f"check:{funding_source_id}", f"eft:{funding_source_id}", "PaymentCenter"):
            raw = self.db[SEQUENCES].find_one({"_id": name})
            if raw is None:
                continue
            try:
                NumberSequence.model_validate(raw)
            except PydanticValidationError as exc:
                problems.extend(describe_errors(SEQUENCES, name, exc))

    def load(self, payment_event_id: str) -> EventConfig:
        """Everything a run needs to know about the event, or :class:`ConfigInvalid`."""
        raw_event, event = self.load_payment_event(payment_event_id)
        problems: list[str] = []
        raw_criteria, criteria = self._load(InclusionCriteria, INCLUSION_CRITERIA,
                                            event.inclusion_criteria_id, problems)
        raw_funding, funding = self._load(FundingSource, FUNDING_SOURCE,
                                          event.funding_source_id, problems)
        raw_interest, interest = self._load(InterestRules, INTEREST_RULES,
                                            event.interest_rules_id, problems)
        if funding is not None:
            self._check_sequences(funding.id, problems)
        if problems:
            raise ConfigInvalid(problems)
        event_inputs = {k: v for k, v in raw_event.items() if k not in ENGINE_OWNED_FIELDS}
        return EventConfig(event, criteria, funding, interest,
                           (event_inputs, raw_criteria, raw_funding, raw_interest))
