"""Framework-free Pubky / PKARR protocol core (keys, z-base-32, signed packets, auth tokens).

Nothing in this package imports Django; the web layer builds on top of it.
"""

from __future__ import annotations

from pubky.errors import PubkyError

__all__ = ["PubkyError"]
