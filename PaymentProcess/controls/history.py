"""An event's history (spec section 14): every run, approval, resume and void, oldest first.

Built from the records only: ``PaymentEventStats`` (dry, validate-only and final runs),
``PaymentEvent.approvals`` and ``final_run.resumed_by``, and the ``ControlAction`` journal
(voids and reissues). Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from PaymentProcess.data.repositories.control_repository import ControlRepository
from PaymentProcess.utils.error_handling import ConfigurationError
from PaymentProcess.utils.money import money_str, parse_amount

HEADERS = ("kind", "id", "who", "when", "status", "disbursed", "payees")


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One line of the history: what happened, its id, who, when, its status and totals."""

    kind: str
    id: str
    who: str
    when: datetime | None
    status: str
    disbursed: Decimal | None = None
    payees: int | None = None

    def cells(self) -> tuple[str, ...]:
        """The row as text, in :data:`HEADERS` order."""
        return (self.kind, self.id, self.who, stamp(self.when), self.status,
                "" if self.disbursed is None else money_str(self.disbursed),
                "" if self.payees is None else str(self.payees))

    def as_json(self) -> dict[str, Any]:
        """JSON form: times in ISO 8601, amounts as two-place strings."""
        return dict(zip(HEADERS, self.cells(), strict=True)) | {
            "when": self.when.isoformat() if self.when else None}


def stamp(value: Any) -> str:
    """A stored time as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), empty when absent."""
    return f"{value:%Y-%m-%dT%H:%M:%SZ}" if isinstance(value, datetime) else ""


def _amount(value: Any) -> Decimal | None:
    return None if value is None else parse_amount(value)


def load_event(repository: ControlRepository, payment_event_id: str) -> dict[str, Any]:
    """The raw event; unknown is a usage error (exit 2)."""
    event = repository.load_event(payment_event_id)
    if event is None:
        raise ConfigurationError(f"unknown payment event {payment_event_id!r}")
    return event


def event_history(repository: ControlRepository, payment_event_id: str) -> list[HistoryRow]:
    """Every run and control action of the event, oldest first."""
    event = load_event(repository, payment_event_id)
    rows = [
        HistoryRow(kind=stats.get("stage", "?"), id=str(stats["_id"]),
                   who=stats.get("run_by") or "", when=stats.get("started_at"),
                   status=stats.get("status", "?"),
                   disbursed=_amount((stats.get("totals") or {}).get("disbursed")),
                   payees=(stats.get("counts") or {}).get("payees"))
        for stats in repository.run_stats(payment_event_id)
    ]
    current = (event.get("approval") or {}).get("run_id")
    latest_dry = (event.get("dry_run") or {}).get("run_id")
    for approval in event.get("approvals") or []:
        in_force = approval["run_id"] == current == latest_dry
        rows.append(HistoryRow(kind="APPROVAL", id=approval["run_id"],
                               who=approval.get("approver", ""),
                               when=approval.get("approved_at"),
                               status="APPROVED" if in_force else "SUPERSEDED"))
    final_run = event.get("final_run") or {}
    for run_id in final_run.get("resumed_by") or []:
        finished = run_id == final_run.get("run_id") and event.get("stage") == "FINAL"
        rows.append(HistoryRow(kind="RESUME", id=run_id, who="", when=None,
                               status="FINISHED" if finished else "TAKEN_OVER"))
    for action in repository.actions(payment_event_id):
        rows.append(HistoryRow(kind=action["kind"], id=action["_id"], who=action.get("by", ""),
                               when=action.get("at"),
                               status=f"{action.get('status')} {action.get('reason', '')}".strip(),
                               disbursed=_amount(action.get("amount"))))
    # Times are stored to the millisecond: on a tie an approval goes first (it cannot
    # precede the start of the dry run it approves by less than that run takes).
    return sorted(rows, key=lambda row: (row.when or datetime.max, row.kind != "APPROVAL",
                                         row.id))


def render_history(payment_event_id: str, rows: list[HistoryRow]) -> str:
    """The history as an aligned text table."""
    table = [HEADERS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    lines = [f"history of {payment_event_id}: {len(rows)} entries"]
    lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                       strict=True)).rstrip()
              for line in table]
    return "\n".join(lines)


def show(repository: ControlRepository, payment_event_id: str, entry_id: str) -> dict[str, Any]:
    """The stored record of one run (``PaymentEventStats``) or control action of the event."""
    document = repository.stats(entry_id) or repository.action(entry_id)
    if document is None or document.get("PaymentEvent_ID") != payment_event_id:
        raise ConfigurationError(f"{entry_id!r} is not a run or control action of "
                                 f"{payment_event_id}: python -m PaymentProcess.controls "
                                 f"history -p {payment_event_id} lists them")
    return document


__all__ = ["HistoryRow", "event_history", "render_history", "show", "stamp"]
