"""Shared fixtures: the golden cycle of ../shared/golden and helpers to read a store."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bson import json_util
from bson.decimal128 import Decimal128
from hypothesis import settings

from PaymentProcess.data import extended_json

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PAYMENT_SHARED_DIR", REPO.parent / "shared"))
GOLDEN_SOURCE = SHARED / "golden" / "store"
GOLDEN_EXPECTED = SHARED / "golden" / "expected.json"
GOLDEN_BANK_OVERLAY = REPO / "tests" / "golden_bank_overlay.json"

# The property tests draw new examples on every run, except under the "ci" profile, which
# `.ci/run` selects: there they run on fixed examples, so that a red CI (which stops a
# landing) always names a change, never a throw of the dice. PAYMENT_HYPOTHESIS_PROFILE=ci
# reproduces CI's examples anywhere.
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile(os.environ.get("PAYMENT_HYPOTHESIS_PROFILE", "default"))


def add_golden_bank_data(store: Path) -> None:
    """Add the bank fields of ``tests/golden_bank_overlay.json`` to a golden store copy.

    The shared golden store predates spec 13 (bank data) and is read-only; its PE-G1 pays
    an EFT, which needs bank data. Only the documents named are rewritten, the ``bank``
    field placed after ``address`` (``eft_trace_prefix`` for the funding source) and the
    line written as the shared ones are (json_util's format), so every other line and
    field stays byte for byte as shared.
    """
    overlay = json.loads(GOLDEN_BANK_OVERLAY.read_text())
    for collection in ("FundingSource", "PaymentCenter"):
        path = store / f"{collection}.jsonl"
        lines = []
        for line in path.read_text().splitlines():
            document = extended_json.loads(line)
            fields = overlay[collection].get(str(document["_id"]))
            if fields:
                anchor = "address" if "address" in document else "eft_trace_prefix"
                updated: dict[str, Any] = {}
                for key, value in document.items():
                    updated[key] = value
                    if key == anchor:
                        updated.update(fields)
                line = json_util.dumps(updated, json_options=json_util.RELAXED_JSON_OPTIONS)
            lines.append(line + "\n")
        path.write_text("".join(lines))


def _golden_store_with_bank_data() -> Path:
    """A private copy of the golden store with bank data, removed when the tests end."""
    target = Path(tempfile.mkdtemp(prefix="golden-")) / "store"
    shutil.copytree(GOLDEN_SOURCE, target)
    target.chmod(0o755)
    for file in target.iterdir():
        file.chmod(0o644)
    add_golden_bank_data(target)
    atexit.register(shutil.rmtree, target.parent, True)
    return target


GOLDEN_STORE = _golden_store_with_bank_data()
"""The golden store as every test sees it: ``../shared/golden/store`` plus bank data."""


def read_store(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every collection of an embedded store directory, as documents."""
    return {
        file.stem: [json_util.loads(line) for line in file.read_text().splitlines() if line.strip()]
        for file in sorted(path.glob("*.jsonl"))
    }


def money(value: Any) -> Decimal:
    """A stored amount as Decimal (asserting it is Decimal128, never a float)."""
    assert isinstance(value, Decimal128), f"{value!r} is not Decimal128"
    return value.to_decimal()


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python main.py ARGS`` as an operator would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, str(REPO / "main.py"), *args], cwd=cwd or REPO,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def expected() -> dict[str, Any]:
    """../shared/golden/expected.json."""
    return json.loads(GOLDEN_EXPECTED.read_text())


@pytest.fixture
def golden_dir(tmp_path: Path) -> Path:
    """A private, writable copy of the golden store directory (shared/ may be read-only)."""
    target = tmp_path / "store"
    shutil.copytree(GOLDEN_STORE, target)
    for path in (target, *target.iterdir()):
        path.chmod(path.stat().st_mode | 0o200)
    return target
