"""Settling a payee (spec section 7): offsets, UNDER consumption, OVER recovery, disbursement."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from bson.decimal128 import Decimal128
from hypothesis import given, settings
from hypothesis import strategies as st

from PaymentProcess.core.settlement import (
    MAX_REFERENCES,
    PayeeSettlement,
    PayeeTotals,
    settle_payee,
)
from PaymentProcess.data.models.over_under import OverUnderRecord
from PaymentProcess.data.models.payment_center import PayeeStatus, PaymentMethod
from tests.conftest import GOLDEN_STORE, read_store

D = Decimal
EVENT = "PE-G1"
ACTIVE, HOLD = PayeeStatus.ACTIVE, PayeeStatus.HOLD
CHECK, EFT = PaymentMethod.CHECK, PaymentMethod.EFT


def record(record_id: str, kind: str, remaining: str, created: date = date(2026, 10, 1),
           event: str = "PE-PRIOR", total: str | None = None) -> OverUnderRecord:
    return OverUnderRecord.model_validate({
        "_id": record_id, "PaymentCenter_ID": 101, "type": kind, "reason": "X",
        "total": Decimal128(total or remaining), "remaining": Decimal128(remaining),
        "status": "OPEN", "created_event_id": event,
        "created_date": datetime.combine(created, datetime.min.time()),
    })


def totals(pos: str = "0.00", neg: str = "0.00") -> PayeeTotals:
    return PayeeTotals(pos=D(pos), neg=D(neg))


def settle(pos: str = "0.00", neg: str = "0.00", records: list[OverUnderRecord] | None = None,
           status: PayeeStatus = ACTIVE, minimum: str = "5.00",
           method: PaymentMethod = CHECK) -> PayeeSettlement:
    return settle_payee("PROVIDER:741000001:1000000012", 101, method, status, totals(pos, neg),
                        records or [], EVENT, D(minimum))


def figures(s: PayeeSettlement) -> dict[str, str]:
    return {name: str(getattr(s, name)) for name in (
        "consumed_under", "offset", "new_over", "over_offsets", "amount", "new_under",
        "disbursed")}


def conserved(s: PayeeSettlement) -> None:
    assert s.totals.pos + s.consumed_under == (s.offset + s.over_offsets + s.new_under
                                               + s.disbursed)
    assert s.totals.neg == s.offset + s.new_over


# --- the golden payees ---------------------------------------------------------------------


def golden_inputs(expected: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Each golden payee's totals (from its chains' ledger entries), records, method, status."""
    store = read_store(GOLDEN_STORE)
    payees = {d["_id"]: d for d in store["PaymentCenter"]}
    records_by_payee: dict[int, list[OverUnderRecord]] = defaultdict(list)
    for document in store["OverUnder"]:
        if document["status"] == "OPEN":
            records_by_payee[document["PaymentCenter_ID"]].append(
                OverUnderRecord.model_validate(document))
    chain_totals: dict[int, PayeeTotals] = defaultdict(PayeeTotals)
    for parent, entry in sorted(expected["PE-G1"]["ledger_entries_by_chain"].items()):
        chain_totals[entry["PaymentCenter_ID"]].add_chain(
            parent, D(entry["benefit_amount"]), D(entry["interest_amount"]))
    return {
        payee_id: {
            "totals": chain_totals[payee_id],
            "records": records_by_payee.get(payee_id, []),
            "method": PaymentMethod(payees[payee_id]["payment_method"]) if payee_id in payees
            else CHECK,
            "status": PayeeStatus(payees[payee_id]["status"]) if payee_id in payees else ACTIVE,
        }
        for payee_id in chain_totals
    }


def golden_minimum() -> Decimal:
    [event] = [e for e in read_store(GOLDEN_STORE)["PaymentEvent"] if e["_id"] == EVENT]
    return event["min_payment_amount"].to_decimal()


@pytest.mark.parametrize("payee_id", ["101", "102", "103", "105", "106", "107", "200"])
def test_golden_payee_settlement(expected: dict[str, Any], payee_id: str) -> None:
    inputs = golden_inputs(expected)[int(payee_id)]
    want = expected["PE-G1"]["settlement_by_payee"][payee_id]
    s = settle_payee(f"payee-{payee_id}", int(payee_id), inputs["method"], inputs["status"],
                     inputs["totals"], inputs["records"], EVENT, golden_minimum())
    got = {"pos": str(s.totals.pos), "neg": str(s.totals.neg), **figures(s),
           "method": s.method.value}
    for name in ("pos", "neg", "consumed_under", "offset", "over_offsets", "amount",
                 "disbursed", "method"):
        assert got[name] == want[name], name
    conserved(s)
    created = {rid: r for rid, r in expected["PE-G1"]["over_under_after"].items()
               if r.get("new") and r["PaymentCenter_ID"] == int(payee_id)}
    assert str(s.new_over) == next((r["total"] for r in created.values() if r["type"] == "OVER"),
                                   "0.00")
    assert str(s.new_under) == next((r["total"] for r in created.values()
                                     if r["type"] == "UNDER"), "0.00")
    assert s.under_reason == next((r["reason"] for r in created.values()
                                   if r["type"] == "UNDER"), None)
    applied = {c.record_id: (str(c.amount), str(c.remaining))
               for c in s.under_consumed + s.over_applied}
    want_applied = {rid: (r["applied_by_event"], r["remaining"])
                    for rid, r in expected["PE-G1"]["over_under_after"].items()
                    if "applied_by_event" in r and rid in {x.id for x in inputs["records"]}}
    assert applied == want_applied


def test_golden_payees_cover_every_expected_payee(expected: dict[str, Any]) -> None:
    assert {str(p) for p in golden_inputs(expected)} == set(
        expected["PE-G1"]["settlement_by_payee"])


# --- rules ---------------------------------------------------------------------------------


def test_plain_disbursement() -> None:
    s = settle("50.00")
    assert figures(s) == {"consumed_under": "0.00", "offset": "0.00", "new_over": "0.00",
                          "over_offsets": "0.00", "amount": "50.00", "new_under": "0.00",
                          "disbursed": "50.00"}
    assert (s.outcome, s.under_reason, s.under_consumed, s.over_applied) == (
        "DISBURSED", None, [], [])


def test_negative_nets_offset_positive_ones_first() -> None:
    s = settle("177.26", "29.44")
    assert (str(s.offset), str(s.new_over), str(s.disbursed)) == ("29.44", "0.00", "147.82")


def test_what_cannot_be_offset_becomes_a_new_over() -> None:
    s = settle("19.60", "40.00")
    assert figures(s) == {"consumed_under": "0.00", "offset": "19.60", "new_over": "20.40",
                          "over_offsets": "0.00", "amount": "0.00", "new_under": "0.00",
                          "disbursed": "0.00"}
    assert s.outcome == "NONE"


def test_unders_are_consumed_whole() -> None:
    records = [record("U1", "UNDER", "3.00"), record("U2", "UNDER", "10.00", date(2026, 9, 1))]
    s = settle("0.00", "5.00", records)
    assert [(c.record_id, str(c.amount), str(c.remaining)) for c in s.under_consumed] == [
        ("U2", "10.00", "0.00"), ("U1", "3.00", "0.00")]
    assert figures(s) == {"consumed_under": "13.00", "offset": "5.00", "new_over": "0.00",
                          "over_offsets": "0.00", "amount": "8.00", "new_under": "0.00",
                          "disbursed": "8.00"}


def test_an_under_alone_is_released_or_held_again() -> None:
    s = settle("0.00", "0.00", [record("U1", "UNDER", "3.00")])
    assert (str(s.consumed_under), str(s.new_under), s.under_reason) == (
        "3.00", "3.00", "BELOW_MINIMUM")
    s = settle("2.00", "0.00", [record("U1", "UNDER", "3.00")])
    assert (str(s.consumed_under), str(s.disbursed)) == ("3.00", "5.00")


def test_an_under_with_nothing_remaining_is_ignored() -> None:
    s = settle("10.00", "0.00", [record("U1", "UNDER", "0.00", total="4.00")])
    assert (s.under_consumed, str(s.consumed_under), str(s.disbursed)) == ([], "0.00", "10.00")


def test_overs_oldest_first_then_by_id() -> None:
    records = [record("OU-c", "OVER", "30.00", date(2026, 10, 15)),
               record("OU-b", "OVER", "20.00", date(2026, 9, 1)),
               record("OU-a", "OVER", "25.00", date(2026, 9, 1))]
    s = settle("60.00", "0.00", records)
    assert [(c.record_id, str(c.amount), str(c.remaining)) for c in s.over_applied] == [
        ("OU-a", "25.00", "0.00"), ("OU-b", "20.00", "0.00"), ("OU-c", "15.00", "15.00")]
    assert (str(s.over_offsets), str(s.amount), s.outcome) == ("60.00", "0.00", "NONE")


def test_golden_105_overs() -> None:
    records = [record("OU-5b", "OVER", "200.00", date(2026, 10, 15)),
               record("OU-5a", "OVER", "30.00", date(2026, 9, 1))]
    s = settle("100.00", "0.00", records)
    assert [(c.record_id, str(c.amount), str(c.remaining)) for c in s.over_applied] == [
        ("OU-5a", "30.00", "0.00"), ("OU-5b", "70.00", "130.00")]


def test_overs_are_recovered_after_the_offset_and_never_create_more_over() -> None:
    s = settle("30.00", "20.00", [record("O1", "OVER", "50.00")])
    assert figures(s) == {"consumed_under": "0.00", "offset": "20.00", "new_over": "0.00",
                          "over_offsets": "10.00", "amount": "0.00", "new_under": "0.00",
                          "disbursed": "0.00"}
    assert [(c.record_id, str(c.remaining)) for c in s.over_applied] == [("O1", "40.00")]


def test_no_over_applied_when_nothing_is_available() -> None:
    s = settle("10.00", "15.00", [record("O1", "OVER", "50.00")])
    assert (s.over_applied, str(s.new_over)) == ([], "5.00")


def test_an_over_created_by_this_event_is_not_applied() -> None:
    records = [record("PE-G1:101:OVER", "OVER", "40.00", date(2026, 11, 20), event=EVENT),
               record("O-old", "OVER", "10.00", date(2026, 11, 1))]
    s = settle("100.00", "0.00", records)
    assert [c.record_id for c in s.over_applied] == ["O-old"]
    assert (str(s.over_offsets), str(s.disbursed)) == ("10.00", "90.00")


def test_an_over_with_nothing_remaining_is_ignored() -> None:
    s = settle("100.00", "0.00", [record("O1", "OVER", "0.00", total="5.00")])
    assert (s.over_applied, str(s.disbursed)) == ([], "100.00")


def test_hold_keeps_the_money_as_a_new_under() -> None:
    s = settle("49.00", status=HOLD)
    assert (str(s.amount), str(s.new_under), str(s.disbursed), s.under_reason, s.outcome) == (
        "49.00", "49.00", "0.00", "HOLD", "HELD")
    s = settle("1.00", status=HOLD)  # below the minimum too: HOLD is the reason
    assert (s.under_reason, s.outcome) == ("HOLD", "HELD")


def test_hold_with_nothing_to_pay_creates_nothing() -> None:
    s = settle("0.00", "12.00", status=HOLD)
    assert (str(s.new_under), s.under_reason, str(s.new_over), s.outcome) == (
        "0.00", None, "12.00", "NONE")


@pytest.mark.parametrize(
    ("pos", "minimum", "outcome", "disbursed", "new_under"),
    [
        ("4.00", "5.00", "BELOW_MINIMUM", "0.00", "4.00"),
        ("4.99", "5.00", "BELOW_MINIMUM", "0.00", "4.99"),
        ("5.00", "5.00", "DISBURSED", "5.00", "0.00"),
        ("0.01", "0.01", "DISBURSED", "0.01", "0.00"),
        ("0.01", "0.00", "DISBURSED", "0.01", "0.00"),
        ("0.00", "0.00", "NONE", "0.00", "0.00"),
    ],
)
def test_minimum_payment(pos: str, minimum: str, outcome: str, disbursed: str,
                         new_under: str) -> None:
    s = settle(pos, minimum=minimum, method=EFT)
    assert (s.outcome, str(s.disbursed), str(s.new_under)) == (outcome, disbursed, new_under)
    assert s.method is EFT


def test_settlement_keeps_the_payee_identity() -> None:
    s = settle_payee("DMR:M1", None, EFT, ACTIVE, totals("10.00"), [], EVENT, D("0.01"))
    assert (s.key, s.payee_id, s.method, s.payee_status, s.number) == (
        "DMR:M1", None, EFT, ACTIVE, None)


# --- PayeeTotals ---------------------------------------------------------------------------


def test_payee_totals_add_chains() -> None:
    t = PayeeTotals()
    t.add_chain("C1001", D("157.34"), D("3.88"))
    t.add_chain("C2001", D("-29.44"), D("0.00"))
    t.add_chain("C6002", D("0.00"), D("0.00"))
    t.add_chain("C9001", D("16.04"), D("0.00"))
    assert (str(t.pos), str(t.neg), t.chains) == ("177.26", "29.44", 4)
    assert (t.positive_chains, t.negative_chains) == (["C1001", "C9001"], ["C2001"])


def test_payee_totals_merge_sorts_references() -> None:
    by_key, by_id = PayeeTotals(), PayeeTotals()
    by_key.add_chain("C4001", D("19.60"), D("0.00"))
    by_id.add_chain("C3001", D("-40.00"), D("0.00"))
    by_id.add_chain("C1000", D("1.00"), D("0.00"))
    by_key.merge(by_id)
    assert (str(by_key.pos), str(by_key.neg), by_key.chains) == ("20.60", "40.00", 3)
    assert (by_key.positive_chains, by_key.negative_chains) == (["C1000", "C4001"], ["C3001"])


def test_payee_totals_keep_at_most_the_reference_cap() -> None:
    t = PayeeTotals()
    for i in range(MAX_REFERENCES + 5):
        t.add_chain(f"C{i:05d}", D("1.00"), D("0.00"))
    assert (len(t.positive_chains), t.chains, str(t.pos)) == (MAX_REFERENCES,
                                                            MAX_REFERENCES + 5, "1005.00")


# --- properties ----------------------------------------------------------------------------

cents = st.integers(0, 10**9).map(lambda c: Decimal(c).scaleb(-2))


@st.composite
def settlement_inputs(draw: Any) -> dict[str, Any]:
    count = draw(st.integers(0, 6))
    records = [
        record(f"R{draw(st.integers(0, 99)):02d}-{i}", draw(st.sampled_from(["OVER", "UNDER"])),
               str(draw(cents)), date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 3))),
               event=draw(st.sampled_from(["PE-PRIOR", EVENT])))
        for i in range(count)
    ]
    return {"pos": draw(cents), "neg": draw(cents), "records": records,
            "status": draw(st.sampled_from([ACTIVE, HOLD])),
            "minimum": draw(st.sampled_from([D("0.00"), D("0.01"), D("5.00"), D("100.00")]))}


@settings(max_examples=150, deadline=None)
@given(settlement_inputs())
def test_conservation_and_order_hold_for_any_inputs(inputs: dict[str, Any]) -> None:
    s = settle_payee("K", 7, CHECK, inputs["status"], PayeeTotals(pos=inputs["pos"],
                                                                 neg=inputs["neg"]),
                     inputs["records"], EVENT, inputs["minimum"])
    conserved(s)
    unders = [r for r in inputs["records"] if r.type == "UNDER" and r.remaining > 0]
    overs = sorted((r for r in inputs["records"] if r.type == "OVER"
                    and r.created_event_id != EVENT and r.remaining > 0),
                   key=lambda r: (r.created_date, r.id))
    assert s.consumed_under == sum((r.remaining for r in unders), D("0"))
    assert sorted(c.record_id for c in s.under_consumed) == sorted(r.id for r in unders)
    assert all(c.remaining == 0 for c in s.under_consumed)
    available = inputs["pos"] + s.consumed_under
    assert s.offset == min(available, inputs["neg"])
    # OVERs: a prefix of the eligible ones in (created_date, _id) order, greedily
    available -= s.offset
    applied = [(c.record_id, c.amount, c.remaining) for c in s.over_applied]
    expected_applied = []
    for r in overs:
        if available <= 0:
            break
        take = min(available, r.remaining)
        available -= take
        expected_applied.append((r.id, take, r.remaining - take))
    assert applied == expected_applied
    assert s.over_offsets == sum((a for _, a, _ in applied), D("0"))
    assert s.amount == available == s.new_under + s.disbursed
    assert min(s.new_under, s.disbursed) == 0
    for value in (s.offset, s.new_over, s.over_offsets, s.amount, s.new_under, s.disbursed):
        assert value >= 0
    if s.disbursed > 0:
        assert inputs["status"] is ACTIVE and s.disbursed >= inputs["minimum"]
    if s.new_under > 0:
        assert s.under_reason == ("HOLD" if inputs["status"] is HOLD else "BELOW_MINIMUM")
    else:
        assert s.under_reason is None
