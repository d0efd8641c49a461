"""The import contracts (``[tool.importlinter]`` in pyproject.toml) hold, and they bite.

The layers, bottom to top: ``pubky`` → the project core → ``families`` → ``domains`` →
``guardians`` → ``realtime`` → the composition root (docs/architecture.md). The contracts are
checked with import-linter's Python API, on this repository and on a copy of it with a deliberate
upward import added.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "pyproject.toml"
PACKAGES = ("pubky", "pubkyproject", "families", "domains", "guardians", "realtime")

# The check, through import-linter's Python API, run in a fresh interpreter: one that has
# imported this repository's packages would find them instead of a copy's (and the test
# process's zope.interface, from Twisted, trips import-linter's option parsing). The private
# ``_register_contract_types`` is what ``lint-imports`` calls first; import-linter 2.16 has no
# public call that returns the report rather than printing it.
_CHECK = """
import json, sys
from importlinter.api import read_configuration
from importlinter.application import use_cases
sys.path.insert(0, sys.argv[1])
options = use_cases.read_user_options(sys.argv[2])
use_cases._register_contract_types(options)
report = use_cases.create_report(options, cache_dir=None)
if report.could_not_run:
    sys.exit(f"import-linter could not run: {report.invalid_contract_options}")
print(json.dumps([[c.name, ch.kept, ch.metadata] for c, ch in report.get_contracts_and_checks()],
                 default=list))
"""


def _links(metadata: Any) -> set[tuple[str, str]]:
    """Every direct import (importer, imported) on a chain a broken contract reports."""
    found: set[tuple[str, str]] = set()
    if isinstance(metadata, dict):
        if {"importer", "imported", "line_numbers"} <= metadata.keys():
            found.add((metadata["importer"], metadata["imported"]))
        for value in metadata.values():
            found |= _links(value)
    elif isinstance(metadata, list | tuple):
        for value in metadata:
            found |= _links(value)
    return found


def _report(results: list[Any]) -> dict[str, set[tuple[str, str]]]:
    """Contract name → the imports that break it (an empty set: the contract is kept)."""
    return {name: set() if kept else _links(metadata) for name, kept, metadata in results}


def check_copy(root: Path) -> dict[str, set[tuple[str, str]]]:
    done = subprocess.run(
        [sys.executable, "-c", _CHECK, str(root), str(root / "pyproject.toml")],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return _report(json.loads(done.stdout.splitlines()[-1]))


def check_repository() -> dict[str, set[tuple[str, str]]]:
    return check_copy(ROOT)


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


LAYERS = _contracts()["layers"]["name"]
NO_DJANGO = _contracts()["pubky-no-django"]["name"]


@pytest.fixture(scope="module")
def repository() -> dict[str, set[tuple[str, str]]]:
    return check_repository()


def test_the_repository_keeps_every_import_contract(
    repository: dict[str, set[tuple[str, str]]],
) -> None:
    broken = {name: sorted(links) for name, links in repository.items() if links}
    assert not broken, f"imports that run up the layers: {broken}"


def test_the_protocol_library_imports_no_django(
    repository: dict[str, set[tuple[str, str]]],
) -> None:
    assert repository[NO_DJANGO] == set()


def test_the_core_and_the_families_app_import_nothing_above_them(
    repository: dict[str, set[tuple[str, str]]],
) -> None:
    # ``families.admin`` is rewritten by the admin restructuring; everything else of these
    # layers is already clean and must stay so.
    top_packages = {"pubkyproject", "families"}
    upward = {
        (importer, imported)
        for importer, imported in repository[LAYERS]
        if importer.split(".")[0] in top_packages and importer != "families.admin"
    }
    assert upward == set()


def test_every_module_of_the_project_package_sits_in_a_layer() -> None:
    # A new module of ``pubkyproject`` not named in the contract would escape the check.
    named = {
        module.strip()
        for layer in _contracts()["layers"]["layers"]
        for module in layer.replace("|", ":").split(":")
    }
    modules = {
        f"pubkyproject.{path.stem if path.is_file() else path.name}"
        for path in (ROOT / "pubkyproject").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert modules - named == set()


@pytest.fixture(scope="module")
def broken_copy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[tuple[str, str]]]:
    """A copy of the repository where ``families`` imports ``realtime`` (up three layers) and
    the protocol library imports Django."""
    root = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            root / package,
            ignore=shutil.ignore_patterns("__pycache__", "static", "templates", "node_modules"),
        )
    shutil.copy(CONFIG, root / "pyproject.toml")
    with (root / "families" / "selectors.py").open("a") as module:
        module.write("\nfrom realtime import topics  # noqa: E402\n")
    with (root / "pubky" / "keys.py").open("a") as module:
        module.write("\nimport django  # noqa: E402\n")
    return check_copy(root)


def test_an_upward_import_breaks_the_layer_contract(
    broken_copy: dict[str, set[tuple[str, str]]],
    repository: dict[str, set[tuple[str, str]]],
) -> None:
    added = ("families.selectors", "realtime.topics")
    assert added in broken_copy[LAYERS]
    assert added not in repository[LAYERS]


def test_django_in_the_protocol_library_breaks_its_contract(
    broken_copy: dict[str, set[tuple[str, str]]],
) -> None:
    assert ("pubky.keys", "django") in broken_copy[NO_DJANGO]
