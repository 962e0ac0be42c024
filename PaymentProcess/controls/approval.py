"""Maker-checker approval of a dry run, and the gate a final run passes (spec section 14).

A final run pays only the event's latest dry run, approved by a named approver, with the
fingerprint it approved; a newer dry run needs a new approval. The approval is one
conditional update of the event (:meth:`ControlRepository.approve`): exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PaymentProcess.core.run_control import now_utc
from PaymentProcess.data.models.event import Stage
from PaymentProcess.data.models.stats import printable
from PaymentProcess.data.repositories.control_repository import ControlRepository
from PaymentProcess.utils.error_handling import (
    ConcurrencyError,
    ConfigurationError,
    CriticalValidationError,
    StageError,
)

DISTINCT_APPROVER_ENV = "PAYMENT_REQUIRE_DISTINCT_APPROVER"
MAX_APPROVER_LENGTH = 100


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """``require_distinct``: the approver must not be the user who ran the dry run."""

    require_distinct: bool = False


def _approve_command(payment_event_id: str, run_id: str) -> str:
    return f"python -m PaymentProcess.controls approve -p {payment_event_id} --run-id {run_id}"


def check_approved(payment_event_id: str, raw_event: dict[str, Any]) -> None:
    """Refuse (exit 3) a final run whose latest dry run is not the approved one.

    The caller has checked that a clean dry run exists; whether the inputs still match
    its fingerprint is checked by the final run once it has computed them.
    """
    dry_run = raw_event.get("dry_run") or {}
    approval = raw_event.get("approval")
    latest = dry_run.get("run_id")
    if not approval:
        raise StageError(f"the latest dry run {latest} of {payment_event_id} is not approved: "
                         f"review it, then {_approve_command(payment_event_id, latest)}")
    if approval.get("run_id") != latest or approval.get("fingerprint") != dry_run.get(
            "fingerprint"):
        raise StageError(f"a newer dry run {latest} of {payment_event_id} replaced the approved "
                         f"dry run {approval.get('run_id')}: review it, then "
                         f"{_approve_command(payment_event_id, latest)}")


def check_person(name: str, role: str = "approver") -> str:
    """A person's name (approver, who voids), stripped; ConfigurationError (exit 2) when
    empty, too long or unprintable."""
    stripped = name.strip()
    if not stripped or len(stripped) > MAX_APPROVER_LENGTH or not stripped.isprintable():
        raise ConfigurationError(f"{role} must be 1-{MAX_APPROVER_LENGTH} printable "
                                 f"characters, not {printable(name, 40)!r}")
    return stripped


def approve(repository: ControlRepository, payment_event_id: str, run_id: str, approver: str,
            policy: ApprovalPolicy) -> dict[str, Any]:
    """Approve the dry run ``run_id`` of the event; returns the approval as stored.

    Refusals: unknown event or run (exit 2); not the latest dry run, already approved,
    event final, approver who ran the dry run under ``policy`` (exit 3); a dry run with
    critical findings (exit 1).
    """
    approver = check_person(approver)
    event = repository.load_event(payment_event_id)
    if event is None:
        raise ConfigurationError(f"unknown payment event {payment_event_id!r}")
    stage = event.get("stage", Stage.NEW.value)
    if stage in (Stage.FINAL_RUNNING.value, Stage.FINAL.value):
        raise StageError(f"payment event {payment_event_id} is {stage}: its final run has "
                         "begun, there is no dry run left to approve")
    dry_run = event.get("dry_run") or {}
    if dry_run.get("run_id") != run_id:
        stats = repository.stats(run_id)
        if stats is None or stats.get("PaymentEvent_ID") != payment_event_id or stats.get(
                "stage") != "DRY_RUN":
            raise ConfigurationError(f"{run_id!r} is not a dry run of {payment_event_id}")
        raise StageError(f"dry run {run_id} of {payment_event_id} was replaced by a newer dry "
                         f"run {dry_run.get('run_id')}: review and approve that one")
    if dry_run.get("critical_findings"):
        raise CriticalValidationError(
            f"dry run {run_id} of {payment_event_id} has {dry_run['critical_findings']} "
            "critical findings and cannot be approved: fix them and run the dry run again")
    previous = event.get("approval") or {}
    if previous.get("run_id") == run_id:
        raise StageError(f"dry run {run_id} of {payment_event_id} is already approved by "
                         f"{previous.get('approver')} at {previous.get('approved_at')}")
    if policy.require_distinct and not dry_run.get("run_by"):
        raise StageError(f"who ran dry run {run_id} is not recorded, so a distinct approver "
                         f"cannot be checked ({DISTINCT_APPROVER_ENV} is set): run the dry "
                         "run again")
    if policy.require_distinct and approver == dry_run.get("run_by"):
        raise StageError(f"{approver} ran dry run {run_id} and may not approve it "
                         f"({DISTINCT_APPROVER_ENV} is set): another person must approve")
    approval = {"run_id": run_id, "fingerprint": dry_run["fingerprint"], "approver": approver,
                "approved_at": now_utc()}
    if not repository.approve(payment_event_id, approval):
        current = repository.load_event(payment_event_id) or {}
        winner = current.get("approval") or {}
        if winner.get("run_id") == run_id:
            raise ConcurrencyError(f"dry run {run_id} of {payment_event_id} was approved at the "
                                   f"same time by {winner.get('approver')}")
        raise ConcurrencyError(f"payment event {payment_event_id} changed while approving "
                               "(a newer dry run or a final run): nothing was approved")
    return (repository.load_event(payment_event_id) or {}).get("approval", approval)
