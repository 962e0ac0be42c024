"""Orchestration of a payment cycle: dry run, validate-only and the exactly-once final run.

A run streams the event's claims chain by chain (pass 1), judges and computes every chain
in ``--workers`` processes, settles each payee and compares the inputs' fingerprint with
the dry run. A final run then freezes its inputs, and writes — every write replayable,
with an embedded-store checkpoint after each phase — payees, numbers, the ledger and
PaymentInfo (pass 2 recomputes the chains batch by batch, so memory stays bounded), the
O/U changes, payments and settlements, and finally the stage ``FINAL``.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from PaymentProcess.common.functions import Store
from PaymentProcess.controls.approval import check_approved
from PaymentProcess.core import postal, records
from PaymentProcess.core import validation as codes
from PaymentProcess.core.bank_validation import check_bank_data
from PaymentProcess.core.claim_processor import (
    first_pass,
    group_by_parent,
    mentioned_claim_ids,
    whole_chain_parts,
)
from PaymentProcess.core.payment_center import (
    PaymentCenterCache,
    PaymentCenterManager,
    PaymentCenterSummary,
)
from PaymentProcess.core.plain_lines import second_pass
from PaymentProcess.core.run_control import (
    Fingerprint,
    current_user,
    describe_changes,
    ledger_digests,
    new_run_id,
    now_utc,
)
from PaymentProcess.core.settlement import PayeeSettlement, PayeeTotals, settle_payee
from PaymentProcess.data.config.config_loader import ConfigInvalid, ConfigLoader, EventConfig
from PaymentProcess.data.models.event import ENGINE_OWNED_FIELDS, RunMode, Stage
from PaymentProcess.data.models.over_under import OverUnderRecord
from PaymentProcess.data.models.payment import (
    BatchInput,
    ChainInput,
    ChainResult,
    ChainStatus,
    LedgerState,
    PaymentContext,
)
from PaymentProcess.data.models.payment_center import (
    PayeeStatus,
    PaymentCenterType,
    PaymentMethod,
)
from PaymentProcess.data.models.stats import PayeeRow, PaymentEventStats, ValidationReport
from PaymentProcess.data.repositories import collections as coll
from PaymentProcess.data.repositories.claim_repository import (
    ClaimRepository,
    claim_id_text,
    ledger_states,
)
from PaymentProcess.data.repositories.event_repository import EventRepository
from PaymentProcess.data.repositories.manifest_repository import ManifestRepository
from PaymentProcess.data.repositories.payment_center_repo import PaymentCenterRepository
from PaymentProcess.data.repositories.payment_repository import PaymentRepository
from PaymentProcess.processing.optimization.batch_processor import collect_per_batch
from PaymentProcess.processing.parallel.chain_ranges import (
    ChainRange,
    ListedChains,
    split_chains,
)
from PaymentProcess.processing.parallel.multiprocessing import (
    run_claim_batch_level,
    run_forked_once,
)
from PaymentProcess.utils.error_handling import (
    ConcurrencyError,
    CriticalValidationError,
    PaymentProcessError,
    SequenceNumberError,
    StageError,
)
from PaymentProcess.utils.logging import bind_run, get_logger
from PaymentProcess.utils.money import ZERO
from PaymentProcess.utils.progress import progress

log = get_logger(__name__)
CONFIG_COLLECTIONS = (coll.PAYMENT_EVENT, coll.INCLUSION_CRITERIA, coll.FUNDING_SOURCE,
                      coll.INTEREST_RULES)


@dataclass(frozen=True, slots=True)
class RunSettings:
    """How to run: workers, batch size, overrides and the test hook for checkpoints."""

    db_uri: str
    workers: int = 1
    batch_size: int = 1000
    log_level: str = "INFO"
    pc_type: PaymentCenterType | None = None
    resume: bool = False
    checkpoint_hook: Callable[[str], None] | None = None


@dataclass(frozen=True, slots=True)
class Repositories:
    """Every repository of one run, sharing the process's single connection."""

    claims: ClaimRepository
    payments: PaymentRepository
    payment_centers: PaymentCenterRepository
    events: EventRepository

    @classmethod
    def for_store(cls, store: Store, batch_size: int) -> Repositories:
        """Build the repositories on the store's database."""
        if store.kind == "mongodb":
            claims = ClaimRepository(store.db, retryable_marks=True)
            payments = PaymentRepository(store.db, batch_size, insert_first=True)
        else:  # the embedded store: the claims read and the records written uncopied
            from PaymentProcess.data import mongomock_patches  # imported with the store

            claims = ClaimRepository(store.db, find_stored=mongomock_patches.find_stored)
            payments = PaymentRepository(store.db, batch_size,
                                         insert_built=mongomock_patches.insert_built)
        return cls(claims, payments, PaymentCenterRepository(store.db, batch_size),
                   EventRepository(store.db, batch_size))


@dataclass(slots=True)
class CycleAnalysis:
    """Everything pass 1 learns about the event; the input of settlement and writes.

    ``ledger_payees`` holds, by (payee the ledger paid before, final version's key), the
    ``PC_MISMATCH`` findings of the chains concerned, reported only if that payee turns
    out to have another key.
    """

    config: EventConfig
    context: PaymentContext
    report: ValidationReport = field(default_factory=ValidationReport)
    fingerprint: Fingerprint = field(default_factory=Fingerprint)
    totals_by_key: dict[str, PayeeTotals] = field(default_factory=dict)
    totals_by_id: dict[int, PayeeTotals] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    ledger_payees: dict[tuple[int, str], ValidationReport] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    payees: PaymentCenterSummary = field(default_factory=PaymentCenterSummary)
    open_records: list[dict[str, Any]] = field(default_factory=list)
    settlements: list[PayeeSettlement] = field(default_factory=list)

    def count(self, name: str, amount: int = 1) -> None:
        """Add to a named counter."""
        self.counts[name] = self.counts.get(name, 0) + amount


class PaymentProcessor:
    """Runs a payment event's dry run, validate-only run or final run."""

    def __init__(self, config_loader: ConfigLoader, repos: Repositories, settings: RunSettings,
                 store: Store) -> None:
        self.config_loader = config_loader
        self.repos = repos
        self.settings = settings
        self.store = store

    # ------------------------------------------------------------------ entry points
    def run_dry_run(self, payment_event_id: str) -> PaymentEventStats:
        """Compute everything a final run would; write only workspace, estimates and stats."""
        stats = self.initialize_stats(payment_event_id, "DRY_RUN")
        config = self.load_config(payment_event_id, stats)
        if config is None:
            return self._save_stats(stats, [coll.PAYMENT_EVENT_STATS])
        if config.event.stage in (Stage.FINAL_RUNNING, Stage.FINAL):
            raise StageError(f"payment event {payment_event_id} is {config.event.stage}: "
                             "a dry run is only possible before the final run")
        analysis = self.analyze(config, stats, resuming=False, frozen=False)
        cache = self._project_new_payees(analysis)
        self.settle(analysis, cache)
        self._check_numbers(analysis, stats)
        self._check_addresses(analysis, stats)
        check_bank_data(analysis.config.funding, analysis.settlements, analysis.payees.existing,
                        stats.report)
        self._timed(stats, "write", lambda: self._write_dry_run(analysis, cache, stats))
        fingerprint = analysis.fingerprint.full_digest(self._fingerprint_records(analysis))
        record = {"run_id": stats.run_id, "finished_at": now_utc(), "fingerprint": fingerprint,
                  "critical_findings": sum(f.count for f in stats.report.findings.values()
                                           if f.severity == codes.CRITICAL),
                  "run_by": stats.run_by}
        ManifestRepository(self.store.db).replace(payment_event_id,
                                                  analysis.fingerprint.manifest)
        if not self.repos.events.record_dry_run(payment_event_id, record):
            raise ConcurrencyError(f"payment event {payment_event_id} changed stage during "
                                   "the dry run")
        stats.written = [coll.PAYMENT_CENTER_WS, coll.PAYMENT_ESTIMATE, coll.INPUT_MANIFEST,
                         coll.PAYMENT_EVENT_STATS, coll.PAYMENT_EVENT]
        return self._save_stats(stats, stats.written)

    def run_validate_only(self, payment_event_id: str) -> PaymentEventStats:
        """Validations only: findings and counts, no calculation, only the stats written."""
        stats = self.initialize_stats(payment_event_id, "VALIDATE_ONLY")
        config = self.load_config(payment_event_id, stats)
        if config is not None and config.event.stage in (Stage.FINAL_RUNNING, Stage.FINAL):
            raise StageError(f"payment event {payment_event_id} is {config.event.stage}: its "
                             "claims are paid or being paid, there is nothing to validate")
        if config is not None:
            self.analyze(config, stats, resuming=False, frozen=False)
        stats.written = [coll.PAYMENT_EVENT_STATS]
        return self._save_stats(stats, stats.written)

    def run_final_run(self, payment_event_id: str) -> PaymentEventStats:
        """Pay the event exactly once (spec section 9); resumable after a crash."""
        stats = self.initialize_stats(payment_event_id, "FINAL")
        config = self.load_config(payment_event_id, stats)
        if config is None:
            return self._blocked(stats)
        raw_event = config.documents[0] | self._engine_fields(payment_event_id)
        resuming = self._admit_final(payment_event_id, config.event.stage, raw_event, stats)
        frozen = resuming and bool(raw_event.get("final_run", {}).get("backup_complete"))
        analysis = self.analyze(config, stats, resuming=resuming, frozen=frozen)
        if resuming:
            self._check_resumable(payment_event_id, raw_event, analysis, frozen, stats.run_id)
        if stats.report.blocked:
            return self._blocked(stats)

        if not resuming:
            self.settle(analysis, self._project_new_payees(analysis))
            self._check_numbers(analysis, stats)
            self._check_addresses(analysis, stats)
            check_bank_data(analysis.config.funding, analysis.settlements,
                            analysis.payees.existing, stats.report)
            if stats.report.blocked:
                return self._blocked(stats)
            fingerprint = analysis.fingerprint.full_digest(self._fingerprint_records(analysis))
            if fingerprint != raw_event.get("dry_run", {}).get("fingerprint"):
                self._refuse_changed_inputs(analysis)
            self._begin_final(payment_event_id, fingerprint, raw_event["dry_run"]["run_id"],
                              analysis, stats)
        if not frozen:
            self.backup(payment_event_id, analysis, stats.run_id,
                        raw_event["dry_run"]["fingerprint"])

        self._timed(stats, "write", lambda: self._write_final(analysis, stats))
        stats.written = [coll.PAYMENT_CENTER, coll.SEQUENCES, coll.CLAIM_FIN, coll.PAYMENT_INFO,
                         coll.CLAIM_WS, coll.OVER_UNDER, coll.PAYMENTS, coll.PAYMENT_SETTLEMENT,
                         coll.PAYMENT_EVENT_STATS, coll.PAYMENT_EVENT]
        stats.status = "SUCCEEDED"
        stats.finished_at = now_utc()
        self.repos.events.save_stats(stats.as_document())
        if not self.repos.events.finish_final(payment_event_id, stats.run_id, stats.finished_at):
            self.repos.events.discard_final_stats(payment_event_id, stats.run_id, others=False)
            raise ConcurrencyError(f"payment event {payment_event_id} was taken over by another "
                                   "run before it could be marked FINAL")
        self._checkpoint("finished", [coll.PAYMENT_EVENT_STATS, coll.PAYMENT_EVENT])
        return stats

    # ------------------------------------------------------------------ phases
    def initialize_stats(self, payment_event_id: str, stage: str) -> PaymentEventStats:
        """A new run's stats record; its id goes on every following log line."""
        run_id = new_run_id(payment_event_id, stage)
        bind_run(payment_event_id=payment_event_id, run_id=run_id, run_kind=stage)
        log.info("run started", workers=self.settings.workers,
                 batch_size=self.settings.batch_size, store=self.store.uri)
        return PaymentEventStats(run_id=run_id, payment_event_id=payment_event_id, stage=stage,
                                 started_at=now_utc(), store=self.store.uri,
                                 run_by=current_user())

    def load_config(self, payment_event_id: str, stats: PaymentEventStats) -> EventConfig | None:
        """The event's configuration, or None with CONFIG_INVALID findings in the stats."""
        try:
            return self.config_loader.load(payment_event_id)
        except ConfigInvalid as exc:
            for problem in exc.problems:
                stats.report.add(codes.CONFIG_INVALID, payment_event_id, problem)
            return None

    def analyze(self, config: EventConfig, stats: PaymentEventStats, resuming: bool,
                frozen: bool) -> CycleAnalysis:
        """Pass 1: judge and compute every chain, load payees and O/U, aggregate per payee."""
        analysis = CycleAnalysis(config, self._context(config))
        bind_run(phase="claims")
        started = time.perf_counter()
        total, ranges = self._list_claims(analysis, resuming)
        with (progress("reading and computing", total) as advance,
              collect_per_batch() as collect):
            for results, report in self._evaluate(analysis, resuming, ranges):
                analysis.report.merge(report)
                for chain in results:
                    self._aggregate(analysis, chain, stats)
                advance(sum(chain.claim_count for chain in results))
                collect()
        stats.timings["claims"] = time.perf_counter() - started
        log.info("phase finished", seconds=round(stats.timings["claims"], 3),
                 claims=analysis.counts.get("claims", 0),
                 chains_included=analysis.counts.get("chains_included", 0),
                 chains_excluded=analysis.counts.get("chains_excluded", 0),
                 chains_blocked=analysis.counts.get("chains_blocked", 0))
        self._timed(stats, "payees", lambda: self.process_payment_centers(analysis, frozen))
        stats.report.merge(analysis.report)
        stats.counts.update(analysis.counts)
        return analysis

    def process_payment_centers(self, analysis: CycleAnalysis, frozen: bool) -> None:
        """Load the payees and open O/U records the event needs (frozen ones when resuming)."""
        keys = set(analysis.totals_by_key)
        ids = set(analysis.totals_by_id) | {payee_id for payee_id, _ in analysis.ledger_payees}
        event_id = analysis.context.payment_event_id
        if frozen:
            documents = self.repos.events.restore(event_id, coll.PAYMENT_CENTER)
        else:
            documents = self.repos.payment_centers.find(keys, ids)
        manager = self._payee_manager(analysis)
        analysis.payees = manager.summarize(documents, keys, ids)
        for payee_id, problem in analysis.payees.invalid:
            analysis.report.add(codes.RECORD_INVALID, payee_id, problem)
        for (payee_id, key), mismatch in analysis.ledger_payees.items():
            ledger_key = analysis.payees.key_by_id.get(payee_id)  # None: RECORD_INVALID above
            if ledger_key is not None and ledger_key != key:
                analysis.report.merge(mismatch)
        for payee_id, totals in analysis.totals_by_id.items():
            key = analysis.payees.key_by_id.get(payee_id)
            if key is not None:
                analysis.totals_by_key.setdefault(key, PayeeTotals()).merge(totals)
        payee_ids = [payee.id for key, payee in analysis.payees.existing.items()
                     if key in analysis.totals_by_key]
        if frozen:
            analysis.open_records = self.repos.events.restore(event_id, coll.OVER_UNDER)
        else:
            analysis.open_records = self.repos.payments.open_over_under(payee_ids)
        for record_id, problem in codes.invalid_documents(OverUnderRecord, coll.OVER_UNDER,
                                                          analysis.open_records):
            analysis.report.add(codes.RECORD_INVALID, record_id, problem)
        analysis.counts["payees"] = len(analysis.totals_by_key)
        analysis.counts["new_payees"] = len(analysis.payees.missing_keys)

    def settle(self, analysis: CycleAnalysis, cache: PaymentCenterCache) -> None:
        """Settle every payee with an included chain, in ascending key order (spec 7)."""
        records_by_payee: dict[int, list[OverUnderRecord]] = {}
        for document in analysis.open_records:
            try:
                record = OverUnderRecord.model_validate(document)
            except PydanticValidationError:
                continue  # RECORD_INVALID, reported by process_payment_centers
            records_by_payee.setdefault(record.PaymentCenter_ID, []).append(record)
        event = analysis.config.event
        analysis.settlements = []
        for key in sorted(analysis.totals_by_key):
            payee = analysis.payees.existing.get(key)
            method = payee.payment_method if payee else PaymentMethod.CHECK
            status = payee.status if payee else PayeeStatus.ACTIVE
            payee_id = cache.get(key)
            analysis.settlements.append(settle_payee(
                key, payee_id, method, status, analysis.totals_by_key[key],
                records_by_payee.get(payee_id, []) if payee else [],
                event.id, event.min_payment_amount))

    def backup(self, payment_event_id: str, analysis: CycleAnalysis, run_id: str,
               inputs: str) -> None:
        """Freeze the payees and O/U records the run computes from, before any write.

        ``inputs``: the fingerprint of the dry run this final run matched.
        """
        events = self.repos.events
        events.backup(payment_event_id, coll.PAYMENT_CENTER, analysis.payees.documents, inputs)
        events.backup(payment_event_id, coll.OVER_UNDER, analysis.open_records, inputs)
        if not self.repos.events.set_final_run_field(payment_event_id, run_id,
                                                     "backup_complete", True):
            # A resumed run took the event over (the operator thought this run dead):
            # stop before the first write of record and leave the event to it.
            raise ConcurrencyError(f"payment event {payment_event_id} was taken over by another "
                                   "run before this one froze its inputs: nothing was paid")
        self._checkpoint("backup", [coll.RUN_BACKUP, coll.PAYMENT_EVENT])

    def _check_resumable(self, payment_event_id: str, raw_event: dict[str, Any],
                         analysis: CycleAnalysis, frozen: bool, run_id: str) -> None:
        """A resumed run computes from exactly the inputs the final run began with.

        Those are the inputs of the dry run it matched: claims, ledger, configuration,
        and the payees and O/U records (the frozen copies once ``backup_complete``).
        When they differ and were never frozen, nothing of record was written yet: the
        event goes back to DRY_RUN for a new dry run and review. When they were frozen,
        writes of record may exist: the event stays FINAL_RUNNING until they are restored.
        """
        fingerprint = analysis.fingerprint.full_digest(self._fingerprint_records(analysis))
        if fingerprint == raw_event.get("dry_run", {}).get("fingerprint"):
            return
        if frozen:
            raise StageError(f"the claims, ledger or configuration of {payment_event_id} "
                             f"changed while its final run was interrupted"
                             f"{self._changes(analysis)}; restore them, then resume")
        if not self.repos.events.release_final(payment_event_id, run_id):
            raise ConcurrencyError(f"another run took over payment event {payment_event_id}")
        self._checkpoint("released", [coll.PAYMENT_EVENT])
        log.warning("final run released", reason="inputs changed before they were frozen")
        raise StageError(f"the inputs of {payment_event_id} changed after its final run began "
                         f"and before it froze them{self._changes(analysis)}; nothing was paid "
                         "and the event is back to DRY_RUN: run the dry run again, then the "
                         "final run")

    # ------------------------------------------------------------------ helpers
    def _changes(self, analysis: CycleAnalysis) -> str:
        """' (what changed since the dry run)', or '' when its manifest was not stored."""
        stored = ManifestRepository(self.store.db).load(analysis.context.payment_event_id)
        changes = describe_changes(stored, analysis.fingerprint.manifest) if stored else ""
        return f" ({changes})" if changes else ""

    def _context(self, config: EventConfig) -> PaymentContext:
        event = config.event
        return PaymentContext(
            payment_event_id=event.id,
            pc_type=self.settings.pc_type or event.pc_type,
            due_date=event.due_date,
            benefit_plan_ids=config.criteria.benefit_plan_ids,
            payment_center_keys=config.criteria.payment_center_keys,
            payment_reduction_pct=event.payment_reduction_pct,
            interest=config.interest.terms_for(event.business),
        )

    def _payee_manager(self, analysis: CycleAnalysis) -> PaymentCenterManager:
        return PaymentCenterManager(self.repos.payment_centers, analysis.context.pc_type)

    def _engine_fields(self, payment_event_id: str) -> dict[str, Any]:
        raw = self.repos.events.load(payment_event_id) or {}
        return {k: raw[k] for k in ENGINE_OWNED_FIELDS if k in raw}

    def _admit_final(self, payment_event_id: str, stage: Stage, raw_event: dict[str, Any],
                     stats: PaymentEventStats) -> bool:
        """Stage rules of spec section 9; True when this run resumes a crashed one."""
        if stage is Stage.FINAL:
            raise StageError(f"payment event {payment_event_id} is already FINAL: "
                             "an event is paid exactly once")
        if stage is Stage.FINAL_RUNNING:
            if not self.settings.resume:
                raise StageError(f"payment event {payment_event_id} has a final run in progress "
                                 "or interrupted: if it died, rerun with --resume")
            previous = raw_event.get("final_run", {}).get("run_id")
            if not self.repos.events.take_over_final(payment_event_id, previous, stats.run_id):
                raise ConcurrencyError(f"another run took over payment event {payment_event_id}")
            # An attempt that died after saving its stats but before marking the event
            # FINAL left a SUCCEEDED stats document: the event has one final run's stats.
            self.repos.events.discard_final_stats(payment_event_id, stats.run_id, others=True)
            log.info("final run resumed", previous_run_id=previous)
            return True
        dry_run = raw_event.get("dry_run")
        if stage is not Stage.DRY_RUN or not dry_run:
            raise StageError(f"payment event {payment_event_id} has no dry run: "
                             "run --mode dry-run first")
        if dry_run.get("critical_findings"):
            raise CriticalValidationError(
                f"the latest dry run of {payment_event_id} has critical findings: "
                "fix them and run the dry run again")
        check_approved(payment_event_id, raw_event)
        return False

    def _begin_final(self, payment_event_id: str, fingerprint: str, dry_run_id: str,
                     analysis: CycleAnalysis, stats: PaymentEventStats) -> None:
        record = {"run_id": stats.run_id, "started_at": stats.started_at,
                  "inputs_fingerprint": analysis.fingerprint.inputs_digest(),
                  "backup_complete": False, "resumed_by": []}
        if not self.repos.events.begin_final(payment_event_id, fingerprint, dry_run_id, record):
            raise ConcurrencyError(f"payment event {payment_event_id} is being paid by another "
                                   "run, or its dry run changed: nothing was written")
        self._checkpoint("begin", [coll.PAYMENT_EVENT])

    def _refuse_changed_inputs(self, analysis: CycleAnalysis) -> None:
        """The inputs differ from the dry run's: edited, or another final run began writing
        since this one was admitted (on MongoDB both read the same store at once)."""
        payment_event_id = analysis.context.payment_event_id
        if self._engine_fields(payment_event_id).get("stage") != Stage.DRY_RUN.value:
            raise ConcurrencyError(f"payment event {payment_event_id} is being paid by another "
                                   "run, or its dry run changed: nothing was written")
        raise StageError(f"the inputs of {payment_event_id} changed since its last dry "
                         f"run{self._changes(analysis)}: run the dry run again, then "
                         "the final run")

    @staticmethod
    def _blocked(stats: PaymentEventStats) -> PaymentEventStats:
        """A final run stopped by critical findings before any write: nothing is stored."""
        stats.status = "BLOCKED"
        stats.finished_at = now_utc()
        return stats

    def _count_claims(self, analysis: CycleAnalysis, resuming: bool) -> int:
        """Count the claims a pass reads and note the duplicated ClaimCore_IDs in its context."""
        counts = self.repos.claims.claim_id_counts(analysis.context.payment_event_id, resuming)
        self._note_duplicates(analysis, counts)
        return sum(counts.values())

    def _reads_pass_one_claims(self, payment_event_id: str) -> bool:
        """Whether pass 2 reads the very claims pass 1 read (then it keeps pass 1's
        duplicated ClaimCore_IDs instead of counting them again).

        True on the embedded store, locked by this run (nothing else writes it between
        the passes), while no claim is marked paid by this event: pass 2's filter (the
        unpaid claims and those this event marked) then selects those of pass 1's filter
        whether pass 1 resumed or not. On MongoDB others may write between the passes:
        pass 2 counts again.
        """
        return (self.store.kind == "embedded"
                and not self.repos.claims.any_marked_paid(payment_event_id))

    @staticmethod
    def _note_duplicates(analysis: CycleAnalysis, counts: Counter[str]) -> None:
        analysis.context = replace(analysis.context, duplicate_claim_ids=frozenset(
            claim_id for claim_id, n in counts.items() if n > 1))

    def _list_claims(self, analysis: CycleAnalysis, resuming: bool
                     ) -> tuple[int, list[ChainRange] | list[ListedChains] | None]:
        """Pass 1's look at the claims before reading them: their number, the duplicated
        ClaimCore_IDs (noted in the context) and the ranges of chains its workers compute.

        On the embedded store, the stored claims themselves, listed once
        (:meth:`_list_stored_claims`). On MongoDB with several workers, ranges each worker
        reads itself, cut from one projection (:meth:`ClaimRepository.chain_listing`).
        None: the run reads every chain (MongoDB with one worker, or a parent id that is
        not text).
        """
        if self.store.kind == "embedded":
            return self._list_stored_claims(analysis, resuming)
        if self.settings.workers <= 1:
            return self._count_claims(analysis, resuming), None
        counts: Counter[str] = Counter()

        def parent_ids() -> Iterator[Any]:
            for parent_id, claim_id in self.repos.claims.chain_listing(
                    analysis.context.payment_event_id, resuming):
                counts[claim_id] += 1
                yield parent_id

        listing = parent_ids()
        ranges = split_chains(listing, self.settings.batch_size)
        deque(listing, maxlen=0)  # split_chains stops at a parent id that is not text
        self._note_duplicates(analysis, counts)
        return sum(counts.values()), ranges

    def _list_stored_claims(self, analysis: CycleAnalysis, resuming: bool
                            ) -> tuple[int, list[ListedChains]]:
        """The embedded store's listing: the event's claims as stored (not copied), in
        chain order, counted and cut into parts of whole chains of a batch or more. It
        is pass 1's only read of them: the workers, forked once after it, inherit them."""
        documents = list(self.repos.claims.fetch_ws(analysis.context.payment_event_id,
                                                    self.settings.batch_size, resuming))
        self._note_duplicates(analysis, Counter(map(claim_id_text, documents)))
        return len(documents), [ListedChains(part) for part in
                                whole_chain_parts(documents, self.settings.batch_size)]

    def _evaluate(self, analysis: CycleAnalysis, resuming: bool,
                  ranges: list[ChainRange] | list[ListedChains] | None = None,
                  pass_two: bool = False) -> Iterator[tuple[list[ChainResult], ValidationReport]]:
        """Stream the event's chains in batches through the worker pool, in order.

        Pass 1 gets chain summaries and the claims' digests (hashed by the workers) and
        fingerprints the inputs; pass 2 gets every claim's lines to write them. With
        ``ranges`` (:meth:`_list_claims`) pass 1 computes range by range, in workers
        forked once (:meth:`_first_pass_ranges`).
        """
        context = analysis.context
        if ranges is not None:
            yield from self._first_pass_ranges(analysis, resuming, ranges)
            return
        documents = self.repos.claims.fetch_ws(context.payment_event_id,
                                               self.settings.batch_size, resuming)
        batches = self._batches(group_by_parent(documents), context.payment_event_id,
                                self.repos.claims,
                                None if pass_two else analysis.fingerprint.add_ledger, set())
        if pass_two:
            yield from run_claim_batch_level(batches, partial(second_pass, context),
                                             self.settings.workers)
            return
        for results, report, digests, ids in run_claim_batch_level(
                batches, partial(first_pass, context), self.settings.workers):
            analysis.fingerprint.add_claims(digests, ids)
            yield results, report

    def _first_pass_ranges(self, analysis: CycleAnalysis, resuming: bool,
                           ranges: list[ChainRange] | list[ListedChains]
                           ) -> Iterator[tuple[list[ChainResult], ValidationReport]]:
        """Pass 1 range by range (:meth:`_first_pass_range`), in the run and workers
        forked once for the pass, merged in range order: the fingerprint, findings and
        figures of one reader.

        A malformed ledger entry is counted once a run: a range counts those that no
        earlier batch of *its own* counted, so the count of one that an earlier range
        counted too is taken back here. A range that returns another number of claims than
        the projection listed saw the claims change (a PaymentProcessError, exit 4): one
        reader would have read them in another state, so the run stops before any write.
        """
        if self.store.kind == "mongodb":
            log.info("workers read their own ranges", ranges=len(ranges),
                     workers=self.settings.workers)
        reported: set[str] = set()
        for chains, batches in zip(ranges, run_forked_once(
                ranges, partial(self._first_pass_range, analysis.context, resuming),
                self.settings.workers), strict=True):
            if (read := sum(len(batch[3]) for batch in batches)) != chains.claims:
                raise PaymentProcessError(
                    f"the claims of {analysis.context.payment_event_id} changed while pass 1 "
                    f"was reading them ({read} read where {chains.claims} were listed): run "
                    "it again once nothing else writes them")
            for results, report, digests, ids, ledger, counted in batches:
                analysis.fingerprint.add_claims(digests, ids)
                analysis.fingerprint.add_ledger_digests(ledger)
                if recounted := len(counted & reported):
                    report.findings[codes.RECORD_INVALID.code].count -= recounted
                reported |= counted
                yield results, report

    def _first_pass_range(self, context: PaymentContext, resuming: bool,
                          chains: ChainRange | ListedChains
                          ) -> list[tuple[list[ChainResult], ValidationReport, list[bytes],
                                          list[Any], list[tuple[str, bytes]], set[str]]]:
        """Pass 1 of one range of chains in the process computing it: for each batch, the
        chain summaries, findings, claim digests and ids, ledger digests and the malformed
        ledger entries it counted. No claim document leaves the process. A
        :class:`ChainRange` is read with the process's own client
        (:meth:`Store.process_db`); listed chains are the documents the process has."""
        if isinstance(chains, ListedChains):
            claims, documents = self.repos.claims, chains.documents
        else:
            claims = ClaimRepository(self.store.process_db())
            documents = claims.fetch_ws(context.payment_event_id, self.settings.batch_size,
                                        resuming, chains)
        ledger: list[tuple[str, bytes]] = []
        reported: set[str] = set()
        counted: set[str] = set()
        computed = []
        for batch in self._batches(group_by_parent(documents), context.payment_event_id, claims,
                                   lambda entries: ledger.extend(ledger_digests(entries)),
                                   reported):
            computed.append((*first_pass(context, batch), ledger[:], reported - counted))
            ledger.clear()
            counted |= reported
        return computed

    def _batches(self, chains: Iterable[tuple[Any, list[dict[str, Any]]]], payment_event_id: str,
                 claims: ClaimRepository, on_ledger: Callable[[list[dict[str, Any]]], None] | None,
                 reported: set[str]) -> Iterator[BatchInput]:
        """Whole chains, about ``batch_size`` claims a batch, with their ledger state read
        through ``claims``; ``on_ledger`` gets each batch's own ledger entries (pass 1's
        fingerprint); ``reported``: the malformed ledger entries counted so far."""
        pending: list[tuple[Any, list[dict[str, Any]]]] = []
        size = 0
        for parent_id, documents in chains:
            pending.append((parent_id, documents))
            size += len(documents)
            if size >= self.settings.batch_size:
                yield self._batch_input(pending, payment_event_id, claims, on_ledger, reported)
                pending, size = [], 0
        if pending:
            yield self._batch_input(pending, payment_event_id, claims, on_ledger, reported)

    @staticmethod
    def _batch_input(chains: list[tuple[Any, list[dict[str, Any]]]], payment_event_id: str,
                     claims: ClaimRepository,
                     on_ledger: Callable[[list[dict[str, Any]]], None] | None,
                     reported: set[str]) -> BatchInput:
        chain_ids = [p for p, _ in chains if isinstance(p, str)]
        mentioned = mentioned_claim_ids(d for _, documents in chains for d in documents)
        documents, entries, malformed = claims.fetch_fin(payment_event_id, chain_ids,
                                                         sorted(mentioned))
        states, owners = ledger_states(entries)
        if on_ledger is not None:  # the claims' digests come back with the batch's results
            chain_set = set(chain_ids)
            on_ledger([d for d in documents if d["ParentClaimCore_ID"] in chain_set])
        return BatchInput(
            chains=tuple(ChainInput(parent_id, tuple(documents),
                                    states.get(parent_id, LedgerState()))
                         for parent_id, documents in chains),
            ledger_claim_chains=owners,
            invalid_ledger=codes.invalid_ledger_entries(malformed, reported),
        )

    def _aggregate(self, analysis: CycleAnalysis, chain: ChainResult,
                   stats: PaymentEventStats) -> None:
        analysis.count("claims", chain.claim_count)
        analysis.count(f"chains_{chain.status.value.lower()}")
        if chain.status is not ChainStatus.INCLUDED:
            return
        analysis.count("claims_settled", chain.claim_count)
        if chain.payee_key is not None:
            totals = analysis.totals_by_key.setdefault(chain.payee_key, PayeeTotals())
            if chain.payee_source is not None:
                analysis.sources.setdefault(chain.payee_key, chain.payee_source)
            if chain.payee_id is not None:  # paid before: checked against the ledger's payee
                analysis.ledger_payees.setdefault(
                    (chain.payee_id, chain.payee_key), ValidationReport()).add(
                    codes.PC_MISMATCH, chain.parent_id,
                    f"paid before to PaymentCenter {chain.payee_id}, final version's payee "
                    f"{chain.payee_key}")
        else:
            totals = analysis.totals_by_id.setdefault(chain.payee_id, PayeeTotals())
        totals.add_chain(chain.parent_id, chain.net, chain.interest)
        money = stats.totals
        money.billed += chain.billed
        money.allowed += chain.allowed
        money.paid += chain.paid
        money.reduction += chain.reduction
        money.net += chain.net
        money.interest += chain.interest

    def _project_new_payees(self, analysis: CycleAnalysis) -> PaymentCenterCache:
        """Ids the missing payees get (the final run allocates the same block)."""
        if not analysis.payees.missing_keys:
            return analysis.payees.build_cache(None)
        sequence_next = self.repos.payments.peek_sequence("PaymentCenter")
        floor = self.repos.payment_centers.max_id() + 1
        return analysis.payees.build_cache(max(sequence_next or floor, floor))

    def _check_numbers(self, analysis: CycleAnalysis, stats: PaymentEventStats) -> None:
        """SEQUENCE_EXHAUSTED when the checks needed do not fit in the check range."""
        funding = analysis.config.funding
        checks = sum(1 for s in analysis.settlements
                     if s.disbursed > 0 and s.method is PaymentMethod.CHECK)
        if not checks:
            return
        start = max(self.repos.payments.peek_sequence(f"check:{funding.id}") or 0,
                    funding.check_range.start)
        if start + checks - 1 > funding.check_range.end:
            stats.report.add(codes.SEQUENCE_EXHAUSTED, funding.id,
                             f"{checks} checks from {start} exceed the range end "
                             f"{funding.check_range.end}")

    @staticmethod
    def _check_addresses(analysis: CycleAnalysis, stats: PaymentEventStats) -> None:
        """ADDRESS_INVALID / ADDRESS_INCOMPLETE for settled payees without a mailing address."""
        addresses = postal.payee_addresses(analysis.payees.documents,
                                           analysis.payees.missing_keys, analysis.sources)
        postal.report_address_findings(analysis.settlements, addresses, stats.report)

    def _fingerprint_records(self, analysis: CycleAnalysis) -> dict[str, list[dict[str, Any]]]:
        """The configuration, payee and O/U documents the run read, by collection."""
        records = {name: [document] for name, document in zip(
            CONFIG_COLLECTIONS, analysis.config.documents, strict=True) if document is not None}
        records[coll.PAYMENT_CENTER] = sorted(analysis.payees.documents,
                                              key=lambda d: str(d.get("_id")))
        records[coll.OVER_UNDER] = sorted(analysis.open_records, key=lambda d: str(d.get("_id")))
        return records

    def _write_dry_run(self, analysis: CycleAnalysis, cache: PaymentCenterCache,
                       stats: PaymentEventStats) -> None:
        event_id = analysis.context.payment_event_id
        self._payee_manager(analysis).sync_to_ws(event_id, analysis.payees, cache,
                                                  analysis.sources)
        estimates = [{"_id": f"{event_id}:{s.key}", "PaymentEvent_ID": event_id,
                      **records.settlement_figures(s)} for s in analysis.settlements]
        self.repos.payments.persist_estimates(estimates)
        self._summarize_settlements(analysis, stats)

    def _write_final(self, analysis: CycleAnalysis, stats: PaymentEventStats) -> None:
        event = analysis.config.event
        event_id = event.id
        cache = self._create_payees(analysis)
        self.settle(analysis, cache)
        self._assign_numbers(analysis)
        self._checkpoint("numbers", [coll.SEQUENCES])
        self._write_chains(analysis, cache)
        self._checkpoint("ledger", [coll.CLAIM_FIN, coll.PAYMENT_INFO, coll.CLAIM_WS])
        applications, new_records, payments, settlements = [], [], [], []
        for settlement in analysis.settlements:
            applications += records.record_applications(settlement)
            new_records += records.new_over_under(event_id, settlement, event.due_date)
            if settlement.disbursed > 0:
                payments.append(records.payment(event_id, settlement, event.due_date,
                                                event.funding_source_id))
            settlements.append({"_id": f"{event_id}:{settlement.payee_id}",
                                "PaymentEvent_ID": event_id,
                                **records.settlement_figures(settlement),
                                "new_over_id": _created_id(event_id, settlement, "OVER"),
                                "new_under_id": _created_id(event_id, settlement, "UNDER"),
                                "number": settlement.number})
        self.repos.payments.calc_and_upsert_over_under(event_id, applications, new_records)
        self.repos.payments.persist_payments(payments)
        self.repos.payments.persist_settlements(settlements)
        self._checkpoint("settlement", [coll.OVER_UNDER, coll.PAYMENTS, coll.PAYMENT_SETTLEMENT])
        self._summarize_settlements(analysis, stats)
        log.info("settled", payees=len(settlements), payments=len(payments),
                 ou_applications=len(applications), ou_created=len(new_records))
        stats.counts["ou_created"] = len(new_records)
        stats.counts["ou_closed"] = sum(1 for a in applications if a["status"] == "CLOSED")

    def _create_payees(self, analysis: CycleAnalysis) -> PaymentCenterCache:
        missing = analysis.payees.missing_keys
        first = None
        if missing:
            first = self.repos.payments.allocate_sequence(
                "PaymentCenter", analysis.context.payment_event_id, len(missing),
                self.repos.payment_centers.max_id() + 1)
        cache = analysis.payees.build_cache(first)
        if missing:
            self._payee_manager(analysis).create_missing_in_prod(analysis.payees, cache,
                                                                 analysis.sources)
        self._checkpoint("payees", [coll.PAYMENT_CENTER, coll.SEQUENCES])
        return cache

    def _assign_numbers(self, analysis: CycleAnalysis) -> None:
        """Check and EFT numbers, consecutive in ascending PaymentCenter_ID order (spec 7)."""
        funding = analysis.config.funding
        event_id = analysis.context.payment_event_id
        for method, name, floor in ((PaymentMethod.CHECK, f"check:{funding.id}",
                                     funding.check_range.start),
                                    (PaymentMethod.EFT, f"eft:{funding.id}", 1)):
            paid = sorted((s for s in analysis.settlements
                           if s.disbursed > 0 and s.method is method), key=lambda s: s.payee_id)
            if not paid:
                continue
            start = self.repos.payments.allocate_sequence(name, event_id, len(paid), floor)
            if method is PaymentMethod.CHECK and start + len(paid) - 1 > funding.check_range.end:
                raise SequenceNumberError(f"check numbers {start}..{start + len(paid) - 1} "
                                          f"exceed the range of {funding.id}")
            for offset, settlement in enumerate(paid):
                number = start + offset
                settlement.number = (number if method is PaymentMethod.CHECK
                                     else records.eft_trace(funding.eft_trace_prefix, number))

    def _write_chains(self, analysis: CycleAnalysis, cache: PaymentCenterCache) -> None:
        """Pass 2: recompute each batch and write its ledger, PaymentInfo and claim status."""
        event = analysis.config.event
        check = {key: (t.pos, t.neg) for key, t in analysis.totals_by_key.items()}
        seen: dict[str, list] = {}
        replay = CycleAnalysis(analysis.config, analysis.context)
        if not self._reads_pass_one_claims(event.id):
            self._count_claims(replay, resuming=True)
        with (progress("writing", analysis.counts.get("claims_settled")) as advance,
              collect_per_batch() as collect):
            for results, _ in self._evaluate(replay, resuming=True, pass_two=True):
                ledger, infos, settled = [], [], []
                for chain in results:
                    if chain.status is not ChainStatus.INCLUDED:
                        continue
                    key = chain.payee_key or analysis.payees.key_by_id[chain.payee_id]
                    payee_id = cache[key]
                    pos_neg = seen.setdefault(key, [ZERO, ZERO])
                    pos_neg[0] += chain.net + chain.interest if chain.net > 0 else ZERO
                    pos_neg[1] += -chain.net if chain.net < 0 else ZERO
                    ledger.append(records.ledger_entry(event.id, chain, payee_id, event.due_date))
                    infos += [records.payment_info(event.id, chain, claim, payee_id)
                              for claim in chain.claims]
                    settled += [claim.document_id for claim in chain.claims]
                self.repos.payments.persist_claim_aggregate(ledger)
                self.repos.payments.persist_service_line(infos)
                self.repos.claims.mark_paid(event.id, settled)
                advance(len(settled))
                collect()
                self._hook("batch")
        if {k: tuple(v) for k, v in seen.items()} != check:
            raise PaymentProcessError("the claims changed while the final run was writing; "
                                      "the run stopped and can be resumed with --resume")

    def _summarize_settlements(self, analysis: CycleAnalysis, stats: PaymentEventStats) -> None:
        money = stats.totals
        by_method: dict[str, int] = {}
        for s in analysis.settlements:
            money.recouped_this_cycle += s.offset
            money.prior_over_offsets += s.over_offsets
            money.under_consumed += s.consumed_under
            money.new_over += s.new_over
            money.new_under += s.new_under
            money.disbursed += s.disbursed
            if s.disbursed > 0:
                by_method[s.method.value] = by_method.get(s.method.value, 0) + 1
                stats.disbursed_by_method[s.method.value] = (
                    stats.disbursed_by_method.get(s.method.value, ZERO) + s.disbursed)
            stats.payees.append(_payee_row(analysis, s))
        stats.counts["disbursements_by_method"] = by_method

    def _timed(self, stats: PaymentEventStats, phase: str, action: Callable[[], Any]) -> Any:
        bind_run(phase=phase)
        started = time.perf_counter()
        try:
            return action()
        finally:
            elapsed = time.perf_counter() - started
            stats.timings[phase] = stats.timings.get(phase, 0.0) + elapsed
            log.info("phase finished", seconds=round(elapsed, 3))

    def _checkpoint(self, name: str, collections: list[str]) -> None:
        self.store.checkpoint(collections)
        log.info("checkpoint", checkpoint=name)
        self._hook(name)

    def _hook(self, name: str) -> None:
        if self.settings.checkpoint_hook is not None:
            self.settings.checkpoint_hook(name)

    def _save_stats(self, stats: PaymentEventStats, collections: list[str]) -> PaymentEventStats:
        stats.status = "BLOCKED" if stats.report.blocked else "SUCCEEDED"
        stats.finished_at = now_utc()
        self.repos.events.save_stats(stats.as_document())
        self._checkpoint("stats", collections)
        return stats


def _payee_row(analysis: CycleAnalysis, settlement: PayeeSettlement) -> PayeeRow:
    """The summary's line of one settled payee (``PaymentEventStats.payees``)."""
    payee = analysis.payees.existing.get(settlement.key)
    name = payee.vendor_name if payee else analysis.sources.get(settlement.key, {}).get(
        "vendor_name")
    return PayeeRow(
        PaymentCenter_ID=settlement.payee_id, key=settlement.key, name=name or "",
        status=settlement.payee_status.value, method=settlement.method.value,
        disbursed=settlement.disbursed, held=settlement.new_under,
        held_reason=settlement.under_reason, offset=settlement.offset,
        recouped=settlement.over_offsets, under_consumed=settlement.consumed_under,
        new_over=settlement.new_over,
        number=None if settlement.number is None else str(settlement.number))


def _created_id(event_id: str, settlement: PayeeSettlement, kind: str) -> str | None:
    amount = settlement.new_over if kind == "OVER" else settlement.new_under
    return records.ou_record_id(event_id, settlement.payee_id, kind) if amount > 0 else None


__all__ = ["PaymentProcessor", "Repositories", "RunMode", "RunSettings"]
