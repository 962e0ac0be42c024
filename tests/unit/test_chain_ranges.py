"""Ranges of chains a worker computes: whole chains, the stream of one reader in order."""

from __future__ import annotations

import random
from collections import Counter

import mongomock_ng
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from PaymentProcess.core.claim_processor import group_by_parent, whole_chain_parts
from PaymentProcess.data.repositories.claim_repository import ClaimRepository
from PaymentProcess.processing.parallel.chain_ranges import (
    ChainRange,
    ListedChains,
    split_chains,
)

EVENT = "PE-R"


def test_ranges_are_cut_between_chains_once_enough_claims_are_in() -> None:
    parents = ["A", "A", "B", "C", "C", "C", "D", "E", "E"]
    assert split_chains(parents, 3) == [ChainRange(None, "C", 3), ChainRange("C", "D", 3),
                                        ChainRange("D", None, 3)]
    assert split_chains(parents, 4) == [ChainRange(None, "D", 6), ChainRange("D", None, 3)]
    assert split_chains(parents, 100) == [ChainRange(None, None, 9)]
    assert split_chains([], 3) == [ChainRange(None, None, 0)]


@pytest.mark.parametrize("odd", [None, 7, ["A"], {"id": "A"}])
def test_a_parent_id_that_is_not_text_gives_no_ranges(odd: object) -> None:
    """Mixed BSON types sort by type, which text bounds cannot express: the run reads."""
    assert split_chains(["A", "B", odd, "C"], 1) is None


def test_the_conditions_are_text_bounds() -> None:
    assert ChainRange(None, "C").parent_condition() == {"$gte": "", "$lt": "C"}
    assert ChainRange("C", None).parent_condition() == {"$gte": "C"}
    assert ChainRange("C", "D").parent_condition() == {"$gte": "C", "$lt": "D"}


@pytest.mark.parametrize("claims_per_range", [1, 2, 5, 1000])
def test_reading_the_ranges_in_order_is_reading_the_event(claims_per_range: int) -> None:
    """Every claim once, in the one reader's order, other events and paid claims left out;
    the listing the ranges are cut from counts the claim ids as the id pass does."""
    rng = random.Random(claims_per_range)
    db = mongomock_ng.MongoClient().payments
    claims = [{"_id": f"W{n:03d}", "PaymentEvent_ID": rng.choice([EVENT, EVENT, "PE-OTHER"]),
               "ParentClaimCore_ID": f"P{rng.randrange(40):02d}",
               "ClaimCore_ID": f"K{rng.randrange(150):03d}"} for n in range(200)]
    for claim in rng.sample(claims, 20):
        claim["PaymentStatus"] = "PAID"
    db.ClaimWSCore.insert_many(rng.sample(claims, len(claims)))
    repository = ClaimRepository(db)
    whole = [d["_id"] for d in repository.fetch_ws(EVENT, 1000)]
    listing = list(repository.chain_listing(EVENT))
    assert Counter(claim_id for _, claim_id in listing) == repository.claim_id_counts(EVENT)
    ranges = split_chains((parent_id for parent_id, _ in listing), claims_per_range)
    assert ranges is not None
    read = [[d["_id"] for d in repository.fetch_ws(EVENT, 1000, chains=chains)]
            for chains in ranges]
    assert [claim_id for share in read for claim_id in share] == whole
    assert [len(share) for share in read] == [chains.claims for chains in ranges]
    assert all(read)
    parents_of = {c["_id"]: c["ParentClaimCore_ID"] for c in claims}
    owners = {parents_of[claim_id]: index for index, share in enumerate(read)
              for claim_id in share}
    assert all(owners[parents_of[claim_id]] == index  # a chain is never split
               for index, share in enumerate(read) for claim_id in share)


_PARENTS = st.one_of(st.sampled_from(["P1", "P2", "P3", None, 7]),
                     st.builds(list, st.lists(st.integers(0, 2), max_size=2)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_PARENTS, st.integers(1, 4)), max_size=12), st.integers(1, 6))
def test_listed_parts_are_whole_chains_of_a_batch_or_more(groups, claims_per_part) -> None:
    """The embedded store's listing cut into parts: together the listing, each part but
    the last at least ``claims_per_part`` claims, cut at the first chain boundary after
    that, and no chain split (malformed parent ids group as :func:`group_by_parent` does)."""
    documents = [{"_id": f"W{n}", "ParentClaimCore_ID": parent}
                 for n, parent in enumerate(parent for parent, size in groups
                                            for _ in range(size))]
    parts = whole_chain_parts(documents, claims_per_part)
    assert [d for part in parts for d in part] == documents
    assert all(len(part) >= claims_per_part for part in parts[:-1])
    assert all(parts)
    chains = [(key, [d["_id"] for d in chain]) for key, chain in group_by_parent(documents)]
    in_parts = [(key, [d["_id"] for d in chain])
                for part in parts for key, chain in group_by_parent(part)]
    assert in_parts == chains
    for part in parts[:-1]:  # the first boundary at or after claims_per_part
        keys = [key for key, _ in group_by_parent(part[:claims_per_part])]
        assert len(list(group_by_parent(part))) == len(keys)
    assert [ListedChains(part).claims for part in parts] == list(map(len, parts))
