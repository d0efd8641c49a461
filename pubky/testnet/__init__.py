"""Local Pubky testnet: PKARR relays, a v0.6.0 homeserver and an HTTP relay on loopback.

``Testnet`` (see :mod:`pubky.testnet.runner`) runs them all on one background asyncio thread.
"""

from __future__ import annotations

from pubky.testnet.relay import RateLimit
from pubky.testnet.runner import Testnet, serve_forever

__all__ = ["RateLimit", "Testnet", "serve_forever"]
