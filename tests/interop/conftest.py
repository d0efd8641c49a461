"""Fixtures for the npm interop suite (``pytest -m interop``).

The npm packages are installed by ``npm ci`` in ``tests/interop/js``. Without ``node_modules`` the
whole directory is skipped with that hint -- except in CI (``CI`` set), where the suite must run
and a missing install is an error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
import requests

from pubky.testnet import Testnet
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


@pytest.fixture(scope="session")
def interop_testnet(
    _npm_oracles_installed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Testnet]:
    """Our testnet (relay, homeserver, admin API, HTTP relay) in ``token_required`` mode."""
    data_dir = tmp_path_factory.mktemp("interop-testnet")
    with Testnet.ephemeral(data_dir, signup_mode="token_required") as testnet:
        yield testnet


@pytest.fixture(scope="session")
def signup_token(interop_testnet: Testnet) -> Callable[[], str]:
    """Issue one-use signup tokens the way an operator does: the admin HTTP endpoint."""

    def issue() -> str:
        admin_url = interop_testnet.admin_url
        assert admin_url is not None, "the interop testnet must run its admin API"
        response = requests.get(
            f"{admin_url}/generate_signup_token",
            headers={"X-Admin-Password": interop_testnet.admin_password},
            timeout=10,
        )
        assert response.status_code == 200, (response.status_code, response.text)
        return response.text.strip()

    return issue
