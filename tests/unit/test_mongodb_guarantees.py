"""The write and read concerns exactly-once needs, pinned whatever the URI says (issue 15)."""

from __future__ import annotations

import pymongo
import pytest
from pymongo import ReadPreference

from PaymentProcess.common.mongodb_guarantees import (
    check_guarantees,
    check_topology,
    guaranteed_database,
    weakened_options,
)
from PaymentProcess.utils.error_handling import ConfigurationError


def client(options: str = "") -> pymongo.MongoClient:
    """A client that never connects (constructing one reads the URI only)."""
    return pymongo.MongoClient(f"mongodb://db.example.com/claims{options}", connect=False)


@pytest.mark.parametrize("options", ["", "?w=majority", "?w=majority&journal=true",
                                     "?readPreference=primary&readConcernLevel=majority",
                                     "?retryWrites=true&wtimeoutMS=5000",
                                     "?readConcernLevel=linearizable"])
def test_a_uri_that_keeps_the_guarantees_is_accepted(options: str) -> None:
    assert weakened_options(client(options)) == []


@pytest.mark.parametrize(("options", "named"), [
    ("?w=1", ["w=1"]),
    ("?w=0", ["w=0"]),
    ("?w=3", ["w=3"]),
    ("?journal=false", ["journal=false"]),
    ("?retryWrites=false", ["retryWrites=false"]),
    ("?readPreference=secondary", ["readPreference=secondary"]),
    ("?readPreference=primaryPreferred", ["readPreference=primaryPreferred"]),
    ("?readConcernLevel=local", ["readConcernLevel=local"]),
    ("?readConcernLevel=available", ["readConcernLevel=available"]),
    ("?w=1&readPreference=nearest", ["w=1", "readPreference=nearest"]),
])
def test_a_uri_that_weakens_them_is_named(options: str, named: list[str]) -> None:
    assert weakened_options(client(options)) == named


def test_the_refusal_is_one_line_and_exit_2() -> None:
    with pytest.raises(ConfigurationError) as info:
        check_guarantees(client("?w=1&retryWrites=false"), "mongodb://u:***@db.example.com/c")
    assert str(info.value) == (
        "the db URI mongodb://u:***@db.example.com/c sets w=1, retryWrites=false: a final run "
        "needs w=majority, journal=true, retryWrites=true and primary reads; remove them "
        "from the URI")
    assert info.value.exit_code == 2


@pytest.mark.parametrize(("options", "wtimeout", "level"), [
    ("", None, "majority"), ("?wtimeoutMS=2500", 2500, "majority"),
    ("?readConcernLevel=linearizable", None, "linearizable")])
def test_the_database_pins_majority_journal_and_primary(options: str, wtimeout: int | None,
                                                       level: str) -> None:
    db = guaranteed_database(client(options), "payments")
    assert db.name == "claims"
    expected = {"w": "majority", "j": True} | ({"wtimeout": wtimeout} if wtimeout else {})
    assert db.write_concern.document == expected
    assert db.read_preference == ReadPreference.PRIMARY
    assert db.read_concern.level == level
    assert db.Sequences.write_concern.document == expected  # collections inherit them


def test_without_a_database_in_the_uri_the_default_is_used() -> None:
    plain = pymongo.MongoClient("mongodb://db.example.com/", connect=False)
    assert guaranteed_database(plain, "payments").name == "payments"


@pytest.mark.parametrize("hello", [{"isWritablePrimary": True, "setName": "rs0"},
                                   {"isWritablePrimary": True, "msg": "isdbgrid"}])
def test_a_replica_set_member_or_a_mongos_is_accepted(hello: dict) -> None:
    check_topology(hello, "mongodb://db.example.com/claims")


def test_a_standalone_server_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigurationError) as info:
        check_topology({"isWritablePrimary": True}, "mongodb://db.example.com/claims")
    assert str(info.value) == (
        "the store mongodb://db.example.com/claims is a standalone mongod: a final run needs "
        "a replica set (retryable writes, majority write concern); see docs/operations.md")
    assert info.value.exit_code == 2
