"""The synthetic payment-cycle generator: determinism, schema, chains, bad claims, CLI."""

from __future__ import annotations

import math
import re
import sys
import types
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

import bson
import mongomock_ng
import pytest
from bson.decimal128 import Decimal128
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from PaymentProcess.common import functions
from PaymentProcess.core.validation import npi_is_valid
from PaymentProcess.synthetic import (
    CRITICAL_CODES,
    FIRST_DUE_DATE,
    PRIOR_EVENT_ID,
    SyntheticOptions,
    critical_codes,
    generate,
)
from PaymentProcess.synthetic.__main__ import main
from PaymentProcess.synthetic.additions import add_events
from PaymentProcess.synthetic.claims import (
    AMOUNT_FIELDS,
    EXCLUDED_PLAN,
    KINDS,
    SCENARIO_KINDS,
    money,
)
from PaymentProcess.synthetic.parties import make_npi
from PaymentProcess.utils.error_handling import ConfigurationError

COLLECTIONS = (
    "PaymentEvent", "InclusionCriteria", "FundingSource", "InterestRules", "PaymentCenter",
    "Sequences", "ClaimFinCore", "OverUnder", "ClaimWSCore",
)
CLAIM_FIELDS = {
    "_id": str, "ClaimCore_ID": str, "PaymentEvent_ID": str, "ClaimType": str,
    "ClaimStatus": str, "FrequencyCode": str, "ParentClaimCore_ID": str,
    "BenefitPlan_ID": str, "received_date": datetime, "patient_control_number": str,
    "NPI": str, "TIN": str, "provider": dict, "MemberID": str, "member": dict,
    "service_lines": list,
}
LINE_FIELDS = {"line_no": int, "procedure_code": str, "units": int, "service_date": datetime}


def luhn_npi(npi: object) -> bool:
    """Independent NPI check: 10 digits, Luhn over "80840" + NPI."""
    if not (isinstance(npi, str) and re.fullmatch(r"\d{10}", npi)):
        return False
    digits = [int(c) for c in reversed("80840" + npi)]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
                for i, d in enumerate(digits))
    return total % 10 == 0


def is_cents(value: object) -> bool:
    return isinstance(value, Decimal128) and value.to_decimal().as_tuple().exponent == -2


def is_midnight(value: object) -> bool:
    return (isinstance(value, datetime) and value.tzinfo is None
            and (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0))


def dump(db) -> dict[str, list[bytes]]:
    """Every document of every collection, BSON-encoded (NaN-safe), in a stable order."""
    return {name: sorted(bson.encode(doc) for doc in db[name].find()) for name in COLLECTIONS}


def make(**kwargs):
    db = mongomock_ng.MongoClient().payments
    return db, generate(db, SyntheticOptions(**kwargs))


def payee_key_of(claim: dict, pc_type: str) -> str:
    if pc_type == "PROVIDER":
        return f"PROVIDER:{claim['TIN']}:{claim['NPI']}"
    return f"DMR:{claim['MemberID']}"


def valid_claims(db, event_id: str) -> list[dict]:
    """The event's valid claims: bad ones have ``CX`` ids or re-send a prior ledger claim."""
    resent = {i for entry in db.ClaimFinCore.find() for i in entry["ClaimCore_IDs"]}
    return [c for c in db.ClaimWSCore.find({"PaymentEvent_ID": event_id})
            if not c["ClaimCore_ID"].startswith("CX") and c["ClaimCore_ID"] not in resent]

OPTIONS = {"claims": 400, "payees": 40, "cycles": 3, "seed": 11}


@pytest.fixture(scope="module")
def clean():
    """Three PROVIDER cycles without bad claims."""
    return make(**OPTIONS)


@pytest.fixture(scope="module")
def dirty():
    """Two PROVIDER cycles with many bad claims (every shape of every code)."""
    return make(claims=300, payees=30, cycles=2, seed=5, bad_rate=0.5)


# -- determinism -------------------------------------------------------------------------


def test_same_seed_writes_identical_documents():
    options = {"claims": 250, "payees": 25, "cycles": 2, "seed": 3, "bad_rate": 0.2}
    first_db, first = make(**options)
    second_db, second = make(**options)
    assert dump(first_db) == dump(second_db)
    assert first == second


def test_different_seed_writes_different_documents():
    first_db, _ = make(claims=100, payees=10, seed=1)
    second_db, _ = make(claims=100, payees=10, seed=2)
    first, second = dump(first_db), dump(second_db)
    for name in ("ClaimWSCore", "PaymentCenter", "ClaimFinCore", "OverUnder"):
        assert first[name] != second[name], name


def test_a_store_that_holds_data_is_refused_and_left_unchanged():
    db, _ = make(claims=80, payees=8, cycles=2, seed=4, bad_rate=0.1)
    db.PaymentEvent.update_one({"_id": "PE-SYN-0001"}, {"$set": {"stage": "FINAL"}})
    db.Sequences.update_one({"_id": "check:FS-SYN-1"}, {"$set": {"next": 7000067}}, upsert=True)
    before = dump(db)
    with pytest.raises(ConfigurationError, match=r"already holds documents \(ClaimFinCore \d+"):
        generate(db, SyntheticOptions(claims=80, payees=8, cycles=2, seed=4))
    assert dump(db) == before


def test_add_events_inserts_new_events_and_never_touches_existing_data():
    db, _ = make(claims=80, payees=8, cycles=2, seed=4)
    db.PaymentEvent.update_one({"_id": "PE-SYN-0001"}, {"$set": {"stage": "FINAL"}})
    db.Sequences.update_one({"_id": "check:FS-SYN-1"}, {"$set": {"next": 7000067}}, upsert=True)
    db.InterestRules.update_one({"_id": "IR-SYN"}, {"$set": {"grace_days": 99}})
    before = dump(db)
    summary = add_events(db, SyntheticOptions(claims=80, payees=8, cycles=2, seed=4))
    after = dump(db)
    assert summary.event_ids == ("PE-SYN-0003", "PE-SYN-0004")
    for name in ("Sequences", "ClaimFinCore", "OverUnder", "PaymentCenter", "InterestRules",
                 "FundingSource", "InclusionCriteria"):
        assert after[name] == before[name], name
    assert db.PaymentEvent.find_one({"_id": "PE-SYN-0001"})["stage"] == "FINAL"
    assert sorted(d["_id"] for d in db.PaymentEvent.find()) == [
        "PE-SYN-0001", "PE-SYN-0002", "PE-SYN-0003", "PE-SYN-0004"]
    assert set(before["ClaimWSCore"]) <= set(after["ClaimWSCore"])
    added = db.ClaimWSCore.count_documents({"PaymentEvent_ID": {"$in": ["PE-SYN-0003",
                                                                         "PE-SYN-0004"]}})
    assert len(after["ClaimWSCore"]) == len(before["ClaimWSCore"]) + added > len(
        before["ClaimWSCore"])
    assert summary.counts == {"ClaimWSCore": added, "PaymentEvent": 2}


def test_add_events_refuses_ids_already_taken_and_writes_nothing():
    db, _ = make(claims=80, payees=8, cycles=1, seed=4)
    db.PaymentEvent.delete_one({"_id": "PE-SYN-0001"})  # its claims stay: their ids are taken
    before = dump(db)
    with pytest.raises(ConfigurationError, match="ClaimWSCore already holds 80 of the ids"):
        add_events(db, SyntheticOptions(claims=80, payees=8, cycles=1, seed=4))
    assert dump(db) == before


def test_bad_claims_and_more_cycles_leave_earlier_valid_claims_unchanged(clean):
    clean_db, _ = clean
    other_db, _ = make(**{**OPTIONS, "cycles": 1, "bad_rate": 0.3})
    cycle1 = {c["_id"]: c for c in clean_db.ClaimWSCore.find({"PaymentEvent_ID": "PE-SYN-0001"})}
    with_bad = {c["_id"]: c for c in other_db.ClaimWSCore.find({"PaymentEvent_ID": "PE-SYN-0001"})}
    assert set(cycle1) < set(with_bad)
    assert all(with_bad[claim_id] == doc for claim_id, doc in cycle1.items())
    assert dump(clean_db)["ClaimFinCore"] == dump(other_db)["ClaimFinCore"]


# -- counts ------------------------------------------------------------------------------


def test_counts_match_options_and_store(clean, dirty):
    for db, summary in (clean, dirty):
        assert summary.counts == {n: db[n].count_documents({}) for n in COLLECTIONS}
    db, summary = clean
    assert summary.event_ids == ("PE-SYN-0001", "PE-SYN-0002", "PE-SYN-0003")
    assert db.PaymentEvent.count_documents({}) == 3
    for event_id in summary.event_ids:
        assert db.ClaimWSCore.count_documents({"PaymentEvent_ID": event_id}) == 400
        assert sum(summary.kinds_by_event[event_id].values()) == 400
    assert db.PaymentCenter.count_documents({}) + len(summary.new_payee_keys) == 40
    db, summary = dirty
    for event_id in summary.event_ids:
        everything = db.ClaimWSCore.count_documents({"PaymentEvent_ID": event_id})
        assert everything - len(valid_claims(db, event_id)) >= 150  # round(0.5 * 300) slots


def test_every_kind_appears_in_every_event(clean):
    _, summary = clean
    for kinds in summary.kinds_by_event.values():
        assert set(kinds) == set(KINDS) | set(SCENARIO_KINDS)
        assert kinds["recoupment"] == kinds["below_minimum"] == 1


def test_settlement_scenarios_run_on_their_own_payees(clean):
    db, summary = clean
    centers = {pc["_id"]: pc for pc in db.PaymentCenter.find()}
    recoup, small = (centers[summary.scenario_payees[name]]
                     for name in ("recoupment", "below_minimum"))
    assert recoup["status"] == small["status"] == "ACTIVE"
    by_key: dict[str, list[dict]] = defaultdict(list)
    for claim in db.ClaimWSCore.find():
        by_key[payee_key_of(claim, "PROVIDER")].append(claim)
    recoup_claims = sorted(by_key[recoup["key"]], key=lambda c: c["PaymentEvent_ID"])
    assert [c["FrequencyCode"] for c in recoup_claims] == ["8", "1", "8"]
    assert recoup_claims[2]["VoidClaimCore_ID"] == recoup_claims[1]["_id"]
    assert {e["ParentClaimCore_ID"] for e in db.ClaimFinCore.find(
        {"PaymentCenter_ID": recoup["_id"]})} == {recoup_claims[0]["ParentClaimCore_ID"]}
    minimums = {e["_id"]: e["min_payment_amount"].to_decimal() for e in db.PaymentEvent.find()}
    small_claims = by_key[small["key"]]
    assert sorted(c["PaymentEvent_ID"] for c in small_claims) == list(summary.event_ids)
    for claim in small_claims:
        (line,) = claim["service_lines"]
        assert line["allowed"].to_decimal() < min(minimums.values())
    owing = {r["PaymentCenter_ID"] for r in db.OverUnder.find()}
    assert not owing & {recoup["_id"], small["_id"]}


@pytest.mark.parametrize(("claims", "payees"), [(1, 1), (2, 2), (12, 3)])
def test_tiny_options_still_generate(claims, payees):
    db, summary = make(claims=claims, payees=payees, bad_rate=1.0)
    assert len(valid_claims(db, "PE-SYN-0001")) == claims
    assert set(summary.bad_claims) == set(CRITICAL_CODES)


@pytest.mark.parametrize("bad", [
    {"claims": 0}, {"payees": 0}, {"cycles": 0}, {"pc_type": "provider"}, {"bad_rate": 1.5},
    {"bad_rate": -0.1},
])
def test_options_reject_impossible_values(bad):
    with pytest.raises(ValueError):
        SyntheticOptions(**bad)


# -- schema ------------------------------------------------------------------------------


def check_claim_schema(claim: dict, keys: set[str], pc_type: str) -> None:
    for name, kind in CLAIM_FIELDS.items():
        assert isinstance(claim.get(name), kind), (claim["_id"], name)
    assert claim["_id"] == claim["ClaimCore_ID"]
    assert claim["ClaimType"] in ("PROFESSIONAL", "INSTITUTIONAL", "DENTAL")
    assert claim["ClaimStatus"] in ("APPROVED", "DENIED")
    assert claim["FrequencyCode"] in ("1", "7", "8")
    assert (claim["OriginalClaimCore_ID"] is not None) == (claim["FrequencyCode"] == "7")
    assert (claim["VoidClaimCore_ID"] is not None) == (claim["FrequencyCode"] == "8")
    assert is_midnight(claim["received_date"])
    assert luhn_npi(claim["NPI"]) and re.fullmatch(r"\d{9}", claim["TIN"])
    assert re.fullmatch(r"M\d{9}", claim["MemberID"])
    assert payee_key_of(claim, pc_type) in keys
    for party in (claim["provider"], claim["member"]):
        assert set(party) == {"name", "address"}
        assert set(party["address"]) == {"line1", "city", "state", "zip"}
    lines = claim["service_lines"]
    assert 1 <= len(lines) <= 6
    assert [line["line_no"] for line in lines] == list(range(1, len(lines) + 1))
    for line in lines:
        for name, kind in LINE_FIELDS.items():
            assert isinstance(line[name], kind)
        assert is_midnight(line["service_date"]) and line["service_date"] < claim["received_date"]
        assert all(is_cents(line[name]) for name in AMOUNT_FIELDS)
        amounts = {name: line[name].to_decimal() for name in AMOUNT_FIELDS}
        assert all(value >= 0 for value in amounts.values())
        assert amounts["allowed"] <= amounts["billed"]
        if claim["ClaimStatus"] == "DENIED":
            assert amounts["allowed"] == 0


@pytest.mark.parametrize("pc_type", ["PROVIDER", "DMR"])
def test_valid_claims_follow_the_schema(pc_type):
    db, summary = make(claims=300, payees=30, cycles=2, seed=9, pc_type=pc_type)
    stored = {pc["key"] for pc in db.PaymentCenter.find()}
    keys = stored | set(summary.new_payee_keys)
    assert summary.new_payee_keys and not stored & set(summary.new_payee_keys)
    lines = 0
    claims = list(db.ClaimWSCore.find())
    for claim in claims:
        check_claim_schema(claim, keys, pc_type)
        lines += len(claim["service_lines"])
    assert 2.6 <= lines / len(claims) <= 3.6
    first_cycle_keys = {payee_key_of(c, pc_type) for c in valid_claims(db, "PE-SYN-0001")
                        if c["BenefitPlan_ID"] != EXCLUDED_PLAN}
    assert set(summary.new_payee_keys) <= first_cycle_keys


def test_claims_cover_shares_lateness_denials_and_over_allowed(clean):
    db, summary = clean
    seen: Counter[str] = Counter()
    over_allowed = set()
    for event in db.PaymentEvent.find():
        for claim in valid_claims(db, event["_id"]):
            if (event["due_date"] - claim["received_date"]).days >= 45:
                seen["late"] += 1
            seen[claim["ClaimStatus"]] += 1
            for line in claim["service_lines"]:
                share = sum(line[n].to_decimal() for n in
                            ("deductible", "coinsurance", "copay", "cob_paid"))
                for name in ("deductible", "coinsurance", "copay", "cob_paid"):
                    seen[name] += line[name].to_decimal() > 0
                included = claim["BenefitPlan_ID"] != EXCLUDED_PLAN
                if included and share > line["allowed"].to_decimal():
                    over_allowed.add(claim["_id"])
    assert min(seen.values()) > 0 and {"late", "DENIED"} <= set(seen)
    assert over_allowed == set(summary.warning_claims["OVER_ALLOWED"])
    excluded = {c["_id"] for c in db.ClaimWSCore.find({"BenefitPlan_ID": EXCLUDED_PLAN})}
    assert excluded and excluded == set(summary.warning_claims["BENEFIT_PLAN_EXCLUDED"])


@pytest.mark.parametrize("pc_type", ["PROVIDER", "DMR"])
def test_configuration_documents(pc_type):
    db, summary = make(claims=200, payees=60, cycles=5, seed=2, pc_type=pc_type)
    events = list(db.PaymentEvent.find())
    assert [e["_id"] for e in events] == list(summary.event_ids)
    assert [e["due_date"] for e in events] == [
        FIRST_DUE_DATE + timedelta(days=7 * k) for k in range(5)]
    rules = db.InterestRules.find_one()
    overrides = {(o["state"], o["line_of_business"]) for o in rules["overrides"]}
    hits = [(e["business"]["state"], e["business"]["line_of_business"]) in overrides
            for e in events]
    assert any(hits) and not all(hits)
    for event in events:
        assert event["pc_type"] == pc_type and event["stage"] == "NEW"
        assert db.InclusionCriteria.find_one(event["inclusion_criteria_id"])
        assert db.FundingSource.find_one(event["funding_source_id"])
        assert db.InterestRules.find_one(event["interest_rules_id"])
        for name in ("min_payment_amount", "payment_reduction_pct"):
            assert name not in event or is_cents(event[name])
    criteria = db.InclusionCriteria.find_one()
    assert criteria["payment_center_keys"] is None
    assert EXCLUDED_PLAN not in criteria["benefit_plan_ids"]
    centers = list(db.PaymentCenter.find())
    assert all(isinstance(pc["_id"], int) and pc["type"] == pc_type for pc in centers)
    assert {pc["payment_method"] for pc in centers} == {"CHECK", "EFT"}
    assert {pc["status"] for pc in centers} == {"ACTIVE", "HOLD"}
    for pc in centers:
        if pc_type == "PROVIDER":
            assert pc["key"] == f"PROVIDER:{pc['tax_id']}:{pc['npi']}" and luhn_npi(pc["npi"])
        else:
            assert pc["key"] == f"DMR:{pc['member_id']}" and pc["npi"] is None
    ranges = {fs["_id"]: fs["check_range"] for fs in db.FundingSource.find()}
    for seq in db.Sequences.find():
        kind, _, fs_id = seq["_id"].partition(":")
        if kind == "check":
            assert ranges[fs_id]["start"] <= seq["next"] <= ranges[fs_id]["end"] - 60 * 5
        elif kind == "PaymentCenter":
            assert seq["next"] > max(pc["_id"] for pc in centers)


def test_prior_ledger_and_over_under(clean):
    db, _ = clean
    center_ids = {pc["_id"] for pc in db.PaymentCenter.find()}
    ledger = list(db.ClaimFinCore.find())
    assert ledger and all(e["PaymentEvent_ID"] == PRIOR_EVENT_ID for e in ledger)
    for entry in ledger:
        assert entry["_id"] == f"{PRIOR_EVENT_ID}:{entry['ParentClaimCore_ID']}"
        assert entry["paid_date"] == FIRST_DUE_DATE - timedelta(days=7)
        assert entry["final_ClaimCore_ID"] == entry["ClaimCore_IDs"][-1]
        assert entry["PaymentCenter_ID"] in center_ids
        assert is_cents(entry["benefit_amount"]) and is_cents(entry["interest_amount"])
    assert any(len(e["ClaimCore_IDs"]) == 2 for e in ledger)
    records = list(db.OverUnder.find())
    kinds = Counter((r["type"], r["status"]) for r in records)
    assert kinds[("OVER", "OPEN")] and kinds[("UNDER", "OPEN")] and kinds[("OVER", "CLOSED")]
    for record in records:
        assert record["PaymentCenter_ID"] in center_ids
        total, remaining = record["total"].to_decimal(), record["remaining"].to_decimal()
        applied = sum((a["amount"].to_decimal() for a in record["applications"]), Decimal(0))
        assert total == remaining + applied and (record["status"] == "CLOSED") == (remaining == 0)


# -- chains ------------------------------------------------------------------------------


def replay(db, summary) -> dict[str, str]:
    """Walk every event as spec 4.1 does; assert each 7/8 references a version in force."""
    in_force = {e["ParentClaimCore_ID"]: e["final_ClaimCore_ID"] for e in db.ClaimFinCore.find()}
    known = set(in_force)
    excluded = set(summary.warning_claims["BENEFIT_PLAN_EXCLUDED"])
    for event_id in summary.event_ids:
        chains: dict[str, list[dict]] = defaultdict(list)
        for claim in valid_claims(db, event_id):
            chains[claim["ParentClaimCore_ID"]].append(claim)
        pc_type = db.PaymentEvent.find_one(event_id)["pc_type"]
        for parent, claims in chains.items():
            keys = {payee_key_of(c, pc_type) for c in claims}
            assert len(keys) == 1, parent
            if any(c["BenefitPlan_ID"] == EXCLUDED_PLAN for c in claims):
                assert {c["_id"] for c in claims} <= excluded
                continue
            if parent in known:
                current = in_force.get(parent)
                assert current is not None, f"{parent} was voided before"
                visited = set()
            else:
                (first,) = [c for c in claims if c["FrequencyCode"] == "1"]
                assert first["_id"] == parent
                current, visited = parent, {parent}
                known.add(parent)
            while current is not None:
                refs = [c for c in claims
                        if current in (c["OriginalClaimCore_ID"], c["VoidClaimCore_ID"])]
                if not refs:
                    break
                visited.update(c["_id"] for c in refs)
                sevens = [c["_id"] for c in refs if c["FrequencyCode"] == "7"]
                assert len(sevens) <= 1 and len(refs) - len(sevens) <= 1
                current = sevens[0] if sevens else None
            assert visited == {c["_id"] for c in claims}, f"{parent}: unreachable claims"
            if current is None:
                in_force.pop(parent, None)
            else:
                in_force[parent] = current
    return in_force


def test_every_replacement_and_void_references_a_version_in_force(clean):
    db, summary = clean
    assert replay(db, summary) == summary.in_force_after


def test_multi_cycle_chains_reach_back_to_earlier_cycles(clean):
    db, _ = clean
    cycle1 = {c["_id"] for c in db.ClaimWSCore.find({"PaymentEvent_ID": "PE-SYN-0001"})}
    prior = {e["final_ClaimCore_ID"] for e in db.ClaimFinCore.find()}
    later = list(db.ClaimWSCore.find({"PaymentEvent_ID": {"$in": ["PE-SYN-0002", "PE-SYN-0003"]}}))
    targets = {c["OriginalClaimCore_ID"] or c["VoidClaimCore_ID"] for c in later
               if c["FrequencyCode"] != "1"}
    assert targets & cycle1 and targets & prior


# -- bad claims --------------------------------------------------------------------------


def amount_is_bad(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, Decimal128 | int | str | float):
        return True
    if isinstance(value, float) and not math.isfinite(value):
        return True
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value))
    except ArithmeticError:
        return True
    if isinstance(value, Decimal128):
        number = value.to_decimal()
    return number != number.quantize(Decimal("0.01")) or abs(number) >= 10**13


def void_linkage(claim: dict, chain: list[dict]) -> bool:
    freq = claim["FrequencyCode"]
    if freq == "1":
        return claim["ClaimCore_ID"] != claim["ParentClaimCore_ID"]
    if freq == "7" and not claim["OriginalClaimCore_ID"]:
        return True
    if freq == "8" and not claim["VoidClaimCore_ID"]:
        return True
    same = [c for c in chain if c["FrequencyCode"] == freq
            and c["OriginalClaimCore_ID"] == claim["OriginalClaimCore_ID"]]
    return len(same) >= 2


def test_bad_rate_writes_every_critical_code(dirty):
    db, summary = dirty
    assert set(summary.bad_claims) == set(CRITICAL_CODES)
    ledger_ids = {i for e in db.ClaimFinCore.find() for i in e["ClaimCore_IDs"]}
    paid_versions = {e["final_ClaimCore_ID"] for e in db.ClaimFinCore.find()}
    stored_ids = {c["ClaimCore_ID"] for c in db.ClaimWSCore.find()}
    checks = {
        "FREQ_INVALID": lambda c, _: c["FrequencyCode"] not in ("1", "7", "8"),
        "ID_MISSING": lambda c, _: not c.get("NPI") or not c.get("TIN"),
        "NPI_INVALID": lambda c, _: not luhn_npi(c["NPI"]),
        "TIN_INVALID": lambda c, _: not re.fullmatch(r"\d{9}", c["TIN"]),
        "DUPLICATE_CLAIM": lambda c, chain: len(
            {d["_id"] for d in chain if d["ClaimCore_ID"] == c["ClaimCore_ID"]}) >= 2,
        "ALREADY_PAID": lambda c, _: c["ClaimCore_ID"] in ledger_ids,
        "BAD_AMOUNT": lambda c, _: any(
            name not in line or amount_is_bad(line[name])
            for line in c["service_lines"] for name in AMOUNT_FIELDS),
        "NEGATIVE_AMOUNT": lambda c, _: any(
            line[name].to_decimal() < 0 for line in c["service_lines"] for name in AMOUNT_FIELDS),
        "NO_LINES": lambda c, _: not c.get("service_lines"),
        "PARENT_NOT_PAID": lambda c, _: c["FrequencyCode"] in ("7", "8") and not (
            {c["OriginalClaimCore_ID"], c["VoidClaimCore_ID"]} & (paid_versions | stored_ids)),
        "VOID_LINKAGE": void_linkage,
    }
    for code, ids in summary.bad_claims.items():
        events = {c["PaymentEvent_ID"] for c in db.ClaimWSCore.find({"ClaimCore_ID": {"$in": ids}})}
        assert events == set(summary.event_ids), code
        for claim_id in ids:
            claims = list(db.ClaimWSCore.find({"ClaimCore_ID": claim_id}))
            carried = [checks[code](c, list(db.ClaimWSCore.find({
                "ParentClaimCore_ID": c["ParentClaimCore_ID"],
                "PaymentEvent_ID": c["PaymentEvent_ID"]}))) for c in claims]
            assert claims and any(carried), (code, claim_id)


def test_bad_claims_use_every_shape_and_never_touch_valid_chains(dirty):
    db, summary = dirty
    bad_docs = {code: [c for i in ids for c in db.ClaimWSCore.find({"ClaimCore_ID": i})]
                for code, ids in summary.bad_claims.items()}
    values = [line.get("allowed", "missing") for c in bad_docs["BAD_AMOUNT"]
              for line in c["service_lines"]]
    assert {type(v) for v in values} >= {str, float, Decimal128}
    assert any(v is True for c in bad_docs["BAD_AMOUNT"] for line in c["service_lines"]
               for v in line.values())
    assert {c["FrequencyCode"] for c in bad_docs["FREQ_INVALID"]} == {"9", "0", "", None}
    assert {c["FrequencyCode"] for c in bad_docs["PARENT_NOT_PAID"]} == {"7", "8"}
    assert all(c["service_lines"] == [] for c in bad_docs["NO_LINES"])
    assert any("NPI" not in c for c in bad_docs["ID_MISSING"])
    for event_id in summary.event_ids:
        valid = valid_claims(db, event_id)
        valid_ids = {c["_id"] for c in valid}
        bad_parents = {c["ParentClaimCore_ID"] for c in db.ClaimWSCore.find(
            {"PaymentEvent_ID": event_id}) if c["_id"] not in valid_ids}
        assert not {c["ParentClaimCore_ID"] for c in valid} & bad_parents
    resent = [c["_id"] for c in bad_docs["ALREADY_PAID"]]
    assert len(resent) == len(set(resent))


def test_dmr_bad_claims_skip_provider_identifiers_and_miss_the_member_id():
    db, summary = make(claims=60, payees=10, pc_type="DMR", seed=8, bad_rate=0.4)
    assert set(summary.bad_claims) == set(critical_codes("DMR"))
    assert set(CRITICAL_CODES) - set(critical_codes("DMR")) == {"NPI_INVALID", "TIN_INVALID"}
    for claim in db.ClaimWSCore.find():
        assert luhn_npi(claim["NPI"]) and re.fullmatch(r"\d{9}", claim["TIN"])
    for claim_id in summary.bad_claims["ID_MISSING"]:
        claim = db.ClaimWSCore.find_one({"ClaimCore_ID": claim_id})
        assert not claim.get("MemberID")


def test_deleting_the_bad_documents_leaves_only_valid_claims():
    db, summary = make(claims=300, payees=30, cycles=2, seed=5, bad_rate=0.5)
    assert len(summary.bad_doc_ids) == len(set(summary.bad_doc_ids))
    carriers = {i for ids in summary.bad_claims.values() for i in ids}
    bad = list(db.ClaimWSCore.find({"_id": {"$in": list(summary.bad_doc_ids)}}))
    assert len(bad) == len(summary.bad_doc_ids) and carriers <= {c["ClaimCore_ID"] for c in bad}
    db.ClaimWSCore.delete_many({"_id": {"$in": list(summary.bad_doc_ids)}})
    for event_id in summary.event_ids:
        remaining = db.ClaimWSCore.count_documents({"PaymentEvent_ID": event_id})
        assert remaining == len(valid_claims(db, event_id)) == 300


# -- money and identifiers ---------------------------------------------------------------


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_money_is_the_two_place_decimal_of_the_cents(cents):
    text = f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"
    assert money(cents) == Decimal128(text)
    assert str(money(cents)) == text


@given(st.integers(min_value=100_000_000, max_value=299_999_999))
def test_made_npis_pass_luhn_and_a_changed_digit_fails(number):
    npi = make_npi(number)
    assert luhn_npi(npi) and npi_is_valid(npi)
    broken = npi[:9] + str((int(npi[9]) + 1) % 10)
    assert not luhn_npi(broken) and not npi_is_valid(broken)


def test_golden_npis_are_valid():
    for npi in ("1000000012", "1000000020", "1000000038", "1234567893"):
        assert npi_is_valid(npi)
    assert not npi_is_valid("100000001") and not npi_is_valid(1000000012)


# -- command line ------------------------------------------------------------------------


class FakeStore:
    def __init__(self):
        self.db = mongomock_ng.MongoClient().payments
        self.checkpoints = 0

    def checkpoint(self):
        self.checkpoints += 1


@pytest.fixture
def fake_connection(monkeypatch):
    """Stand-in for PaymentProcess.common.functions (written in parallel)."""
    calls = {"uris": [], "closed": 0, "store": FakeStore(), "error": None}
    module = types.ModuleType("PaymentProcess.common.functions")

    def get_connection(uri, create=False):
        assert create, "the generator is the one tool that creates a store"
        calls["uris"].append(uri)
        if calls["error"]:
            raise calls["error"]
        return calls["store"]

    def close_connection():
        calls["closed"] += 1

    module.get_connection = get_connection
    module.redact_text = functions.redact_text
    module.close_connection = close_connection
    monkeypatch.setitem(sys.modules, "PaymentProcess.common.functions", module)
    monkeypatch.delenv("PAYMENT_DB_URI", raising=False)
    return calls


def test_cli_generates_checkpoints_once_and_prints_a_summary(fake_connection):
    result = CliRunner().invoke(main, [
        "--db-uri", "mongomock://", "--claims", "50", "--payees", "5", "--pc-type", "dmr",
        "--cycles", "2", "--seed", "4", "--bad-rate", "0.1"])
    assert result.exit_code == 0, result.output
    store = fake_connection["store"]
    assert fake_connection["uris"] == ["mongomock://"]
    assert store.checkpoints == 1 and fake_connection["closed"] == 1
    assert "PE-SYN-0001, PE-SYN-0002" in result.output and "bad claims:" in result.output
    expected_db, expected = make(
        claims=50, payees=5, pc_type="DMR", cycles=2, seed=4, bad_rate=0.1)
    assert dump(store.db) == dump(expected_db)
    assert f"ClaimWSCore: {expected.counts['ClaimWSCore']}" in result.output


@pytest.mark.parametrize("args", [
    [],
    ["--db-uri", "mongomock://", "--pc-type", "members"],
    ["--db-uri", "mongomock://", "--claims", "0"],
    ["--db-uri", "mongomock://", "--bad-rate", "1.5"],
    ["--db-uri", "mongomock://", "--cycles", "x"],
])
def test_cli_rejects_bad_options_with_usage_error(fake_connection, args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "Usage:" in result.output
    assert fake_connection["uris"] == []


def test_cli_reports_a_connection_error_with_its_exit_code(fake_connection):
    fake_connection["error"] = ConfigurationError("unsupported db uri")
    result = CliRunner().invoke(main, ["--db-uri", "nosql://x"])
    assert result.exit_code == 2
    assert "unsupported db uri" in result.output


def test_cli_add_events_adds_beside_existing_data(fake_connection):
    store = fake_connection["store"]
    generate(store.db, SyntheticOptions(claims=50, payees=5, seed=4))
    sequences = list(store.db.Sequences.find())
    refused = CliRunner().invoke(main, ["--db-uri", "mongomock://x", "--claims", "50",
                                        "--payees", "5", "--seed", "4"])
    assert refused.exit_code == 2
    assert refused.output.startswith("error: mongomock://x: the store already holds documents")
    added = CliRunner().invoke(main, ["--db-uri", "mongomock://x", "--claims", "50",
                                      "--payees", "5", "--seed", "4", "--add-events"])
    assert added.exit_code == 0, added.output
    assert added.output.startswith("events: PE-SYN-0002\n")
    assert list(store.db.Sequences.find()) == sequences
