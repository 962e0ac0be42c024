"""A final run against the dry run its approver approved, payee by payee (spec section 14).

Both runs store one ``PayeeRow`` per payee (``PaymentEventStats.payees``). Every field a
dry run can know must be equal; the check or EFT number exists only once paid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bson.decimal128 import Decimal128

from PaymentProcess.controls.history import load_event
from PaymentProcess.data.models.stats import PayeeRow
from PaymentProcess.data.repositories.control_repository import ControlRepository
from PaymentProcess.utils.error_handling import ConfigurationError, StageError
from PaymentProcess.utils.money import parse_amount

COMPARED_FIELDS = tuple(name for name in PayeeRow.model_fields if name not in ("key", "number"))
COMPARED_TOTALS = ("net", "interest", "recouped_this_cycle", "prior_over_offsets",
                   "under_consumed", "new_over", "new_under", "disbursed")


@dataclass(slots=True)
class Comparison:
    """The two runs compared and every difference found (empty: equal)."""

    final_run_id: str
    dry_run_id: str
    payees: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        """True when no payee and no total differs."""
        return not self.differences


def payee_rows(stats: dict[str, Any]) -> dict[str, PayeeRow]:
    """The stored payee rows of a run, by payee key (amounts back to Decimal)."""
    return {row["key"]: PayeeRow.model_validate(
        {k: v.to_decimal() if isinstance(v, Decimal128) else v for k, v in row.items()})
        for row in stats.get("payees") or []}


def compare_with_approved(repository: ControlRepository, payment_event_id: str,
                          final_run_id: str | None = None) -> Comparison:
    """Compare the event's final run (or ``final_run_id``) with its approved dry run.

    Refused (exit 3) before the event is FINAL or when it has no approval on record.
    """
    event = load_event(repository, payment_event_id)
    if event.get("stage") != "FINAL":
        raise StageError(f"payment event {payment_event_id} is {event.get('stage', 'NEW')}: "
                         "only a FINAL event has a final run to compare")
    approval = event.get("approval")
    if not approval:
        raise StageError(f"payment event {payment_event_id} has no approved dry run on record")
    final_run_id = final_run_id or (event.get("final_run") or {}).get("run_id")
    final = repository.stats(final_run_id) if final_run_id else None
    if final is None or final.get("PaymentEvent_ID") != payment_event_id or final.get(
            "stage") != "FINAL":
        raise ConfigurationError(f"{final_run_id!r} is not a final run of {payment_event_id}")
    dry = repository.stats(approval["run_id"])
    if dry is None:
        raise StageError(f"the stats of the approved dry run {approval['run_id']} are missing")
    for run in (dry, final):
        if "payees" not in run:
            raise StageError(f"run {run['_id']} stored no per-payee rows (it predates them): "
                             "it cannot be compared payee by payee")
    comparison = Comparison(final["_id"], dry["_id"])
    dry_rows, final_rows = payee_rows(dry), payee_rows(final)
    comparison.payees = len(final_rows)
    for key in sorted(dry_rows.keys() | final_rows.keys()):
        mine, theirs = dry_rows.get(key), final_rows.get(key)
        if mine is None or theirs is None:
            where = "final run" if mine is None else "dry run"
            comparison.differences.append(f"payee {key}: only in the {where}")
            continue
        for name in COMPARED_FIELDS:
            if getattr(mine, name) != getattr(theirs, name):
                comparison.differences.append(
                    f"payee {key}: {name} dry run {getattr(mine, name)} "
                    f"final run {getattr(theirs, name)}")
    for name in COMPARED_TOTALS:
        dry_total = parse_amount((dry.get("totals") or {}).get(name, "0"))
        final_total = parse_amount((final.get("totals") or {}).get(name, "0"))
        if dry_total != final_total:
            comparison.differences.append(f"total {name}: dry run {dry_total} "
                                          f"final run {final_total}")
    return comparison
