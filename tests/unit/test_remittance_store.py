"""835 files written from a store holding what the final run of the golden cycle stores.

The fixture store follows the final run's contract: the golden inputs
(``shared/golden/store``) plus the documents the final run of PE-G1 writes, with every
figure taken from ``shared/golden/expected.json`` (PaymentInfo lines are computed with the
line formula of spec section 6 and checked against the expected ``claim_paid``). Every
file is validated with pyx12 and with oxedi, and its amounts are compared with the
ledger, settlement and O/U figures of its payee.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import shutil
import stat
import tempfile
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import mongomock_ng
import oxedi
import pytest
import pyx12
import pyx12.error_handler
import pyx12.params
import pyx12.x12n_document
from bson import json_util
from bson.decimal128 import Decimal128
from click.testing import CliRunner

from PaymentProcess.common import functions
from PaymentProcess.remittance import RemittanceError, file_name, write_remittances, writer
from PaymentProcess.remittance.__main__ import main
from PaymentProcess.remittance.writer import RemittanceOutputError
from PaymentProcess.utils.error_handling import ConfigurationError, StageError

GOLDEN = Path(__file__).resolve().parents[2].parent / "shared" / "golden"
EVENT = "PE-G1"
PAYER = {
    "name": "Golden Health Plan",
    "tax_id": "750000001",
    "address": {"line1": "100 Plan Way", "city": "Dallas", "state": "TX", "zip": "75201"},
    "contact_phone": "8005550100",
}
CENT = Decimal("0.01")


def d128(value: Decimal | str) -> Decimal128:
    return Decimal128(Decimal(value).quantize(CENT))


def dec(value: Any) -> Decimal:
    return value.to_decimal() if isinstance(value, Decimal128) else Decimal(value)


def _jsonl(name: str) -> list[dict[str, Any]]:
    text = (GOLDEN / "store" / f"{name}.jsonl").read_text()
    return [json_util.loads(line) for line in text.splitlines() if line.strip()]


def payment_info(event_id: str, claim: dict, center_id: int, pct: Decimal, in_force: bool) -> dict:
    """The PaymentInfo of a settled claim: per line paid = max(0, allowed - shares) - reduction."""
    lines = []
    for line in claim["service_lines"]:
        amounts = {k: dec(line[k]) for k in ("billed", "allowed", "deductible", "coinsurance")}
        amounts.update({k: dec(line[k]) for k in ("copay", "cob_paid")})
        if claim["ClaimStatus"] == "DENIED":
            line_paid = reduction = Decimal("0")
        else:
            share = sum(amounts[k] for k in ("deductible", "coinsurance", "copay", "cob_paid"))
            line_paid = max(Decimal("0"), amounts["allowed"] - share)
            reduction = (line_paid * pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        lines.append(
            {
                **{k: line[k] for k in ("line_no", "procedure_code", "units", "service_date")},
                **{k: d128(v) for k, v in amounts.items()},
                "reduction": d128(reduction),
                "paid": d128(line_paid - reduction),
            }
        )
    total = {k: sum(dec(ln[k]) for ln in lines) for k in ("billed", "allowed", "reduction", "paid")}
    return {
        "_id": f"{event_id}:{claim['ClaimCore_ID']}",
        "PaymentEvent_ID": event_id,
        **{
            k: claim.get(k)
            for k in (
                "ClaimCore_ID",
                "ParentClaimCore_ID",
                "FrequencyCode",
                "ClaimType",
                "ClaimStatus",
                "OriginalClaimCore_ID",
                "VoidClaimCore_ID",
                "patient_control_number",
                "MemberID",
                "member",
                "received_date",
            )
        },
        "PaymentCenter_ID": center_id,
        "payee_key": f"PROVIDER:{claim.get('TIN')}:{claim.get('NPI')}",
        "in_force": in_force,
        "claim_billed": d128(total["billed"]),
        "claim_allowed": d128(total["allowed"]),
        "claim_reduction": d128(total["reduction"]),
        "claim_paid": d128(total["paid"]),
        "lines": lines,
    }


def golden_final_store() -> Any:
    """A mongomock database holding the golden inputs and what the final run of PE-G1 stores."""
    expected = json.loads((GOLDEN / "expected.json").read_text())[EVENT]
    db = mongomock_ng.MongoClient().payments
    for name in ("ClaimFinCore", "FundingSource", "OverUnder", "PaymentCenter", "PaymentEvent"):
        db[name].insert_many(_jsonl(name))
    event = db.PaymentEvent.find_one({"_id": EVENT})
    db.PaymentEvent.update_one({"_id": EVENT}, {"$set": {"stage": "FINAL"}})
    db.FundingSource.update_one({"_id": "FS-G"}, {"$set": {"payer": PAYER}})
    for key, center_id in expected["new_payment_centers"].items():
        _, tin, npi = key.split(":")
        db.PaymentCenter.insert_one(
            {
                "_id": center_id,
                "key": key,
                "type": "PROVIDER",
                "vendor_name": "Riverbend Therapy",
                "tax_id": tin,
                "npi": npi,
                "member_id": None,
                "address": {"line1": "1 Main St", "city": "Dallas", "state": "TX", "zip": "75001"},
                "payment_method": "CHECK",
                "status": "ACTIVE",
            }
        )
    ledger = expected["ledger_entries_by_chain"]
    centers = {c["key"]: c["_id"] for c in db.PaymentCenter.find()}
    pct = dec(event["payment_reduction_pct"])
    claims = [c for c in _jsonl("ClaimWSCore") if c["PaymentEvent_ID"] == EVENT]
    for claim in claims:
        chain = claim["ParentClaimCore_ID"]
        if chain not in ledger:
            continue
        center_id = centers[f"PROVIDER:{claim['TIN']}:{claim['NPI']}"]
        in_force = ledger[chain]["final_ClaimCore_ID"] == claim["ClaimCore_ID"]
        info = payment_info(EVENT, claim, center_id, pct, in_force)
        assert str(dec(info["claim_paid"])) == expected["claim_paid"][claim["ClaimCore_ID"]]
        db.PaymentInfo.insert_one(info)
    for chain, entry in ledger.items():
        db.ClaimFinCore.insert_one(
            {
                "_id": f"{EVENT}:{chain}",
                "ParentClaimCore_ID": chain,
                "PaymentEvent_ID": EVENT,
                "PaymentCenter_ID": entry["PaymentCenter_ID"],
                "ClaimCore_IDs": entry["ClaimCore_IDs"],
                "final_ClaimCore_ID": entry["final_ClaimCore_ID"],
                "benefit_amount": d128(entry["benefit_amount"]),
                "interest_amount": d128(entry["interest_amount"]),
                "paid_date": event["due_date"],
            }
        )
    for payment in expected["payments"]:
        center_id = payment["PaymentCenter_ID"]
        db.Payments.insert_one(
            {
                "_id": f"{EVENT}:{center_id}",
                "PaymentEvent_ID": EVENT,
                "PaymentCenter_ID": center_id,
                "method": payment["method"],
                "number": payment["number"],
                "amount": d128(payment["amount"]),
                "issue_date": event["due_date"],
                "funding_source_id": "FS-G",
            }
        )
    _insert_settlements(db, expected)
    return db


def _insert_settlements(db: Any, expected: dict) -> None:
    """PaymentSettlement per payee from the expected settlement and O/U figures."""
    applied: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    created: dict[int, dict[str, Any]] = defaultdict(dict)
    for ou_id, after in expected["over_under_after"].items():
        if after.get("new"):
            created[after["PaymentCenter_ID"]][after["type"]] = (ou_id, after)
            continue
        record = db.OverUnder.find_one({"_id": ou_id})
        kind = "over_applied" if record["type"] == "OVER" else "under_consumed"
        applied[record["PaymentCenter_ID"]][kind].append(
            {"ou_id": ou_id, "amount": d128(after["applied_by_event"])}
        )
    for key, figures in expected["settlement_by_payee"].items():
        center_id = int(key)
        center = db.PaymentCenter.find_one({"_id": center_id})
        over = created[center_id].get("OVER")
        under = created[center_id].get("UNDER")
        if Decimal(figures["disbursed"]) > 0:
            outcome = "DISBURSED"
        elif under:
            outcome = {"HOLD": "HELD"}.get(under[1]["reason"], under[1]["reason"])
        else:
            outcome = "NONE"
        db.PaymentSettlement.insert_one(
            {
                "_id": f"{EVENT}:{center_id}",
                "PaymentEvent_ID": EVENT,
                "PaymentCenter_ID": center_id,
                "payee_key": center["key"],
                "method": figures["method"],
                "payee_status": center["status"],
                **{
                    k: d128(figures[k])
                    for k in ("pos", "neg", "consumed_under", "offset", "over_offsets")
                },
                "amount": d128(figures["amount"]),
                "disbursed": d128(figures["disbursed"]),
                "new_over": d128(over[1]["total"] if over else "0"),
                "new_under": d128(under[1]["total"] if under else "0"),
                "outcome": outcome,
                "under_consumed": applied[center_id]["under_consumed"],
                "over_applied": applied[center_id]["over_applied"],
                "new_over_id": over[0] if over else None,
                "new_under_id": under[0] if under else None,
                "number": figures.get("number"),
            }
        )


class _Collecting(pyx12.error_handler.err_handler):
    """pyx12's error handler, also listing every error it is told of."""

    errors: list[tuple] = []

    def isa_error(self, err_cde: str, err_str: str) -> None:
        _Collecting.errors.append(("ISA", err_cde, err_str))
        super().isa_error(err_cde, err_str)

    def gs_error(self, err_cde: str, err_str: str) -> None:
        _Collecting.errors.append(("GS", err_cde, err_str))
        super().gs_error(err_cde, err_str)

    def st_error(self, err_cde: str, err_str: str) -> None:
        _Collecting.errors.append(("ST", err_cde, err_str))
        super().st_error(err_cde, err_str)

    def seg_error(self, err_cde, err_str, err_value=None, src_line=None) -> None:
        _Collecting.errors.append(("SEG", err_cde, err_str, err_value, src_line))
        super().seg_error(err_cde, err_str, err_value, src_line)

    def ele_error(self, err_cde, err_str, bad_value, refdes=None) -> None:
        _Collecting.errors.append(("ELE", err_cde, err_str, bad_value, refdes))
        super().ele_error(err_cde, err_str, bad_value, refdes)


_STOCK_FOOTER = "<repeat>1</repeat>"


@functools.cache
def guide_map_path() -> str:
    """pyx12's maps with the 835 footer repeated as the implementation guide repeats PLB.

    005010X221A1 lets PLB repeat (>1), each with up to six adjustments; pyx12 4.0.0 puts
    PLB in a FOOTER wrapper loop of repeat 1 and counts each PLB as a new loop, so the
    copy raises that loop's repeat to >1, its only change
    (``test_stock_pyx12_rejects_a_second_plb`` notices when pyx12 fixes its map).
    """
    target = Path(tempfile.mkdtemp(prefix="pyx12-map-")) / "map"
    shutil.copytree(Path(pyx12.__file__).parent / "map", target)
    map_file = target / "835.5010.X221.A1.xml"
    text = map_file.read_text()
    footer = text.index('<loop xid="FOOTER" type="wrapper">')
    repeat = text.index(_STOCK_FOOTER, footer)
    assert repeat < text.index("<segment xid=\"PLB\">", footer)
    map_file.write_text(text[:repeat] + "<repeat>&gt;1</repeat>" +
                        text[repeat + len(_STOCK_FOOTER):])
    return str(target)


def pyx12_errors(path: Path, monkeypatch: pytest.MonkeyPatch, stock: bool = False
                 ) -> list[tuple]:
    """Every error pyx12 reports for the file (its return value alone says too little).

    The map is :func:`guide_map_path`'s unless ``stock``.
    """
    _Collecting.errors = []
    monkeypatch.setattr(pyx12.error_handler, "err_handler", _Collecting)
    monkeypatch.setattr(logging.getLogger("pyx12"), "disabled", True)
    valid = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(),
        src_file=str(path),
        fd_997=None,
        fd_html=None,
        fd_json=io.StringIO(),
        map_path=None if stock else guide_map_path(),
    )
    errors = list(_Collecting.errors)
    assert valid == (not errors), (valid, errors)
    return errors


def assert_valid(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Zero errors from pyx12 and zero diagnostics (structure and balancing) from oxedi."""
    assert pyx12_errors(path, monkeypatch) == [], path.read_text()
    assert [str(d) for d in oxedi.parse_file(path).diagnostics] == [], path.read_text()


def segments(path: Path) -> list[list[str]]:
    """The file's segments as element lists (``~`` then a newline ends each one)."""
    return [s.split("*") for s in path.read_text().split("~\n") if s]


def of(path: Path, segment_id: str) -> list[list[str]]:
    return [s for s in segments(path) if s[0] == segment_id]


def plb_items(path: Path) -> list[tuple[str, Decimal]]:
    return [(s[i], Decimal(s[i + 1])) for s in of(path, "PLB") for i in range(3, len(s), 2)]


@pytest.fixture
def db() -> Any:
    return golden_final_store()


@pytest.fixture
def written(db: Any, tmp_path: Path) -> dict[int, Path]:
    paths = write_remittances(db, EVENT, tmp_path)
    return {int(p.stem.rsplit("_", 1)[1]): p for p in paths}


def test_one_valid_file_per_payee_of_the_event(written, monkeypatch):
    assert sorted(written) == [101, 102, 103, 105, 106, 107, 200]
    for center_id, path in written.items():
        assert path.name == file_name(EVENT, center_id) == f"PE-G1_{center_id}.835"
        assert_valid(path, monkeypatch)


def test_bpr_amounts_add_up_to_the_event_disbursed_total(written, db):
    total = sum(Decimal(of(p, "BPR")[0][2]) for p in written.values())
    disbursed = sum(dec(s["disbursed"]) for s in db.PaymentSettlement.find())
    assert total == disbursed == Decimal("384.88")


@pytest.mark.parametrize(
    ("center_id", "bpr", "trn02"),
    [
        (101, ["BPR", "I", "97.82", "C", "CHK"], "500120"),
        (107, ["BPR", "I", "50", "C", "ACH", "CCP"], "EFT000000007"),
        (200, ["BPR", "I", "237.06", "C", "CHK"], "500121"),
        (102, ["BPR", "H", "0", "C", "NON"], "PE-G1-102"),
        (103, ["BPR", "H", "0", "C", "NON"], "PE-G1-103"),
        (105, ["BPR", "H", "0", "C", "NON"], "PE-G1-105"),
        (106, ["BPR", "H", "0", "C", "NON"], "PE-G1-106"),
    ],
)
def test_payment_method_and_trace(written, center_id, bpr, trn02):
    segment = of(written[center_id], "BPR")[0]
    assert [e for e in segment[:6] if e] == bpr
    assert segment[-1] == "20261120"
    assert of(written[center_id], "TRN")[0] == ["TRN", "1", trn02, "1750000001"]


def test_claims_and_plb_match_ledger_and_over_under(written, db):
    for center_id, path in written.items():
        entries = list(
            db.ClaimFinCore.find({"PaymentEvent_ID": EVENT, "PaymentCenter_ID": center_id})
        )
        clp04 = sum(Decimal(s[4]) for s in of(path, "CLP"))
        assert clp04 == sum(dec(e["benefit_amount"]) for e in entries)
        interest = sum(dec(e["interest_amount"]) for e in entries)
        assert sum(Decimal(s[2]) for s in of(path, "AMT") if s[1] == "I") == interest
        settlement = db.PaymentSettlement.find_one({"PaymentCenter_ID": center_id})
        expected = [("L6", -interest)] if interest else []
        expected += [(f"WO>{a['ou_id']}", dec(a["amount"])) for a in settlement["over_applied"]]
        expected += [(f"FB>{a['ou_id']}", -dec(a["amount"])) for a in settlement["under_consumed"]]
        if settlement["new_over_id"]:
            expected.append((f"FB>{settlement['new_over_id']}", -dec(settlement["new_over"])))
        if settlement["new_under_id"]:
            expected.append((f"FB>{settlement['new_under_id']}", dec(settlement["new_under"])))
        assert plb_items(path) == expected
        bpr02 = Decimal(of(path, "BPR")[0][2])
        assert bpr02 == clp04 - sum(a for _, a in plb_items(path)) == dec(settlement["disbursed"])


def test_payee_101_replacement_and_void_and_replace(written):
    path = written[101]
    claims = [(s[1], s[2], s[3], s[4], s[7]) for s in of(path, "CLP")]
    assert claims == [
        ("PCN-C1001", "1", "280", "157.34", "C1001"),
        ("PCN-C2002", "22", "-100", "-100", "C2001"),
        ("PCN-C2002", "1", "120", "70.56", "C2002"),
        ("PCN-C9003", "22", "-80", "-80", "C9001"),
        ("PCN-C9003", "1", "120", "96.04", "C9003"),
    ]
    assert plb_items(path) == [("L6", Decimal("-3.88")), ("WO>OU-1", Decimal("50"))]
    assert of(path, "PLB")[0][:3] == ["PLB", "1000000012", "20261231"]
    assert of(path, "N1")[1] == ["N1", "PE", "North Clinic PA", "XX", "1000000012"]
    assert ["REF", "TJ", "741000001"] in segments(path)
    text = path.read_text()
    claim_1001 = text[text.index("CLP*PCN-C1001") : text.index("CLP*PCN-C2002")]
    assert claim_1001.split("~\n")[1:] == [
        "NM1*QC*1*C1001*Pat****MI*M1001",
        "DTM*050*20260901",
        "AMT*I*3.88",
        "SVC*HC>99213*200*117.6**1",
        "DTM*472*20260820",
        "CAS*CO*45*50**253*2.4",
        "CAS*PR*2*30",
        "AMT*B6*150",
        "SVC*HC>99213*80*39.74**1",
        "DTM*472*20260820",
        "CAS*CO*45*14.45**253*0.81",
        "CAS*PR*1*10**3*15",
        "AMT*B6*65.55",
        "",
    ]


def test_payee_102_void_offset_and_carried_balances(written):
    path = written[102]
    assert [(s[2], s[4]) for s in of(path, "CLP")] == [("22", "-40"), ("1", "19.6")]
    assert plb_items(path) == [
        ("FB>OU-2", Decimal("-3.00")),
        ("FB>PE-G1:102:OVER", Decimal("-17.40")),
    ]


def test_held_and_below_minimum_carry_a_new_under(written):
    assert plb_items(written[103]) == [("FB>PE-G1:103:UNDER", Decimal("49.00"))]
    assert plb_items(written[106]) == [("FB>PE-G1:106:UNDER", Decimal("4.00"))]
    assert plb_items(written[105]) == [
        ("WO>OU-5a", Decimal("30.00")),
        ("WO>OU-5b", Decimal("70.00")),
    ]


def test_denied_and_over_allowed_claims(written):
    path = written[200]
    text = path.read_text()
    denied = text[text.index("CLP*PCN-C6002") :]
    assert denied.startswith("CLP*PCN-C6002*4*500*0**ZZ*C6002**1~\n")
    assert "CAS*CO*204*500~\n" in denied  # no denial_reason on the claim: CARC 204
    assert "AMT*B6" not in denied


@pytest.mark.parametrize(("reason", "clp", "cas"), [
    ({"group": "CO", "code": "50"}, "CLP*PCN-C6002*4*500*0**ZZ", "CAS*CO*50*500~"),
    ({"group": "PR", "code": "27"}, "CLP*PCN-C6002*4*500*0*500*ZZ", "CAS*PR*27*500~"),
])
def test_a_denied_claim_carries_its_own_denial_reason(db, tmp_path, monkeypatch, reason, clp,
                                                      cas):
    db.ClaimWSCore.insert_one({"_id": "C6002", "ClaimCore_ID": "C6002", "denial_reason": reason})
    path = {p.name: p for p in write_remittances(db, EVENT, tmp_path)}["PE-G1_200.835"]
    denied = path.read_text()[path.read_text().index("CLP*PCN-C6002"):]
    assert denied.startswith(clp) and f"{cas}\n" in denied
    assert_valid(path, monkeypatch)


def test_a_malformed_denial_reason_is_named(db, tmp_path):
    db.ClaimWSCore.insert_one({"_id": "C6002", "ClaimCore_ID": "C6002",
                               "denial_reason": {"group": "XX", "code": "50"}})
    with pytest.raises(RemittanceError, match="ClaimWSCore C6002: denial_reason"):
        write_remittances(db, EVENT, tmp_path)


def test_rerun_writes_the_same_bytes_with_the_same_control_numbers(db, written, tmp_path):
    first = {c: p.read_bytes() for c, p in written.items()}
    sequence = db.Sequences.find_one({"_id": "x12:interchange"})
    assert sequence["next"] == 8
    numbers = sorted(r["control_number"] for r in db.RemittanceFile.find())
    assert numbers == list(range(1, 8))
    again = write_remittances(db, EVENT, tmp_path / "again")
    assert {int(p.stem.rsplit("_", 1)[1]): p.read_bytes() for p in again} == first
    assert db.Sequences.find_one({"_id": "x12:interchange"}) == sequence
    isa13 = {of(p, "ISA")[0][13] for p in written.values()}
    assert len(isa13) == 7


def test_control_numbers_continue_the_stored_sequence(db, tmp_path):
    db.Sequences.insert_one({"_id": "x12:interchange", "next": 41})
    paths = write_remittances(db, EVENT, tmp_path)
    assert [int(of(p, "ISA")[0][13]) for p in paths] == list(range(41, 48))
    assert [of(p, "GS")[0][6] for p in paths] == [str(n) for n in range(41, 48)]


def test_changed_figures_refuse_to_reuse_a_control_number(db, written, tmp_path):
    db.PaymentCenter.update_one({"_id": 101}, {"$set": {"vendor_name": "North Clinic LLC"}})
    with pytest.raises(RemittanceError, match="no longer matches"):
        write_remittances(db, EVENT, tmp_path / "again")


def test_inconsistent_ledger_is_refused(db, tmp_path):
    db.ClaimFinCore.update_one({"_id": "PE-G1:C1001"}, {"$set": {"benefit_amount": d128("157.00")}})
    with pytest.raises(RemittanceError, match="C1001"):
        write_remittances(db, EVENT, tmp_path)
    assert db.Sequences.find_one({"_id": "x12:interchange"}) is None


def test_event_must_exist_be_final_and_name_its_payer(db, tmp_path):
    with pytest.raises(ConfigurationError, match="unknown"):
        write_remittances(db, "PE-NONE", tmp_path)
    with pytest.raises(StageError):
        write_remittances(db, "PE-G2", tmp_path)
    db.FundingSource.update_one({"_id": "FS-G"}, {"$unset": {"payer.contact_phone": ""}})
    with pytest.raises(ConfigurationError, match="payer.contact_phone"):
        write_remittances(db, EVENT, tmp_path)


def _cli(db: Any, monkeypatch: pytest.MonkeyPatch, *args: str, opened: list | None = None):
    """Run the command on the fixture database instead of opening a store."""
    store = functions.Store("mongomock://", db, db.client)

    def get_connection(uri: str, **options: Any) -> functions.Store:
        if opened is not None:
            opened.append((uri, options))
        return store

    monkeypatch.setattr(functions, "get_connection", get_connection)
    monkeypatch.setattr(functions, "close_connection", lambda: None)
    return CliRunner().invoke(main, list(args))


def test_cli_writes_the_files_and_prints_their_paths(db, tmp_path, monkeypatch):
    result = _cli(db, monkeypatch, "-p", EVENT, "--db-uri", "mongomock://", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.split() == [
        str(tmp_path / file_name(EVENT, c)) for c in (101, 102, 103, 105, 106, 107, 200)
    ]


def test_cli_exit_codes(db, tmp_path, monkeypatch):
    result = _cli(
        db, monkeypatch, "-p", "PE-G2", "--db-uri", "mongomock://", "--out", str(tmp_path)
    )
    assert result.exit_code == 3
    assert "not FINAL" in result.output
    assert _cli(db, monkeypatch, "-p", EVENT, "--out", str(tmp_path)).exit_code == 2


def test_cli_takes_the_db_timeout_from_the_environment(db, tmp_path, monkeypatch):
    monkeypatch.setenv("PAYMENT_DB_TIMEOUT_S", "2.5")
    opened: list = []
    result = _cli(db, monkeypatch, "-p", EVENT, "--db-uri", "mongomock://", "--out",
                  str(tmp_path), opened=opened)
    assert result.exit_code == 0, result.output
    assert opened == [("mongomock://", {"timeout_s": 2.5})]


def test_a_line_without_units_is_one_unit(db, tmp_path, monkeypatch):
    db.PaymentInfo.update_one({"_id": "PE-G1:C1001"}, {"$set": {"lines.0.units": None}})
    path = write_remittances(db, EVENT, tmp_path)[0]
    assert path.name == file_name(EVENT, 101)
    assert_valid(path, monkeypatch)
    svc = [s for s in path.read_text().split("~") if s.strip().startswith("SVC*")]
    assert svc[0].strip().split("*")[5] == "1"


def test_files_are_private_to_owner_and_group(written):
    assert {stat.S_IMODE(p.stat().st_mode) for p in written.values()} == {0o640}


def test_a_directory_in_the_way_writes_nothing_and_uses_no_number(db, tmp_path):
    (tmp_path / file_name(EVENT, 105)).mkdir()
    with pytest.raises(RemittanceOutputError, match=r"PE-G1_105\.835: something other"):
        write_remittances(db, EVENT, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["PE-G1_105.835"]
    assert db.RemittanceFile.count_documents({}) == 0
    assert db.Sequences.find_one({"_id": "x12:interchange"}) is None


def test_an_output_directory_that_cannot_exist_is_named(db, tmp_path):
    (tmp_path / "file").write_text("")
    message = f"cannot write 835 files to {tmp_path}/file/835"
    with pytest.raises(RemittanceOutputError, match=message):
        write_remittances(db, EVENT, tmp_path / "file" / "835")
    assert db.RemittanceFile.count_documents({}) == 0


def test_numbers_are_recorded_durably_before_the_first_file(db, tmp_path, monkeypatch):
    """A write that stops part-way (a kill, a full disk) never leaves a number to reuse."""
    durable: dict[str, list] = {}

    def checkpoint() -> None:  # what the embedded store would have on disk
        durable["RemittanceFile"] = list(db.RemittanceFile.find())
        durable["Sequences"] = list(db.Sequences.find())
        assert list(tmp_path.iterdir()) == []

    real = writer.write_private_file_atomically
    calls = []

    def failing(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(writer, "write_private_file_atomically", failing)
    with pytest.raises(RemittanceOutputError, match="No space left on device"):
        write_remittances(db, EVENT, tmp_path, checkpoint=checkpoint)
    assert sorted(r["control_number"] for r in durable["RemittanceFile"]) == list(range(1, 8))
    assert durable["Sequences"] == [{"_id": "x12:interchange", "next": 8}]
    written_before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert len(written_before) == 2
    # the next run, from what was durable, reuses the recorded numbers: same bytes
    db.RemittanceFile.delete_many({})
    db.RemittanceFile.insert_many(durable["RemittanceFile"])
    monkeypatch.setattr(writer, "write_private_file_atomically", real)
    again = write_remittances(db, EVENT, tmp_path / "again")
    assert {p.name: p.read_bytes() for p in again if p.name in written_before} == written_before
    assert db.Sequences.find_one({"_id": "x12:interchange"})["next"] == 8


def test_cli_unwritable_output_is_one_line_exit_4(db, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    result = _cli(db, monkeypatch, "-p", EVENT, "--db-uri", "mongomock://",
                  "--out", str(tmp_path / "file" / "835"))
    assert result.exit_code == 4
    assert result.output == (f"error: cannot write 835 files to {tmp_path}/file/835: "
                             "Not a directory\n")


def test_a_balance_forwarded_with_fb_is_recovered_with_fb_under_its_reference(db, tmp_path):
    """Guide 1.10.2.12: the recovery repeats FB and the reference the balance was forwarded
    under, with the opposite sign, so the provider can match the two."""
    db.PaymentSettlement.insert_one({"_id": "PE-G0:105", "PaymentEvent_ID": "PE-G0",
                                     "PaymentCenter_ID": 105, "new_over_id": "OU-5a"})
    paths = {p.name: p for p in write_remittances(db, EVENT, tmp_path)}
    assert plb_items(paths["PE-G1_105.835"]) == [
        ("FB>OU-5a", Decimal("30.00")),  # forwarded by PE-G0's 835
        ("WO>OU-5b", Decimal("70.00")),  # a balance no 835 of ours forwarded
    ]


@pytest.mark.parametrize("records", [7, 13])
def test_many_over_records_take_several_plbs_that_both_validators_accept(
        db, tmp_path, monkeypatch, records):
    cents = [10000 // records + (1 if n < 10000 % records else 0) for n in range(records)]
    applied = [{"ou_id": f"OU-X{n}", "amount": d128(Decimal(c) / 100)}
               for n, c in enumerate(cents)]
    db.PaymentSettlement.update_one({"_id": "PE-G1:105"}, {"$set": {"over_applied": applied}})
    path = {p.name: p for p in write_remittances(db, EVENT, tmp_path)}["PE-G1_105.835"]
    assert [len(s) for s in of(path, "PLB")] == [3 + 2 * min(6, records - n)
                                                 for n in range(0, records, 6)]
    assert sum(a for _, a in plb_items(path)) == Decimal("100.00")
    assert_valid(path, monkeypatch)


def test_stock_pyx12_rejects_a_second_plb(db, tmp_path, monkeypatch):
    applied = [{"ou_id": f"OU-X{n}", "amount": d128("12.50")} for n in range(8)]
    db.PaymentSettlement.update_one({"_id": "PE-G1:105"}, {"$set": {"over_applied": applied}})
    path = {p.name: p for p in write_remittances(db, EVENT, tmp_path)}["PE-G1_105.835"]
    assert [e[1:3] for e in pyx12_errors(path, monkeypatch, stock=True)] == [
        ("4", "Loop FOOTER exceeded max count.  Found 2, should have 1")]
    assert pyx12_errors(path, monkeypatch) == []


def test_a_check_payee_without_a_mailing_address_gets_no_835(db, tmp_path):
    db.PaymentCenter.update_one({"_id": 101}, {"$set": {"address.state": "Nevada"}})
    with pytest.raises(RemittanceError, match="PaymentCenter 101 is paid by check but has no "
                       "mailing address: address.state 'Nevada' is not a USPS state code"):
        write_remittances(db, EVENT, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_other_payees_without_an_address_go_without_n3_n4(db, tmp_path, monkeypatch):
    db.PaymentCenter.update_one({"_id": 107}, {"$unset": {"address.city": ""}})
    path = {p.name: p for p in write_remittances(db, EVENT, tmp_path)}["PE-G1_107.835"]
    assert [s[1] for s in of(path, "N1")] == ["PR", "PE"]
    assert [s[1] for s in of(path, "N4")] == ["Dallas"]  # the payer's only
    assert_valid(path, monkeypatch)


def test_a_payer_state_that_is_not_a_usps_code_is_a_configuration_error(db, tmp_path):
    db.FundingSource.update_one({"_id": "FS-G"}, {"$set": {"payer.address.state": "Texas"}})
    with pytest.raises(ConfigurationError,
                       match="payer.address.state 'Texas' is not a USPS state code"):
        write_remittances(db, EVENT, tmp_path)


def test_a_second_address_line_is_kept(db, tmp_path, monkeypatch):
    db.PaymentCenter.update_one({"_id": 101}, {"$set": {"address.line2": "Suite 200",
                                                        "address.zip": "75001-4321"}})
    path = {p.name: p for p in write_remittances(db, EVENT, tmp_path)}["PE-G1_101.835"]
    assert of(path, "N3")[1] == ["N3", "1 Main St", "Suite 200"]
    assert of(path, "N4")[1] == ["N4", "Dallas", "TX", "750014321"]
    assert_valid(path, monkeypatch)
