"""Fixtures for the per-action event tests: the Pubky testnet and the loopback DNS server of the
domain tests (the actions that publish to relays or look up challenges need them)."""

from __future__ import annotations

from tests.domains.conftest import (  # noqa: F401  (fixtures, found by name)
    _dns_server,
    dns_server,
    family,
    pubky_settings,
    registrar_domain,
    testnet,
)
