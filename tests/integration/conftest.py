"""Fixtures of the real-server tier: one server for the session, one database per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from pymongo.database import Database

from tests.integration.mongo_server import SERVER_URI_ENV, ServerTarget, running_secantus


@pytest.fixture(scope="session")
def mongo_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerTarget]:
    """``PAYMENT_TEST_MONGODB_URI`` when set, else a SecantusDB started for the session."""
    external = os.environ.get(SERVER_URI_ENV)
    if external:
        target = ServerTarget(external, None)
        try:
            yield target
        finally:
            target.close()
        return
    with running_secantus(tmp_path_factory.mktemp("secantus")) as server:
        target = ServerTarget(server.uri, server)
        try:
            yield target
        finally:
            target.close()


@dataclass(frozen=True)
class ServerDatabase:
    """One test's database on the tier's server: its URI for ``--db-uri`` and a handle."""

    uri: str
    db: Database
    target: ServerTarget


@contextmanager
def fresh_database(target: ServerTarget) -> Iterator[ServerDatabase]:
    """A fresh, empty database on the tier's server, dropped on exit."""
    name = target.new_database()
    try:
        yield ServerDatabase(target.database_uri(name), target.client[name], target)
    finally:
        target.client.drop_database(name)


@pytest.fixture
def server_db(mongo_target: ServerTarget) -> Iterator[ServerDatabase]:
    """A fresh, empty database on the tier's server, dropped after the test."""
    with fresh_database(mongo_target) as database:
        yield database
