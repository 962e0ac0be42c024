"""The run summary an operator reads on stdout, and the JSON form of the stats."""

from __future__ import annotations

from typing import Any

from bson import json_util

from PaymentProcess.data.models.stats import (
    Finding,
    PayeeRow,
    PaymentEventStats,
    Severity,
    printable,
)
from PaymentProcess.utils.money import money_str

_TOTAL_LABELS = [
    ("billed", "billed (versions in force)"), ("allowed", "allowed"),
    ("reduction", "payment reduction"), ("paid", "claim paid"), ("net", "net this cycle"),
    ("interest", "interest"), ("recouped_this_cycle", "recouped by offset"),
    ("prior_over_offsets", "prior OVER offsets"), ("under_consumed", "UNDER consumed"),
    ("new_over", "new OVER"), ("new_under", "new UNDER (held)"), ("disbursed", "disbursed"),
]


def render_json(stats: PaymentEventStats) -> str:
    """The stats document as relaxed Extended JSON (amounts as ``$numberDecimal``)."""
    return json_util.dumps(stats.as_document(), json_options=json_util.RELAXED_JSON_OPTIONS,
                           indent=2)


_PAYEE_COLUMNS = ("key", "name", "id", "status", "method", "disbursed", "held", "why held",
                  "offset", "recouped", "number")
_NUMERIC = {"id", "disbursed", "held", "offset", "recouped"}
_MAX_NAME = 30


def payee_table(rows: list[PayeeRow]) -> list[str]:
    """The payees as an aligned table with a header line, one payee a line."""
    cells = [[row.key, printable(row.name, _MAX_NAME) or "-", str(row.PaymentCenter_ID),
              row.status, row.method, money_str(row.disbursed), money_str(row.held),
              row.held_reason or "-", money_str(row.offset), money_str(row.recouped),
              row.number or "-"] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells))
              for i, column in enumerate(_PAYEE_COLUMNS)]

    def line(values: tuple[str, ...] | list[str]) -> str:
        return "  ".join(value.rjust(width) if column in _NUMERIC else value.ljust(width)
                         for column, value, width in zip(_PAYEE_COLUMNS, values, widths,
                                                         strict=True)).rstrip()

    return [line(_PAYEE_COLUMNS), *(line(values) for values in cells)]


def finding_lines(finding: Finding) -> list[str]:
    """A finding: code, count and message, then its counts or each sample with its detail."""
    lines = [f"{finding.code:<22}{finding.count:>7}  {finding.message}"]
    if finding.counts:
        lines.append("  " + ", ".join(f"{key} {n}" for key, n in sorted(finding.counts.items())))
    for sample in finding.samples:
        detail = finding.details.get(sample)
        lines.append(f"  {sample}: {detail}" if detail else f"  {sample}")
    return lines


def render_summary(stats: PaymentEventStats) -> str:
    """A readable summary: outcome, counts, totals, findings, disbursements, where written."""
    counts: dict[str, Any] = stats.counts
    lines = [
        f"PaymentProcess {stats.stage} of {stats.payment_event_id}: {stats.status}",
        f"  run id   {stats.run_id}",
        f"  store    {stats.store}",
        f"  claims   {counts.get('claims', 0)} read, {counts.get('claims_settled', 0)} settled; "
        f"chains {counts.get('chains_included', 0)} included, "
        f"{counts.get('chains_excluded', 0)} excluded, {counts.get('chains_blocked', 0)} blocked",
        f"  payees   {counts.get('payees', 0)} ({counts.get('new_payees', 0)} new)",
    ]
    if stats.stage != "VALIDATE_ONLY":
        lines.append("  totals")
        lines += [f"    {label:<28}{money_str(getattr(stats.totals, name)):>16}"
                  for name, label in _TOTAL_LABELS]
    if stats.payees:
        lines.append("  payees")
        lines += ["    " + line for line in payee_table(stats.payees)]
    by_method = counts.get("disbursements_by_method", {})
    if by_method:
        methods = ", ".join(
            f"{method} {n} ({money_str(stats.disbursed_by_method[method])})"
            for method, n in sorted(by_method.items()))
        lines.append(f"  disbursements {methods}")
    for severity in (Severity.CRITICAL, Severity.WARNING, Severity.INFO):
        findings = stats.report.by_severity(severity)
        if findings:
            lines.append(f"  {severity.value.lower()} findings")
        for finding in findings:
            lines += ["    " + line for line in finding_lines(finding)]
    if stats.status == "BLOCKED" and stats.stage == "FINAL":
        lines.append("  nothing was written: fix the critical findings, rerun the dry run")
    elif stats.written:
        lines.append("  written  " + ", ".join(stats.written))
    return "\n".join(lines)
