"""Self-held keys of families and users: identities and self-hosted homeservers, each proven.

Every function here takes ``key_proof``, the id of a proven proof of the key by the requesting
user (``families.services.key_proofs``), and refuses without one (``ValidationError`` on
``key_proof`` saying how to prove it). A proven claim wins over an unproven earlier one: that
one is cleared, and the guardians of its family are told why.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from families.models import (
    Family,
    KeyProof,
    KeyVerification,
    PubkyKeypair,
    SecurityEventKind,
    User,
)
from families.security import security_event_record
from families.services.key_proofs import key_proof_for_claim
from families.signals import family_homeserver_changed
from pubky.urls import PubkyUrl, canonical_pubky_url

__all__ = [
    "family_homeserver_attach",
    "family_homeserver_detach",
    "family_identity_attach",
    "user_identity_attach",
]


def _attached(*, user: User, target: str, key: str, proof: KeyProof, what: str) -> None:
    security_event_record(
        kind=SecurityEventKind.KEY_CLAIM_ATTACHED,
        user=user,
        target=target,
        detail={"public_key": key, "key_proof_id": proof.pk, "what": what},
    )


def _refuse_service_held(key: str) -> None:
    """A key this service generated for someone else never leaves it: nobody else proves it."""
    if PubkyKeypair.objects.filter(public_key=key).exists():
        raise ValidationError({"public_key": f"{key} is a family key held by this service."})


def _clear_unproven_family_identity(*, key: str, by: User, keep: Family) -> None:
    # Its guardians hear of it from the change receivers (``family_identity_removed``).
    for other in (
        Family.objects.select_for_update().filter(pubky_public_key=key).exclude(pk=keep.pk)
    ):
        if other.pubky_key_verification != KeyVerification.UNVERIFIED:
            raise ValidationError(
                {"public_key": f"{key} is already the proven identity of another family."}
            )
        other.pubky_public_key = None
        other.pubky_url = ""
        other.pubky_enabled = False
        other.pubky_key_proof = None
        other.save()
        security_event_record(
            kind=SecurityEventKind.KEY_CLAIM_SUSPENDED,
            user=by,
            target=f"family:{other.pk}",
            detail={"public_key": key, "reason": "identity proven by its holder"},
        )


@transaction.atomic
def family_identity_attach(
    *, family: Family, user: User, public_key: str, key_proof: int | None, homeserver_url: str = ""
) -> Family:
    """Make a key the family holds itself its Pubky identity (instead of a service keypair)."""
    key = (public_key or "").strip()
    proof = key_proof_for_claim(user=user, public_key=key, proof_id=key_proof)
    family = Family.objects.select_for_update().get(pk=family.pk)
    if PubkyKeypair.objects.filter(family=family, is_active=True).exists():
        raise ValidationError(
            {"public_key": "This family's identity is held by this service; it has one already."}
        )
    _refuse_service_held(key)
    _clear_unproven_family_identity(key=key, by=user, keep=family)
    family.pubky_public_key = key
    family.pubky_url = canonical_pubky_url(PubkyUrl.of(key))
    if homeserver_url:
        family.pubky_homeserver_url = homeserver_url
    family.pubky_enabled = True
    family.pubky_key_verification = KeyVerification.PROVEN
    family.pubky_key_proof = proof
    family.full_clean()
    family.save()
    _attached(user=user, target=f"family:{family.pk}", key=key, proof=proof, what="identity")
    return family


@transaction.atomic
def user_identity_attach(*, user: User, public_key: str, key_proof: int | None) -> User:
    """Make a key ``user`` holds their Pubky identity; an unproven claim of it by someone else
    is cleared (and recorded)."""
    key = (public_key or "").strip()
    proof = key_proof_for_claim(user=user, public_key=key, proof_id=key_proof)
    _refuse_service_held(key)
    for other in User.objects.select_for_update().filter(pubky_public_key=key).exclude(pk=user.pk):
        if other.pubky_key_verification != KeyVerification.UNVERIFIED:
            raise ValidationError({"public_key": f"{key} is already another user's identity."})
        other.pubky_public_key = None
        other.pubky_url = ""
        other.pubky_key_proof = None
        other.save()
        security_event_record(
            kind=SecurityEventKind.KEY_CLAIM_SUSPENDED,
            user=user,
            target=f"user:{other.pk}",
            detail={"public_key": key, "reason": "identity proven by its holder"},
        )
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.has_private_key:
        raise ValidationError(
            {"public_key": "Your identity key is held by this service; it cannot be replaced."}
        )
    locked.pubky_public_key = key
    locked.pubky_url = canonical_pubky_url(PubkyUrl.of(key))
    locked.pubky_key_verification = KeyVerification.PROVEN
    locked.pubky_key_proof = proof
    locked.full_clean()
    locked.save()
    _attached(user=user, target=f"user:{user.pk}", key=key, proof=proof, what="identity")
    return locked


def family_homeserver_attach(
    *, family: Family, user: User, public_key: str, key_proof: int | None
) -> Family:
    """Record the key of the homeserver the family runs itself, proven; then check which of
    its domains' packets point at it (network, no transaction open) and rescore them: the app
    keeping domains does, on :data:`~families.signals.family_homeserver_changed`."""
    key = (public_key or "").strip()
    with transaction.atomic():
        proof = key_proof_for_claim(user=user, public_key=key, proof_id=key_proof)
        locked = Family.objects.select_for_update().get(pk=family.pk)
        locked.homeserver_public_key = key
        locked.homeserver_key_proof = proof
        locked.homeserver_proven_at = proof.proven_at
        locked.full_clean()
        locked.save()
        _attached(user=user, target=f"family:{family.pk}", key=key, proof=proof, what="homeserver")
    family_homeserver_changed.send(sender=Family, family=locked)
    return locked


def family_homeserver_detach(*, family: Family, user: User) -> Family:
    """Forget the family's homeserver key; its domains stop counting as self-hosted."""
    with transaction.atomic():
        locked = Family.objects.select_for_update().get(pk=family.pk)
        previous = locked.homeserver_public_key
        locked.homeserver_public_key = ""
        locked.homeserver_key_proof = None
        locked.homeserver_proven_at = None
        locked.save()
        security_event_record(
            kind=SecurityEventKind.KEY_CLAIM_SUSPENDED,
            user=user,
            target=f"family:{family.pk}",
            detail={"public_key": previous, "what": "homeserver", "reason": "detached"},
        )
    family_homeserver_changed.send(sender=Family, family=locked)
    return locked
