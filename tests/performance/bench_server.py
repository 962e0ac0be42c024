"""Real-server benchmark: the dry and final runs on a MongoDB server against that server's
own floor, measured in the same run.

Run on demand, never in the default test run::

    python -m tests.performance.bench_server --claims 2000 10000
    make bench-server                     # 2,000 claims
    PAYMENT_TEST_MONGODB_URI='mongodb://127.0.0.1:27017/?replicaSet=rs0' make bench-server

The server is a SecantusDB started here (its files on tmpfs when there is one, as the
real-server tier does), or the deployment named by ``PAYMENT_TEST_MONGODB_URI``; each
size works in a database of its own, dropped afterwards. For each size it

1. generates a synthetic cycle (seed 3, payees = max(50, claims / 200)) into the server
   with ``python -m PaymentProcess.synthetic``;
2. creates the engine's indexes (as its first run would) and measures the **read floor**:
   the event's claims read with the driver, as pass 1 reads them (the same filter, sort
   and batch size, the engine's read concern);
3. runs the **dry run**, the approval (not timed) and the **final run** as an operator
   does (``main.py --db-uri mongodb://...``, one worker: the other core is the server's);
4. captures what the final run wrote — its ledger entries (``ClaimFinCore``),
   ``PaymentInfo``, the claims' status updates (``ClaimWSCore``), ``Payments``, the new
   and changed ``OverUnder`` records, ``PaymentSettlement`` and the new payees — and
   measures the **write floor**: the same documents written with the driver into a fresh
   database that holds the engine's indexes and the documents as they were before the
   final run (loaded untimed), in bulks of the engine's batch size under the engine's
   write concern (``w: majority, j: true``): new documents inserted (``insert_many``,
   unordered), changed ones replaced, each claim's status set by one ``UpdateOne``.
   The same writes as the engine's own upserts (``ReplaceOne(upsert=True)`` of every
   document) are timed too, as ``upsert floor``.

Each figure has wall seconds, the CPU seconds of the client process (the engine, or this
benchmark for a floor) and of the server process (SecantusDB only: the server's work is
part of the floor), and the 1-minute load average. Ratios: dry run / read floor, final
run / (read floor + write floor), in wall seconds and in client + server CPU seconds.

``--commands`` runs the engine through :func:`engine_with_command_timings` instead of
``main.py``: the same ``main()``, with a pymongo command listener that reports the wall
seconds the engine waited for each command kind and collection.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pymongo
from pymongo import ReplaceOne, UpdateOne, monitoring
from pymongo.database import Database

from PaymentProcess.common.mongodb_guarantees import guaranteed_database
from PaymentProcess.core.claim_processor import mentioned_claim_ids
from PaymentProcess.data.repositories import collections as coll
from PaymentProcess.data.repositories.claim_repository import ClaimRepository
from PaymentProcess.processing.optimization.batch_processor import batch_iterable
from tests.integration.mongo_server import (
    SERVER_URI_ENV,
    SecantusServer,
    running_secantus,
    with_database,
)
from tests.performance.bench_cycle import machine

BATCH_SIZE = 1000
SMALL_IN = 50  # values an $in of the "small_in_queries" design
EVENT = "PE-SYN-0001"
REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "main.py"
ENGINE_ENV = {"PAYMENT_MAX_WORKERS": "1"}
# What a final run writes of record, by collection: how to find this event's documents.
BY_EVENT = (coll.CLAIM_FIN, coll.PAYMENT_INFO, coll.PAYMENTS, coll.PAYMENT_SETTLEMENT)
WHOLE = (coll.OVER_UNDER, coll.PAYMENT_CENTER)  # small: compared before and after
CLAIM_STATUS = ("PaymentStatus", "PaidEvent_ID")


def _ticks_to_seconds() -> float:
    return 1.0 / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of a running process (None when it is not ours to see)."""
    if pid is None:
        return None
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * _ticks_to_seconds()


class Measured:
    """Wall seconds, this process's CPU seconds and the server's, over a ``with`` block."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid

    def __enter__(self) -> Measured:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        self._server = process_cpu(self.server_pid)
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = time.process_time() - self._cpu
        after = process_cpu(self.server_pid)
        self.server_cpu_seconds = None if after is None else after - (self._server or 0.0)

    def figures(self, **extra: Any) -> dict[str, Any]:
        """The block's figures, with the load average now."""
        return {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                "server_cpu_seconds": self.server_cpu_seconds, "load": os.getloadavg()[0],
                **extra}


def run_engine(db_uri: str, mode: str, server_pid: int | None,
               commands: Path | None = None) -> dict[str, Any]:
    """One run as an operator does it: wall, the engine's CPU and the server's CPU."""
    arguments = ["-p", EVENT, "-m", mode, "--workers", "1", "--batch-size", str(BATCH_SIZE),
                 "--log-level", "WARNING", "--db-uri", db_uri]
    command = ([sys.executable, str(MAIN), *arguments] if commands is None else
               [sys.executable, "-m", "tests.performance.bench_server", "--engine-commands",
                str(commands), "--", *arguments])
    server_before = process_cpu(server_pid)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **ENGINE_ENV},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    server_after = process_cpu(server_pid)
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{mode} failed ({code}): {errors[-2000:]}")
    report = {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
              "server_cpu_seconds": (None if server_after is None
                                     else server_after - (server_before or 0.0)),
              "max_rss_mb": usage.ru_maxrss / 1024, "load": os.getloadavg()[0]}
    if commands is not None:
        report["commands"] = json.loads(commands.read_text())
    return report


def _cli(*arguments: str) -> str:
    """``python -m ARGUMENTS`` in the repository; its stdout (fails loudly)."""
    result = subprocess.run([sys.executable, "-m", *arguments], cwd=REPO, capture_output=True,
                            text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments[:2])} failed: {result.stderr[-2000:]}")
    return result.stdout


def approve(db_uri: str) -> None:
    """The checker's step (spec section 14) through the controls command."""
    run_id = _cli("PaymentProcess.controls", "history", "-p", EVENT, "--db-uri", db_uri,
                  "--kind", "DRY_RUN", "--ids").split()[-1]
    _cli("PaymentProcess.controls", "approve", "-p", EVENT, "--db-uri", db_uri,
         "--approver", "bench-checker", "--run-id", run_id)


def read_floor(db: Database, server_pid: int | None) -> tuple[dict[str, Any], list[dict]]:
    """The event's unpaid claims read as pass 1 reads them (filter, sort, batch size)."""
    repository = ClaimRepository(db)
    with Measured(server_pid) as measured:
        claims = list(repository.fetch_ws(EVENT, BATCH_SIZE))
    return measured.figures(documents=len(claims)), claims


def ledger_lookup_shapes(db: Database, claims: list[dict[str, Any]], read_floor_seconds: float,
                         server_pid: int | None) -> dict[str, Any]:
    """The ledger lookup of the first batch (``ClaimRepository.fetch_fin``'s query: an
    ``$or`` of two indexed ``$in``s) against each of its branches alone and against the
    other designs that find the same entries, on the same data, beside the batch's share of
    the read floor.

    MongoDB answers the ``$or`` with one index scan a branch; a server that scans the
    collection instead shows it here as the whole query costing far more than its parts.
    The alternatives: one equality query a chain and a claim (index lookups on any server,
    a round trip each; the same entries), each branch as ``$in``s of ``SMALL_IN`` values
    (the same entries; a server that matches ``$in`` value by value pays for the list's
    length, MongoDB pays a round trip a query), a ``$lookup`` from the batch's claims (the chains
    branch only: less than the engine's work), and the ledger of every other event read
    whole (what a run would hold in memory instead of a batch's entries).
    """
    batch = claims[:BATCH_SIZE]
    chains = sorted({doc["ParentClaimCore_ID"] for doc in batch})
    mentioned = sorted(mentioned_claim_ids(batch))
    ledger = db[coll.CLAIM_FIN]
    join_the_ledger = [
        {"$match": {"_id": {"$in": [doc["_id"] for doc in batch]}}},
        {"$lookup": {"from": coll.CLAIM_FIN, "localField": "ParentClaimCore_ID",
                     "foreignField": "ParentClaimCore_ID", "as": "ledger"}},
        {"$project": {"ledger._id": 1}},
    ]
    designs: dict[str, Callable[[], int]] = {
        "engine_query": lambda: len(list(ledger.find(
            ClaimRepository.ledger_filter(EVENT, chains, mentioned), sort=[("_id", 1)]))),
        "chains_branch": lambda: len(list(ledger.find(
            {"ParentClaimCore_ID": {"$in": chains}}, sort=[("_id", 1)]))),
        "claims_branch": lambda: len(list(ledger.find(
            {"ClaimCore_IDs": {"$in": mentioned}}, sort=[("_id", 1)]))),
        "equality_queries": lambda: len(
            {doc["_id"] for chain in chains for doc in ledger.find({"ParentClaimCore_ID": chain})
             if doc["PaymentEvent_ID"] != EVENT}
            | {doc["_id"] for claim in mentioned for doc in ledger.find({"ClaimCore_IDs": claim})
               if doc["PaymentEvent_ID"] != EVENT}),
        "small_in_queries": lambda: len(
            {doc["_id"] for field, values in (("ParentClaimCore_ID", chains),
                                              ("ClaimCore_IDs", mentioned))
             for part in batch_iterable(values, SMALL_IN)
             for doc in ledger.find({field: {"$in": part}}) if doc["PaymentEvent_ID"] != EVENT}),
        "lookup_from_claims": lambda: sum(
            len(doc["ledger"]) for doc in db[coll.CLAIM_WS].aggregate(join_the_ledger)),
        "whole_ledger": lambda: len(list(ledger.find({"PaymentEvent_ID": {"$ne": EVENT}}))),
    }
    report: dict[str, Any] = {"ledger_entries": ledger.estimated_document_count(),
                              "batch_read_floor_seconds":
                                  read_floor_seconds * len(batch) / max(len(claims), 1)}
    for name, design in designs.items():
        with Measured(server_pid) as measured:
            found = design()
        report[name] = measured.figures(documents=found)
    return report


def snapshot(db: Database) -> dict[str, dict[Any, dict[str, Any]]]:
    """The small collections a final run changes, by ``_id`` (taken before and after)."""
    return {name: {doc["_id"]: doc for doc in db[name].find()} for name in WHOLE}


def final_writes(db: Database, before: dict[str, dict[Any, dict[str, Any]]]
                 ) -> dict[str, list[dict[str, Any]]]:
    """What the final run wrote of record, by collection (``ClaimWSCore``: the status set
    on each paid claim, as ``{_id, PaymentStatus, PaidEvent_ID}``)."""
    writes = {name: list(db[name].find({"PaymentEvent_ID": EVENT}, sort=[("_id", 1)]))
              for name in BY_EVENT}
    after = snapshot(db)
    for name in WHOLE:
        writes[name] = [doc for key, doc in sorted(after[name].items(), key=lambda kv: str(kv[0]))
                        if before[name].get(key) != doc]
    writes[coll.CLAIM_WS] = list(db[coll.CLAIM_WS].find(
        {"PaymentEvent_ID": EVENT, "PaidEvent_ID": EVENT},
        {"_id": 1, "PaymentStatus": 1, "PaidEvent_ID": 1}, sort=[("_id", 1)]))
    return writes


def write_floor(db: Database, writes: dict[str, list[dict[str, Any]]],
                existing: dict[str, list[dict[str, Any]]], server_pid: int | None,
                upsert: bool) -> dict[str, Any]:
    """``writes`` written into ``db`` (which holds ``existing``, loaded untimed first) in
    bulks of the engine's batch size; ``upsert``: as the engine's ``ReplaceOne`` upserts,
    else new documents inserted and existing ones replaced."""
    coll.ensure_indexes(db)
    for name, documents in existing.items():
        for chunk in batch_iterable(documents, BATCH_SIZE):
            db[name].insert_many(chunk, ordered=False)
    present = {name: {doc["_id"] for doc in documents} for name, documents in existing.items()}
    per_collection: dict[str, float] = {}
    with Measured(server_pid) as measured:
        for name, documents in writes.items():
            started = time.perf_counter()
            for chunk in batch_iterable(documents, BATCH_SIZE):
                _write_chunk(db, name, chunk, present.get(name, set()), upsert)
            per_collection[name] = time.perf_counter() - started
    return measured.figures(documents={name: len(docs) for name, docs in writes.items()},
                            by_collection=per_collection)


def _write_chunk(db: Database, name: str, chunk: list[dict[str, Any]], present: set[Any],
                 upsert: bool) -> None:
    if name == coll.CLAIM_WS:
        db[name].bulk_write([UpdateOne({"_id": doc["_id"]}, {"$set": {
            field: doc[field] for field in CLAIM_STATUS}}) for doc in chunk], ordered=False)
    elif upsert or any(doc["_id"] in present for doc in chunk):
        db[name].bulk_write([ReplaceOne({"_id": doc["_id"]}, doc, upsert=True)
                             for doc in chunk], ordered=False)
    else:
        db[name].insert_many(chunk, ordered=False)


@contextmanager
def server() -> Iterator[tuple[str, SecantusServer | None]]:
    """``PAYMENT_TEST_MONGODB_URI``, else a SecantusDB started for the benchmark."""
    external = os.environ.get(SERVER_URI_ENV)
    if external:
        yield external, None
        return
    with running_secantus(Path(tempfile.gettempdir())) as secantus:
        yield secantus.uri, secantus


def bench(claims: int, uri: str, server_pid: int | None, commands: bool = False,
          ledger_shapes: bool = False) -> dict[str, Any]:
    """One size: generate, read floor, dry run, approval, final run, write floors."""
    client: pymongo.MongoClient = pymongo.MongoClient(uri, tz_aware=False)
    names = [f"bench_{uuid.uuid4().hex[:10]}" for _ in range(3)]
    run_db, insert_db, upsert_db = (guaranteed_database(client, name) for name in names)
    db_uri = with_database(uri, names[0])
    report: dict[str, Any] = {"claims": claims, "payees": max(50, claims // 200)}
    try:
        with Measured(server_pid) as generated:
            _cli("PaymentProcess.synthetic", "--db-uri", db_uri, "--claims", str(claims),
                 "--payees", str(report["payees"]), "--seed", "3")
        report["generate"] = generated.figures()
        coll.ensure_indexes(run_db)  # as the first run would: the floor reads by them too
        report["read_floor"], originals = read_floor(run_db, server_pid)
        with tempfile.TemporaryDirectory(prefix="bench-server-") as scratch:
            timings = Path(scratch) / "commands.json" if commands else None
            report["dry_run"] = run_engine(db_uri, "dry-run", server_pid, timings)
            approve(db_uri)
            before = snapshot(run_db)
            report["final"] = run_engine(db_uri, "final", server_pid, timings)
        writes = final_writes(run_db, before)
        if ledger_shapes:
            report["ledger_lookup"] = ledger_lookup_shapes(
                run_db, originals, report["read_floor"]["seconds"], server_pid)
        existing = {coll.CLAIM_WS: originals,
                    **{name: list(before[name].values()) for name in WHOLE}}
        report["write_floor"] = write_floor(insert_db, writes, existing, server_pid, False)
        report["upsert_floor"] = write_floor(upsert_db, writes, existing, server_pid, True)
    finally:
        for name in names:
            client.drop_database(name)
        client.close()
    _ratios(report)
    return report


def _ratios(report: dict[str, Any]) -> None:
    """Engine / floor, in wall seconds and in client + server CPU seconds."""
    def cpu(figures: dict[str, Any]) -> float:
        return figures["cpu_seconds"] + (figures["server_cpu_seconds"] or 0.0)

    read, write = report["read_floor"], report["write_floor"]
    report["ratios"] = {
        "dry_wall": report["dry_run"]["seconds"] / read["seconds"],
        "final_wall": report["final"]["seconds"] / (read["seconds"] + write["seconds"]),
        "dry_cpu": cpu(report["dry_run"]) / cpu(read),
        "final_cpu": cpu(report["final"]) / (cpu(read) + cpu(write)),
    }
    if "commands" in report["final"]:  # the rest of each run, the ledger lookup left out
        for mode, key, floor in (("dry_run", "dry", read["seconds"]),
                                 ("final", "final", read["seconds"] + write["seconds"])):
            ledger = sum(row["seconds"] for row in report[mode]["commands"]
                         if row["command"] == "find" and row["collection"] == coll.CLAIM_FIN)
            report[mode]["ledger_lookup_seconds"] = ledger
            report["ratios"][f"{key}_wall_without_ledger_lookup"] = (
                (report[mode]["seconds"] - ledger) / floor)


def format_report(report: dict[str, Any]) -> str:
    """A few readable lines for one size."""
    def line(name: str, figures: dict[str, Any]) -> str:
        server_cpu = figures["server_cpu_seconds"]
        server_text = "n/a" if server_cpu is None else f"{server_cpu:.2f}"
        return (f"  {name:<13} {figures['seconds']:8.2f} s wall, client CPU "
                f"{figures['cpu_seconds']:6.2f} s, server CPU {server_text} s "
                f"(load {figures['load']:.2f})")

    ratios = report["ratios"]
    lines = [f"{report['claims']:,} claims, {report['payees']} payees, "
             f"{report['read_floor']['documents']:,} claims read"]
    for name in ("read_floor", "dry_run", "final", "write_floor", "upsert_floor"):
        lines.append(line(name.replace("_", " "), report[name]))
    lines.append("  written: " + ", ".join(
        f"{name} {count:,} ({report['write_floor']['by_collection'][name]:.2f} s insert, "
        f"{report['upsert_floor']['by_collection'][name]:.2f} s upsert)"
        for name, count in report["write_floor"]["documents"].items()))
    lines.append(f"  dry / read floor {ratios['dry_wall']:.2f}x wall, {ratios['dry_cpu']:.2f}x "
                 f"CPU; final / (read + write floor) {ratios['final_wall']:.2f}x wall, "
                 f"{ratios['final_cpu']:.2f}x CPU")
    if "dry_wall_without_ledger_lookup" in ratios:
        dry_ledger = report["dry_run"]["ledger_lookup_seconds"]
        lines.append(f"  the ledger lookups left out ({dry_ledger:.2f} s and "
                     f"{report['final']['ledger_lookup_seconds']:.2f} s): dry / read floor "
                     f"{ratios['dry_wall_without_ledger_lookup']:.2f}x, final / floor "
                     f"{ratios['final_wall_without_ledger_lookup']:.2f}x wall")
    if "ledger_lookup" in report:
        shapes = report["ledger_lookup"]
        batch_floor = shapes["batch_read_floor_seconds"]
        timed = [f"{name} {shapes[name]['seconds']:.2f} s ({shapes[name]['documents']} found, "
                 f"{shapes[name]['seconds'] / batch_floor:.1f}x)"
                 for name in shapes if name not in ("ledger_entries", "batch_read_floor_seconds")]
        lines.append(f"  ledger lookup of one batch ({shapes['ledger_entries']:,} entries; "
                     f"x: against the batch's share of the read floor, {batch_floor:.3f} s): "
                     + ", ".join(timed))
    for mode in ("dry_run", "final"):
        for row in report[mode].get("commands", [])[:8]:
            lines.append(f"    {mode} {row['command']:<8} {row['collection']:<18} "
                         f"{row['count']:6d} x  {row['seconds']:7.3f} s")
    return "\n".join(lines)


class CommandTimings(monitoring.CommandListener):
    """Wall seconds the client waited for each (command, collection), summed."""

    def __init__(self) -> None:
        self.collections: dict[int, str] = {}
        self.totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        self.collections[event.request_id] = target if isinstance(target, str) else ""

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._add(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._add(event)

    def _add(self, event: Any) -> None:
        key = (event.command_name, self.collections.pop(event.request_id, ""))
        self.totals[key][0] += 1
        self.totals[key][1] += event.duration_micros / 1e6

    def rows(self) -> list[dict[str, Any]]:
        """The totals, longest first."""
        return [{"command": command, "collection": collection, "count": int(count),
                 "seconds": seconds}
                for (command, collection), (count, seconds)
                in sorted(self.totals.items(), key=lambda kv: -kv[1][1])]


def engine_with_command_timings(output: Path, arguments: list[str]) -> int:
    """``PaymentProcess.main.main(arguments)`` with :class:`CommandTimings` registered; the
    totals go to ``output`` as JSON."""
    listener = CommandTimings()
    monitoring.register(listener)
    from PaymentProcess.main import main as engine_main

    code = engine_main(arguments)
    output.write_text(json.dumps(listener.rows()))
    return code


def main(argv: list[str] | None = None) -> int:
    """Command line: sizes, ``--json FILE`` (one line a size), ``--commands``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, nargs="+", default=[2000])
    parser.add_argument("--json", type=Path, help="append each size's report to FILE")
    parser.add_argument("--commands", action="store_true",
                        help="time each command kind the engine sends")
    parser.add_argument("--ledger-shapes", action="store_true",
                        help="time the ledger lookup against its two branches alone")
    parser.add_argument("--engine-commands", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("engine_arguments", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.engine_commands is not None:
        return engine_with_command_timings(options.engine_commands, options.engine_arguments)
    with server() as (uri, secantus):
        pid = secantus.process.pid if secantus and secantus.process else None
        print(f"server: {'SecantusDB (started here)' if secantus else 'PAYMENT_TEST_MONGODB_URI'}"
              f"; machine: {machine()}", flush=True)
        for claims in options.claims:
            report = bench(claims, uri, pid, options.commands, options.ledger_shapes)
            print(format_report(report), flush=True)
            append_report(options.json, report)
    return 0


def append_report(path: Path | None, report: dict[str, Any]) -> None:
    """Append ``report`` to ``path`` as one JSON line (``--json FILE``; None: nothing)."""
    if path is not None:
        with path.open("a") as handle:
            handle.write(json.dumps(report, default=str) + "\n")


if __name__ == "__main__":
    sys.exit(main())
