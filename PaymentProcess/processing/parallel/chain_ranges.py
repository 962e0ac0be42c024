"""Ranges of an event's chains that pass 1's workers compute: read by each worker from
the server itself (:class:`ChainRange`), or listed by the run (:class:`ListedChains`).

On MongoDB a worker does not need the run to read its claims: it can query its own
range of ``ParentClaimCore_ID`` with its own client, in chain order, and send back only
what it computed. The run cuts the ranges from one projection of the parent ids (sorted
by the ``ClaimWSCore`` index), at chain boundaries, about ``claims_per_range`` claims
each; read one after the other, the ranges give exactly the stream one reader gets.

That holds while every parent id is text: MongoDB sorts values of different BSON types
by type first (and an array by its smallest element), which string bounds cannot
express, so :func:`split_chains` gives up (None) when it meets another type and the run
then reads the chains itself.

The embedded store holds every claim in the run's memory: the run lists the event's
stored claims once, in chain order, and cuts them into :class:`ListedChains`; a worker
forked after the listing inherits them, so nothing is read twice nor sent to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

_START = object()


@dataclass(frozen=True, slots=True)
class ChainRange:
    """Chains whose ``ParentClaimCore_ID`` is at least ``low`` and below ``high``.

    ``low`` None: from the first chain; ``high`` None: to the last. ``claims``: how many
    claims the projection found in it (a worker reading another number saw the claims
    change).
    """

    low: str | None
    high: str | None
    claims: int = 0

    def parent_condition(self) -> dict[str, str]:
        """The query condition on ``ParentClaimCore_ID`` (text only, by type bracketing)."""
        condition = {"$gte": self.low or ""}
        if self.high is not None:
            condition["$lt"] = self.high
        return condition


@dataclass(frozen=True, slots=True)
class ListedChains:
    """Whole chains of the embedded store's listing: the stored claim documents
    themselves, in chain order (read only)."""

    documents: Sequence[dict[str, Any]]

    @property
    def claims(self) -> int:
        """How many claims the listing gave the range."""
        return len(self.documents)


def split_chains(parent_ids: Iterable[Any], claims_per_range: int) -> list[ChainRange] | None:
    """Cut the sorted parent ids of an event's claims (one a claim) into ranges of whole
    chains of at least ``claims_per_range`` claims (the last one: what is left).

    None when a parent id is not text (see the module's docstring).
    """
    bounds: list[str | None] = [None]
    counts: list[int] = []
    claims = 0
    previous: Any = _START
    for parent_id in parent_ids:
        if not isinstance(parent_id, str):
            return None
        if parent_id != previous:
            if claims >= claims_per_range:
                bounds.append(parent_id)
                counts.append(claims)
                claims = 0
            previous = parent_id
        claims += 1
    bounds.append(None)
    counts.append(claims)
    return [ChainRange(low, high, count)
            for (low, high), count in zip(pairwise(bounds), counts, strict=True)]
