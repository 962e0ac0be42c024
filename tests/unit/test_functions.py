"""Shared helpers: environment, db URI resolution and redaction, the process-wide store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from PaymentProcess.common import functions
from PaymentProcess.common.functions import (
    close_connection,
    get_connection,
    get_default_workers,
    get_env,
    redact_uri,
    resolve_db_uri,
)
from PaymentProcess.data.embedded_store import EmbeddedStore
from PaymentProcess.utils.error_handling import (
    ConcurrencyError,
    ConfigurationError,
    RepositoryError,
)


@pytest.fixture(autouse=True)
def no_open_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts and ends without a process-wide store or store variables."""
    monkeypatch.delenv("PAYMENT_DB_URI", raising=False)
    monkeypatch.delenv("PAYMENT_MAX_WORKERS", raising=False)
    close_connection()
    yield
    close_connection()


# --- environment --------------------------------------------------------------------------


def test_get_env_treats_empty_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_env("PAYMENT_TEST_VAR") is None
    assert get_env("PAYMENT_TEST_VAR", "fallback") == "fallback"
    monkeypatch.setenv("PAYMENT_TEST_VAR", "")
    assert get_env("PAYMENT_TEST_VAR", "fallback") == "fallback"
    monkeypatch.setenv("PAYMENT_TEST_VAR", "value")
    assert get_env("PAYMENT_TEST_VAR", "fallback") == "value"


@pytest.mark.parametrize(("cpus", "expected"), [(32, 8), (8, 8), (2, 2), (None, 4)])
def test_default_workers_follow_the_cpu_count(
    monkeypatch: pytest.MonkeyPatch, cpus: int | None, expected: int
) -> None:
    monkeypatch.setattr(functions.os, "cpu_count", lambda: cpus)
    assert get_default_workers() == expected


def test_default_workers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_MAX_WORKERS", "12")
    assert get_default_workers() == 12
    monkeypatch.setenv("PAYMENT_MAX_WORKERS", "")
    monkeypatch.setattr(functions.os, "cpu_count", lambda: 3)
    assert get_default_workers() == 3


@pytest.mark.parametrize("value", ["0", "-2", "abc", "2.5", " "])
def test_bad_max_workers_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PAYMENT_MAX_WORKERS", value)
    with pytest.raises(ConfigurationError, match="PAYMENT_MAX_WORKERS must be a positive integer"):
        get_default_workers()


# --- db URI -------------------------------------------------------------------------------


def test_resolve_db_uri_prefers_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_DB_URI", "mongodb://env-host/payments")
    assert resolve_db_uri("mongomock://data") == "mongomock://data"
    assert resolve_db_uri(None) == "mongodb://env-host/payments"
    assert resolve_db_uri("") == "mongodb://env-host/payments"
    monkeypatch.setenv("PAYMENT_DB_URI", "mongodb+srv://cluster.example.com/")
    assert resolve_db_uri(None) == "mongodb+srv://cluster.example.com/"


def test_resolve_db_uri_without_any_uri() -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_db_uri(None)
    assert str(info.value) == "no database: pass --db-uri or set PAYMENT_DB_URI"
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("uri", "named"),
    [
        ("postgres://alice:s3cret@h/db", "unsupported db URI scheme 'postgres'"),
        ("MONGODB://alice:s3cret@h/db", "unsupported db URI scheme 'MONGODB'"),
        ("file:///tmp/s3cret", "unsupported db URI scheme 'file'"),
        ("alice:s3cret@localhost:27017", "the db URI has no scheme"),
        ("s3cret", "the db URI has no scheme"),
        ("alice:s3cret@mongodb://h", "the db URI has no scheme"),
    ],
)
def test_resolve_db_uri_refuses_other_schemes_without_echoing_secrets(uri: str, named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_db_uri(uri)
    assert str(info.value).startswith(named)
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mongodb://alice:s3cret@h/db", "mongodb://alice:***@h/db"),
        (
            "mongodb+srv://alice:s3cret@cluster.example.com/",
            "mongodb+srv://alice:***@cluster.example.com/",
        ),
        (
            "mongodb://alice:s3cret@h1:27017,h2:27018/db?replicaSet=rs0&authSource=admin",
            "mongodb://alice:***@h1:27017,h2:27018/db?replicaSet=rs0&authSource=admin",
        ),
        ("mongodb://alice:p%40ss%2Fw0rd@h/db", "mongodb://alice:***@h/db"),
        ("mongodb://alice:s3c@ret@h/db", "mongodb://alice:***@h/db"),
        ("mongodb://alice:s3/cr?et@h/db", "mongodb://alice:***@h/db"),
        ("mongodb://alice:@h/db", "mongodb://alice:***@h/db"),
        ("mongodb://alice@h/db", "mongodb://alice@h/db"),
        ("mongodb://h:27017/db?w=majority", "mongodb://h:27017/db?w=majority"),
        (
            "mongodb://h/db?authSource=admin&password=s3cret&w=1",
            "mongodb://h/db?authSource=admin&password=***&w=1",
        ),
        (
            "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:s3cret",
            "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=***",
        ),
        (
            "mongodb://h/?tls=true;tlsCertificateKeyFilePassword=s3cret",
            "mongodb://h/?tls=true;tlsCertificateKeyFilePassword=***",
        ),
        ("mongodb://h/?PASSWORD=s3c@ret", "mongodb://h/?PASSWORD=***"),
        ("alice:s3cret@h", "alice:***@h"),
        ("weird:s3cret@x://h", "weird:***@x://h"),
        ("mongomock:///var/lib/payments", "mongomock:///var/lib/payments"),
        ("mongomock://", "mongomock://"),
        ("", ""),
        ("://:s3cret@", ":***@"),
        ("mongodb://[::1:s3cret@h", "mongodb://[:***@h"),
    ],
)
def test_redact_uri(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected
    assert "s3cret" not in redact_uri(uri)


# --- the process-wide store ---------------------------------------------------------------


def test_memory_store_is_a_process_wide_singleton(tmp_path: Path) -> None:
    store = get_connection("mongomock://")
    assert store.kind == "embedded"
    assert store.uri == "mongomock://"
    assert store.db.name == "payments"
    store.db.Sequences.insert_one({"_id": "check:FS", "next": 1})
    assert get_connection("mongomock://") is store
    with pytest.raises(ConfigurationError, match="the store mongomock:// is already open"):
        get_connection(f"mongomock://{tmp_path}")
    store.checkpoint()  # memory only: nothing to write

    close_connection()
    fresh = get_connection("mongomock://")
    assert fresh is not store
    assert fresh.db.Sequences.count_documents({}) == 0


def test_embedded_store_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = get_connection("mongomock://data/store", create=True)
    store.db.PaymentEvent.insert_one({"_id": "PE-1", "stage": "NEW"})
    store.checkpoint(["PaymentEvent"])
    assert (tmp_path / "data" / "store" / "PaymentEvent.jsonl").read_text() == (
        '{"_id":"PE-1","stage":"NEW"}\n'
    )
    with pytest.raises(ConcurrencyError):
        EmbeddedStore(tmp_path / "data" / "store")
    close_connection()
    with EmbeddedStore(tmp_path / "data" / "store") as reopened:  # the lock was released
        assert reopened.db.PaymentEvent.find_one({"_id": "PE-1"}) == {"_id": "PE-1", "stage": "NEW"}


def test_embedded_store_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "elsewhere" / "payments"
    store = get_connection(f"mongomock://{target}", create=True)  # mongomock:///abs/...
    store.db.A.insert_one({"_id": 1})
    store.checkpoint()
    assert (target / "A.jsonl").read_text() == '{"_id":1}\n'


def test_a_store_that_fails_to_open_is_not_kept(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path), pytest.raises(ConcurrencyError):
        get_connection(f"mongomock://{tmp_path}")
    assert get_connection(f"mongomock://{tmp_path}").kind == "embedded"


def test_get_connection_refuses_unsupported_schemes() -> None:
    with pytest.raises(ConfigurationError, match="unsupported db URI scheme 'redis'"):
        get_connection("redis://h")


def test_unreachable_mongodb_is_a_repository_error_without_credentials() -> None:
    uri = "mongodb://alice:hunter2pw@127.0.0.1:1/payments?serverSelectionTimeoutMS=300"
    start = time.monotonic()
    with pytest.raises(RepositoryError) as info:
        get_connection(uri)
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert message.startswith(
        "cannot reach the store mongodb://alice:***@127.0.0.1:1/payments"
        "?serverSelectionTimeoutMS=300: "
    )
    assert "hunter2pw" not in message
    assert "Topology" not in message and "\n" not in message
    assert info.value.exit_code == 4
    assert get_connection("mongomock://").kind == "embedded"  # nothing was kept


def test_malformed_mongodb_uri_is_a_configuration_error_without_credentials() -> None:
    with pytest.raises(ConfigurationError) as info:
        get_connection("mongodb://alice:hunter2@pw@h/db")
    assert str(info.value).startswith("invalid db URI mongodb://alice:***@h/db: ")
    assert "hunter2" not in str(info.value)
