"""``ensure_indexes``: every index of the data contract, created once, never weakened."""

from __future__ import annotations

import mongomock_ng
import pytest
from pymongo.errors import OperationFailure

from PaymentProcess.data.repositories.collections import INDEXES, PAYMENT_CENTER, ensure_indexes


def index_shapes(db: mongomock_ng.Database) -> dict[str, list[tuple]]:
    """Each collection's indexes as (keys, unique, sparse), sorted."""
    return {name: sorted((tuple(info["key"]), bool(info.get("unique")), bool(info.get("sparse")))
                         for info in db[name].index_information().values())
            for name in INDEXES}


def test_every_index_is_created_and_a_second_call_creates_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    db = mongomock_ng.MongoClient().db
    ensure_indexes(db)
    shapes = index_shapes(db)
    assert (tuple(INDEXES[PAYMENT_CENTER][0][0]), True, False) in shapes[PAYMENT_CENTER]
    assert sum(len(found) - 1 for found in shapes.values()) == sum(map(len, INDEXES.values()))
    created: list[str] = []
    monkeypatch.setattr(mongomock_ng.collection.Collection, "create_index",
                        lambda self, *args, **kwargs: created.append(self.name))
    ensure_indexes(db)
    assert created == []


def test_an_index_with_the_same_keys_but_weaker_options_is_refused() -> None:
    db = mongomock_ng.MongoClient().db
    db[PAYMENT_CENTER].create_index([("key", 1)])  # not unique: two payees could share a key
    with pytest.raises(OperationFailure):
        ensure_indexes(db)
