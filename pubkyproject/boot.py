"""Start-up guard: turn configuration errors into one line instead of a traceback."""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULT_SETTINGS = "pubkyproject.settings.local"


def configure_settings() -> None:
    """Select the settings module and import it now, so bad configuration fails fast and clearly."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    try:
        settings._setup()  # type: ignore[misc]  # force the import to surface errors here
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None
    except ModuleNotFoundError as exc:
        sys.stderr.write(
            f"error: DJANGO_SETTINGS_MODULE={os.environ['DJANGO_SETTINGS_MODULE']!r} "
            f"cannot be imported: {exc}\n"
        )
        raise SystemExit(2) from None
