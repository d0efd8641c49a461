"""A family's own Pubky identity: its keypair, homeserver account and ``_pubky`` record.

Enabling (and rotating) follows the same order everywhere in this project: create the key in
memory, do the slow network work (homeserver signup, ``_pubky`` publish to every relay) with
no transaction open, then write the keypair and the family's Pubky columns in one short
transaction. If the network part fails nothing is stored and a typed error says why; if two
requests race, the ``one_active_keypair_per_family`` constraint lets only one of them win.

A homeserver account created by a failed attempt (signup succeeded, publish did not) is left
behind unused: its key was never stored, so nobody can sign in to it.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from families.models import Family, KeyVerification, PubkyKeypair, User
from families.signals import family_key_rotated
from pubky.keys import Keypair
from pubky.urls import canonical_pubky_url
from pubkyproject.pubky_client import PubkyClient, PubkyServiceError, SignupResult, pubky_client

__all__ = [
    "PubkyAlreadyEnabled",
    "PubkyNotEnabled",
    "create_family_keypair",
    "enable_pubky_for_family",
    "family_keypair_rotate",
]


class PubkyAlreadyEnabled(PubkyServiceError):
    """The family already has an active keypair on Pubky (rotate it instead)."""

    code = "already_enabled"


class PubkyNotEnabled(PubkyServiceError):
    """The family has no Pubky identity yet (enable it first)."""

    code = "not_enabled"


@transaction.atomic
def create_family_keypair(
    family: Family,
    *,
    seed: bytes | None = None,
    label: str = "",
    created_by: User | None = None,
    activate: bool = True,
) -> PubkyKeypair:
    """Store a keypair for ``family`` with its seed sealed at rest (database only).

    With ``activate`` the family's current active keypair is deactivated (``revoked_at``)
    first: a family has at most one active keypair.
    """
    keypair = Keypair.from_secret(seed) if seed is not None else Keypair.random()
    if activate:
        for old in PubkyKeypair.objects.select_for_update().filter(family=family, is_active=True):
            old.is_active = False
            old.revoked_at = timezone.now()
            old.full_clean()
            old.save()
    row = PubkyKeypair(
        family=family,
        label=label,
        public_key=keypair.public_key.z32(),
        is_active=activate,
        created_by=created_by,
    )
    row.set_private_key(keypair.secret)
    row.full_clean()
    row.save()
    return row


@transaction.atomic
def _store_identity(
    *,
    family: Family,
    keypair: Keypair,
    signup: SignupResult,
    created_by: User | None,
    label: str,
) -> PubkyKeypair:
    locked = Family.objects.select_for_update().get(pk=family.pk)
    row = create_family_keypair(
        family=locked, seed=keypair.secret, label=label, created_by=created_by, activate=True
    )
    first_ok = signup.report.succeeded[0].relay_url if signup.report.succeeded else ""
    locked.pubky_public_key = row.public_key
    locked.pubky_url = canonical_pubky_url(keypair.public_key)
    locked.pubky_homeserver_url = signup.homeserver_url
    locked.pubky_relay_url = first_ok
    locked.pubky_enabled = True
    locked.pubky_key_verification = KeyVerification.HELD
    locked.pubky_key_proof = None
    locked.full_clean()
    locked.save()
    # A new family key makes every guardian backup of the old one stale: the guardians app
    # forgets their verification on this signal (same transaction).
    family_key_rotated.send(sender=Family, family=locked)
    # The caller's instance reflects what was stored.
    for name in (
        "pubky_public_key",
        "pubky_url",
        "pubky_homeserver_url",
        "pubky_relay_url",
        "pubky_enabled",
    ):
        setattr(family, name, getattr(locked, name))
    return row


def enable_pubky_for_family(
    family: Family,
    *,
    created_by: User | None = None,
    signup_token: str | None = None,
    client: PubkyClient | None = None,
) -> PubkyKeypair:
    """Give ``family`` a Pubky identity on the configured homeserver (testnet by default).

    Creates a keypair, signs it up at the homeserver, publishes its ``_pubky`` record to
    every relay, then stores the sealed keypair and fills the family's Pubky columns.
    Raises :class:`PubkyAlreadyEnabled` when the family already has an active keypair, and
    :class:`~pubkyproject.pubky_client.PubkyNetworkError` / ``PublishFailed`` when the homeserver
    or every relay fails, in which case nothing is stored.
    """
    if family.pubky_enabled or PubkyKeypair.objects.filter(family=family, is_active=True).exists():
        raise PubkyAlreadyEnabled(
            f"family {family.slug} already has a Pubky identity ({family.pubky_public_key}); "
            "rotate its keypair instead"
        )
    client = client or pubky_client()
    keypair = client.generate_keypair()
    signup = client.signup(keypair, signup_token=signup_token)
    try:
        return _store_identity(
            family=family,
            keypair=keypair,
            signup=signup,
            created_by=created_by,
            label="family identity",
        )
    except IntegrityError as exc:
        raise PubkyAlreadyEnabled(
            f"family {family.slug} got a Pubky identity concurrently; nothing was stored"
        ) from exc


def family_keypair_rotate(
    *,
    family: Family,
    created_by: User | None = None,
    signup_token: str | None = None,
    client: PubkyClient | None = None,
) -> PubkyKeypair:
    """Replace the family's keypair with a new one (new homeserver account and ``_pubky``).

    The old keypair is deactivated (kept, sealed, for audit and recovery) in the same
    transaction that activates the new one; on a network failure the old one stays active.
    """
    if not family.pubky_enabled:
        raise PubkyNotEnabled(f"family {family.slug} has no Pubky identity to rotate")
    client = client or pubky_client()
    keypair = client.generate_keypair()
    signup = client.signup(keypair, signup_token=signup_token)
    return _store_identity(
        family=family,
        keypair=keypair,
        signup=signup,
        created_by=created_by,
        label="family identity (rotated)",
    )
