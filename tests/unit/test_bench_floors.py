"""The benchmark's floors and ceilings measure the work they claim to measure."""

from __future__ import annotations

import pickle
from functools import partial

import pytest

from PaymentProcess.common.functions import Store
from PaymentProcess.core.claim_processor import first_pass
from PaymentProcess.data.embedded_store import EmbeddedStore
from PaymentProcess.synthetic.generator import SyntheticOptions, generate
from tests.performance.bench_cycle import event_batches, parallel_ceiling, parse_floor, read_floor


@pytest.fixture(scope="module")
def cycle():
    embedded = EmbeddedStore(None)
    store = Store("mongomock://", embedded.db, embedded)
    summary = generate(store.db, SyntheticOptions(claims=400, payees=10, seed=5))
    context, batches = event_batches(store, summary.event_ids[0])
    yield context, batches
    embedded.close()


def test_the_parse_floor_decodes_every_claim(cycle) -> None:
    _context, batches = cycle
    documents = [d for batch in batches for chain in batch.chains for d in chain.documents]

    floor = parse_floor(documents)

    assert floor["claims"] == len(documents) == 400
    assert floor["seconds"] > 0


def test_the_read_floor_parses_every_line_of_the_store_files(tmp_path) -> None:
    with EmbeddedStore(tmp_path / "store") as embedded:
        generate(embedded.db, SyntheticOptions(claims=50, payees=5, seed=5))
        embedded.checkpoint()
        stored = sum(embedded.db[name].count_documents({})
                     for name in embedded.db.list_collection_names())

    floor = read_floor(tmp_path / "store")

    assert floor["documents"] == stored > 50
    assert floor["seconds"] > 0


@pytest.mark.parametrize("private", [False, True])
def test_the_parallel_ceilings_run_one_share_alone_and_twice_at_once(cycle, private) -> None:
    context, batches = cycle
    compute = partial(first_pass, context)

    ceiling = parallel_ceiling(batches, compute, private=private)

    assert ceiling["batches"] == len(batches[:4])
    assert ceiling["alone_seconds"] > 0 and ceiling["together_seconds"] > 0


@pytest.mark.parametrize("private", [False, True])
def test_a_ceiling_process_that_fails_its_share_fails_the_measure(cycle, private) -> None:
    _context, batches = cycle

    def failing(batch):
        raise RuntimeError("computed in the child")

    with pytest.raises(AssertionError, match="a ceiling process failed"):
        parallel_ceiling(batches, failing, private=private)


def test_a_ceiling_process_that_fails_before_it_is_ready_fails_the_measure(
        cycle, monkeypatch) -> None:
    context, batches = cycle
    compute = partial(first_pass, context)

    def unreadable(data):
        raise pickle.UnpicklingError("the private copy cannot be loaded")

    monkeypatch.setattr(pickle, "loads", unreadable)  # inherited by the forked processes
    with pytest.raises(AssertionError, match="a ceiling process failed"):
        parallel_ceiling(batches, compute, private=True)
