"""Per-payee rows of a run (``PaymentEventStats.payees``): the dry run shows what the final pays."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from PaymentProcess.core.payment_processor import PaymentProcessor, Repositories, RunSettings
from PaymentProcess.data.config.config_loader import ConfigLoader
from PaymentProcess.data.models.stats import PayeeRow
from tests.approval_support import approve_latest
from tests.integration.test_golden_cycle import memory_store


def _rows(stored: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {row["PaymentCenter_ID"]: row for row in stored["payees"]}


def test_dry_and_final_runs_store_the_same_payee_rows(expected: dict[str, Any]) -> None:
    store = memory_store()
    processor = PaymentProcessor(ConfigLoader(store.db), Repositories.for_store(store, 1000),
                                 RunSettings(db_uri=store.uri), store)
    dry = processor.run_dry_run("PE-G1")
    approve_latest(store.db, "PE-G1")
    final = processor.run_final_run("PE-G1")

    assert [row.key for row in final.payees] == sorted(row.key for row in final.payees)
    by_id = {row.PaymentCenter_ID: row for row in final.payees}
    assert set(by_id) == {int(i) for i in expected["PE-G1"]["settlement_by_payee"]}
    assert by_id[101].disbursed == Decimal("97.82") and by_id[101].number == "500120"
    assert by_id[101].offset == Decimal("29.44") and by_id[101].recouped == Decimal("50.00")
    assert by_id[102].under_consumed == Decimal("3.00") and by_id[102].method == "EFT"
    assert (by_id[103].held, by_id[103].held_reason, by_id[103].status) == (
        Decimal("49.00"), "HOLD", "HOLD")
    assert (by_id[106].held, by_id[106].held_reason) == (Decimal("4.00"), "BELOW_MINIMUM")
    assert by_id[107].number == "EFT000000007"
    assert by_id[200].key == "PROVIDER:741000004:1000000046" and by_id[200].name

    # the dry run showed the same figures, new payee 200 with its projected id, no numbers
    assert [row.model_copy(update={"number": None}) for row in final.payees] == dry.payees

    stored = {d["stage"]: d for d in store.db.PaymentEventStats.find({"PaymentEvent_ID": "PE-G1"})}
    for stage, stats in (("DRY_RUN", dry), ("FINAL", final)):
        rows = _rows(stored[stage])
        assert {i: PayeeRow.model_validate(
            {k: v.to_decimal() if hasattr(v, "to_decimal") else v for k, v in row.items()})
            for i, row in rows.items()} == {row.PaymentCenter_ID: row for row in stats.payees}
    assert str(_rows(stored["FINAL"])[200]["disbursed"]) == "237.06"
