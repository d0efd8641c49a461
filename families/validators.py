"""Field validators shared by the apps."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from pubky.errors import PubkyError
from pubky.keys import PublicKey

_Z32_RE = re.compile(r"^[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$")


def validate_public_key(value: str) -> None:
    """A Pubky public key in raw z-base-32 (52 chars) that is a valid Ed25519 point."""
    if not _Z32_RE.match(value or ""):
        raise ValidationError(
            "Enter a Pubky public key: 52 z-base-32 characters.", code="invalid_public_key"
        )
    try:
        PublicKey.parse(value)
    except PubkyError as exc:
        raise ValidationError(
            "This key is not a valid Ed25519 public key (%(reason)s).",
            code="invalid_public_key",
            params={"reason": str(exc)},
        ) from None


def validate_pubky_url(value: str) -> None:
    """``pubky://<z32>/<path>`` (the display form ``pubky<z32>/…`` is normalised by services)."""
    if not value.startswith("pubky://"):
        raise ValidationError("Enter a pubky:// URL.", code="invalid_pubky_url")
    rest = value[len("pubky://") :]
    key = rest.split("/", 1)[0]
    validate_public_key(key)
