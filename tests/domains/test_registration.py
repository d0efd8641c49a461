"""Registering Pubky domains against a real testnet: keys, packets, relays, rows, scores."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError

from domains.models import (
    DnsRecord,
    DomainRecord,
    KeyCustody,
    PkarrPublishStatus,
    PkarrRecord,
    PubkyDomain,
    PubkyDomainStatus,
    SovereigntyScore,
)
from domains.services.publishing import PacketTooLargeError, pubky_domain_publish
from domains.services.registration import (
    DnsRecordSpec,
    DomainAlreadyOnPubky,
    calculate_sovereignty_score,
    create_pubky_domain,
    register_pubky_domain,
)
from families.models import Family, SecurityEvent, SecurityEventKind
from pubky.keys import Keypair, PublicKey
from pubky.packet import Record, SignedPacket
from pubky.relay_client import RelayClient
from pubky.testnet import Testnet
from pubkyproject.pubky_client import PubkyClient, PublishFailed, pubky_client
from tests.domains.conftest import (
    NOT_A_CURVE_POINT,
    NOT_A_CURVE_POINT_CANONICAL,
    linked_domain,
    make_domain,
    make_family,
    record_set,
    resolved,
)
from tests.key_proofs import proven_proof

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, ...]:
    return (
        DomainRecord.objects.count(),
        DnsRecord.objects.count(),
        PubkyDomain.objects.count(),
        PkarrRecord.objects.count(),
        SovereigntyScore.objects.count(),
    )


def test_registering_a_domain_publishes_its_records_to_every_relay(
    family: Family, testnet: Testnet
) -> None:
    pubky_domain = register_pubky_domain(
        "family-photos.example",
        family,
        records=[
            ("@", "A", "192.0.2.7"),
            ("www", "CNAME", "family-photos.example."),
            DnsRecordSpec("@", "TXT", "hello from the family", 600),
        ],
    )

    assert pubky_domain.status == PubkyDomainStatus.ACTIVE
    assert pubky_domain.key_custody == KeyCustody.SERVICE
    assert pubky_domain.has_private_key
    assert pubky_domain.pubky_url == f"pubky://{pubky_domain.public_key}/"
    rows = list(pubky_domain.pkarr_records.order_by("relay_url"))
    assert sorted(r.relay_url for r in rows) == sorted(testnet.relay_urls)
    for row in rows:
        assert row.status == PkarrPublishStatus.PUBLISHED
        assert row.http_status == 204
        assert row.latency_ms is not None
        assert row.latency_ms >= 0
        assert row.packet_timestamp == pubky_domain.last_packet_timestamp
        assert row.packet_ttl == 600  # the smallest record TTL
        assert row.expires_at is not None
        assert row.published_at is not None
        assert row.attempts == 1
        assert row.error == ""
    domain = linked_domain(pubky_domain)
    assert domain.pubky_enabled
    assert domain.pubky_relay_url in testnet.relay_urls
    assert domain.pubky_homeserver_url == testnet.homeserver_url
    assert domain.dns_records.count() == 3


def test_our_client_resolves_the_registered_records_through_the_relays(
    family: Family, testnet: Testnet
) -> None:
    pubky_domain = register_pubky_domain(
        name="Resolve-Me.example",
        family=family,
        records=[("@", "A", "192.0.2.1"), ("mail", "MX", "10 mx.resolve-me.example.")],
    )
    assert pubky_domain.name == "resolve-me.example"

    packet = pubky_client().resolve(pubky_domain.public_key)

    assert packet is not None
    assert packet.timestamp == pubky_domain.last_packet_timestamp
    homeserver = testnet.homeserver_public_key.z32()
    assert {(r.name, r.rtype, r.value) for r in packet.records()} == {
        ("@", "A", "192.0.2.1"),
        ("mail", "MX", "10 mx.resolve-me.example."),
        # The domain key is a Pubky identity: signed up at the homeserver, which _pubky names.
        ("_pubky", "HTTPS", f"0 {homeserver}."),
    }
    assert pubky_domain.homeserver_key == homeserver
    keypair = Keypair.from_secret(pubky_domain.get_private_key())
    url = pubky_client().put_data(keypair, "/pub/site/index.html", "hi")
    assert (
        PubkyClient(
            relays=testnet.relay_urls, homeserver=homeserver, homeserver_url=testnet.homeserver_url
        ).get_data(url)
        == b"hi"
    )
    # Each relay holds the very same packet, verified by the library on receipt.
    for url in testnet.relay_urls:
        report = pubky_client().resolve_report(pubky_domain.public_key, relay_urls=[url])
        assert report.packet == packet


def test_registration_stores_the_key_sealed_and_scores_the_domain(family: Family) -> None:
    pubky_domain = register_pubky_domain(
        name="sealed.example", family=family, records=[("@", "A", "192.0.2.2")]
    )

    raw = bytes(pubky_domain.private_key_encrypted or b"")
    seed = pubky_domain.get_private_key()
    assert seed not in raw
    assert PublicKey.parse(pubky_domain.public_key) == Keypair.from_secret(seed).public_key
    domain = linked_domain(pubky_domain)
    score = SovereigntyScore.objects.filter(domain=domain).latest()
    assert score.reason == "pubky_domain_registered"
    facts = score.breakdown["facts"]
    assert facts["pubky_active"] is True
    assert facts["key_custody"] == "service"
    assert facts["relays_published"] == 2
    assert domain.sovereignty_score == score.total
    assert calculate_sovereignty_score(domain).total == score.total


def test_an_existing_registrar_domain_publishes_its_stored_records(
    registrar_domain: DomainRecord,
) -> None:
    pubky_domain = register_pubky_domain(name=registrar_domain.name, family=registrar_domain.family)

    packet = pubky_client().resolve(pubky_domain.public_key)
    assert packet is not None
    assert {(name, rtype) for name, rtype, _ in record_set(packet)} == {
        ("@", "A"),
        ("@", "TXT"),
        ("www", "CNAME"),
    }
    txt = next(r for r in packet.records() if r.rtype == "TXT")
    assert txt.text() == "v=spf1 -all"  # one string, not split at spaces
    assert pubky_domain.domain == registrar_domain


def test_publishing_again_uses_the_last_timestamp_as_compare_and_swap(
    family: Family, testnet: Testnet
) -> None:
    pubky_domain = register_pubky_domain(
        name="cas.example", family=family, records=[("@", "A", "192.0.2.3")]
    )
    first = pubky_domain.last_packet_timestamp
    DnsRecord.objects.create(
        domain=linked_domain(pubky_domain), name="@", rtype="A", value="192.0.2.4"
    )

    outcome = pubky_domain_publish(pubky_domain=pubky_domain)

    assert outcome.ok
    assert not outcome.retried
    assert (pubky_domain.last_packet_timestamp or 0) > (first or 0)
    values = {v for _, _, v in record_set(resolved(pubky_domain.public_key))}
    assert values == {"192.0.2.3", "192.0.2.4"}
    assert all(r.attempts == 2 for r in pubky_domain.pkarr_records.all())
    used = SecurityEvent.objects.filter(
        kind=SecurityEventKind.PRIVATE_KEY_USED, target=f"pubky_domain:{pubky_domain.pk}"
    )
    assert used.count() == 1
    assert used.get().detail == {"purpose": "sign PKARR packet", "acting": "service"}


def test_a_cas_conflict_is_resolved_by_re_resolving_and_retrying_once(
    family: Family, testnet: Testnet
) -> None:
    pubky_domain = register_pubky_domain(
        name="conflict.example", family=family, records=[("@", "A", "192.0.2.5")]
    )
    # Somebody else (another process with the key) publishes behind our back: our stored
    # timestamp is now stale, so our If-Match fails with 412 on every relay.

    keypair = Keypair.from_secret(pubky_domain.get_private_key())
    foreign = SignedPacket.sign(keypair, [Record("@", "A", "198.51.100.1")])
    assert testnet.relay_client().publish(foreign).ok

    outcome = pubky_domain_publish(pubky_domain=pubky_domain)

    assert sorted(outcome.retried) == sorted(testnet.relay_urls)
    assert outcome.ok
    packet = resolved(pubky_domain.public_key)
    assert packet.timestamp > foreign.timestamp
    assert {v for _, _, v in record_set(packet)} == {"192.0.2.5"}
    assert pubky_domain.last_packet_timestamp == packet.timestamp


def test_an_invalid_domain_name_is_refused_and_nothing_is_written(family: Family) -> None:
    before = counts()
    for bad in ("not a domain", "no-dot", "-leading.example", "a" * 64 + ".example", ""):
        with pytest.raises(ValidationError) as excinfo:
            register_pubky_domain(name=bad, family=family, records=[("@", "A", "192.0.2.1")])
        assert "not a valid domain name" in str(excinfo.value)
    assert counts() == before


def test_a_packet_over_1000_bytes_is_refused_and_nothing_is_written(
    family: Family, testnet: Testnet
) -> None:
    before = counts()
    records = [("@", "TXT", f"record {i:03d} " + "x" * 90) for i in range(12)]

    with pytest.raises(PacketTooLargeError) as excinfo:
        register_pubky_domain(name="too-big.example", family=family, records=records)

    assert excinfo.value.code == "packet_too_large"
    assert "too-big.example" in str(excinfo.value)
    assert "1000" in str(excinfo.value)
    assert counts() == before


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (NOT_A_CURVE_POINT_CANONICAL, "cannot decompress Edwards point"),
        (NOT_A_CURVE_POINT, "non-canonical z-base-32"),
    ],
)
def test_a_self_custody_key_that_is_not_a_curve_point_is_refused(
    family: Family, key: str, reason: str
) -> None:
    before = counts()

    with pytest.raises(ValidationError) as excinfo:
        register_pubky_domain(
            name="self-custody.example",
            family=family,
            records=[("@", "A", "192.0.2.1")],
            key_custody=KeyCustody.FAMILY,
            public_key=key,
        )

    assert "not a valid Ed25519 public key" in str(excinfo.value)
    assert reason in str(excinfo.value)
    assert counts() == before


def test_a_self_custody_domain_stores_only_the_public_key(family: Family) -> None:
    keypair = Keypair.random()
    key = keypair.public_key.z32()
    pubky_domain = register_pubky_domain(
        name="own-key.example",
        family=family,
        key_custody=KeyCustody.FAMILY,
        public_key=key,
        owner=family.owner,
        key_proof=proven_proof(family.owner, key).pk,
    )

    assert not pubky_domain.has_private_key
    assert pubky_domain.status == PubkyDomainStatus.DRAFT
    assert pubky_domain.pkarr_records.count() == 0


def test_invalid_record_values_are_refused_before_publishing(family: Family) -> None:
    before = counts()
    with pytest.raises(ValidationError):
        register_pubky_domain(name="bad-rr.example", family=family, records=[("@", "BOGUS", "x")])
    from domains.services.publishing import InvalidDnsRecordError

    with pytest.raises(InvalidDnsRecordError) as excinfo:
        register_pubky_domain(
            name="bad-rr.example", family=family, records=[("@", "A", "not-an-ip")]
        )
    assert "not-an-ip" in str(excinfo.value)
    assert counts() == before


def test_when_every_relay_is_down_registration_fails_and_writes_nothing(
    family: Family, make_testnet: Callable[..., Testnet], use_testnet: Callable[[Testnet], Testnet]
) -> None:
    net = use_testnet(make_testnet(relays=2))
    net.stop_relay(0)
    net.stop_relay(1)
    before = counts()

    with pytest.raises(PublishFailed) as excinfo:
        register_pubky_domain(
            name="offline.example", family=family, records=[("@", "A", "1.2.3.4")]
        )

    assert "no relay stored the packet of offline.example" in str(excinfo.value)
    assert len(excinfo.value.results) == 2
    assert counts() == before


def test_a_domain_of_another_family_cannot_be_registered(registrar_domain: DomainRecord) -> None:
    other = make_family()
    with pytest.raises(ValidationError) as excinfo:
        register_pubky_domain(name=registrar_domain.name, family=other)
    assert "another family" in str(excinfo.value)


def test_a_domain_already_on_pubky_cannot_be_registered_twice(family: Family) -> None:
    register_pubky_domain(name="twice.example", family=family, records=[("@", "A", "192.0.2.9")])
    with pytest.raises(DomainAlreadyOnPubky):
        register_pubky_domain(name="twice.example", family=family)


def test_create_pubky_domain_makes_a_draft_row_without_network(family: Family) -> None:
    domain = make_domain(family=family)
    pubky_domain = create_pubky_domain(domain)
    assert pubky_domain.status == PubkyDomainStatus.DRAFT
    assert pubky_domain.has_private_key
    assert pubky_domain.pkarr_records.count() == 0


def test_a_self_custody_packet_published_by_the_family_is_spread_and_recorded(
    family: Family, testnet: Testnet
) -> None:
    keypair = Keypair.random()
    key = keypair.public_key.z32()
    pubky_domain = register_pubky_domain(
        name="spread.example",
        family=family,
        key_custody=KeyCustody.FAMILY,
        public_key=key,
        owner=family.owner,
        key_proof=proven_proof(family.owner, key).pk,
    )
    with pytest.raises(PublishFailed, match="the family must publish one"):
        pubky_domain_publish(pubky_domain=pubky_domain)
    # The family signs with its own key: a first packet everywhere, a newer one on one relay.
    packet = SignedPacket.sign(keypair, [Record("@", "A", "192.0.2.88")])
    assert testnet.relay_client().publish(packet).ok is True
    assert (
        RelayClient(testnet.relay_urls[:1])
        .publish(SignedPacket.sign(keypair, [Record("@", "A", "192.0.2.89")]))
        .ok
    )

    outcome = pubky_domain_publish(pubky_domain=pubky_domain)

    assert outcome.ok
    # The newest packet (on relay 0 only) now sits on every relay; no key was needed.
    for url in testnet.relay_urls:
        held = pubky_client().resolve_report(pubky_domain.public_key, relay_urls=[url]).packet
        assert held is not None
        assert {r.value for r in held.records()} == {"192.0.2.89"}
    pubky_domain.refresh_from_db()
    assert pubky_domain.status == PubkyDomainStatus.ACTIVE
    assert pubky_domain.pkarr_records.filter(status="published").count() == 2
    assert not SecurityEvent.objects.filter(kind=SecurityEventKind.PRIVATE_KEY_USED).exists()
