"""The text summary: every finding with its message and details, the payee table with headers."""

from __future__ import annotations

from decimal import Decimal

from PaymentProcess.core import validation as codes
from PaymentProcess.data.models.stats import PayeeRow, PaymentEventStats
from PaymentProcess.utils.report import render_summary


def _stats(stage: str = "DRY_RUN") -> PaymentEventStats:
    return PaymentEventStats(run_id="R1", payment_event_id="PE-1", stage=stage, started_at=None)


def _row(key: str, **values: object) -> PayeeRow:
    figures = {"PaymentCenter_ID": 7, "key": key, "name": "North Clinic", "status": "ACTIVE",
               "method": "CHECK", "disbursed": Decimal("0.00"), "held": Decimal("0.00"),
               "offset": Decimal("0.00"), "recouped": Decimal("0.00"),
               "under_consumed": Decimal("0.00"), "new_over": Decimal("0.00")}
    return PayeeRow(**(figures | values))


def test_a_finding_shows_its_message_and_the_detail_of_each_sample() -> None:
    stats = _stats()
    stats.report.add(codes.CONFIG_INVALID, "PE-1", "FundingSource FS-9 not found")
    lines = render_summary(stats).splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("CONFIG_INVALID"))
    assert lines[at].split()[:2] == ["CONFIG_INVALID", "1"]
    assert codes.CONFIG_INVALID.message in lines[at]
    assert lines[at + 1].strip() == "PE-1: FundingSource FS-9 not found"


def test_the_payee_table_has_headers_and_says_why_money_is_held() -> None:
    stats = _stats("FINAL")
    stats.payees = [
        _row("PROVIDER:1:1", disbursed=Decimal("97.82"), offset=Decimal("29.44"),
             recouped=Decimal("50.00"), number="500120"),
        _row("PROVIDER:2:2", PaymentCenter_ID=8, name="", status="HOLD",
             held=Decimal("49.00"), held_reason="HOLD"),
        _row("PROVIDER:3:3", PaymentCenter_ID=9, method="EFT", held=Decimal("4.00"),
             held_reason="BELOW_MINIMUM"),
    ]
    lines = render_summary(stats).splitlines()
    header = lines.index(next(line for line in lines if line.strip().startswith("key ")))
    assert lines[header].split() == ["key", "name", "id", "status", "method", "disbursed",
                                     "held", "why", "held", "offset", "recouped", "number"]
    assert lines[header + 1].split() == ["PROVIDER:1:1", "North", "Clinic", "7", "ACTIVE",
                                         "CHECK", "97.82", "0.00", "-", "29.44", "50.00",
                                         "500120"]
    assert lines[header + 2].split() == ["PROVIDER:2:2", "-", "8", "HOLD", "CHECK", "0.00",
                                         "49.00", "HOLD", "0.00", "0.00", "-"]
    assert lines[header + 3].split()[6:9] == ["0.00", "4.00", "BELOW_MINIMUM"]
