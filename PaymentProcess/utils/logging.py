"""Structured JSON logging (structlog): stderr always, ``PAYMENT_LOG_DIR`` when set.

Every line carries the timestamp, level, logger, and whatever the run bound with
:func:`bind_run` (payment event id, run id, phase). Database credentials are redacted
from every value before rendering, so a secret can never reach a log.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Any

import structlog

from PaymentProcess.utils.error_handling import ConfigurationError

LOG_FILE_NAME = "paymentprocess.log"
LOG_FILE_MODE = 0o640
MAX_REDACT_DEPTH = 20


def redact(text: str) -> str:
    """Secrets in ``text`` replaced by ``***`` (URI passwords, ``password=`` values).

    The one implementation is :func:`PaymentProcess.common.functions.redact_text`
    (imported here at call time: ``common.functions`` imports this package).
    """
    from PaymentProcess.common.functions import redact_text

    return redact_text(text)


def _redact_value(value: Any, depth: int = 0) -> Any:
    """Redact strings anywhere in a log value: nested dicts, lists and tuples too."""
    if isinstance(value, str):
        return redact(value)
    if depth >= MAX_REDACT_DEPTH:
        return "<nested too deep>"
    if isinstance(value, dict):
        return {key: _redact_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item, depth + 1) for item in value]
    return value


def _redact_values(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {key: _redact_value(value) for key, value in event_dict.items()}


class PrivateWatchedFileHandler(logging.handlers.WatchedFileHandler):
    """A ``WatchedFileHandler`` whose file is always created with mode 0640.

    The plain handler opens with the process umask (typically 0644): after logrotate
    moves the file, the file it reopens would be world-readable. Here every open,
    the first and each reopen, creates the file 0640 and keeps it so.
    """

    def _open(self):  # noqa: ANN202 - signature of logging.FileHandler._open
        descriptor = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                             LOG_FILE_MODE)
        with contextlib.suppress(OSError):  # a file we may not chmod is still usable
            os.fchmod(descriptor, LOG_FILE_MODE)
        return open(descriptor, self.mode, encoding=self.encoding, errors=self.errors)


def _log_file_handler(log_dir: Path) -> logging.Handler:
    """The handler of ``log_dir/paymentprocess.log``; ConfigurationError if it is unusable.

    The directory is created when missing, but not its parents: a missing parent is
    more likely a typo than a place to log to.
    """
    try:
        log_dir.mkdir(exist_ok=True)
        return PrivateWatchedFileHandler(log_dir / LOG_FILE_NAME, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"the log directory {log_dir} (PAYMENT_LOG_DIR) is unusable: "
                                 f"{exc.strerror or exc}") from None


def configure_logging(level: str = "INFO", json: bool = True, log_dir: str | None = None) -> None:
    """Send JSON lines to stderr and, with ``log_dir``, to ``<log_dir>/paymentprocess.log``.

    The file handler is a ``WatchedFileHandler``: after logrotate moves the file, the next
    line goes to a new file, so no ``copytruncate`` is needed. The file is created with
    mode 0640 (owner and group only).
    """
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.add_logger_name,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, _redact_values, renderer],
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_dir:
        handlers.append(_log_file_handler(Path(log_dir)))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level.upper())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A structlog logger for a module."""
    return structlog.get_logger(name)


def bind_run(**values: Any) -> None:
    """Attach values (payment_event_id, run_id, phase) to every following log line."""
    structlog.contextvars.bind_contextvars(**values)
