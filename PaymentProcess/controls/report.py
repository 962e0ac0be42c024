"""The auditor's report of one run (spec section 14): a self-contained HTML page.

Rendered with Jinja2 (autoescaped) from the stored record only: the run's stats (totals,
per-payee rows with held and offset amounts and reasons, findings with details and
samples), the event's approval, the voids and reissues of a final run, and an inline SVG
chart of the disbursement distribution. No script, stylesheet or image is fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from PaymentProcess.controls.compare import payee_rows
from PaymentProcess.controls.history import load_event, stamp
from PaymentProcess.data.models.stats import PayeeRow
from PaymentProcess.data.repositories.control_repository import ControlRepository
from PaymentProcess.utils.error_handling import ConfigurationError, StageError
from PaymentProcess.utils.money import ZERO, money_str, parse_amount
from PaymentProcess.utils.report import _TOTAL_LABELS as TOTAL_LABELS

BUCKETS = 8
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 640, 200, 6


@dataclass(frozen=True, slots=True)
class Bar:
    """One bucket of the disbursement chart: its range, how many payees, its geometry."""

    low: Decimal
    high: Decimal
    count: int
    x: int
    y: int
    width: int
    height: int


def distribution(amounts: list[Decimal], buckets: int = BUCKETS) -> list[Bar]:
    """Disbursed amounts (> 0) in ``buckets`` equal ranges ``(low, high]`` from 0 to the
    largest, as bars."""
    paid = [amount for amount in amounts if amount > 0]
    if not paid:
        return []
    top = max(paid)
    step = top / buckets
    counts = [0] * buckets
    for amount in paid:
        ceiling = int((amount / step).to_integral_value(rounding=ROUND_CEILING))
        counts[min(max(ceiling - 1, 0), buckets - 1)] += 1
    tallest = max(counts)
    width = (CHART_WIDTH - BAR_GAP * (buckets + 1)) // buckets
    bars = []
    for index, count in enumerate(counts):
        height = round(count * (CHART_HEIGHT - 20) / tallest)
        bars.append(Bar(low=(step * index).quantize(Decimal("0.01")),
                        high=(step * (index + 1)).quantize(Decimal("0.01")), count=count,
                        x=BAR_GAP + index * (width + BAR_GAP), y=CHART_HEIGHT - height,
                        width=width, height=height))
    return bars


def _environment() -> Environment:
    environment = Environment(loader=PackageLoader("PaymentProcess.controls", "templates"),
                              autoescape=select_autoescape(default=True),
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["money"] = lambda value: "" if value is None else money_str(
        parse_amount(value))
    environment.filters["stamp"] = stamp
    return environment


def report_context(repository: ControlRepository, payment_event_id: str,
                   run_id: str | None = None) -> dict[str, Any]:
    """Everything the page shows, for the run ``run_id`` (default: the final run, else the
    latest dry run)."""
    event = load_event(repository, payment_event_id)
    run_id = run_id or (event.get("final_run") or {}).get("run_id") or (
        event.get("dry_run") or {}).get("run_id")
    if run_id is None:
        raise StageError(f"payment event {payment_event_id} has no dry or final run to report "
                         "on yet")
    stats = repository.stats(run_id)
    if stats is None or stats.get("PaymentEvent_ID") != payment_event_id:
        raise ConfigurationError(f"{run_id!r} is not a run of {payment_event_id}: "
                                 f"python -m PaymentProcess.controls history -p "
                                 f"{payment_event_id} lists them")
    rows: list[PayeeRow] = sorted(payee_rows(stats).values(), key=lambda row: row.key)
    totals = {name: parse_amount(value) for name, value in (stats.get("totals") or {}).items()}
    approval = event.get("approval")
    if approval and stats.get("stage") == "DRY_RUN" and approval.get("run_id") != run_id:
        approval = None  # the approval is of another dry run
    actions = repository.actions(payment_event_id) if stats.get("stage") == "FINAL" else []
    return {
        "event": event, "stats": stats, "payees": rows, "approval": approval,
        "totals": [(name, label, totals.get(name, ZERO)) for name, label in TOTAL_LABELS],
        "findings": stats.get("findings") or [], "actions": actions,
        "held": sum((row.held for row in rows), ZERO),
        "disbursed": sum((row.disbursed for row in rows), ZERO),
        "bars": distribution([row.disbursed for row in rows]),
        "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT},
    }


def render_report(context: dict[str, Any]) -> str:
    """The HTML page of :func:`report_context`."""
    return _environment().get_template("audit_report.html.j2").render(**context)


def write_report(repository: ControlRepository, payment_event_id: str, out: Path,
                 run_id: str | None = None) -> Path:
    """Render the report of the run and write it to ``out`` (atomically); returns ``out``."""
    html = render_report(report_context(repository, payment_event_id, run_id))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        temporary = out.with_name(out.name + ".tmp")
        temporary.write_text(html, encoding="utf-8")
        temporary.replace(out)
    except OSError as exc:
        raise ConfigurationError(f"cannot write the report {out}: "
                                 f"{exc.strerror or exc}") from None
    return out
