"""How chains map to CLPs beyond the golden cycle, on a second event after PE-G1.

PE-G3 follows the golden final run: it replaces C2002 and voids C1001, both paid in PE-G1
with a PaymentInfo (so the reversals carry the service lines), and pays a new chain whose
original and replacement arrive together. PE-D1 is a DMR event paying a member.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_remittance_store import assert_valid, d128, dec, golden_final_store, of, payment_info

from PaymentProcess.remittance import RemittanceError, write_remittances

DUE = datetime(2026, 12, 4)
PROVIDER = {
    "NPI": "1000000012",
    "TIN": "741000001",
    "MemberID": "M2002",
    "member": {"name": "Pat C2002", "address": None},
    "received_date": datetime(2026, 11, 30),
    "ClaimType": "PROFESSIONAL",
    "ClaimStatus": "APPROVED",
}


def claim(claim_id: str, chain: str, code: str, billed: str, allowed: str, **refs: Any) -> dict:
    return {
        **PROVIDER,
        "ClaimCore_ID": claim_id,
        "ParentClaimCore_ID": chain,
        "FrequencyCode": code,
        "OriginalClaimCore_ID": refs.get("original"),
        "VoidClaimCore_ID": refs.get("void"),
        "patient_control_number": f"PCN-{claim_id}",
        "service_lines": [
            {
                "line_no": 1,
                "procedure_code": "99214",
                "units": 2,
                "service_date": datetime(2026, 11, 2),
                "billed": d128(billed),
                "allowed": d128(allowed),
                "deductible": d128("0"),
                "coinsurance": d128("0"),
                "copay": d128("10"),
                "cob_paid": d128("0"),
            }
        ],
    }


def settle(db: Any, event_id: str, center_id: int, claims: list[dict], final: dict) -> None:
    """Store what a final run of ``event_id`` stores for one payee with no O/U and no
    interest: PaymentInfo (reduction 0), ledger entries, settlement and a check."""
    db.PaymentEvent.insert_one(
        {
            "_id": event_id,
            "pc_type": "PROVIDER",
            "due_date": DUE,
            "funding_source_id": "FS-G",
            "payment_reduction_pct": d128("0"),
            "stage": "FINAL",
        }
    )
    nets = {}
    for chain in sorted({c["ParentClaimCore_ID"] for c in claims}):
        ids = [c["ClaimCore_ID"] for c in claims if c["ParentClaimCore_ID"] == chain]
        earlier = db.ClaimFinCore.find({"ParentClaimCore_ID": chain})
        prior = sum((dec(e["benefit_amount"]) for e in earlier), Decimal("0"))
        infos = []
        for c in claims:
            if c["ParentClaimCore_ID"] == chain:
                infos.append(
                    payment_info(
                        event_id, c, center_id, Decimal("0"), c["ClaimCore_ID"] == final[chain]
                    )
                )
        db.PaymentInfo.insert_many(infos)
        current = sum(dec(i["claim_paid"]) for i in infos if i["ClaimCore_ID"] == final[chain])
        nets[chain] = current - prior
        db.ClaimFinCore.insert_one(
            {
                "_id": f"{event_id}:{chain}",
                "ParentClaimCore_ID": chain,
                "PaymentEvent_ID": event_id,
                "PaymentCenter_ID": center_id,
                "ClaimCore_IDs": ids,
                "final_ClaimCore_ID": final[chain],
                "benefit_amount": d128(nets[chain]),
                "interest_amount": d128("0"),
                "paid_date": DUE,
            }
        )
    pos = sum(n for n in nets.values() if n > 0)
    neg = -sum(n for n in nets.values() if n < 0)
    offset = min(pos, neg)
    disbursed = pos - offset
    db.PaymentSettlement.insert_one(
        {
            "_id": f"{event_id}:{center_id}",
            "PaymentEvent_ID": event_id,
            "PaymentCenter_ID": center_id,
            "pos": d128(pos),
            "neg": d128(neg),
            "consumed_under": d128("0"),
            "offset": d128(offset),
            "over_offsets": d128("0"),
            "amount": d128(disbursed),
            "disbursed": d128(disbursed),
            "new_over": d128(neg - offset),
            "new_under": d128("0"),
            "outcome": "DISBURSED" if disbursed > 0 else "NONE",
            "under_consumed": [],
            "over_applied": [],
            "new_over_id": f"{event_id}:{center_id}:OVER" if neg > offset else None,
            "new_under_id": None,
        }
    )
    if disbursed > 0:
        db.Payments.insert_one(
            {
                "_id": f"{event_id}:{center_id}",
                "method": "CHECK",
                "number": 500200,
                "amount": d128(disbursed),
                "issue_date": DUE,
            }
        )


@pytest.fixture
def pe_g3(tmp_path: Path) -> tuple[Any, Path]:
    db = golden_final_store()
    write_remittances(db, "PE-G1", tmp_path / "g1")
    claims = [
        claim("C2003", "C2001", "7", "130.00", "95.00", original="C2002"),
        claim("C1002", "C1001", "8", "280.00", "215.55", void="C1001"),
        claim("C7701", "C7701", "1", "50.00", "40.00"),
        claim("C7702", "C7701", "7", "60.00", "45.00", original="C7701"),
    ]
    final = {"C2001": "C2003", "C1001": None, "C7701": "C7702"}
    settle(db, "PE-G3", 101, claims, final)
    [path] = write_remittances(db, "PE-G3", tmp_path / "g3")
    return db, path


def test_later_event_files_validate(pe_g3, monkeypatch):
    assert_valid(pe_g3[1], monkeypatch)


def test_reversal_of_a_version_with_payment_info_carries_its_lines(pe_g3):
    text = pe_g3[1].read_text()
    block = text[text.index("CLP*PCN-C2002*22") : text.index("CLP*PCN-C2003")]
    assert block.split("~\n")[:-1] == [
        "CLP*PCN-C2002*22*-120*-70.56*-18*ZZ*C2002**7",
        "NM1*QC*1*C2002*Pat****MI*M2002",
        "DTM*050*20261110",
        "SVC*HC>99213*-120*-70.56**1",
        "DTM*472*20260820",
        "CAS*CO*45*-30**253*-1.44",
        "CAS*PR*2*-18",
        "AMT*B6*-90",
    ]


def test_chain_order_and_amounts(pe_g3):
    db, path = pe_g3
    assert [(s[1], s[2], s[4], s[7]) for s in of(path, "CLP")] == [
        ("PCN-C1001", "22", "-157.34", "C1001"),
        ("PCN-C2002", "22", "-70.56", "C2002"),
        ("PCN-C2003", "1", "85", "C2003"),
        ("PCN-C7701", "1", "30", "C7701"),
        ("PCN-C7701", "22", "-30", "C7701"),
        ("PCN-C7702", "1", "35", "C7702"),
    ]
    # -157.34 + 14.44 + 35 = -107.90: nothing paid, the rest carried as a new OVER
    assert [e for e in of(path, "BPR")[0][:5]] == ["BPR", "H", "0", "C", "NON"]
    assert of(path, "PLB")[0][3:] == ["FB>PE-G3:101:OVER", "-107.9"]


def test_prior_payment_info_disagreeing_with_the_ledger_is_refused(tmp_path):
    db = golden_final_store()
    write_remittances(db, "PE-G1", tmp_path / "g1")
    paid = {"claim_paid": d128("70.00"), "lines.0.paid": d128("70.00")}
    db.PaymentInfo.update_one(
        {"_id": "PE-G1:C2002"}, {"$set": {**paid, "lines.0.reduction": d128("2.00")}}
    )
    settle(
        db,
        "PE-G3",
        101,
        [claim("C2003", "C2001", "7", "130.00", "95.00", original="C2002")],
        {"C2001": "C2003"},
    )
    with pytest.raises(RemittanceError, match="the ledger credited 70.56"):
        write_remittances(db, "PE-G3", tmp_path / "g3")


def test_dmr_payee_is_the_member(tmp_path, monkeypatch):
    db = golden_final_store()
    db.PaymentCenter.insert_one(
        {
            "_id": 300,
            "key": "DMR:M4242",
            "type": "DMR",
            "vendor_name": "Robin Q Member",
            "tax_id": None,
            "npi": None,
            "member_id": "M4242",
            "address": {"line1": "9 Elm St", "city": "Austin", "state": "TX", "zip": "73301"},
            "payment_method": "CHECK",
            "status": "ACTIVE",
        }
    )
    member_claim = {**claim("C4242", "C4242", "1", "90.00", "70.00"), "MemberID": "M4242"}
    member_claim["member"] = {"name": "Robin Q Member", "address": None}
    settle(db, "PE-D1", 300, [member_claim], {"C4242": "C4242"})
    [path] = write_remittances(db, "PE-D1", tmp_path)
    assert_valid(path, monkeypatch)
    assert of(path, "N1")[1] == ["N1", "PE", "Robin Q Member", "FI", "M4242"]
    assert of(path, "ISA")[0][7:9] == ["ZZ", "M4242          "]
    assert of(path, "NM1")[0] == ["NM1", "QC", "1", "Member", "Robin Q", "", "", "", "MI", "M4242"]
    assert of(path, "PLB") == []
    assert of(path, "BPR")[0][2] == "60"


def test_a_replacement_cycle_is_refused_not_looped(tmp_path):
    db = golden_final_store()
    write_remittances(db, "PE-G1", tmp_path / "g1")
    itself = claim("C2002", "C2001", "7", "120.00", "90.00", original="C2002")
    settle(db, "PE-G3", 101, [itself], {"C2001": "C2002"})
    with pytest.raises(RemittanceError, match="C2002 replaces itself"):
        write_remittances(db, "PE-G3", tmp_path / "g3")
