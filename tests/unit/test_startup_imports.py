"""What starting the engine imports: the embedded store, the 835 and bank-file steps,
PyYAML and rich.progress only on the paths that use them (otherwise ~75 ms of every
start; docs/performance.md, session 9). Each check runs a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAZY = ("mongomock_ng", "yaml", "rich.progress", "PaymentProcess.data.embedded_store",
        "PaymentProcess.remittance", "PaymentProcess.treasury")


def lazy_modules_after(code: str) -> set[str]:
    """The modules of ``LAZY`` a fresh interpreter holds after running ``code``."""
    listing = "\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code + listing], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    return set(out.split()) & set(LAZY)


def test_importing_the_engine_imports_none_of_them() -> None:
    assert lazy_modules_after("import PaymentProcess.main") == set()


def test_a_mongomock_uri_imports_the_embedded_store() -> None:
    opened = lazy_modules_after("from PaymentProcess.common.functions import get_connection\n"
                                "assert get_connection('mongomock://').kind == 'embedded'")
    assert opened == {"mongomock_ng", "PaymentProcess.data.embedded_store"}


def test_a_config_file_imports_yaml(tmp_path: Path) -> None:
    config = tmp_path / "payment.yaml"
    config.write_text("workers: 1\n")
    parsed = lazy_modules_after(
        "from PaymentProcess.argument import parse_args\n"
        f"options = parse_args(['--config-path', {str(config)!r}, '-p', 'PE-1', '-m', 'dry-run',"
        " '--db-uri', 'mongomock://'])\nassert options.workers == 1")
    assert parsed == {"yaml"}
