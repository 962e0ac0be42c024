"""The approval step between a dry run and a final run (spec section 14), for every test that
pays: in the library (:func:`approve_latest`) or through the command line
(:func:`approve_latest_cli`), as an operator does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pymongo.database import Database

from PaymentProcess.controls.approval import ApprovalPolicy, approve
from PaymentProcess.data.repositories.control_repository import ControlRepository
from tests.conftest import REPO, read_store

APPROVER = "checker"


def approve_latest(db: Database, event: str, approver: str = APPROVER) -> dict[str, Any]:
    """Approve the event's latest dry run as ``approver``; returns the approval."""
    run_id = db.PaymentEvent.find_one({"_id": event})["dry_run"]["run_id"]
    return approve(ControlRepository(db), event, run_id, approver, ApprovalPolicy())


def latest_dry_run_id(path: Path, event: str) -> str:
    """The run id of the event's latest dry run in the embedded store directory ``path``."""
    return next(d for d in read_store(path)["PaymentEvent"] if d["_id"] == event)[
        "dry_run"]["run_id"]


def controls_cli(*args: str, env: dict[str, str] | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m PaymentProcess.controls ARGS`` as an operator would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "PaymentProcess.controls", *args], cwd=REPO,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


def approve_latest_cli(uri: str, event: str, approver: str = APPROVER) -> None:
    """Approve the latest dry run of the event in store ``mongomock://PATH`` through the CLI."""
    path = Path(uri.removeprefix("mongomock://"))
    approved = controls_cli("approve", "-p", event, "--run-id", latest_dry_run_id(path, event),
                            "--approver", approver, "--db-uri", uri)
    assert approved.returncode == 0, approved.stderr
