"""Shared fixtures: the golden cycle of ../shared/golden and helpers to read a store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bson import json_util
from bson.decimal128 import Decimal128

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PAYMENT_SHARED_DIR", REPO.parent / "shared"))
GOLDEN_STORE = SHARED / "golden" / "store"
GOLDEN_EXPECTED = SHARED / "golden" / "expected.json"


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
