"""The benchmark's compute floor and ceilings measure the work they claim to measure."""

from __future__ import annotations

import pickle
from functools import partial

import pytest

from PaymentProcess.common.functions import Store
from PaymentProcess.core.claim_processor import evaluate_batch
from PaymentProcess.core.service_line_processor import ServiceLineProcessor
from PaymentProcess.data.embedded_store import EmbeddedStore
from PaymentProcess.data.models.claim import fast_claim
from PaymentProcess.synthetic.generator import SyntheticOptions, generate
from PaymentProcess.utils.money import ZERO
from tests.performance.bench_cycle import event_batches, line_floor, parallel_ceiling


@pytest.fixture(scope="module")
def cycle():
    embedded = EmbeddedStore(None)
    store = Store("mongomock://", embedded.db, embedded)
    summary = generate(store.db, SyntheticOptions(claims=400, payees=10, seed=5))
    context, batches = event_batches(store, summary.event_ids[0])
    yield context, batches
    embedded.close()


def test_the_line_floor_computes_every_line_as_the_engine_does(cycle) -> None:
    context, batches = cycle
    documents = [d for batch in batches for chain in batch.chains for d in chain.documents]
    calculator = ServiceLineProcessor(context.payment_reduction_pct, context.interest,
                                      context.due_date, context.pc_type)
    claims = [fast_claim(document) for document in documents]
    assert None not in claims
    engine_paid = sum((calculator.rollup_to_claim(claim)[0].paid for claim in claims), ZERO)

    floor = line_floor(batches, context)

    assert len(documents) == 400
    assert floor["lines"] == sum(len(claim.service_lines) for claim in claims)
    assert floor["paid"] == str(engine_paid)
    assert engine_paid > 0


@pytest.mark.parametrize("private", [False, True])
def test_the_parallel_ceilings_run_one_share_alone_and_twice_at_once(cycle, private) -> None:
    context, batches = cycle
    compute = partial(evaluate_batch, context, detailed=False)

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
    compute = partial(evaluate_batch, context, detailed=False)

    def unreadable(data):
        raise pickle.UnpicklingError("the private copy cannot be loaded")

    monkeypatch.setattr(pickle, "loads", unreadable)  # inherited by the forked processes
    with pytest.raises(AssertionError, match="a ceiling process failed"):
        parallel_ceiling(batches, compute, private=True)
