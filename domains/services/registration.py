"""Registering Pubky domains: a domain gets its own Ed25519 key and a signed PKARR packet.

:func:`register_pubky_domain` is the whole flow and is all-or-nothing: the name, the records
and the packet size are checked first, the packet is signed and put on every relay, and only
when at least one relay stored it are the domain, its records, the sealed key and one
:class:`PkarrRecord` per relay written, in one transaction. A failure anywhere leaves the
database as it was and raises a typed error (``ValidationError`` for bad input,
:class:`~domains.services.publishing.PacketTooLargeError`, :class:`PublishFailed`, …).

A service-custody domain key is a Pubky identity of its own: before its packet is signed it
gets an account on the configured homeserver (:func:`domain_homeserver_account`), and the
packet carries ``_pubky HTTPS 0 <homeserver>.``, so ``pubky://<domain key>/pub/…`` resolves
(and the official client's ``getHomeserverOf``) like any user's.

The operations keep the names the public API promises: ``register_pubky_domain(name, family)``
and ``create_pubky_domain(domain)`` (the draft row, no network).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from domains.models import (
    OPEN_MIGRATION_STATES,
    DnsRecord,
    DomainRecord,
    KeyCustody,
    PubkyDomain,
    PubkyDomainStatus,
)
from domains.services.key_claims import proven_claim_fields, pubky_domain_claims_clear
from domains.services.publishing import (
    PublishOutcome,
    dns_records_to_packet_records,
    packet_publish,
    packet_sign,
    publish_outcome_apply,
    with_pubky_record,
)
from domains.services.scoring import calculate_sovereignty_score
from domains.validators import normalize_domain_name, validate_domain_name
from families.models import (
    Family,
    KeyProof,
    KeyVerification,
    SecurityEventKind,
    User,
    Visibility,
)
from families.security import security_event_record
from families.services.key_proofs import key_proof_for_claim
from families.validators import validate_public_key
from pubky.keys import Keypair
from pubky.packet import SignedPacket
from pubky.urls import PubkyUrl, canonical_pubky_url
from pubkyproject.pubky_client import PubkyClient, PubkyServiceError, pubky_client

__all__ = [
    "DnsRecordSpec",
    "DomainAlreadyOnPubky",
    "calculate_sovereignty_score",
    "create_pubky_domain",
    "domain_name_clean",
    "register_pubky_domain",
]


class DomainAlreadyOnPubky(PubkyServiceError):
    """The domain already has an active Pubky key and packet."""

    code = "already_on_pubky"


@dataclass(frozen=True)
class DnsRecordSpec:
    """A DNS record to add while registering: ``name`` relative to the domain (``@`` = apex)."""

    name: str
    rtype: str
    value: str
    ttl: int = 3600


RecordInput = DnsRecordSpec | tuple[str, str, str] | tuple[str, str, str, int]


def domain_name_clean(name: str) -> str:
    """Normalise (lower-case, IDNA, no trailing dot) and validate a domain name."""
    cleaned = normalize_domain_name(name)
    validate_domain_name(cleaned)
    return cleaned


def _specs(records: Iterable[RecordInput]) -> list[DnsRecordSpec]:
    specs = []
    for item in records:
        specs.append(item if isinstance(item, DnsRecordSpec) else DnsRecordSpec(*item))
    return specs


def _unsaved_rows(domain: DomainRecord, specs: Sequence[DnsRecordSpec]) -> list[DnsRecord]:
    """Validate new DNS rows without saving them (the domain may not exist yet)."""
    rows = []
    for spec in specs:
        row = DnsRecord(
            domain=domain,
            name=spec.name or "@",
            rtype=spec.rtype.upper(),
            value=spec.value,
            ttl=spec.ttl,
        )
        row.full_clean(exclude=["domain"], validate_unique=False, validate_constraints=False)
        rows.append(row)
    return rows


def domain_homeserver_account(*, keypair: Keypair, family: Family, client: PubkyClient) -> str:
    """Give a domain key an account on the family's homeserver; its key (z32), or ``""``.

    A Pubky domain is a Pubky identity like any user: its packet's ``_pubky`` record names
    this homeserver, so ``pubky://<domain key>/pub/…`` resolves and the family can serve
    files there. A family that runs its own homeserver (``pubky_homeserver_url``) is not
    signed up anywhere by the service: its packet gets no ``_pubky`` record from us.
    Network only; raises :class:`PubkyNetworkError` when the homeserver refuses.
    """
    own = (family.pubky_homeserver_url or "").rstrip("/")
    if own and own != (client.homeserver_base_url or ""):
        return ""
    return client.account_ensure(keypair).z32()


@transaction.atomic
def create_pubky_domain(
    domain: DomainRecord,
    *,
    keypair: Keypair | None = None,
    public_key: str | None = None,
    key_custody: str = KeyCustody.SERVICE,
    visibility: str | None = None,
    homeserver_url: str = "",
    key_proof: KeyProof | None = None,
    homeserver_key: str = "",
) -> PubkyDomain:
    """Create the (draft) Pubky domain row of ``domain``: database only, no network.

    Service custody seals ``keypair``'s seed (a fresh one when not given); self-custody
    stores only ``public_key``, which must be a valid Ed25519 point, ``proven`` with the
    ``key_proof`` that the caller checked, ``unverified`` without one.
    """
    if key_custody == KeyCustody.SERVICE:
        keypair = keypair or Keypair.random()
        key_text = keypair.public_key.z32()
        verification = KeyVerification.HELD
    else:
        # Proven only by the caller that holds a proof (:func:`register_pubky_domain`).
        verification = KeyVerification.UNVERIFIED
        if keypair is not None:
            raise ValueError("a self-custody domain stores no private key; pass public_key")
        if not public_key:
            raise ValidationError({"public_key": "A self-custody domain needs its public key."})
        key_text = public_key.strip()
        validate_public_key(key_text)
    pubky_domain = PubkyDomain(
        name=domain.name,
        family=domain.family,
        domain=domain,
        public_key=key_text,
        key_custody=key_custody,
        pubky_url=canonical_pubky_url(PubkyUrl.of(key_text)),
        homeserver_url=homeserver_url,
        homeserver_key=homeserver_key,
        visibility=visibility or domain.visibility,
        status=PubkyDomainStatus.DRAFT,
        key_verification=verification,
    )
    if key_proof is not None:
        proven_claim_fields(pubky_domain, key_proof)
    if keypair is not None:
        pubky_domain.set_private_key(keypair.secret)
    pubky_domain.full_clean()
    pubky_domain.save()
    return pubky_domain


def register_pubky_domain(
    name: str,
    family: Family,
    *,
    records: Iterable[RecordInput] = (),
    visibility: str | None = None,
    key_custody: str = KeyCustody.SERVICE,
    public_key: str | None = None,
    owner: User | None = None,
    client: PubkyClient | None = None,
    key_proof: int | None = None,
) -> PubkyDomain:
    """Register ``name`` on Pubky for ``family`` and publish its records to every relay.

    ``records`` are added to the domain's stored DNS records; all of them go into the packet.
    An existing registrar domain of the same family can be registered too (its records are
    published); one of another family cannot. Self-custody registration (``public_key`` of a
    key the family holds) stores the key and publishes nothing: only the family can sign. It
    needs ``key_proof``, the id of a proven proof of that key by ``owner`` (the requesting
    user); the proven claim suspends any earlier unverified claim of the same key.
    """
    client = client or pubky_client()
    cleaned = domain_name_clean(name)
    visibility = visibility or Visibility.PRIVATE
    proof: KeyProof | None = None
    if key_custody != KeyCustody.SERVICE:
        if not public_key:
            raise ValidationError({"public_key": "A self-custody domain needs its public key."})
        public_key = public_key.strip()
        validate_public_key(public_key)
        proof = key_proof_for_claim(user=owner, public_key=public_key, proof_id=key_proof)
    elif key_proof is not None:
        raise ValidationError(
            {"key_proof": "Only a self-custody key needs a proof; this service makes the key."}
        )
    domain = DomainRecord.objects.filter(name=cleaned).first()
    if domain is not None:
        if domain.family_id != family.pk:
            raise ValidationError(
                {"name": f"{cleaned} is already registered by another family."},
                code="domain_taken",
            )
        existing = PubkyDomain.objects.filter(domain=domain).first()
        if existing is not None and existing.status == PubkyDomainStatus.ACTIVE:
            raise DomainAlreadyOnPubky(f"{cleaned} is already on Pubky as {existing.public_key}")
        if existing is not None:
            raise DomainAlreadyOnPubky(
                f"{cleaned} already has a Pubky key ({existing.public_key}, {existing.status}); "
                "publish it again or migrate the domain instead of registering it anew"
            )
        if domain.migrations.filter(state__in=OPEN_MIGRATION_STATES).exists():
            raise DomainAlreadyOnPubky(
                f"{cleaned} has a migration in progress; finish or cancel it first",
                code="migration_in_progress",
            )
    else:
        domain = DomainRecord(name=cleaned, family=family, owner=owner, visibility=visibility)
        domain.full_clean()
    new_rows = _unsaved_rows(domain, _specs(records))
    if proof is not None:
        assert owner is not None  # key_proof_for_claim checked it
        return _register_self_custody(
            domain=domain, rows=new_rows, public_key=public_key or "", proof=proof, by=owner
        )
    if public_key is not None:
        raise ValueError("public_key is only for self-custody; service custody generates a key")

    # Everything that can be checked offline is checked before the network is touched.
    stored = list(domain.dns_records.all()) if domain.pk else []
    dns_records_to_packet_records([*stored, *new_rows])  # refuses bad records before signup
    keypair = client.generate_keypair()
    homeserver_key = domain_homeserver_account(keypair=keypair, family=family, client=client)
    packet_records = with_pubky_record(
        dns_records_to_packet_records([*stored, *new_rows]), homeserver_key
    )
    packet = packet_sign(keypair=keypair, records=packet_records, domain_name=cleaned)

    def resign(newest: int) -> SignedPacket:
        return packet_sign(
            keypair=keypair, records=packet_records, domain_name=cleaned, after=newest
        )

    outcome = packet_publish(packet=packet, cas=None, client=client, resign=resign)
    outcome.raise_if_nothing_stored(cleaned)
    try:
        return _register_store(
            domain=domain,
            rows=new_rows,
            keypair=keypair,
            outcome=outcome,
            homeserver_url=family.pubky_homeserver_url or client.homeserver_base_url or "",
            homeserver_key=homeserver_key,
        )
    except IntegrityError as exc:
        # Another request registered the name while our relays answered. Its key won; ours
        # was never stored, and the packet we put on the relays names nobody.
        raise DomainAlreadyOnPubky(
            f"{cleaned} was registered concurrently; nothing was stored", code="conflict"
        ) from exc


@transaction.atomic
def _register_store(
    *,
    domain: DomainRecord,
    rows: Sequence[DnsRecord],
    keypair: Keypair,
    outcome: PublishOutcome,
    homeserver_url: str,
    homeserver_key: str = "",
) -> PubkyDomain:
    """The single write of a registration (after the relays answered)."""
    if domain.pk is None:
        domain.full_clean()
    domain.pubky_homeserver_url = homeserver_url
    domain.save()
    for row in rows:
        row.domain = domain
        row.full_clean()
        row.save()
    pubky_domain = create_pubky_domain(
        domain=domain, keypair=keypair, homeserver_url=homeserver_url, homeserver_key=homeserver_key
    )
    publish_outcome_apply(
        pubky_domain=pubky_domain, outcome=outcome, reason="pubky_domain_registered"
    )
    return pubky_domain


@transaction.atomic
def _register_self_custody(
    *,
    domain: DomainRecord,
    rows: Sequence[DnsRecord],
    public_key: str,
    proof: KeyProof,
    by: User,
) -> PubkyDomain:
    suspended = pubky_domain_claims_clear(public_key=public_key, by=by)
    if domain.pk is None:
        domain.full_clean()
    domain.save()
    for row in rows:
        row.domain = domain
        row.full_clean()
        row.save()
    pubky_domain = create_pubky_domain(
        domain=domain, public_key=public_key, key_custody=KeyCustody.FAMILY, key_proof=proof
    )
    security_event_record(
        kind=SecurityEventKind.KEY_CLAIM_ATTACHED,
        user=by,
        target=f"pubky_domain:{pubky_domain.pk}",
        detail={
            "public_key": public_key,
            "key_proof_id": proof.pk,
            "suspended": [other.pk for other in suspended],
        },
    )
    calculate_sovereignty_score(domain=domain, reason="pubky_domain_registered")
    return pubky_domain
