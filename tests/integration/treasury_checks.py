"""Checks of written bank files against the store, by three parsers: achkit (PyPI), the npm
parser ``@midlandsbank/node-nacha`` (tests/node) and the engine's own reader."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import achkit
import pytest

from PaymentProcess.treasury.ach_reader import read_ach_file
from tests.conftest import REPO, money

NODE_DIR = REPO / "tests" / "node"


def node_parse(paths: list[Path]) -> list[dict[str, Any]]:
    """Each ACH file as the npm NACHA parser read it (skipped only where node is absent)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the npm NACHA parser cannot run here")
    assert (NODE_DIR / "node_modules" / "@midlandsbank" / "node-nacha").is_dir(), (
        "the npm NACHA parser is not installed: run `npm ci --prefix tests/node` (make setup)")
    result = subprocess.run([node, str(NODE_DIR / "check_ach.js"), *map(str, paths)],
                            capture_output=True, text=True, timeout=120, check=True)
    return [json.loads(line) for line in result.stdout.splitlines()]


def trn_by_payee(remittance_dir: Path, event_id: str) -> dict[int, str]:
    """``TRN*...`` of each payee's 835 in ``remittance_dir``, by PaymentCenter_ID."""
    traces = {}
    for path in remittance_dir.glob(f"{event_id}_*.835"):
        found = re.search(r"^(TRN\*[^~]*)~", path.read_text(), re.M)
        traces[int(path.stem.rsplit("_", 1)[1])] = found.group(1)
    return traces


def cents(value: Any) -> int:
    return int(money(value) * 100)


def assert_bank_files(db: Any, event_id: str, paths: list[Path],
                      remittance_dir: Path | None = None) -> dict[str, Any]:
    """Every file of ``event_id`` against ``Payments``; returns figures for further checks."""
    payments = list(db.Payments.find({"PaymentEvent_ID": event_id}))
    names = {p.name: p for p in paths}
    sources = sorted({p["funding_source_id"] for p in payments})
    eft = [p for p in payments if p["method"] == "EFT"]
    checks = [p for p in payments if p["method"] == "CHECK"]
    for path in paths:
        assert path.stat().st_mode & 0o777 == 0o640, path
    expected_names = {f"{event_id}.check-register.csv"}
    for source in sources:
        if any(p["funding_source_id"] == source for p in eft):
            expected_names.add(f"{event_id}_{source}.ach")
        if any(p["funding_source_id"] == source for p in checks):
            expected_names |= {f"{event_id}_{source}.positive-pay.csv",
                               f"{event_id}_{source}.positive-pay.txt"}
    assert set(names) == expected_names

    traces = trn_by_payee(remittance_dir, event_id) if remittance_dir else {}
    ach_paths = sorted(p for p in paths if p.suffix == ".ach")
    node = node_parse(ach_paths) if ach_paths else []
    for path, theirs in zip(ach_paths, node, strict=True):
        source = path.stem.split("_", 1)[1]
        paid = {p["PaymentCenter_ID"]: p for p in eft if p["funding_source_id"] == source}
        total = sum(cents(p["amount"]) for p in paid.values())
        text = path.read_text(encoding="ascii")
        assert achkit.validate(text) == {"ok": True, "errors": []}, path
        parsed = achkit.parse(text)
        assert parsed["control"]["total_credit"] == total and parsed["control"]["total_debit"] == 0
        assert sum(e["amount_cents"] for b in parsed["batches"] for e in b["entries"]) == total
        assert theirs["errors"] == [], theirs["errors"]
        assert (theirs["totalCredit"], theirs["totalDebit"]) == (total, 0)
        assert theirs["entryAndAddendaCount"] == 2 * len(paid)
        ours = read_ach_file(path.read_bytes())
        assert ours.total_credit_cents == total
        assert [e["trace"] for e in theirs["entries"]] == [e.trace_number for e in ours.entries]
        assert [e["addenda"] for e in theirs["entries"]] == [e.addenda for e in ours.entries]
        assert len(ours.entries) == len(paid)
        for entry in ours.entries:
            payment = paid[int(entry.identification)]
            center = db.PaymentCenter.find_one({"_id": payment["PaymentCenter_ID"]})
            payer = db.FundingSource.find_one({"_id": source})["payer"]
            assert entry.amount_cents == cents(payment["amount"])
            assert entry.addenda == f"TRN*1*{payment['number']}*1{payer['tax_id']}\\"
            assert (entry.routing, entry.account) == (center["bank"]["routing"],
                                                      center["bank"]["account"])
            assert entry.transaction_code == {"CHECKING": "22",
                                              "SAVINGS": "32"}[center["bank"]["type"]]
            if remittance_dir is not None:
                assert entry.addenda == traces[payment["PaymentCenter_ID"]] + "\\"
        assert {b.effective_date for b in ours.batches} == {
            p["issue_date"].strftime("%y%m%d") for p in paid.values()}

    for source in sources:
        mine = sorted((p["number"], cents(p["amount"])) for p in checks
                      if p["funding_source_id"] == source)
        if not mine:
            continue
        rows = list(csv.DictReader(io.StringIO(
            names[f"{event_id}_{source}.positive-pay.csv"].read_text())))
        assert sorted((int(r["check_number"]), int(Decimal(r["amount"]) * 100)) for r in rows) \
            == mine
        assert {r["record_type"] for r in rows} == {"ISSUE"}
        fixed = names[f"{event_id}_{source}.positive-pay.txt"].read_text().splitlines()
        assert [(int(line[18:28]), int(line[28:40])) for line in fixed[:-1]] == mine
        assert fixed[-1][:23] == f"T{len(mine):08d}{sum(c for _, c in mine):014d}"

    register = list(csv.DictReader(io.StringIO(
        names[f"{event_id}.check-register.csv"].read_text(encoding="utf-8"))))
    assert sorted((r["method"], r["number"], r["amount"]) for r in register) == sorted(
        (p["method"], str(p["number"]), str(money(p["amount"]))) for p in payments)
    by_method: dict[str, Decimal] = {}
    for row in register:
        by_method[row["method"]] = by_method.get(row["method"], Decimal(0)) + Decimal(row["amount"])
    return {"by_method": by_method, "ach": [read_ach_file(p.read_bytes()) for p in ach_paths]}
