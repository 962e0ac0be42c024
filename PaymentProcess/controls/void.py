"""Void and reissue of one disbursement of a FINAL event (spec section 14), exactly once.

A void writes its intent first (a ``ControlAction`` journal, ``_id "<payment id>:VOID"``,
inserted once: a second void of the payment is refused), then its writes, each replayable:

1. the void on the payment (``Payments.void``: reason, time, who, action id), once;
2. without reissue: the payee's ``UNDER`` record ``VOID:<reason>`` (``_id`` the action id,
   referencing the payment), which the payee's next cycle consumes by the settlement rule;
   with ``--reissue``: a new number from the funding source's sequence (allocated to the
   action, so a replay gets the same one) and a new ``Payments`` document
   ``"<PE>:<PaymentCenter_ID>:R<n>"`` of the same amount with ``reissue_of``;
3. the journal marked ``DONE``.

A process killed at any moment leaves the journal ``STARTED``; ``--resume`` takes it over
and repeats the writes, ending as an uninterrupted void would. The embedded store is
checkpointed after each step.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from PaymentProcess.common.functions import Store
from PaymentProcess.controls.history import load_event, stamp
from PaymentProcess.core.records import as_datetime, eft_trace
from PaymentProcess.core.run_control import now_utc
from PaymentProcess.data.models.controls import ActionKind, ActionStatus, ControlAction, VoidReason
from PaymentProcess.data.models.event import FundingSource
from PaymentProcess.data.repositories import collections as coll
from PaymentProcess.data.repositories.control_repository import ControlRepository
from PaymentProcess.data.repositories.payment_repository import PaymentRepository
from PaymentProcess.utils.error_handling import (
    ConcurrencyError,
    ConfigurationError,
    SequenceNumberError,
    StageError,
)
from PaymentProcess.utils.money import parse_amount, to_decimal128


@dataclass(frozen=True, slots=True)
class VoidRequest:
    """What the operator asked: which payment, why, by whom, reissue or not, resume or not."""

    payment_event_id: str
    payment_id: str
    reason: VoidReason
    by: str
    reissue: bool = False
    resume: bool = False


def action_id_of(payment_id: str) -> str:
    """The journal id of the (only) void of a payment."""
    return f"{payment_id}:VOID"


class VoidProcessor:
    """Runs one void or reissue; ``hook`` is called after each checkpoint (tests)."""

    def __init__(self, store: Store, hook: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.controls = ControlRepository(store.db)
        self.payments = PaymentRepository(store.db)
        self.hook = hook

    def run(self, request: VoidRequest) -> ControlAction:
        """Void (and maybe reissue) the payment; returns the finished action."""
        action, owner = self._admit(request)
        self._checkpoint("begin", [coll.CONTROL_ACTION])
        self.controls.mark_void(action.payment_id, {
            "reason": action.reason.value, "at": action.at, "by": action.by,
            "action_id": action.id})
        number = None
        if action.kind is ActionKind.REISSUE:
            number = self._reissue(action)
        else:
            self.controls.insert_once(coll.OVER_UNDER, _under_record(action))
        self._checkpoint("writes", [coll.PAYMENTS, coll.OVER_UNDER, coll.SEQUENCES])
        if not self.controls.finish_action(action.id, owner, {"number": number}):
            raise ConcurrencyError(f"the void {action.id} was taken over by another process "
                                   "before it finished; that process completes it")
        self._checkpoint("finished", [coll.CONTROL_ACTION])
        return ControlAction.model_validate(self.controls.action(action.id))

    # ------------------------------------------------------------------ steps
    def _admit(self, request: VoidRequest) -> tuple[ControlAction, str]:
        """The action to run and this process's owner token: new, or taken over on --resume."""
        event = load_event(self.controls, request.payment_event_id)
        if event.get("stage") != "FINAL":
            raise StageError(f"payment event {request.payment_event_id} is "
                             f"{event.get('stage', 'NEW')}: only a disbursement of a FINAL "
                             "event can be voided")
        payment = self.controls.payment(request.payment_id)
        if payment is None or payment.get("PaymentEvent_ID") != request.payment_event_id:
            raise ConfigurationError(f"{request.payment_id!r} is not a disbursement of "
                                     f"{request.payment_event_id}")
        owner = uuid.uuid4().hex
        action_id = action_id_of(request.payment_id)
        existing = self.controls.action(action_id)
        if existing is not None:
            return self._take_over(request, existing, owner), owner
        if request.resume:
            raise StageError(f"there is no interrupted void of {request.payment_id} to resume")
        if payment.get("reissue_of") and self._unfinished(payment.get("action_id")):
            raise StageError(f"{request.payment_id} is the reissue of an unfinished void: "
                             f"resume that void first (--resume on {payment['reissue_of']})")
        action = self._new_action(request, payment, owner)
        if request.reissue:
            self._check_numbers_left(action, payment)
        if not self.controls.begin_action(_document(action)):
            raise ConcurrencyError(f"{request.payment_id} is being voided by another process")
        return action, owner

    def _take_over(self, request: VoidRequest, existing: dict[str, Any],
                   owner: str) -> ControlAction:
        action = _validated(existing)
        if action.status is ActionStatus.DONE:
            raise StageError(f"{request.payment_id} is already voided ({action.reason}) by "
                             f"{action.by} at {stamp(action.at)}: a payment is voided once")
        if not request.resume:
            raise StageError(f"a void of {request.payment_id} is in progress or was interrupted: "
                             "if it died, rerun with --resume")
        if not self.controls.take_over_action(action.id, action.owner, owner):
            raise ConcurrencyError(f"another process took over the void of {request.payment_id}")
        return action

    def _unfinished(self, action_id: str | None) -> bool:
        action = self.controls.action(action_id) if action_id else None
        return action is not None and action.get("status") != ActionStatus.DONE.value

    def _new_action(self, request: VoidRequest, payment: dict[str, Any],
                    owner: str) -> ControlAction:
        action_id = action_id_of(request.payment_id)
        count = int(payment.get("reissue_count", 0)) + 1
        reissue_id = (f"{request.payment_event_id}:{payment['PaymentCenter_ID']}:R{count}"
                      if request.reissue else None)
        return ControlAction.model_validate({
            "_id": action_id,
            "kind": (ActionKind.REISSUE if request.reissue else ActionKind.VOID).value,
            "PaymentEvent_ID": request.payment_event_id, "payment_id": request.payment_id,
            "PaymentCenter_ID": payment["PaymentCenter_ID"], "method": payment["method"],
            "amount": parse_amount(payment["amount"]), "reason": request.reason.value,
            "by": request.by, "at": now_utc().replace(microsecond=0, tzinfo=None),
            "owner": owner, "status": ActionStatus.STARTED.value,
            "under_id": None if request.reissue else action_id, "reissue_id": reissue_id,
            "reissue_count": count if request.reissue else 0})

    def _funding(self, payment: dict[str, Any]) -> FundingSource:
        document = self.store.db[coll.FUNDING_SOURCE].find_one(
            {"_id": payment.get("funding_source_id")})
        try:
            return FundingSource.model_validate(document)
        except PydanticValidationError:
            raise ConfigurationError(f"the funding source {payment.get('funding_source_id')!r} "
                                     f"of {payment['_id']} is missing or malformed: a reissue "
                                     "needs its number range") from None

    def _check_numbers_left(self, action: ControlAction, payment: dict[str, Any]) -> None:
        funding = self._funding(payment)
        if action.method != "CHECK":
            return
        start = max(self.payments.peek_sequence(f"check:{funding.id}") or 0,
                    funding.check_range.start)
        if start > funding.check_range.end:
            raise ConfigurationError(f"the check range of {funding.id} is used up "
                                     f"(end {funding.check_range.end}): nothing was voided")

    def _reissue(self, action: ControlAction) -> str:
        """Allocate the new number (once per action) and write the new disbursement."""
        original = self.controls.payment(action.payment_id)
        funding = self._funding(original)
        if action.method == "CHECK":
            number = self.payments.allocate_sequence(f"check:{funding.id}", action.id, 1,
                                                     funding.check_range.start)
            if number > funding.check_range.end:
                raise SequenceNumberError(f"check number {number} exceeds the range of "
                                          f"{funding.id}")
            stored: int | str = number
        else:
            stored = eft_trace(funding.eft_trace_prefix,
                               self.payments.allocate_sequence(f"eft:{funding.id}", action.id,
                                                               1, 1))
        self.controls.insert_once(coll.PAYMENTS, {
            "_id": action.reissue_id, "PaymentEvent_ID": action.PaymentEvent_ID,
            "PaymentCenter_ID": action.PaymentCenter_ID, "method": action.method,
            "number": stored, "amount": to_decimal128(action.amount),
            "issue_date": as_datetime(action.at.date()),
            "funding_source_id": original.get("funding_source_id"),
            "reissue_of": action.payment_id, "reissue_count": action.reissue_count,
            "action_id": action.id})
        return str(stored)

    def _checkpoint(self, name: str, collections: list[str]) -> None:
        self.store.checkpoint(collections)
        if self.hook is not None:
            self.hook(name)


def _validated(document: dict[str, Any]) -> ControlAction:
    try:
        return ControlAction.model_validate(document)
    except PydanticValidationError as exc:
        raise ConfigurationError(f"ControlAction {document.get('_id')!r} is malformed: "
                                 f"{exc.errors()[0]['msg']}") from None


def _document(action: ControlAction) -> dict[str, Any]:
    """Store form of the journal: enums as text, the amount as Decimal128."""
    document = {k: v.value if isinstance(v, Enum) else v
                for k, v in action.model_dump(by_alias=True).items()}
    return document | {"amount": to_decimal128(action.amount)}


def _under_record(action: ControlAction) -> dict[str, Any]:
    """The payee's UNDER record of a void without reissue (spec section 14)."""
    return {
        "_id": action.under_id, "PaymentCenter_ID": action.PaymentCenter_ID, "type": "UNDER",
        "reason": f"VOID:{action.reason.value}", "total": to_decimal128(action.amount),
        "remaining": to_decimal128(action.amount), "status": "OPEN",
        "created_event_id": action.PaymentEvent_ID,
        "created_date": as_datetime(action.at.date()), "applications": [],
        "references": [action.payment_id],
    }
