"""PKARR publishing: sign a domain's records, put them on every relay, record each outcome.

The flow is split in three so that no database transaction is held open across network calls:

1. :func:`packet_records_for` / :func:`packet_sign` — pure: DNS rows → signed packet (raises
   :class:`PacketTooLargeError` before anything touches the network or the database);
2. :func:`packet_publish` — network only: fan out to every relay with ``If-Match`` CAS and
   retry the relays that answered 409/412/428 once, after re-resolving what they hold;
3. :func:`pkarr_records_store` — database only: one :class:`PkarrRecord` per relay with its
   outcome, inside the caller's transaction.

:func:`pubky_domain_publish` strings the three together for an existing Pubky domain, and
:func:`pkarr_republish_due` is what ``manage.py republish_pkarr`` runs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from domains.models import (
    DnsRecord,
    DnsRecordType,
    DomainRecord,
    KeyCustody,
    PkarrPublishStatus,
    PkarrRecord,
    PubkyDomain,
    PubkyDomainStatus,
)
from domains.services.scoring import calculate_sovereignty_score
from domains.services.usage import pubky_domain_usage_record, usage_kind_for_publish
from domains.signals import announce_pubky_domain_republished
from families.models import KeyVerification
from families.security import private_key_use_record
from pubky.errors import CasConflict, InvalidRecord, NotMostRecent, PacketTooLarge
from pubky.keys import Keypair
from pubky.packet import MAX_DNS_PACKET_BYTES, Record, SignedPacket, now_us
from pubky.relay_client import RelayResult
from pubkyproject.leader import item_claim
from pubkyproject.pubky_client import (
    PubkyClient,
    PubkyServiceError,
    PublishFailed,
    describe_results,
    pubky_client,
)

__all__ = [
    "RELAY_COPY_LIFETIME",
    "InvalidDnsRecordError",
    "PacketTooLargeError",
    "PublishOutcome",
    "RelayAttempt",
    "RepublishReport",
    "dns_records_to_packet_records",
    "packet_publish",
    "packet_records_for",
    "packet_sign",
    "pkarr_records_store",
    "pkarr_republish_due",
    "pubky_domain_keypair_open",
    "pubky_domain_publish",
    "pubky_domains_due_for_republish",
    "publish_outcome_apply",
]

log = logging.getLogger(__name__)

# Mainline DHT nodes drop a BEP44 item about two hours after it was stored, and relays are
# gateways to the DHT, so a relay copy is considered to expire two hours after it was put.
# With PUBKY_REPUBLISH_BEFORE_EXPIRY at its default (1 h) packets are republished hourly,
# which is what the homeserver does for its own key.
RELAY_COPY_LIFETIME = timedelta(hours=2)

_CAS_ERRORS = (CasConflict, NotMostRecent)


class ClaimNotPublishable(PubkyServiceError):
    """A self-custody domain whose key was never proven (or was suspended) is not spread."""

    code = "key_unproven"


class PacketTooLargeError(PubkyServiceError):
    """The domain's records do not fit in one PKARR packet (1000 bytes of DNS)."""

    code = "packet_too_large"


class InvalidDnsRecordError(PubkyServiceError):
    """A stored DNS record cannot be put in a packet (bad value for its type)."""

    code = "invalid_dns_record"


# --- 1. records and signing --------------------------------------------------------------------


def dns_records_to_packet_records(rows: Sequence[DnsRecord]) -> list[Record]:
    """Turn DNS rows (names relative to the domain) into packet records (relative to the key).

    The apex ``@`` stays ``@`` and ``www`` becomes ``www.<key>``: a Pubky domain *is* its key.
    A TXT value that is not quoted is taken verbatim as one string (``v=spf1 -all`` stays one
    string instead of being split at spaces as a zone file would). Domain names inside values
    are absolute, as in pkarr.
    """
    records: list[Record] = []
    for row in rows:
        try:
            if row.rtype == DnsRecordType.TXT and not row.value.lstrip().startswith('"'):
                records.append(Record.txt(row.name, row.value, row.ttl))
            else:
                records.append(Record(row.name, row.rtype, row.value, row.ttl))
        except InvalidRecord as exc:
            raise InvalidDnsRecordError(
                f"DNS record {row.name} {row.rtype} {row.value!r} cannot be published: {exc}"
            ) from exc
    return records


PUBKY_RECORD_TTL = 3600


def packet_records_for(domain: DomainRecord, *, homeserver_key: str | None = None) -> list[Record]:
    """The packet records of a domain: all its stored DNS records, in a stable order, and the
    ``_pubky`` record (``HTTPS 0 <homeserver>.``) that makes the key a Pubky identity.

    ``homeserver_key`` defaults to the one stored on the domain's Pubky domain; none (or a
    ``_pubky`` record among the family's own records) adds nothing.
    """
    rows = list(domain.dns_records.order_by("name", "rtype", "id"))
    records = dns_records_to_packet_records(rows)
    if homeserver_key is None:
        pubky_domain = PubkyDomain.objects.filter(domain=domain).only("homeserver_key").first()
        homeserver_key = pubky_domain.homeserver_key if pubky_domain is not None else ""
    return with_pubky_record(records, homeserver_key)


def with_pubky_record(records: Sequence[Record], homeserver_key: str) -> list[Record]:
    """``records`` plus ``_pubky HTTPS 0 <homeserver_key>.`` unless one is there already."""
    records = list(records)
    if homeserver_key and not any(r.name == "_pubky" for r in records):
        records.append(Record("_pubky", "HTTPS", f"0 {homeserver_key}.", PUBKY_RECORD_TTL))
    return records


def packet_sign(
    *,
    keypair: Keypair,
    records: Sequence[Record],
    domain_name: str,
    after: int | None = None,
) -> SignedPacket:
    """Sign ``records`` with a timestamp strictly newer than ``after`` (µs).

    Raises :class:`PacketTooLargeError` naming the domain and the sizes when the DNS packet
    would exceed 1000 bytes.
    """
    timestamp = now_us()
    if after is not None and timestamp <= after:
        timestamp = after + 1
    try:
        return SignedPacket.sign(keypair, list(records), timestamp=timestamp)
    except PacketTooLarge as exc:
        raise PacketTooLargeError(
            f"the {len(records)} DNS records of {domain_name} do not fit in a PKARR packet "
            f"({exc}; the limit is {MAX_DNS_PACKET_BYTES} bytes): remove or shorten records"
        ) from exc


# --- 2. network --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelayAttempt:
    """The last answer of one relay and the packet it was sent."""

    result: RelayResult
    packet: SignedPacket
    retried: bool = False


@dataclass
class PublishOutcome:
    """Per-relay outcome of publishing one domain's packet (after the CAS retry, if any)."""

    packet: SignedPacket
    attempts: dict[str, RelayAttempt] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return any(a.result.ok for a in self.attempts.values())

    @property
    def succeeded(self) -> list[str]:
        return [url for url, a in self.attempts.items() if a.result.ok]

    @property
    def failed(self) -> list[str]:
        return [url for url, a in self.attempts.items() if not a.result.ok]

    @property
    def retried(self) -> list[str]:
        return [url for url, a in self.attempts.items() if a.retried]

    @property
    def published_timestamp(self) -> int | None:
        """Timestamp of the newest packet some relay accepted."""
        stamps = [a.packet.timestamp for a in self.attempts.values() if a.result.ok]
        return max(stamps) if stamps else None

    def results(self) -> list[RelayResult]:
        return [a.result for a in self.attempts.values()]

    def raise_if_nothing_stored(self, what: str) -> None:
        if not self.ok:
            raise PublishFailed(
                f"no relay stored the packet of {what}: {describe_results(self.results())}",
                results=self.results(),
            )


def _publish_grouped(
    client: PubkyClient, packet: SignedPacket, cas_by_relay: dict[str, int | None]
) -> list[RelayResult]:
    """Publish to several relays, each with its own ``If-Match`` (grouped by value)."""
    groups: dict[int | None, list[str]] = defaultdict(list)
    for url, cas in cas_by_relay.items():
        groups[cas].append(url)
    results: list[RelayResult] = []
    for cas, urls in groups.items():
        results.extend(client.publish(packet, cas=cas, relay_urls=urls).results)
    return results


def packet_publish(
    *,
    packet: SignedPacket,
    cas: int | None,
    client: PubkyClient,
    resign: Callable[[int], SignedPacket] | None = None,
) -> PublishOutcome:
    """Put ``packet`` on every relay with ``If-Match: cas``; retry CAS conflicts once.

    Relays that answer 412 (CAS mismatch) or 409/428 (they hold something newer or a publish
    is in flight) are re-resolved to learn the timestamp each one holds. If some relay holds
    a packet at least as new as ours, a newer one is signed with ``resign(newest)`` and sent
    to every relay (a self-custody key cannot be re-signed: the newest valid packet is
    spread instead); otherwise ours is re-sent to the conflicting relays. Each retry carries
    the ``If-Match`` of what that relay holds. Network only: no database access.
    """
    report = client.publish(packet, cas=cas)
    outcome = PublishOutcome(packet=packet)
    for result in report.results:
        outcome.attempts[result.relay_url] = RelayAttempt(result, packet)
    conflicts = [r.relay_url for r in report.results if r.error_type in _CAS_ERRORS]
    if not conflicts:
        return outcome

    held_report = client.resolve_report(packet.public_key, relay_urls=conflicts)
    held: dict[str, SignedPacket | None] = {r.relay_url: r.packet for r in held_report.results}
    newest = max(
        (p for p in held.values() if p is not None),
        key=lambda p: (p.timestamp, p.dns_packet),
        default=None,
    )
    log.info("CAS conflict publishing %s on %s; retrying once", packet.public_key, conflicts)
    if newest is not None and not packet.more_recent_than(newest):
        retry_packet = resign(newest.timestamp) if resign is not None else newest
        # Everybody gets the new packet: relays that took ours hold ``packet`` now.
        cas_by_relay: dict[str, int | None] = {
            url: (packet.timestamp if attempt.result.ok else None)
            for url, attempt in outcome.attempts.items()
        }
        for url in conflicts:
            held_packet = held.get(url)
            cas_by_relay[url] = held_packet.timestamp if held_packet is not None else None
    else:
        retry_packet = packet
        cas_by_relay = {
            url: (p.timestamp if (p := held.get(url)) is not None else None) for url in conflicts
        }
    for result in _publish_grouped(client, retry_packet, cas_by_relay):
        outcome.attempts[result.relay_url] = RelayAttempt(result, retry_packet, retried=True)
    outcome.packet = retry_packet
    return outcome


# --- 3. database -------------------------------------------------------------------------------


def pkarr_records_store(*, pubky_domain: PubkyDomain, outcome: PublishOutcome) -> list[PkarrRecord]:
    """Write one :class:`PkarrRecord` per relay with what it answered.

    Saved one by one (not ``bulk_create``) so every change reaches ``post_save`` receivers:
    people watch these rows live. Call inside the transaction that also updates the domain.
    """
    now = timezone.now()
    rows: list[PkarrRecord] = []
    existing = {
        row.relay_url: row
        for row in PkarrRecord.objects.select_for_update().filter(pubky_domain=pubky_domain)
    }
    for url, attempt in outcome.attempts.items():
        result = attempt.result
        row = existing.get(url) or PkarrRecord(pubky_domain=pubky_domain, relay_url=url)
        row.attempts += 1
        row.last_attempt_at = now
        row.http_status = result.status
        row.latency_ms = result.latency_ms
        if result.ok:
            row.status = PkarrPublishStatus.PUBLISHED
            row.error = ""
            row.packet_timestamp = attempt.packet.timestamp
            row.packet_ttl = attempt.packet.ttl()
            row.published_at = now
            row.expires_at = now + RELAY_COPY_LIFETIME
            # The relay just accepted it and serves it; verify_facts keeps asking it since.
            row.served_timestamp = attempt.packet.timestamp
            row.verified_at = now
        else:
            # The relay may still serve an older copy until it expires, but it does not hold
            # the current packet, which is what the score and the republisher care about.
            row.status = PkarrPublishStatus.FAILED
            row.error = (result.error or f"HTTP {result.status}")[:2000]
        row.full_clean()
        row.save()
        rows.append(row)
    return rows


def publish_outcome_apply(
    *, pubky_domain: PubkyDomain, outcome: PublishOutcome, reason: str
) -> None:
    """Record an outcome: relay rows, the domain's last timestamp and status, the usage
    counters (a publish or republish), the score.

    Call inside the transaction that holds ``pubky_domain`` locked (publishing, registration
    and migrations all record their outcome through this one function)."""
    pkarr_records_store(pubky_domain=pubky_domain, outcome=outcome)
    pubky_domain_usage_record(
        pubky_domain=pubky_domain, kind=usage_kind_for_publish(reason), ok=outcome.ok
    )
    stamp = outcome.published_timestamp
    if stamp is not None and (
        pubky_domain.last_packet_timestamp is None or stamp > pubky_domain.last_packet_timestamp
    ):
        pubky_domain.last_packet_timestamp = stamp
    if outcome.ok:
        pubky_domain.last_published_at = timezone.now()
        pubky_domain.status = PubkyDomainStatus.ACTIVE
    pubky_domain.full_clean()
    pubky_domain.save()
    domain = pubky_domain.domain
    if domain is not None:
        first_ok = outcome.succeeded[0] if outcome.succeeded else ""
        if outcome.ok and (not domain.pubky_enabled or domain.pubky_relay_url != first_ok):
            domain.pubky_enabled = True
            domain.pubky_relay_url = first_ok
            domain.full_clean()
            domain.save()
        calculate_sovereignty_score(domain=domain, reason=reason)


# --- whole flows -------------------------------------------------------------------------------


def pubky_domain_keypair_open(*, pubky_domain: PubkyDomain, purpose: str) -> Keypair:
    """Unseal the domain's key, recording the use in the security audit trail."""
    private_key_use_record(purpose=purpose, target=f"pubky_domain:{pubky_domain.pk}")
    return Keypair.from_secret(pubky_domain.get_private_key())


def pubky_domain_publish(
    *,
    pubky_domain: PubkyDomain,
    client: PubkyClient | None = None,
    reason: str = "pkarr_published",
) -> PublishOutcome:
    """Sign the domain's current records and publish them to every relay (CAS on the last).

    Service-custody keys are unsealed (and the use audited) to sign a fresh packet. For
    self-custody keys the newest valid packet the relays hold is re-put, since only the
    family can sign. Network first, then one short transaction records every relay's answer
    and rescores the domain. Raises :class:`PublishFailed` (after recording the failures)
    when no relay stored it.
    """
    client = client or pubky_client()
    if pubky_domain.key_custody == KeyCustody.SERVICE:
        keypair = pubky_domain_keypair_open(pubky_domain=pubky_domain, purpose="sign PKARR packet")
        domain = pubky_domain.domain
        records = packet_records_for(domain) if domain is not None else []
        packet = packet_sign(
            keypair=keypair,
            records=records,
            domain_name=pubky_domain.name,
            after=pubky_domain.last_packet_timestamp,
        )

        def resign(newest: int) -> SignedPacket:
            return packet_sign(
                keypair=keypair, records=records, domain_name=pubky_domain.name, after=newest
            )

        outcome = packet_publish(
            packet=packet, cas=pubky_domain.last_packet_timestamp, client=client, resign=resign
        )
    else:
        if pubky_domain.status == PubkyDomainStatus.SUSPENDED:
            raise ClaimNotPublishable(
                f"{pubky_domain.name} is suspended: {pubky_domain.suspended_reason}",
                code="suspended",
            )
        if pubky_domain.key_verification != KeyVerification.PROVEN:
            raise ClaimNotPublishable(
                f"{pubky_domain.name}'s key {pubky_domain.public_key} was never proven: prove "
                "it (POST /api/key-proofs/, then POST /api/pubky-domains/<id>/prove/) before "
                "this service spreads its packet",
                code="key_unproven",
            )
        current = client.resolve(pubky_domain.public_key)
        if current is None:
            raise PublishFailed(
                f"{pubky_domain.name} is self-custody and no relay holds a packet for "
                f"{pubky_domain.public_key}: the family must publish one with its own key first"
            )
        outcome = packet_publish(packet=current, cas=current.timestamp, client=client)
    with transaction.atomic():
        locked = PubkyDomain.objects.select_for_update().get(pk=pubky_domain.pk)
        was_active = locked.status == PubkyDomainStatus.ACTIVE
        publish_outcome_apply(pubky_domain=locked, outcome=outcome, reason=reason)
        if was_active and outcome.ok and reason == "pkarr_published":
            # Asked for by the family (the hourly keep-alive is "pkarr_republished" and tells
            # nobody); a domain coming back from suspension is seen as a change of its row.
            announce_pubky_domain_republished(pubky_domain=locked, relays=outcome.succeeded)
    pubky_domain.refresh_from_db()
    outcome.raise_if_nothing_stored(pubky_domain.name)
    return outcome


def pubky_domains_due_for_republish(
    *, before_expiry: timedelta, relay_urls: Sequence[str], now: datetime | None = None
) -> QuerySet[PubkyDomain]:
    """Active Pubky domains with a copy on a configured relay expiring within ``before_expiry``.

    Also due: copies that failed or never got published, and configured relays with no row
    yet for the domain (a relay added to ``PUBKY_RELAYS`` later). Rows of relays no longer
    configured are ignored: nothing would refresh them, so they would make a domain due on
    every run.
    """
    now = now or timezone.now()
    urls = [url.rstrip("/") for url in relay_urls]
    stale = PkarrRecord.objects.filter(pubky_domain=OuterRef("pk"), relay_url__in=urls).filter(
        ~Q(status=PkarrPublishStatus.PUBLISHED)
        | Q(expires_at=None)
        | Q(expires_at__lte=now + before_expiry)
    )
    condition = Q(Exists(stale))
    for url in urls:
        condition |= ~Q(
            Exists(PkarrRecord.objects.filter(pubky_domain=OuterRef("pk"), relay_url=url))
        )
    return (
        PubkyDomain.objects.filter(status=PubkyDomainStatus.ACTIVE)
        .filter(condition)
        .select_related("domain")
        .order_by("pk")
    )


@dataclass
class RepublishReport:
    """What one republish run did."""

    due: int = 0
    republished: int = 0
    failed: int = 0
    skipped: int = 0
    retried_relays: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def _still_due(pubky_domain: PubkyDomain, before_expiry: timedelta, client: PubkyClient) -> bool:
    return (
        pubky_domains_due_for_republish(before_expiry=before_expiry, relay_urls=client.relay_urls)
        .filter(pk=pubky_domain.pk)
        .exists()
    )


def pkarr_republish_due(
    *,
    before_expiry: timedelta,
    force: bool = False,
    domain_names: Sequence[str] | None = None,
    client: PubkyClient | None = None,
    progress: Callable[[int, int, PubkyDomain, PublishOutcome | None, str | None], None]
    | None = None,
) -> RepublishReport:
    """Republish every Pubky domain whose relay copies expire soon (all of them with ``force``).

    Each domain is published on its own (network, then a short transaction), so one failure
    does not stop the run and nothing is held locked while relays answer. ``progress`` is
    called after each domain with ``(index, total, domain, outcome, error)``.
    """
    if before_expiry < timedelta(0):
        raise ValueError("before_expiry must not be negative")
    client = client or pubky_client()
    active = PubkyDomain.objects.filter(status=PubkyDomainStatus.ACTIVE).select_related("domain")
    queryset = (
        active.order_by("pk")
        if force
        else pubky_domains_due_for_republish(
            before_expiry=before_expiry, relay_urls=client.relay_urls
        )
    )
    if domain_names:
        queryset = queryset.filter(name__in=list(domain_names))
    domains = list(queryset)
    report = RepublishReport(due=len(domains))
    total = active.filter(name__in=list(domain_names)).count() if domain_names else active.count()
    report.skipped = total - len(domains)
    for index, pubky_domain in enumerate(domains, start=1):
        outcome: PublishOutcome | None = None
        error: str | None = None
        # Another copy of the job (a second worker, a one-off run) may hold this domain or
        # have just republished it: claim it and re-check, so it is never published twice.
        with item_claim("republish_pkarr", pubky_domain.pk) as claimed:
            if not claimed or not (force or _still_due(pubky_domain, before_expiry, client)):
                report.due -= 1
                report.skipped += 1
                continue
            pubky_domain.refresh_from_db()
            try:
                outcome = pubky_domain_publish(
                    pubky_domain=pubky_domain, client=client, reason="pkarr_republished"
                )
            except PubkyServiceError as exc:
                error = str(exc)
        if outcome is not None:
            report.republished += 1
            report.retried_relays += len(outcome.retried)
        else:
            report.failed += 1
            report.errors[pubky_domain.name] = error or "failed"
        if progress is not None:
            progress(index, len(domains), pubky_domain, outcome, error)
    return report
