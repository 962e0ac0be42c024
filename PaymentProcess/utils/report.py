"""The run summary an operator reads on stdout, and the JSON form of the stats."""

from __future__ import annotations

import json
from typing import Any

from bson import json_util

from PaymentProcess.data.models.stats import PaymentEventStats, Severity
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
        for payee in stats.payees:
            number = f" #{payee['number']}" if payee.get("number") is not None else ""
            lines.append(f"    {payee['key']:<36} {str(payee['PaymentCenter_ID'] or '-'):>6} "
                         f"{payee['outcome']:<13} {payee['method']:<5} "
                         f"{money_str(payee['amount']):>12}{number}")
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
            if finding.counts:
                detail = json.dumps(dict(sorted(finding.counts.items())))
            else:
                detail = ", ".join(finding.samples)
            lines.append(f"    {finding.code:<22}{finding.count:>7}  {detail}")
    if stats.status == "BLOCKED" and stats.stage == "FINAL":
        lines.append("  nothing was written: fix the critical findings, rerun the dry run")
    elif stats.written:
        lines.append("  written  " + ", ".join(stats.written))
    return "\n".join(lines)
