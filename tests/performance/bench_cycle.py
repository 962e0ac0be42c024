"""Cycle benchmark: dry run and final run of synthetic cycles on the in-memory embedded store.

Run on demand, never in the default test run::

    python -m tests.performance.bench_cycle --claims 10000 100000 300000
    make bench          # pytest tests/performance -m performance -s (10,000 claims)

For each size it generates a fresh in-memory store (``mongomock://``, the embedded store
without a directory) and reports, for the dry run and then the final run of the same
event: the engine's phase timings, claims and service lines per second, the peak RSS
above the RSS before the run (sampled every 20 ms; it includes what the run adds to the
in-memory store), and the **I/O floor**: the time the same store takes to do the run's
reads and writes directly through the driver, with nothing computed:

* reads: the event's claims with the engine's filter and sort, streamed in
  ``batch_size`` batches, and one ledger query a batch (the engine's ``$or`` of the
  batch's chains and claim ids) — read once, although a final run reads them twice;
* writes (final run): one ledger entry a chain and one PaymentInfo a claim (the claim's
  lines with eight amounts), as unordered bulk upserts of ``batch_size`` into scratch
  collections, and one ``update_many`` a batch setting two fields on its claims (a
  scratch field, removed afterwards outside the timing). The dry run writes a few
  documents a payee: its floor is the reads.

It also times the compute phase alone: the batches (claim documents as the store returns
them, Decimal128 amounts, with their ledger state) are read first, then judged and
computed by ``evaluate_batch`` as pass 1 runs it (every line computed, chain summaries
returned) inline (1 worker) and by the run with one forked worker (2 workers), under
the engine's collection policy. Beside it, the **line floor**: every line's six amounts
parsed and computed by the engine's line rule, nothing else; no compute phase written in
Python can be faster. And this machine's **parallel ceilings**: one share of batches
computed by one forked process alone and by two at once, on the documents they inherit
from the run (as workers do) and on private copies (the host's own limit); the ratio is
the most two workers can gain here, whatever the engine does.

``--repeat N`` measures the compute phase, the floors and the dry run N times and
reports the best (the final run changes the store: it runs once).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import platform
import resource
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from types import SimpleNamespace
from typing import Any

from pymongo import ASCENDING, ReplaceOne

from PaymentProcess.common.functions import Store, get_default_workers
from PaymentProcess.core.claim_processor import evaluate_batch, group_by_parent
from PaymentProcess.core.payment_processor import (
    CycleAnalysis,
    PaymentProcessor,
    Repositories,
    RunSettings,
)
from PaymentProcess.core.service_line_processor import ServiceLineProcessor
from PaymentProcess.data.config.config_loader import ConfigLoader
from PaymentProcess.data.embedded_store import EmbeddedStore
from PaymentProcess.data.models.claim import AMOUNT_FIELDS, ClaimStatus
from PaymentProcess.data.models.payment import BatchInput, PaymentContext
from PaymentProcess.data.repositories.claim_repository import ClaimRepository
from PaymentProcess.processing.optimization.batch_processor import collect_per_batch
from PaymentProcess.processing.parallel.multiprocessing import (
    BATCHES_PER_WORKER,
    run_claim_batch_level,
)
from PaymentProcess.synthetic.generator import SyntheticOptions, generate
from PaymentProcess.utils.logging import configure_logging
from PaymentProcess.utils.money import ZERO, parse_amount

BATCH_SIZE = 1000
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * _PAGE


class PeakRss:
    """Peak resident memory of this process while the block runs, sampled every 20 ms."""

    def __enter__(self) -> PeakRss:
        gc.collect()
        self.start = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def above_start_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _processor(store: Store, workers: int = 1) -> PaymentProcessor:
    settings = RunSettings(db_uri=store.uri, workers=workers, batch_size=BATCH_SIZE)
    return PaymentProcessor(ConfigLoader(store.db), Repositories.for_store(store, BATCH_SIZE),
                            settings, store)


def io_floor(store: Store, event_id: str, write: bool) -> dict[str, Any]:
    """The run's reads (and a final run's writes) done directly with the driver."""
    db = store.db
    claims = ClaimRepository(db)
    counts = {"claims": 0, "lines": 0, "chains": 0}
    started = time.perf_counter()
    cursor = db.ClaimWSCore.find(
        ClaimRepository.event_filter(event_id, False),
        sort=[("ParentClaimCore_ID", ASCENDING), ("_id", ASCENDING)], batch_size=BATCH_SIZE)
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        chains = sorted({d["ParentClaimCore_ID"] for d in batch})
        ids = sorted({d.get(n) for d in batch for n in ("ClaimCore_ID", "OriginalClaimCore_ID",
                                                       "VoidClaimCore_ID") if d.get(n)})
        claims.fetch_fin(event_id, chains, ids)
        counts["claims"] += len(batch)
        counts["chains"] += len(chains)
        counts["lines"] += sum(len(d.get("service_lines") or ()) for d in batch)
        if write:
            ledger = [{"_id": f"{event_id}:{p}", "ParentClaimCore_ID": p,
                       "PaymentEvent_ID": event_id,
                       "ClaimCore_IDs": [d["ClaimCore_ID"] for d in batch
                                         if d["ParentClaimCore_ID"] == p][:3],
                       "benefit_amount": batch[0]["service_lines"][0]["allowed"]}
                      for p in chains]
            infos = [{"_id": f"{event_id}:{d['ClaimCore_ID']}", "ClaimCore_ID": d["ClaimCore_ID"],
                      "PaymentEvent_ID": event_id, "claim_paid": line0["allowed"],
                      "lines": [{**{k: line[k] for k in ("billed", "allowed", "deductible",
                                                         "coinsurance", "copay", "cob_paid")},
                                 "reduction": line["copay"], "paid": line["allowed"]}
                                for line in d["service_lines"]]}
                     for d in batch for line0 in d["service_lines"][:1]]
            db.BenchFloorLedger.bulk_write([ReplaceOne({"_id": e["_id"]}, e, upsert=True)
                                            for e in ledger], ordered=False)
            db.BenchFloorInfo.bulk_write([ReplaceOne({"_id": e["_id"]}, e, upsert=True)
                                          for e in infos], ordered=False)
            db.ClaimWSCore.update_many({"_id": {"$in": [d["_id"] for d in batch]}},
                                       {"$set": {"BenchFloor": "PAID",
                                                 "BenchFloorEvent": event_id}})
        batch.clear()

    previous = None
    for document in cursor:
        parent = document.get("ParentClaimCore_ID")
        if len(batch) >= BATCH_SIZE and parent != previous:
            flush()
        batch.append(document)
        previous = parent
    if batch:
        flush()
    seconds = time.perf_counter() - started
    if write:
        db.BenchFloorLedger.drop()
        db.BenchFloorInfo.drop()
        db.ClaimWSCore.update_many({"BenchFloor": "PAID"},
                                   {"$unset": {"BenchFloor": "", "BenchFloorEvent": ""}})
    return {"seconds": seconds, **counts}


def event_batches(store: Store, event_id: str) -> tuple[PaymentContext, list[BatchInput]]:
    """The event's context and every batch pass 1 would compute, read from the store."""
    processor = _processor(store)
    config = processor.config_loader.load(event_id)
    analysis = CycleAnalysis(config, processor._context(config))
    processor._count_claims(analysis, resuming=False)
    context = analysis.context
    documents = processor.repos.claims.fetch_ws(event_id, BATCH_SIZE, False)
    return context, list(processor._batches(group_by_parent(documents), event_id, None))


def compute_only(store: Store, event_id: str, workers_list: tuple[int, ...],
                 repeat: int = 1) -> dict[str, Any]:
    """Judge and compute every batch from documents already read, for 1 and 2 workers.

    The batches run under the engine's collection policy (``collect_per_batch``), as
    pass 1 runs them. Each worker count runs ``repeat`` times; the best time is
    reported with every time measured.
    """
    context, batches = event_batches(store, event_id)
    lines = sum(len(d.get("service_lines") or ()) for b in batches for c in b.chains
                for d in c.documents)
    compute = partial(evaluate_batch, context, detailed=False)
    result: dict[str, Any] = {"lines": lines, "batches": len(batches)}
    reference = None
    for workers in workers_list:
        times = []
        for _ in range(repeat):
            gc.collect()
            seconds, outcome = _timed(lambda w=workers: _compute_batches(batches, compute, w))
            times.append(seconds)
            if reference is None:
                reference = outcome
            assert outcome == reference, "results differ between worker counts"
            del outcome
        result[f"workers_{workers}"] = {"seconds": min(times), "all_seconds": times,
                                        "lines_per_second": lines / min(times)}
    result["line_floor"] = min((line_floor(batches, context) for _ in range(repeat)),
                               key=lambda floor: floor["seconds"])
    if len(workers_list) > 1:
        result["parallel_ceiling"] = parallel_ceiling(batches, compute, repeat)
        result["host_ceiling"] = parallel_ceiling(batches, compute, repeat, private=True)
    return result


def _compute_batches(batches: list[Any], compute: Callable[[Any], Any], workers: int) -> list:
    results = []
    with collect_per_batch() as collect:
        for chains, _report in run_claim_batch_level(batches, compute, workers):
            results.append(chains)
            collect()
    return results


def line_floor(batches: list[Any], context: PaymentContext) -> dict[str, Any]:
    """The least a service line costs in this interpreter: its amounts and its rule alone.

    Every line of the batches' documents, as the store returns them, has its six amounts
    parsed (``parse_amount``), is computed by the engine's own line rule
    (``ServiceLineProcessor.compute_service_line``, denied when its claim is) and its
    paid amount summed: no claim model, no check, no chain, no finding. No compute phase
    written in Python can beat it; compute / floor is what judging claims and chains
    costs around the lines.
    """
    calculator = ServiceLineProcessor(context.payment_reduction_pct, context.interest,
                                      context.due_date, context.pc_type)
    documents = [d for batch in batches for chain in batch.chains for d in chain.documents]
    started = time.perf_counter()
    lines, paid = 0, ZERO
    for document in documents:
        denied = document["ClaimStatus"] == ClaimStatus.DENIED
        for raw in document["service_lines"]:
            line = SimpleNamespace(**{name: parse_amount(raw[name]) for name in AMOUNT_FIELDS},
                                   line_no=raw.get("line_no"),
                                   procedure_code=raw.get("procedure_code"),
                                   units=raw.get("units"), service_date=raw.get("service_date"))
            paid += calculator.compute_service_line(line, denied)[0].paid
            lines += 1
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "lines": lines, "lines_per_second": lines / seconds,
            "paid": str(paid)}


def parallel_ceiling(batches: list[Any], compute: Callable[[Any], Any], repeat: int = 1,
                     private: bool = False) -> dict[str, Any]:
    """What two processes can gain over one on this machine, for this very work.

    One share of batches is computed by one forked process alone, then by two forked
    processes at once (each the whole share, nothing sent back); the clock starts when
    every process is ready. Two cores that did not slow each other down would give
    2.0x; on a shared VM the two processes compete for caches and memory bandwidth.

    A worker computes documents it inherited from the run: each reference it takes
    writes to a page it shares with the run, which the kernel then copies. With
    ``private`` each process first unpickles its own copy of the share, so nothing it
    computes on is shared: that ratio is the host's own limit, and the difference
    between the two is what computing inherited documents costs.
    """
    share = batches[:BATCHES_PER_WORKER]
    pickled = pickle.dumps(share) if private else b""

    def in_children(count: int) -> float:
        pids, ready, go = [], os.pipe(), os.pipe()
        try:
            for _ in range(count):
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the child
                    code, signalled = 1, False
                    try:
                        gc.freeze()
                        work = pickle.loads(pickled) if private else share
                        os.write(ready[1], b"r")
                        signalled = True
                        os.read(go[0], 1)
                        _compute_batches(work, compute, 1)  # as a worker computes its share
                        code = 0
                    finally:
                        if not signalled:  # failed before it was ready: do not keep the run waiting
                            os.write(ready[1], b"f")
                        os._exit(code)
                pids.append(pid)
            for _ in pids:
                os.read(ready[0], 1)
            started = time.perf_counter()
            os.write(go[1], b"g" * count)
            for pid in pids:
                _, status = os.waitpid(pid, 0)
                assert os.waitstatus_to_exitcode(status) == 0, "a ceiling process failed"
            return time.perf_counter() - started
        finally:
            for end in (*ready, *go):
                os.close(end)

    alone = min(in_children(1) for _ in range(repeat))
    together = min(in_children(2) for _ in range(repeat))
    return {"batches": len(share), "alone_seconds": alone, "together_seconds": together,
            "speed_up": 2 * alone / together}


def bench(claims: int, workers_list: tuple[int, ...] = (1, 2), seed: int = 3,
          run_workers: int | None = None, repeat: int = 1) -> dict[str, Any]:
    """Generate a cycle of ``claims`` claims and measure dry run, final run and compute.

    The dry and final runs use ``run_workers`` processes, by default what the engine
    itself defaults to (``--workers``: the CPU count, at most 8). The compute phase,
    the I/O floors and the dry run are measured ``repeat`` times and the best time is
    reported (with every time measured): on a shared machine the best of several runs
    is the one least disturbed by others. The final run changes the store, so it runs
    once.
    """
    run_workers = run_workers or get_default_workers()
    embedded = EmbeddedStore(None)
    store = Store("mongomock://", embedded.db, embedded)
    payees = max(50, claims // 200)
    gen_seconds, summary = _timed(
        lambda: generate(store.db, SyntheticOptions(claims=claims, payees=payees, seed=seed)))
    event_id = summary.event_ids[0]
    report: dict[str, Any] = {"claims": claims, "payees": payees, "generate_seconds": gen_seconds,
                              "run_workers": run_workers, "repeat": repeat}
    report["compute"] = compute_only(store, event_id, workers_list, repeat)
    lines = report["compute"]["lines"]
    for mode, run in (("dry_run", lambda: _processor(store, run_workers).run_dry_run(event_id)),
                      ("final_run",
                       lambda: _processor(store, run_workers).run_final_run(event_id))):
        write = mode == "final_run"
        floors = [io_floor(store, event_id, write) for _ in range(repeat)]
        floor = min(f["seconds"] for f in floors)
        report["floor_final" if write else "floor_dry"] = {
            **floors[0], "seconds": floor, "all_seconds": [f["seconds"] for f in floors]}
        measured = []
        for _ in range(1 if write else repeat):
            gc.collect()
            with PeakRss() as memory:
                seconds, stats = _timed(run)
            assert stats.status == "SUCCEEDED", stats.report.as_documents()
            measured.append((seconds, stats, memory.above_start_mb))
        seconds, stats, memory_mb = min(measured, key=lambda m: m[0])
        report[mode] = {
            "seconds": seconds, "all_seconds": [m[0] for m in measured],
            "phases": {k: round(v, 3) for k, v in stats.timings.items()},
            "claims_per_second": claims / seconds, "lines_per_second": lines / seconds,
            "peak_rss_above_start_mb": max(m[2] for m in measured),
            "io_floor_seconds": floor, "engine_over_floor": seconds / floor,
        }
    embedded.close()
    return report


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    with open("/proc/meminfo") as handle:
        total_kb = int(handle.readline().split()[1])
    model = ""
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle
                          if line.startswith("model name")), "")
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "memory_gb": round(total_kb / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def format_report(report: dict[str, Any]) -> str:
    """A few human-readable lines for one size."""
    out = [f"== {report['claims']:,} claims, {report['payees']} payees, "
           f"{report['compute']['lines']:,} service lines "
           f"(generated in {report['generate_seconds']:.1f} s); runs with "
           f"{report['run_workers']} worker(s)"]
    for mode in ("dry_run", "final_run"):
        r = report[mode]
        phases = ", ".join(f"{k} {v:.2f}s" for k, v in r["phases"].items())
        out.append(f"{mode:9}: {r['seconds']:7.2f} s  ({phases})  {r['claims_per_second']:,.0f} "
                   f"claims/s  {r['lines_per_second']:,.0f} lines/s  peak RSS +"
                   f"{r['peak_rss_above_start_mb']:,.0f} MB  I/O floor {r['io_floor_seconds']:.2f}"
                   f" s  engine/floor {r['engine_over_floor']:.2f}{_all(r)}")
    compute = report["compute"]
    for key, value in compute.items():
        if key.startswith("workers_"):
            out.append(f"compute, {key.split('_')[1]} worker(s): {value['seconds']:.2f} s  "
                       f"{value['lines_per_second']:,.0f} lines/s{_all(value)}")
    if "workers_1" in compute and "workers_2" in compute:
        out.append(f"2 workers / 1 worker speed-up: "
                   f"{compute['workers_1']['seconds'] / compute['workers_2']['seconds']:.2f}x")
    floor = compute["line_floor"]
    out.append(f"line floor (amounts and line rule alone): {floor['seconds']:.2f} s  "
               f"{floor['lines_per_second']:,.0f} lines/s  compute 1 worker / floor "
               f"{compute['workers_1']['seconds'] / floor['seconds']:.2f}"
               if "workers_1" in compute else
               f"line floor: {floor['lines_per_second']:,.0f} lines/s")
    for key, label in (("parallel_ceiling", "machine ceiling, inherited documents"),
                       ("host_ceiling", "host ceiling, private copies")):
        if key in compute:
            ceiling = compute[key]
            out.append(f"{label} (one share by 1 process alone: "
                       f"{ceiling['alone_seconds']:.2f} s, by 2 at once: "
                       f"{ceiling['together_seconds']:.2f} s): {ceiling['speed_up']:.2f}x")
    return "\n".join(out)


def _all(measured: dict[str, Any]) -> str:
    times = measured.get("all_seconds", ())
    return f"  (best of {', '.join(f'{t:.2f}' for t in times)})" if len(times) > 1 else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, nargs="+", default=[10_000, 100_000, 300_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--run-workers", type=int,
                        help="workers of the dry and final runs (default: the engine's default)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure compute, floors and dry run this many times; report the best")
    parser.add_argument("--json", help="also append each size's report to this JSON-lines file")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    print(json.dumps(machine()))
    for claims in args.claims:
        report = bench(claims, tuple(args.workers), run_workers=args.run_workers,
                       repeat=args.repeat)
        print(format_report(report), flush=True)
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps({"machine": machine(), **report}) + "\n")
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS of the process: {max_rss_mb:,.0f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
