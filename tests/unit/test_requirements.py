"""requirements.txt names, pinned, every package the product imports, and only those.

The product is what the image ships (``PaymentProcess/`` and ``main.py``); tools and tests
install ``requirements-dev.txt``, which includes requirements.txt. That the pinned list
really runs the product is checked by ``.ci/check_deployed_install`` (``make test``).
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [*sorted((ROOT / "PaymentProcess").rglob("*.py")), ROOT / "main.py"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][^\s;#]*)\s*(#.*)?$")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    """Package -> version of a requirements file (``-r`` lines aside); every line pinned."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("-r "):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: not pinned with ==: {line}"
        pins[_normal(match[1])] = match[2]
    return pins


def _imported_top_levels() -> dict[str, str]:
    """Top-level module -> a file importing it, for every absolute import of the product."""
    found: dict[str, str] = {}
    for path in PRODUCT:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_of_the_product_is_a_pinned_runtime_requirement() -> None:
    runtime = _pins(ROOT / "requirements.txt")
    distributions = packages_distributions()
    needed: dict[str, str] = {}
    for module, where in _imported_top_levels().items():
        if module in sys.stdlib_module_names or module in {"PaymentProcess", "__future__"}:
            continue
        assert module in distributions, f"{where} imports {module}, which no package provides"
        for distribution in distributions[module]:
            needed[_normal(distribution)] = where
    missing = {name: where for name, where in needed.items() if name not in runtime}
    assert not missing, f"imported by the product but not in requirements.txt: {missing}"
    unused = set(runtime) - set(needed)
    assert not unused, f"in requirements.txt but never imported by the product: {unused}"


def test_dev_requirements_include_the_runtime_list_and_do_not_repin_it() -> None:
    dev_text = (ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in dev_text.splitlines()
    assert not set(_pins(ROOT / "requirements-dev.txt")) & set(_pins(ROOT / "requirements.txt"))


def test_the_installed_versions_are_the_pinned_ones() -> None:
    from importlib.metadata import version

    for name, pinned in _pins(ROOT / "requirements.txt").items():
        assert version(name) == pinned, name
