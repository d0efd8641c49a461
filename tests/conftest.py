"""Suite-wide fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def encryption_key(settings) -> bytes:
    """The key the test settings seal private keys under."""
    return bytes(settings.PUBKY_KEY_ENCRYPTION_KEY)
