"""A payee's address defects are findings of the dry run; a check needs a mailing address."""

from __future__ import annotations

import json
from pathlib import Path

from bson import json_util

from tests.conftest import read_store, run_cli


def edit_payee(store_dir: Path, payee_id: int, address: dict | None) -> None:
    path = store_dir / "PaymentCenter.jsonl"
    payees = [json_util.loads(line) for line in path.read_text().splitlines()]
    for payee in payees:
        if payee["_id"] == payee_id:
            payee["address"] = address
    path.write_text("".join(json_util.dumps(p) + "\n" for p in payees))


def findings(result) -> dict[str, dict]:
    return {f["code"]: f for f in json.loads(result.stdout)["findings"]}


def test_address_defects_are_findings_and_block_a_check(golden_dir: Path) -> None:
    uri = f"mongomock://{golden_dir}"
    # 101 is paid by check (97.82); 102 is an EFT payee paid nothing this cycle
    edit_payee(golden_dir, 101, {"line1": "1 Main St", "city": "Reno", "state": "Nevada",
                                 "zip": "89501"})
    edit_payee(golden_dir, 102, None)
    dry = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri, "--json")
    assert dry.returncode == 1, dry.stderr
    found = findings(dry)
    assert found["ADDRESS_INVALID"]["severity"] == "CRITICAL"
    assert found["ADDRESS_INVALID"]["details"] == {
        "PROVIDER:741000001:1000000012": "address.state 'Nevada' is not a USPS state code"}
    assert found["ADDRESS_INCOMPLETE"]["severity"] == "WARNING"
    assert found["ADDRESS_INCOMPLETE"]["details"] == {
        "PROVIDER:741000002:1000000020": "no address"}
    final = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri)
    assert final.returncode == 1
    assert "Payments" not in read_store(golden_dir)


def test_complete_addresses_give_no_address_finding(golden_dir: Path) -> None:
    dry = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", f"mongomock://{golden_dir}",
                  "--json")
    assert dry.returncode == 0
    assert not {"ADDRESS_INVALID", "ADDRESS_INCOMPLETE"} & findings(dry).keys()


def test_a_new_payee_whose_claim_names_no_provider_has_no_address_for_its_check(
        golden_dir: Path) -> None:
    """C6001's payee (TIN 741000004, NPI 1000000046) has no PaymentCenter: it is created
    from the claim, and the claim's provider is its only address. Without one the check
    cannot be mailed, so the run is blocked (found by the random bad-input test)."""
    path = golden_dir / "ClaimWSCore.jsonl"
    claims = [json_util.loads(line) for line in path.read_text().splitlines()]
    for claim in claims:
        if claim["_id"] == "C6001":
            del claim["provider"]
    path.write_text("".join(json_util.dumps(c) + "\n" for c in claims))
    uri = f"mongomock://{golden_dir}"
    dry = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri, "--json")
    assert dry.returncode == 1, dry.stderr
    found = findings(dry)
    assert found["ADDRESS_INVALID"]["details"] == {"PROVIDER:741000004:1000000046": "no address"}
    final = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri)
    assert final.returncode == 1
    assert "Payments" not in read_store(golden_dir)
