"""Claims of self-held keys on Pubky domains: a proven claim wins, an unproven one gives way.

A self-custody Pubky domain is attached only with a proven :class:`~families.models.KeyProof`
of its key by the requesting user (``families.services.key_proofs.key_proof_for_claim``).
Rows that predate proofs are ``unverified``: they earn no key-ownership points, cannot be
republished, and never block the key's proven holder. When the holder claims the key, every
live unverified claim of it is suspended and the guardians of its family are told why.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from domains.models import DomainRecord, KeyCustody, PubkyDomain, PubkyDomainStatus
from domains.services.scoring import calculate_sovereignty_score
from domains.signals import announce_pubky_domain_suspended
from families.models import KeyProof, KeyVerification, SecurityEventKind, User
from families.security import security_event_record
from families.services.key_proofs import key_proof_for_claim

__all__ = [
    "KEY_ALREADY_PROVEN",
    "pubky_domain_claims_clear",
    "pubky_domain_key_prove",
    "pubky_domain_suspend",
]

KEY_ALREADY_PROVEN = "already_proven"


def pubky_domain_suspend(*, pubky_domain: PubkyDomain, reason: str, by: User | None) -> None:
    """Suspend an unproven claim: off the score, off the republisher; the suspension is
    announced (``domains.signals.pubky_domain_suspended``: its family's guardians are told)."""
    was_active = pubky_domain.status == PubkyDomainStatus.ACTIVE
    pubky_domain.status = PubkyDomainStatus.SUSPENDED
    pubky_domain.suspended_reason = reason
    pubky_domain.full_clean(validate_constraints=False)
    pubky_domain.save()
    domain = pubky_domain.domain
    if domain is not None and domain.pubky_enabled:
        domain.pubky_enabled = False
        domain.save(update_fields=["pubky_enabled", "updated_at"])
    security_event_record(
        kind=SecurityEventKind.KEY_CLAIM_SUSPENDED,
        user=by,
        target=f"pubky_domain:{pubky_domain.pk}",
        detail={
            "public_key": pubky_domain.public_key,
            "family_id": pubky_domain.family_id,
            "reason": reason,
        },
    )
    announce_pubky_domain_suspended(pubky_domain=pubky_domain, reason=reason, was_active=was_active)
    if domain is not None:
        calculate_sovereignty_score(domain=domain, reason="pubky_domain_suspended")


def pubky_domain_claims_clear(
    *, public_key: str, by: User, exclude: PubkyDomain | None = None
) -> list[PubkyDomain]:
    """Make way for a proven claim of ``public_key``: suspend every live unverified claim.

    A live claim that is proven or held by the service is never displaced:
    ``ValidationError`` on ``public_key``. Call inside the transaction that stores the
    proven claim.
    """
    live = (
        PubkyDomain.objects.select_for_update(of=("self",))
        .select_related("family", "domain")
        .filter(public_key=public_key)
        .exclude(status=PubkyDomainStatus.SUSPENDED)
    )
    if exclude is not None:
        live = live.exclude(pk=exclude.pk)
    suspended = []
    for other in live.order_by("pk"):
        if other.key_verification != KeyVerification.UNVERIFIED:
            raise ValidationError(
                {
                    "public_key": f"{public_key} is already registered as {other.name} by its "
                    "proven holder."
                },
                code=KEY_ALREADY_PROVEN,
            )
        pubky_domain_suspend(
            pubky_domain=other,
            reason=(
                f"The holder of {public_key} proved it and registered it; your family never "
                "proved that it holds this key. If you do hold it, prove it "
                "(POST /api/key-proofs/) and register the domain again."
            ),
            by=by,
        )
        suspended.append(other)
    return suspended


def proven_claim_fields(pubky_domain: PubkyDomain, proof: KeyProof) -> None:
    """Mark ``pubky_domain``'s key proven by ``proof`` (not saved)."""
    pubky_domain.key_verification = KeyVerification.PROVEN
    pubky_domain.key_proof = proof
    pubky_domain.key_proven_at = proof.proven_at or timezone.now()


@transaction.atomic
def pubky_domain_key_prove(
    *, pubky_domain: PubkyDomain, user: User, key_proof_id: int | None
) -> PubkyDomain:
    """Turn an unverified self-custody claim into a proven one (it earns its points again).

    A suspended claim comes back only when no other live claim holds the key.
    """
    pubky_domain = PubkyDomain.objects.select_for_update().get(pk=pubky_domain.pk)
    if pubky_domain.key_custody != KeyCustody.FAMILY:
        raise ValidationError(
            {"key_proof": "This service holds this domain's key; there is nothing to prove."}
        )
    proof = key_proof_for_claim(
        user=user, public_key=pubky_domain.public_key, proof_id=key_proof_id
    )
    pubky_domain_claims_clear(public_key=pubky_domain.public_key, by=user, exclude=pubky_domain)
    proven_claim_fields(pubky_domain, proof)
    if pubky_domain.status == PubkyDomainStatus.SUSPENDED:
        pubky_domain.status = PubkyDomainStatus.DRAFT
        pubky_domain.suspended_reason = ""
    pubky_domain.full_clean()
    pubky_domain.save()
    security_event_record(
        kind=SecurityEventKind.KEY_CLAIM_ATTACHED,
        user=user,
        target=f"pubky_domain:{pubky_domain.pk}",
        detail={"public_key": pubky_domain.public_key, "key_proof_id": proof.pk},
    )
    domain: DomainRecord | None = pubky_domain.domain
    if domain is not None:
        calculate_sovereignty_score(domain=domain, reason="key_proven")
    return pubky_domain
