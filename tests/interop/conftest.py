"""Fixtures for the npm interop suite (``pytest -m interop``).

The npm packages are installed by ``npm ci`` in ``tests/interop/js``. Without ``node_modules`` the
whole directory is skipped with that hint -- except in CI (``CI`` set), where the suite must run
and a missing install is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.interop.oracles import NpmPkarrRelay, missing_oracles_reason


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(autouse=True, scope="session")
def _npm_oracles_installed() -> None:
    reason = missing_oracles_reason()
    if reason is None:
        return
    if _in_ci():
        pytest.fail(f"interop tests must run in CI, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def npm_pkarr_relay(_npm_oracles_installed: None) -> Iterator[NpmPkarrRelay]:
    """The npm ``pkarr@1.3.0`` relay backed by a private loopback DHT node."""
    with NpmPkarrRelay() as relay:
        yield relay
