"""The ``.env`` file of the working directory, shared by every command of the engine.

Only ``./.env`` is read (never a parent directory's), and only its ``PAYMENT_*`` names
are taken, below the environment: a variable already set is never replaced. So the
precedence is the same for every command: command line, environment, ``.env``, the
YAML config file, the built-in defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values

ENV_FILE = ".env"
PREFIX = "PAYMENT_"


def load_env_file(directory: Path | None = None) -> list[str]:
    """Set the ``PAYMENT_*`` variables of ``directory/.env`` (default: the working
    directory) that the environment does not set; returns the names it set."""
    path = (directory or Path.cwd()) / ENV_FILE
    if not path.is_file():
        return []
    loaded = []
    for name, value in dotenv_values(path).items():
        if name.startswith(PREFIX) and value is not None and name not in os.environ:
            os.environ[name] = value
            loaded.append(name)
    return loaded
