"""Framework-free Pubky / PKARR protocol core (keys, z-base-32, signed packets, auth tokens).

Nothing in this package imports Django; the web layer builds on top of it.

The common names are re-exported lazily (PEP 562) so ``import pubky.errors`` stays cheap and
submodules can import each other without cycles through this file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pubky.errors import PubkyError

if TYPE_CHECKING:
    from pubky.auth import AuthToken, AuthVerifier, Capabilities, Capability, SessionInfo
    from pubky.keys import Keypair, PublicKey
    from pubky.packet import Record, SignedPacket
    from pubky.recovery import create_recovery_file, decrypt_recovery_file

_LAZY = {
    "AuthToken": "pubky.auth",
    "AuthVerifier": "pubky.auth",
    "Capabilities": "pubky.auth",
    "Capability": "pubky.auth",
    "SessionInfo": "pubky.auth",
    "Keypair": "pubky.keys",
    "PublicKey": "pubky.keys",
    "Record": "pubky.packet",
    "SignedPacket": "pubky.packet",
    "create_recovery_file": "pubky.recovery",
    "decrypt_recovery_file": "pubky.recovery",
}

__all__ = [
    "AuthToken",
    "AuthVerifier",
    "Capabilities",
    "Capability",
    "Keypair",
    "PubkyError",
    "PublicKey",
    "Record",
    "SessionInfo",
    "SignedPacket",
    "create_recovery_file",
    "decrypt_recovery_file",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pubky' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
