"""Proof of key possession, the Pubky way (pubkyauth).

Attaching a key the service does not hold (a self-custody Pubky domain, a family's or a user's
self-held identity, a self-hosted homeserver) needs proof that the requesting user holds it:

1. :func:`key_proof_request` stores a pending :class:`KeyProof` with a fresh pubkyauth client
   secret (sealed at rest) and returns the ``pubkyauth://signin?caps=&relay=…&secret=…`` link.
2. Any authenticator holding the key approves it (``signer.approveAuthRequest(url)`` of the
   official client, a phone authenticator scanning the link as a QR code, or
   ``python -m pubky approve URL --secret-file F``): it POSTs the sealed AuthToken to the relay.
3. The service takes it off the relay, by the ``receive_key_proofs`` worker (a long poll per
   pending proof) or by a bounded poll when the owner reads the proof, and
   :func:`key_proof_receive` opens it, checks the token's signature, that it is signed by the
   key being proven, and that it is fresh (inside the AuthToken window and not older than the
   request). The proof is then ``proven``, or ``failed`` with the reason.
4. A claim names the proof (``"key_proof": <id>``); :func:`key_proof_for_claim` accepts only a
   proven proof of that key by the same user, proven recently enough.

The relay is a rendezvous: an approval is handed to whichever reader is waiting on the
channel (the worker or a reading owner); the other simply finds nothing and polls again. An
authenticator's POST waits until a reader takes it, so an approval is not lost while nobody
polls for a moment.

Known limit of pubkyauth v0.6.0 with an empty capability list: the token is not bound to the
request's secret, so someone who captured a fresh token of the same key from another app could
replay it here within the token window (45 s). Tokens older than the request are refused.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from families.models import KeyProof, KeyProofStatus, SecurityEventKind, User
from families.security import security_event_record
from families.validators import validate_public_key
from pubky import pubkyauth
from pubky.auth import DEFAULT_WINDOW_S, AuthToken
from pubky.errors import AuthRequestError, HttpRelayError, InvalidAuthToken

__all__ = [
    "MAX_PENDING_PER_USER",
    "KeyProofUnavailable",
    "how_to_prove",
    "key_proof_auth_request",
    "key_proof_check",
    "key_proof_for_claim",
    "key_proof_receive",
    "key_proof_request",
    "key_proofs_expire",
]

logger = logging.getLogger("pubky.key_proofs")

MAX_PENDING_PER_USER = 20
_WINDOW_US = DEFAULT_WINDOW_S * 1_000_000


class KeyProofUnavailable(Exception):
    """The HTTP relay could not be asked (the proof stays pending; ask again later)."""


def how_to_prove(public_key: str) -> str:
    """The field error every claim without a valid proof answers with."""
    return (
        f"Prove that you hold {public_key or 'this key'} first: POST /api/key-proofs/ with "
        '{"public_key": "<the key>"}, approve the returned pubkyauth_url with an authenticator '
        "that holds the key (a Pubky app, the @synonymdev/pubky client's "
        "signer.approveAuthRequest(url), or `python -m pubky approve URL --secret-file F`), "
        'wait until GET /api/key-proofs/<id>/ says "proven", then send its id as key_proof.'
    )


def key_proof_auth_request(proof: KeyProof) -> pubkyauth.AuthRequest:
    """The pubkyauth request of ``proof`` (authentication only: no capabilities)."""
    return pubkyauth.AuthRequest("", proof.relay_url, proof.get_private_key())


@transaction.atomic
def key_proof_request(
    *, user: User, public_key: str, ip_address: str | None = None
) -> tuple[KeyProof, str]:
    """Start a proof that ``user`` holds ``public_key``; returns it and its pubkyauth URL."""
    key = (public_key or "").strip()
    validate_public_key(key)
    now = timezone.now()
    pending = KeyProof.objects.filter(
        user=user, status=KeyProofStatus.PENDING, expires_at__gt=now
    ).count()
    if pending >= MAX_PENDING_PER_USER:
        raise ValidationError(
            {
                "public_key": f"You already have {pending} proofs waiting for approval; "
                "approve them or let them expire first."
            }
        )
    request = pubkyauth.AuthRequest.new("", settings.PUBKY_HTTP_RELAY_URL)
    proof = KeyProof(
        user=user,
        public_key=key,
        relay_url=request.relay,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.PUBKY_KEY_PROOF_TTL),
    )
    proof.set_private_key(request.client_secret)
    proof.full_clean()
    proof.save()
    security_event_record(
        kind=SecurityEventKind.KEY_PROOF_REQUESTED,
        user=user,
        ip_address=ip_address,
        target=f"key:{key}",
        detail={"key_proof_id": proof.pk},
    )
    return proof, request.url()


def _fail(proof: KeyProof, reason: str) -> KeyProof:
    proof.status = KeyProofStatus.FAILED
    proof.failure_reason = reason[:2000]
    proof.save(update_fields=["status", "failure_reason", "updated_at"])
    security_event_record(
        kind=SecurityEventKind.KEY_PROOF_FAILED,
        user=proof.user,
        target=f"key:{proof.public_key}",
        detail={"key_proof_id": proof.pk, "reason": proof.failure_reason},
    )
    return proof


def _expire_if_due(proof: KeyProof, now: datetime) -> bool:
    if proof.status == KeyProofStatus.PENDING and proof.expires_at <= now:
        proof.status = KeyProofStatus.EXPIRED
        proof.failure_reason = "nobody approved it before it expired"
        proof.save(update_fields=["status", "failure_reason", "updated_at"])
        return True
    return False


@transaction.atomic
def key_proof_receive(*, proof: KeyProof, sealed: bytes) -> KeyProof:
    """Judge what an authenticator sent for ``proof``: proven, or failed with the reason.

    Only a pending proof changes; anything received for a proof that is already decided is
    ignored (two pollers may race for the same channel).
    """
    now = timezone.now()
    proof = KeyProof.objects.select_for_update().select_related("user").get(pk=proof.pk)
    if proof.status != KeyProofStatus.PENDING:
        return proof
    if _expire_if_due(proof, now):
        return proof
    try:
        raw = pubkyauth.open_sealed(sealed, proof.get_private_key())
        token = AuthToken.parse(raw)
    except (AuthRequestError, InvalidAuthToken) as exc:
        return _fail(proof, f"the approval is not a valid AuthToken for this request: {exc}")
    signer = token.public_key.z32()
    if signer != proof.public_key:
        return _fail(proof, f"the token is signed by {signer}, not by {proof.public_key}")
    now_us = int(now.timestamp() * 1_000_000)
    try:
        token.verify(now_us=now_us)
    except InvalidAuthToken as exc:
        return _fail(proof, f"the token does not verify: {exc}")
    requested_us = int(proof.created_at.timestamp() * 1_000_000)
    if token.timestamp < requested_us - _WINDOW_US:
        return _fail(proof, "the token was signed before this proof was requested (a replay)")
    proof.status = KeyProofStatus.PROVEN
    proof.proven_at = now
    proof.token_timestamp = token.timestamp
    proof.failure_reason = ""
    proof.save(
        update_fields=["status", "proven_at", "token_timestamp", "failure_reason", "updated_at"]
    )
    security_event_record(
        kind=SecurityEventKind.KEY_PROOF_MADE,
        user=proof.user,
        target=f"key:{proof.public_key}",
        detail={"key_proof_id": proof.pk, "token_timestamp": token.timestamp},
    )
    return proof


def key_proof_check(*, proof: KeyProof, wait: float) -> KeyProof:
    """Poll the relay for ``proof``'s approval for at most ``wait`` seconds (no transaction
    open meanwhile), record what came, and return the proof as stored now.

    Raises :class:`KeyProofUnavailable` when the relay cannot be reached.
    """
    proof.refresh_from_db()
    if proof.status != KeyProofStatus.PENDING:
        return proof
    now = timezone.now()
    if proof.expires_at <= now:
        key_proofs_expire(ids=[proof.pk])
        proof.refresh_from_db()
        return proof
    remaining = (proof.expires_at - now).total_seconds()
    wait = min(wait, remaining)
    if wait <= 0:
        return proof
    try:
        sealed = pubkyauth.poll(key_proof_auth_request(proof), timeout=wait)
    except HttpRelayError as exc:
        raise KeyProofUnavailable(str(exc)) from exc
    if sealed is not None:
        return key_proof_receive(proof=proof, sealed=sealed)
    return proof


@transaction.atomic
def key_proofs_expire(*, ids: list[int] | None = None) -> int:
    """Mark every pending proof past its expiry ``expired``; returns how many."""
    rows = KeyProof.objects.filter(status=KeyProofStatus.PENDING, expires_at__lte=timezone.now())
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows.update(
        status=KeyProofStatus.EXPIRED,
        failure_reason="nobody approved it before it expired",
        updated_at=timezone.now(),
    )


def key_proof_for_claim(*, user: User | None, public_key: str, proof_id: int | None) -> KeyProof:
    """The proof that lets ``user`` attach ``public_key``, or ``ValidationError`` on
    ``key_proof`` saying what is missing and how to prove it."""
    key = (public_key or "").strip()
    if proof_id is None:
        raise ValidationError({"key_proof": how_to_prove(key)}, code="key_proof_required")
    proof = KeyProof.objects.filter(pk=proof_id).first()
    if proof is None or user is None or proof.user_id != user.pk:
        raise ValidationError(
            {"key_proof": f"No proof {proof_id} of yours exists. " + how_to_prove(key)},
            code="key_proof_invalid",
        )
    if proof.public_key != key:
        raise ValidationError(
            {"key_proof": f"Proof {proof.pk} is for {proof.public_key}, not {key}."},
            code="key_proof_invalid",
        )
    if proof.status != KeyProofStatus.PROVEN or proof.proven_at is None:
        raise ValidationError(
            {
                "key_proof": f"Proof {proof.pk} is {proof.status}, not proven"
                + (f" ({proof.failure_reason})" if proof.failure_reason else "")
                + ". "
                + how_to_prove(key)
            },
            code="key_proof_unproven",
        )
    usable_until = proof.proven_at + timedelta(seconds=settings.PUBKY_KEY_PROOF_USABLE_FOR)
    if usable_until <= timezone.now():
        raise ValidationError(
            {"key_proof": f"Proof {proof.pk} is too old to attach a key. " + how_to_prove(key)},
            code="key_proof_stale",
        )
    return proof
