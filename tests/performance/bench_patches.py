"""What each mongomock-ng patch saves: a cycle with every patch, then with one group undone.

Run on demand, never in the default test run::

    python -m tests.performance.bench_patches --claims 10000 --rounds 2
    python -m tests.performance.bench_patches --claims 2000 --groups lookup cursor
    python -m tests.performance.bench_patches --claims 10000 --operations --rounds 3

Each measurement is a fresh process (so a group left undone affects nothing else) that
generates an in-memory synthetic cycle (``mongomock://``, seed 3, payees max(50,
claims / 200)) and times the generation, the dry run and the final run on one worker, in
CPU seconds of the process (``time.process_time``: on a shared host, wall time moves
with the other processes' load far more than with what a patch saves).
Measurements alternate in pairs, every patch then the group undone, so the host's load
falls on both alike; a run that exceeds ``--timeout`` seconds is reported as such (the
quadratic costs the patches remove make some runs that long).

``--operations`` times instead, in one process on one generated store, the operation of
the engine each group is for, with the group applied and undone alternately, ``--rounds``
times each (best reported): whole cycles on a loaded host move by more than some of
these patches save.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from PaymentProcess.data import mongomock_patches
from tests.approval_support import approve_latest

GROUPS = tuple(dict.fromkeys(patch.name for patch in mongomock_patches.PATCHES))
ALL = "none"  # the group undone in the reference measurement: none, every patch applied


def measure(claims: int, undone: str) -> dict[str, Any]:
    """Time one synthetic cycle in this process, with the patches of group ``undone`` undone."""
    from PaymentProcess.common.functions import Store
    from PaymentProcess.data.embedded_store import EmbeddedStore
    from PaymentProcess.synthetic.generator import SyntheticOptions, generate
    from PaymentProcess.utils.logging import configure_logging
    from tests.performance.bench_cycle import _processor

    configure_logging("ERROR")
    for patch in mongomock_patches.PATCHES:
        if patch.name == undone:
            patch.install(patch.original)
    embedded = EmbeddedStore(None)
    store = Store("mongomock://", embedded.db, embedded)
    report: dict[str, Any] = {"claims": claims, "undone": undone}
    started = time.process_time()
    summary = generate(store.db, SyntheticOptions(claims=claims, payees=max(50, claims // 200),
                                                  seed=3))
    report["generate"] = time.process_time() - started
    event_id = summary.event_ids[0]
    for mode in ("dry_run", "final_run"):
        if mode == "final_run":
            approve_latest(store.db, event_id)  # the checker's step (spec 14), not timed
        processor = _processor(store, 1)
        run = processor.run_dry_run if mode == "dry_run" else processor.run_final_run
        started = time.process_time()
        stats = run(event_id)
        report[mode] = time.process_time() - started
        assert stats.status == "SUCCEEDED", stats.report.as_documents()
    embedded.close()
    return report


OPERATIONS = {
    "cursor": "iterate every claim (find {})",
    "lookup": "find_one by _id, one claim in ten",
    "in": "count claims whose payee is $nin half the payees",
    "copy": "read the event's claims, whole",
    "clone": "update every claim by _id, 1,000 a batch (each snapshotted first)",
    "datetime": "insert half the claims, then upsert all by _id",
    "sort": "read the event's claims sorted by chain (pass 1's query)",
    "writes": "insert half the claims, upsert all by _id, then mark them paid by _id $in, "
              "1,000 a batch",
}


def _operations(store: Any, event_id: str) -> dict[str, Callable[[], Any]]:
    """The engine's store operation each patch group is for, on a cycle's store."""
    from pymongo import ReplaceOne

    claims = store.db.ClaimWSCore
    event = {"PaymentEvent_ID": event_id}
    ids = [d["_id"] for d in claims.find(event, {"_id": 1})]
    payees = sorted({d["PaymentCenter_ID"] for d in claims.find(event)
                     if isinstance(d.get("PaymentCenter_ID"), str)})
    documents = list(claims.find(event))
    scratch = store.db.BenchScratch

    def rewrite() -> None:
        scratch.drop()
        scratch.insert_many(documents[:len(documents) // 2])
        scratch.bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True)
                            for d in documents], ordered=False)

    def write_back() -> None:
        rewrite()
        for start in range(0, len(ids), 1000):
            scratch.update_many({"_id": {"$in": ids[start:start + 1000]}},
                                {"$set": {"PaymentStatus": "PAID", "PaidEvent_ID": event_id}})

    return {
        "cursor": lambda: sum(1 for _ in claims.find({})),
        "lookup": lambda: [claims.find_one({"_id": i}) for i in ids[::10]],
        "in": lambda: claims.count_documents({"PaymentCenter_ID": {"$nin": payees[::2]}}),
        "copy": lambda: list(claims.find(event)),
        "clone": lambda: [claims.update_many({"_id": {"$in": ids[i:i + 1000]}},
                                             {"$set": {"bench": i}})
                          for i in range(0, len(ids), 1000)],
        "datetime": rewrite,
        "writes": write_back,
        "sort": lambda: list(claims.find(event, {"_id": 1}, sort=[
            ("ParentClaimCore_ID", 1), ("_id", 1)])),
    }


def operations(claims: int, groups: list[str], rounds: int) -> list[dict[str, Any]]:
    """Best seconds of each group's operation, applied and undone, alternately."""
    from PaymentProcess.common.functions import Store
    from PaymentProcess.data.embedded_store import EmbeddedStore
    from PaymentProcess.synthetic.generator import SyntheticOptions, generate

    embedded = EmbeddedStore(None)
    store = Store("mongomock://", embedded.db, embedded)
    summary = generate(store.db, SyntheticOptions(claims=claims, payees=max(50, claims // 200),
                                                  seed=3))
    actions = _operations(store, summary.event_ids[0])
    results = []
    for group in groups:
        patches = [p for p in mongomock_patches.PATCHES if p.name == group]
        applied, undone = [], []
        for _ in range(rounds):
            for state, times in ((True, applied), (False, undone)):
                for patch in patches:
                    patch.install(patch.replacement if state else patch.original)
                started = time.process_time()
                actions[group]()
                times.append(time.process_time() - started)
        for patch in patches:
            patch.install(patch.replacement)
        results.append({"group": group, "applied": min(applied), "undone": min(undone)})
    embedded.close()
    return results


def _in_child(claims: int, undone: str, timeout: float) -> dict[str, Any]:
    command = [sys.executable, "-m", "tests.performance.bench_patches", "--one", undone,
               "--claims", str(claims)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=True)
    except subprocess.TimeoutExpired:
        return {"claims": claims, "undone": undone, "timeout": timeout}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cell(report: dict[str, Any], key: str) -> str:
    return f"> {report['timeout']:.0f} s" if "timeout" in report else f"{report[key]:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--groups", nargs="*", choices=GROUPS, default=list(GROUPS))
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--operations", action="store_true")
    parser.add_argument("--one", choices=(ALL, *GROUPS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.claims, args.one)))
        return 0
    if args.operations:
        print("| group | operation | applied | undone | saved |")
        print("|---|---|---|---|---|")
        groups = [g for g in args.groups if g != "decimal"]
        for result in operations(args.claims, groups, args.rounds):
            group, applied, undone = result["group"], result["applied"], result["undone"]
            print(f"| {group} | {OPERATIONS[group]} | {applied:.3f} s | {undone:.3f} s "
                  f"| {undone / applied:.1f}x |", flush=True)
        return 0
    print("| undone | round | generate | dry run | final run | with every patch (gen/dry/final) |")
    print("|---|---|---|---|---|---|")
    for group in args.groups:
        for round_ in range(1, args.rounds + 1):
            reference = _in_child(args.claims, ALL, args.timeout)
            undone = _in_child(args.claims, group, args.timeout)
            print(f"| {group} | {round_} | {_cell(undone, 'generate')} | "
                  f"{_cell(undone, 'dry_run')} | {_cell(undone, 'final_run')} | "
                  f"{_cell(reference, 'generate')} / {_cell(reference, 'dry_run')} / "
                  f"{_cell(reference, 'final_run')} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
