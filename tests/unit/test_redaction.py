"""Secrets of a db URI never reach stderr, stdout, the log file, the stats or an error.

There is one redaction implementation, ``common.functions.redact_text`` (built on
``redact_uri``); ``utils.logging.redact`` delegates to it. Log files are 0640.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_plus

import mongomock_ng
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from PaymentProcess import main as main_module
from PaymentProcess.common.functions import (
    Store,
    close_connection,
    get_connection,
    redact_text,
    redact_uri,
)
from PaymentProcess.utils import logging as logging_module
from PaymentProcess.utils.error_handling import PaymentProcessError
from PaymentProcess.utils.logging import LOG_FILE_NAME, configure_logging, get_logger, redact
from tests.conftest import GOLDEN_STORE, read_store

SECRET = "S3cretPW"
URI = (f"mongodb://payer:{SECRET}@db1.example:27017,db2.example:27017/payments"
       f"?authSource=admin&tlsCertificateKeyFilePassword={SECRET}x")


@pytest.fixture(autouse=True)
def clean_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No store variables, no open store, and the root log handlers restored afterwards."""
    for name in ("PAYMENT_DB_URI", "PAYMENT_LOG_DIR", "PAYMENT_EVENT_ID"):
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    close_connection()
    yield
    close_connection()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if handler not in handlers:
            handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


# --------------------------------------------------------------------------- one implementation
def test_logging_redact_is_the_functions_implementation() -> None:
    text = f"cannot reach {URI} (password={SECRET})"
    assert redact(text) == redact_text(text)
    assert SECRET not in redact(text)
    # no second credentials pattern left in the logging module
    assert not [name for name in vars(logging_module) if "CREDENTIAL" in name.upper()]
    assert not hasattr(logging_module, "re")


@pytest.mark.parametrize(("text", "expected"), [
    ("no secret here", "no secret here"),
    ("uri mongodb://alice:s3cret@h/db ok", "uri mongodb://alice:***@h/db ok"),
    ("two: mongodb://a:s3cret@h1 and mongodb+srv://b:s3cret@c.example/x",
     "two: mongodb://a:***@h1 and mongodb+srv://b:***@c.example/x"),
    ("'mongodb://alice:s3cret@h/db'", "'mongodb://alice:***@h/db'"),
    ("mongodb://alice:p@ss/w?rd@h/db", "mongodb://alice:***@h/db"),
    ("mongodb://h/db?authMechanismProperties=AWS_SESSION_TOKEN:s3cret",
     "mongodb://h/db?authMechanismProperties=***"),
    ("password=s3cret;user=x", "password=***;user=x"),
    ("mongodb://alice@h/db", "mongodb://alice@h/db"),
    ("", ""),
])
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert "s3cret" not in redact_text(text)


_PASSWORD = st.text(alphabet=st.characters(codec="ascii", exclude_characters=" \t\n\r\x0b\x0c"),
                    min_size=1, max_size=24)


@settings(max_examples=300, deadline=None)
@given(user=st.text(alphabet="abcdefghij_", min_size=1, max_size=8), password=_PASSWORD,
       encode=st.booleans(),
       around=st.tuples(st.text(max_size=20), st.text(max_size=20)).map(
           lambda pair: (pair[0] + " ", " " + pair[1])))
def test_a_uri_password_never_survives_redaction(user: str, password: str, encode: bool,
                                                 around: tuple[str, str]) -> None:
    secret = "ZQ" + (quote_plus(password) if encode else password) + "QZ"
    text = f"{around[0]}mongodb://{user}:{secret}@host.example:27017/db{around[1]}"
    redacted = redact_text(text)
    assert secret not in redacted
    assert f"mongodb://{user}:***@" in redacted


# --------------------------------------------------------------------------- connection errors
@pytest.mark.parametrize("uri", [
    f"mongodb://payer:{SECRET}@127.0.0.1:1/payments?serverSelectionTimeoutMS=200",
    f"mongodb://payer:{quote_plus(SECRET + '@/?')}@127.0.0.1:1/p?serverSelectionTimeoutMS=200",
    f"mongodb://payer:{SECRET}@host:notaport/payments",
    f"mongodb://payer:{SECRET}:x@host/payments",
    f"mongodb://payer:{SECRET}@[::1/payments",
    f"mongodb://payer:{SECRET}@host:99999999/payments",
    f"mongodb+srv://payer:{SECRET}@host:27017/payments",
    f"mongodb://127.0.0.1:1/db?authMechanismProperties=AWS_SESSION_TOKEN:{SECRET}"
    "&serverSelectionTimeoutMS=200",
])
def test_connection_errors_never_carry_the_password(uri: str) -> None:
    with pytest.raises(PaymentProcessError) as caught:
        get_connection(uri)
    message = str(caught.value)
    assert SECRET not in message and quote_plus(SECRET) not in message
    assert caught.value.__cause__ is None or SECRET not in str(caught.value.__cause__)


def test_the_store_and_the_stats_carry_the_uri_redacted() -> None:
    client = mongomock_ng.MongoClient()
    store = Store(URI, client.payments, client)
    assert SECRET not in store.uri and "payer:***@" in store.uri
    for name, documents in read_store(GOLDEN_STORE).items():
        store.db[name].insert_many(documents)
    from PaymentProcess.core.payment_processor import (
        PaymentProcessor,
        Repositories,
        RunSettings,
    )
    from PaymentProcess.data.config.config_loader import ConfigLoader

    engine = PaymentProcessor(ConfigLoader(store.db), Repositories.for_store(store, 1000),
                              RunSettings(db_uri=store.uri), store)
    stats = engine.run_dry_run("PE-G1")
    assert SECRET not in stats.store
    saved = store.db.PaymentEventStats.find_one({"_id": stats.run_id})
    assert saved["store"] == stats.store
    assert SECRET not in json.dumps(saved, default=str)


# --------------------------------------------------------------------------- the command line
def _fake_connection(monkeypatch: pytest.MonkeyPatch) -> Store:
    """main.run opens a 'MongoDB' whose URI has a password: a mongomock database."""
    client = mongomock_ng.MongoClient()
    store = Store(URI, client.payments, client)
    for name, documents in read_store(GOLDEN_STORE).items():
        store.db[name].insert_many(documents)
    monkeypatch.setattr(main_module, "get_connection", lambda uri, **_: store)
    return store


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_a_run_never_prints_or_logs_the_password(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path, extra: list[str]) -> None:
    store = _fake_connection(monkeypatch)
    log_dir = tmp_path / "logs"
    monkeypatch.setenv("PAYMENT_LOG_DIR", str(log_dir))
    code = main_module.main(["-p", "PE-G1", "-m", "dry-run", "--db-uri", URI, "--workers", "1",
                             *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    log_text = (log_dir / LOG_FILE_NAME).read_text()
    for text in (out, err, log_text):
        assert SECRET not in text
    assert "payer:***@" in out  # the summary / JSON names the store, redacted
    assert "payer:***@" in log_text  # the 'starting' line too
    assert "Traceback" not in err
    for document in store.db.PaymentEventStats.find():
        assert SECRET not in json.dumps(document, default=str)


def test_a_crash_is_logged_with_its_traceback_redacted(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    def crash(options):  # noqa: ANN001, ANN202
        raise RuntimeError(f"driver said: cannot authenticate to {options.db_uri}")

    monkeypatch.setattr(main_module, "run", crash)
    log_dir = tmp_path / "logs"
    code = main_module.main(["-p", "PE-G1", "-m", "final", "--db-uri", URI, "--workers", "1",
                             "--log-dir", str(log_dir)])
    out, err = capsys.readouterr()
    assert code == 4
    log_text = (log_dir / LOG_FILE_NAME).read_text()
    assert "RuntimeError" in log_text and "payer:***@" in log_text  # the traceback is kept...
    for text in (out, err, log_text):
        assert SECRET not in text  # ...without the secret
    assert "paymentprocess: failed: RuntimeError" in err


def test_a_usage_error_never_echoes_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    code = main_module.main(["-p", "PE-G1", "-m", "dry-run", "--db-uri",
                             f"postgres://payer:{SECRET}@h/db"])
    out, err = capsys.readouterr()
    assert code == 2 and SECRET not in out + err


def test_nested_log_values_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    get_logger("test").info("settings", options={"db": URI, "hosts": [URI, ("x", URI)]})
    err = capsys.readouterr().err
    assert SECRET not in err and err.count("payer:***@") == 3


# --------------------------------------------------------------------------- log file mode
def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_log_file_is_created_0640_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o000)
    try:
        configure_logging("INFO", log_dir=str(tmp_path))
        get_logger("test").info("first line")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / LOG_FILE_NAME) == 0o640


def test_an_existing_world_readable_log_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / LOG_FILE_NAME
    path.write_text("")
    path.chmod(0o644)
    configure_logging("INFO", log_dir=str(tmp_path))
    assert _mode(path) == 0o640


def test_the_file_reopened_after_rotation_is_0640_too(tmp_path: Path) -> None:
    """logrotate moves the file; the handler creates a new one, which must stay private."""
    previous = os.umask(0o022)
    try:
        configure_logging("INFO", log_dir=str(tmp_path))
        log = get_logger("test")
        log.info("before rotation")
        (tmp_path / LOG_FILE_NAME).rename(tmp_path / (LOG_FILE_NAME + ".1"))
        log.info("after rotation")
    finally:
        os.umask(previous)
    path = tmp_path / LOG_FILE_NAME
    assert "after rotation" in path.read_text()
    assert _mode(path) == 0o640
    assert _mode(tmp_path / (LOG_FILE_NAME + ".1")) == 0o640


def test_a_whole_uri_is_redacted_as_one() -> None:
    """A password with an unescaped space: the whole value is one URI, all of it hidden."""
    uri = "mongodb://payer:my S3cret pw@h/db"
    assert redact_text(uri) == redact_uri(uri) == "mongodb://payer:***@h/db"
    assert "S3cret" not in redact_text(f"starting with {uri} now")
