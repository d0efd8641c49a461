"""``python -m pubky`` entry point (see :mod:`pubky.cli`)."""

from __future__ import annotations

import sys

from pubky.cli import main

if __name__ == "__main__":
    sys.exit(main())
