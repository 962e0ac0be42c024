"""Reads on a real server: what pass 1's id pass costs beside the read floor, and whether
the server serves two clients at once (the ceiling of two workers reading their ranges).

Run on demand, never in the default test run::

    python -m tests.performance.bench_server_reads --claims 2000 --repeat 3
    python -m tests.performance.bench_server_reads --claims 2000 --pass-one
    PAYMENT_TEST_MONGODB_URI='mongodb://127.0.0.1:27017/?replicaSet=rs0' \\
        python -m tests.performance.bench_server_reads --claims 10000

The server is a SecantusDB started here (files on tmpfs, as the real-server tier's) or
the deployment named by ``PAYMENT_TEST_MONGODB_URI``, in a database of its own dropped
afterwards. After generating a synthetic cycle (seed 3) and building the engine's
indexes it measures, best of ``--repeat`` by wall time, each with the client's and the
server's CPU seconds (SecantusDB only: read from ``/proc/<pid>/stat``):

- **reads**: the event's claims read as pass 1 reads them (the read floor), the id pass
  (``ClaimRepository.claim_id_counts``: duplicates and the progress total), the chain
  listing (``chain_listing``: the ranges of two workers and, since session 9, the id
  pass's counts from the same projection), a server-side count and a
  server-side duplicate search (``$group`` by ``ClaimCore_ID``) and a count of all
  the event's claims (``PaymentEvent_ID`` alone: an index prefix, so MongoDB counts it
  from the index); with each query's plan where the server explains it;
- **parallel reads**: the claims read whole by one client, one half of the chains
  (``split_chains``) by one client alone, then both halves by two processes at once,
  each with its own client, as two pass-1 workers read on ``mongodb://``. The server's
  CPU seconds per wall second say how many cores it used: a server held to one core
  (a Python server under its GIL) serves the two no faster than one;
- with ``--pass-one``: pass 1 as a run does it (``bench_cycle.pass_one``: 1 worker,
  then 2 workers reading their own ranges), with the server's CPU beside the engine's,
  and the resulting ceiling of two workers on this machine:
  (engine + server CPU) / server CPU when the server never uses more than one core.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymongo
from pymongo.database import Database
from pymongo.errors import PyMongoError

from PaymentProcess.common.functions import close_connection, get_connection
from PaymentProcess.common.mongodb_guarantees import guaranteed_database
from PaymentProcess.data.repositories.claim_repository import ClaimRepository
from PaymentProcess.data.repositories.collections import CLAIM_WS, ensure_indexes
from PaymentProcess.processing.parallel.chain_ranges import ChainRange, split_chains
from PaymentProcess.synthetic.generator import SyntheticOptions, generate
from tests.integration.mongo_server import with_database
from tests.performance.bench_cycle import machine, pass_one
from tests.performance.bench_server import BATCH_SIZE, Measured, append_report, server

EVENT = "PE-SYN-0001"


def best(measure: Callable[[], dict[str, Any]], repeat: int) -> dict[str, Any]:
    """The run of ``measure`` with the least wall time, and every run's wall time."""
    runs = [measure() for _ in range(repeat)]
    fastest = min(runs, key=lambda run: run["seconds"])
    return {**fastest, "all_seconds": [round(run["seconds"], 3) for run in runs]}


def timed(server_pid: int | None, work: Callable[[], Any]) -> dict[str, Any]:
    """Wall, client and server CPU seconds of ``work()``, and the server's cores in use."""
    with Measured(server_pid) as measured:
        result = work()
    figures = measured.figures(result=result)
    if measured.server_cpu_seconds is not None:
        figures["server_cores"] = measured.server_cpu_seconds / measured.seconds
    return figures


def plan_stages(db: Database, query: dict[str, Any], projection: dict[str, Any] | None
                ) -> str:
    """The stages of the winning plan, as the server explains the find (or why not)."""
    command: dict[str, Any] = {"find": CLAIM_WS, "filter": query}
    if projection is not None:
        command["projection"] = projection
    try:
        explained = db.command("explain", command, verbosity="queryPlanner")
    except PyMongoError as error:
        return f"not explained: {str(error)[:80]}"
    stages, stage = [], explained.get("queryPlanner", {}).get("winningPlan")
    while isinstance(stage, dict):
        stages.append(stage.get("stage", "?") + (f"({stage['indexName']})"
                                                  if "indexName" in stage else ""))
        stage = stage.get("inputStage") or (stage.get("inputStages") or [None])[0]
    return " <- ".join(stages) or "no plan"


def reads(db: Database, server_pid: int | None, repeat: int) -> dict[str, Any]:
    """The read floor, the id pass and the alternatives to it, on the same data."""
    claims = ClaimRepository(db)
    event_filter = claims.event_filter(EVENT, False)
    duplicates = [{"$match": event_filter},
                  {"$group": {"_id": "$ClaimCore_ID", "n": {"$sum": 1}}},
                  {"$match": {"n": {"$gt": 1}}}]
    shapes: dict[str, Callable[[], Any]] = {
        "read_floor": lambda: sum(1 for _ in claims.fetch_ws(EVENT, BATCH_SIZE)),
        "id_pass": lambda: sum(claims.claim_id_counts(EVENT).values()),
        "chain_listing": lambda: sum(1 for _ in claims.chain_listing(EVENT)),
        "count_documents": lambda: db[CLAIM_WS].count_documents(event_filter),
        "event_count": lambda: db[CLAIM_WS].count_documents({"PaymentEvent_ID": EVENT}),
        "duplicates_aggregation": lambda: len(list(db[CLAIM_WS].aggregate(duplicates))),
    }
    report = {name: best(lambda work=work: timed(server_pid, work), repeat)
              for name, work in shapes.items()}
    report["plans"] = {
        "read_floor": plan_stages(db, event_filter, None),
        "id_pass": plan_stages(db, event_filter, {"ClaimCore_ID": 1, "_id": 0}),
        "chain_listing": plan_stages(db, event_filter, {"ParentClaimCore_ID": 1,
                                                        "ClaimCore_ID": 1, "_id": 0}),
        "event_count": plan_stages(db, {"PaymentEvent_ID": EVENT}, {"_id": 1}),
    }
    return report


def _read_range(uri: str, chains: ChainRange | None, ready: Any, go: Any) -> tuple[int, float]:
    """In a child process: read ``chains`` (None: every chain) with a client of its own."""
    client: pymongo.MongoClient = pymongo.MongoClient(uri, tz_aware=False)
    try:
        db = guaranteed_database(client, client.get_default_database().name)
        db.command("ping")
        ready.release()
        go.acquire()
        started = time.process_time()
        read = sum(1 for _ in ClaimRepository(db).fetch_ws(EVENT, BATCH_SIZE, False, chains))
        return read, time.process_time() - started
    finally:
        client.close()


def _child(uri: str, chains: ChainRange | None, ready: Any, go: Any, out: Any) -> None:
    out.put(_read_range(uri, chains, ready, go))


def readers(uri: str, shares: list[ChainRange | None], server_pid: int | None
            ) -> dict[str, Any]:
    """Each share read at once by a process of its own, started together; wall seconds
    from the start signal to the last reader's end, the readers' and the server's CPU."""
    context = multiprocessing.get_context("fork")
    ready, go, out = context.Semaphore(0), context.Semaphore(0), context.Queue()
    children = [context.Process(target=_child, args=(uri, share, ready, go, out))
                for share in shares]
    for child in children:
        child.start()
    for _ in children:
        ready.acquire()
    with Measured(server_pid) as measured:
        for _ in children:
            go.release()
        results = [out.get() for _ in children]
        for child in children:
            child.join()
    figures = measured.figures(claims=sum(read for read, _ in results),
                               client_cpu_seconds=sum(cpu for _, cpu in results))
    if measured.server_cpu_seconds is not None:
        figures["server_cores"] = measured.server_cpu_seconds / measured.seconds
    return figures


def parallel_reads(db: Database, uri: str, server_pid: int | None, repeat: int
                   ) -> dict[str, Any]:
    """One client reading every chain, one reading half, two reading a half each at once."""
    parents = [parent_id for parent_id, _ in ClaimRepository(db).chain_listing(EVENT)]
    halves = split_chains(parents, (len(parents) + 1) // 2)
    assert halves is not None and len(halves) == 2, halves
    report = {
        "one_client_all": best(lambda: readers(uri, [None], server_pid), repeat),
        "one_client_half": best(lambda: readers(uri, [halves[0]], server_pid), repeat),
        "two_clients_halves": best(lambda: readers(uri, halves, server_pid), repeat),
    }
    report["speed_up"] = (report["one_client_all"]["seconds"]
                          / report["two_clients_halves"]["seconds"])
    return report


def pass_one_with_server(store: Any, server_pid: int | None, repeat: int) -> dict[str, Any]:
    """Pass 1 (1 worker, 2 workers reading their ranges) with the server's CPU beside it."""
    report = {}
    for workers in (1, 2):
        with Measured(server_pid) as measured:
            figures = pass_one(store, EVENT, workers, repeat)
        figures["server_cpu_seconds"] = measured.server_cpu_seconds
        figures["wall_seconds_all_repeats"] = measured.seconds
        report[f"workers_{workers}"] = figures
    one, two = report["workers_1"], report["workers_2"]
    if one["server_cpu_seconds"] is not None:  # per repeat: the server's CPU over all runs
        server = one["server_cpu_seconds"] / repeat
        one["server_share_of_wall"] = server / one["seconds"]
        report["two_worker_ceiling"] = (one["cpu_seconds"] + server) / server
        # A server held to one core serves two workers in no less than its CPU seconds.
        report["two_worker_bound_one_core"] = (one["wall_seconds_all_repeats"]
                                               / two["server_cpu_seconds"])
    # Over all repeats: one repeat's wall time moves by a second on a shared host.
    report["speed_up"] = one["wall_seconds_all_repeats"] / two["wall_seconds_all_repeats"]
    return report


def bench(claims: int, repeat: int, with_pass_one: bool) -> dict[str, Any]:
    """One size: generate, then the reads, the parallel reads and (optionally) pass 1."""
    with server() as (base_uri, secantus):
        server_pid = secantus.process.pid if secantus and secantus.process else None
        uri = with_database(base_uri, f"bench_reads_{os.getpid()}")
        store = get_connection(uri)
        try:
            ensure_indexes(store.db)
            generate(store.db, SyntheticOptions(claims=claims, payees=max(50, claims // 200),
                                                seed=3))
            report: dict[str, Any] = {"claims": claims, "repeat": repeat,
                                      "server": "external" if server_pid is None
                                      else "secantus"}
            report["reads"] = reads(store.db, server_pid, repeat)
            report["parallel"] = parallel_reads(store.db, uri, server_pid, repeat)
            if with_pass_one:
                report["pass_one"] = pass_one_with_server(store, server_pid, repeat)
            store.db.client.drop_database(store.db.name)
        finally:
            close_connection()
    return report


def _line(name: str, figures: dict[str, Any]) -> str:
    server = figures.get("server_cpu_seconds")
    cores = figures.get("server_cores")
    return (f"  {name:24s} {figures['seconds']:7.3f} s wall (all {figures['all_seconds']}), "
            f"client CPU {figures.get('client_cpu_seconds', figures['cpu_seconds']):.3f} s"
            + ("" if server is None else f", server CPU {server:.3f} s = {cores:.2f} cores")
            + f", load {figures['load']:.2f}")


def format_report(report: dict[str, Any]) -> str:
    """A few human-readable lines."""
    out = [f"== {report['claims']:,} claims on {report['server']}, best of {report['repeat']}"]
    floor = report["reads"]["read_floor"]["seconds"]
    for name, figures in report["reads"].items():
        if name != "plans":
            out.append(_line(name, figures) + f"  ({figures['seconds'] / floor:.2f}x the floor)")
    out += [f"  plan of {name}: {plan}" for name, plan in report["reads"]["plans"].items()]
    for name, figures in report["parallel"].items():
        if name != "speed_up":
            out.append(_line(name, figures))
    out.append(f"  two clients / one: {report['parallel']['speed_up']:.2f}x (wall)")
    if "pass_one" in report:
        for workers in ("workers_1", "workers_2"):
            figures = report["pass_one"][workers]
            server = figures["server_cpu_seconds"]
            out.append(f"  pass 1 {workers}: {figures['seconds']:.2f} s wall, engine CPU "
                       f"{figures['cpu_seconds']:.2f} s; server CPU over all repeats "
                       + ("n/a" if server is None else f"{server:.2f} s") + " in "
                       f"{figures['wall_seconds_all_repeats']:.2f} s")
        out.append(f"  pass 1 two workers / one: {report['pass_one']['speed_up']:.2f}x "
                   "(wall, all repeats)"
                   + (f"; ceiling (engine + server) / server "
                      f"{report['pass_one']['two_worker_ceiling']:.2f}x"
                      f", one worker's wall / two workers' server CPU "
                      f"{report['pass_one']['two_worker_bound_one_core']:.2f}x"
                      if "two_worker_ceiling" in report["pass_one"] else ""))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Command line: sizes, ``--repeat``, ``--pass-one``, ``--json FILE``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, nargs="+", default=[2000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pass-one", action="store_true",
                        help="also pass 1 with 1 and 2 workers, the server's CPU beside it")
    parser.add_argument("--json", type=Path, help="append each size's report to FILE")
    options = parser.parse_args(argv)
    print(f"machine: {machine()}", flush=True)
    for claims in options.claims:
        report = bench(claims, options.repeat, options.pass_one)
        print(format_report(report), flush=True)
        append_report(options.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
