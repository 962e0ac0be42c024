"""Structured JSON logging (structlog): stderr always, ``PAYMENT_LOG_DIR`` when set.

Every line carries the timestamp, level, logger, and whatever the run bound with
:func:`bind_run` (payment event id, run id, phase). Database credentials are redacted
from every value before rendering, so a secret can never reach a log.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from pathlib import Path
from typing import Any

import structlog

LOG_FILE_NAME = "paymentprocess.log"
_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<secret>[^@\s]*)@",
                          re.IGNORECASE)
_PASSWORD_PARAM = re.compile(r"(?P<name>password=)[^&\s]*", re.IGNORECASE)


def redact(text: str) -> str:
    """Replace the password of any URI (and ``password=`` parameters) with ``***``."""
    text = _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _PASSWORD_PARAM.sub(lambda m: f"{m['name']}***", text)


def _redact_values(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {key: redact(value) if isinstance(value, str) else value
            for key, value in event_dict.items()}


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
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _redact_values,
                    renderer],
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_dir:
        path = Path(log_dir) / LOG_FILE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o640)
        os.chmod(path, 0o640)
        handlers.append(logging.handlers.WatchedFileHandler(path, encoding="utf-8"))
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
