"""Self-held keys need proofs; proven claims win; facts behind the score are verified.

Every proof here goes the whole way: ``POST /api/key-proofs/``, an authenticator holding the
key approves the pubkyauth link through the testnet HTTP relay, the service receives and
verifies the AuthToken.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from domains.models import DomainRecord, KeyCustody, PkarrRecord, PubkyDomain
from domains.services.facts import pkarr_records_verify
from domains.services.registration import create_pubky_domain, register_pubky_domain
from families.models import Family, KeyVerification, SecurityEvent, SecurityEventKind, User
from guardians.backups import guardian_backup_verify
from guardians.models import GuardianNotification
from pubky.homeserver_client import build_pubky_packet
from pubky.keys import Keypair
from pubky.testnet import Testnet
from tests.api.conftest import World, client_for
from tests.api.test_key_proofs import approve_in_background, prove, read_proof, request_proof
from tests.factories import DomainFactory, GuardianFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.shared_world]


def register(user: User, family: Family, name: str, key: str, proof: int | None) -> Any:
    body: dict[str, Any] = {
        "family": family.pk,
        "name": name,
        "key_custody": "family",
        "public_key": key,
    }
    if proof is not None:
        body["key_proof"] = proof
    return client_for(user).post("/api/pubky-domains/", body, format="json")


def score_of(user: User, domain_id: int) -> dict[str, Any]:
    response = client_for(user).get(f"/api/domains/{domain_id}/score/")
    assert response.status_code == 200, response.content
    return response.json()


def rule(score: dict[str, Any], component: str, fact: str) -> dict[str, Any]:
    return next(r for r in score["explanation"][component]["rules"] if r["fact"] == fact)


def legacy_unverified_claim(family: Family, name: str, key: str) -> PubkyDomain:
    """A self-custody row as it was before proofs (what the data migration marks unverified)."""
    domain = DomainFactory(family=family, name=name)
    claim = create_pubky_domain(domain=domain, public_key=key, key_custody=KeyCustody.FAMILY)
    assert claim.key_verification == KeyVerification.UNVERIFIED
    PubkyDomain.objects.filter(pk=claim.pk).update(status="active")
    return claim


def test_a_self_held_key_without_a_proof_is_refused_with_how_to_prove_it(world: World) -> None:
    key = Keypair.random().public_key.z32()
    response = register(world.people["owner"], world.family, "own.example", key, None)
    assert response.status_code == 400
    message = " ".join(response.json()["key_proof"])
    assert "POST /api/key-proofs/" in message and "python -m pubky approve" in message
    assert not PubkyDomain.objects.filter(public_key=key).exists()


def test_a_second_family_cannot_attach_the_first_familys_key(
    world: World, testnet: Testnet
) -> None:
    holder = Keypair.random()
    key = holder.public_key.z32()
    owner, squatter = world.people["owner"], world.people["stranger"]
    owners_proof = prove(owner, holder)

    # Someone else's proof is not theirs to use …
    response = register(squatter, world.other_family, "squat.example", key, owners_proof)
    assert response.status_code == 400
    assert "of yours" in " ".join(response.json()["key_proof"])
    # … and a proof they ask for themselves fails: they cannot sign with the key.
    body = request_proof(squatter, key)
    join = approve_in_background(Keypair.random(), body["pubkyauth_url"])
    assert read_proof(squatter, body["id"])["status"] == "failed"
    join()
    response = register(squatter, world.other_family, "squat.example", key, body["id"])
    assert response.status_code == 400
    assert "failed" in " ".join(response.json()["key_proof"])
    # The first family's own identity key is held by this service: nobody else proves it.
    assert not PubkyDomain.objects.filter(public_key=key).exists()

    # The holder registers it with their proof.
    response = register(owner, world.family, "mine.example", key, owners_proof)
    assert response.status_code == 201, response.content
    assert response.json()["key_verification"] == "proven"


def test_the_real_owner_registers_after_proving_and_the_unproven_claim_is_suspended(
    world: World, testnet: Testnet
) -> None:
    holder = Keypair.random()
    key = holder.public_key.z32()
    squat = legacy_unverified_claim(world.other_family, "squat.example", key)
    GuardianFactory(family=world.other_family, user=UserFactory(username="jones-guardian"))

    owner = world.people["owner"]
    response = register(owner, world.family, "mine.example", key, prove(owner, holder))
    assert response.status_code == 201, response.content

    squat.refresh_from_db()
    assert squat.status == "suspended"
    assert "proved it" in squat.suspended_reason
    note = GuardianNotification.objects.get(
        family=world.other_family, kind="pubky_domain_suspended"
    )
    assert key in note.message and "never proved" in note.message
    event = SecurityEvent.objects.get(kind=SecurityEventKind.KEY_CLAIM_SUSPENDED)
    assert event.user == owner and event.target == f"pubky_domain:{squat.pk}"
    assert squat.domain is not None
    assert score_of(world.people["stranger"], squat.domain.pk)["components"]["key_ownership"] == 0
    # A suspended claim cannot be spread any more.
    published = client_for(world.people["stranger"]).post(f"/api/pubky-domains/{squat.pk}/publish/")
    assert published.status_code == 409 and published.json()["code"] == "suspended"


def test_an_unproven_claim_earns_no_key_ownership_points_until_proven(
    world: World, testnet: Testnet
) -> None:
    holder = Keypair.random()
    owner = world.people["owner"]
    claim = legacy_unverified_claim(world.family, "legacy.example", holder.public_key.z32())
    assert claim.domain is not None
    before = score_of(owner, claim.domain.pk)
    assert before["components"]["key_ownership"] == 0
    key_rule = rule(before, "key_ownership", "key")
    assert key_rule["holds"] is False and key_rule["verified"] is False
    assert key_rule["how"] == "claimed, never proven"
    refused = client_for(owner).post(f"/api/pubky-domains/{claim.pk}/publish/")
    assert refused.status_code == 409 and refused.json()["code"] == "key_unproven"

    proven = client_for(owner).post(
        f"/api/pubky-domains/{claim.pk}/prove/", {"key_proof": prove(owner, holder)}, format="json"
    )
    assert proven.status_code == 200, proven.content
    assert proven.json()["key_verification"] == "proven"
    after = score_of(owner, claim.domain.pk)
    assert after["components"]["key_ownership"] == 16
    key_rule = rule(after, "key_ownership", "key")
    assert key_rule["holds"] is True and key_rule["verified"] is True
    assert key_rule["verified_at"] is not None


def test_self_hosted_homeserver_cannot_be_set_by_patch_or_create(world: World) -> None:
    owner = world.people["owner"]
    before = score_of(owner, world.domain.pk)["total"]
    response = client_for(owner).patch(
        f"/api/domains/{world.domain.pk}/", {"self_hosted_homeserver": True}, format="json"
    )
    assert response.status_code == 400
    assert "verified, not declared" in " ".join(response.json()["self_hosted_homeserver"])
    world.domain.refresh_from_db()
    assert world.domain.self_hosted_homeserver is False
    assert score_of(owner, world.domain.pk)["total"] == before
    created = client_for(owner).post(
        "/api/domains/",
        {"family": world.family.pk, "name": "declared.example", "self_hosted_homeserver": True},
        format="json",
    )
    assert created.status_code == 400
    assert not DomainRecord.objects.filter(name="declared.example").exists()


def test_self_hosting_holds_only_when_the_served_packet_points_at_the_proven_homeserver(
    world: World, testnet: Testnet
) -> None:
    owner = world.people["owner"]
    holder, homeserver, elsewhere = Keypair.random(), Keypair.random(), Keypair.random()
    response = register(
        owner, world.family, "self.example", holder.public_key.z32(), prove(owner, holder)
    )
    assert response.status_code == 201, response.content
    domain_id = response.json()["domain"]
    relays = testnet.relay_client()
    # The family's packet points at some other homeserver first.
    assert relays.publish(build_pubky_packet(holder, elsewhere.public_key, None)).ok
    attach = client_for(owner).put(
        f"/api/families/{world.family.pk}/homeserver/",
        {"public_key": homeserver.public_key.z32(), "key_proof": prove(owner, homeserver)},
        format="json",
    )
    assert attach.status_code == 200, attach.content
    assert attach.json()["homeserver_public_key"] == homeserver.public_key.z32()
    domain = DomainRecord.objects.get(pk=domain_id)
    assert domain.self_hosted_homeserver is False and domain.self_hosted_verified_at is not None

    current = relays.resolve(holder.public_key)
    assert relays.publish(build_pubky_packet(holder, homeserver.public_key, current)).ok
    from domains.services.facts import domain_self_hosting_verify

    assert domain_self_hosting_verify(domain=domain) is True
    score = score_of(owner, domain_id)
    hosted = rule(score, "provider_independence", "self_hosted")
    assert hosted["holds"] is True and hosted["verified"] is True and hosted["verified_at"]

    # Without a proof the homeserver key is refused.
    refused = client_for(owner).put(
        f"/api/families/{world.family.pk}/homeserver/",
        {"public_key": elsewhere.public_key.z32()},
        format="json",
    )
    assert refused.status_code == 400 and "key_proof" in refused.json()


def test_a_relay_that_stops_serving_the_packet_stops_counting(
    world: World, testnet: Testnet, make_testnet: Any
) -> None:
    pubky_domain = register_pubky_domain(
        name="relays.example", family=world.family, records=[("@", "A", "192.0.2.7")]
    )
    assert pubky_domain.domain is not None
    owner = world.people["owner"]
    assert score_of(owner, pubky_domain.domain.pk)["components"]["censorship_resistance"] == 14
    # A third relay that once took the packet but serves nothing now.
    empty = make_testnet(relays=1, http_relay_port=None, admin_port=None)
    PkarrRecord.objects.create(
        pubky_domain=pubky_domain,
        relay_url=empty.relay_urls[0],
        status="published",
        packet_timestamp=pubky_domain.last_packet_timestamp,
        served_timestamp=pubky_domain.last_packet_timestamp,
        published_at=timezone.now(),
    )
    assert score_of(owner, pubky_domain.domain.pk)["components"]["censorship_resistance"] == 20
    assert pkarr_records_verify(pubky_domain=pubky_domain) == 2
    assert score_of(owner, pubky_domain.domain.pk)["components"]["censorship_resistance"] == 14
    record = PkarrRecord.objects.get(relay_url=empty.relay_urls[0])
    assert record.served_timestamp is None and record.verified_at is not None


def test_a_guardian_backup_counts_only_once_it_answers_on_its_homeserver(
    world: World, testnet: Testnet
) -> None:
    owner = world.people["owner"]
    pubky_domain = register_pubky_domain(
        name="backed-up.example", family=world.family, records=[("@", "A", "192.0.2.8")]
    )
    assert pubky_domain.domain is not None
    guardian_user = world.people["guardian"]
    backup_keys = Keypair.random()
    client = testnet.homeserver_client()
    client.signup(backup_keys, testnet.homeserver_public_key)
    url = f"pubky://{backup_keys.public_key.z32()}/pub/backup/smiths.key"
    reported = client_for(guardian_user).post(
        f"/api/guardians/{world.guardian_id}/backup-status/",
        {"status": "current", "url": url},
        format="json",
    )
    assert reported.status_code == 200, reported.content
    backup_rule = rule(score_of(owner, pubky_domain.domain.pk), "key_ownership", "backup")
    assert backup_rule["holds"] is False  # reported, not yet seen

    from guardians.models import FederationGuardian

    guardian = FederationGuardian.objects.get(pk=world.guardian_id)
    assert guardian_backup_verify(guardian=guardian) is False
    guardian.refresh_from_db()
    assert "does not answer" in guardian.pubky_backup_check_error

    client.put(url, b"sealed recovery file")
    assert guardian_backup_verify(guardian=guardian) is True
    after = score_of(owner, pubky_domain.domain.pk)
    backup_rule = rule(after, "key_ownership", "backup")
    assert backup_rule["holds"] is True and backup_rule["verified"] is True
    assert after["components"]["key_ownership"] == 14


def test_sign_in_logout_and_key_use_are_security_events_with_the_user(world: World) -> None:
    owner = world.people["owner"]
    assert owner is not None
    client = client_for(None)
    token = client.post(
        "/api/auth/token/", {"username": owner.username, "password": "pw"}, format="json"
    )
    assert token.status_code == 200, token.content
    signed_in = SecurityEvent.objects.get(kind=SecurityEventKind.LOGIN_SUCCEEDED)
    assert signed_in.user == owner and signed_in.ip_address
    out = client.post("/api/auth/logout/", {"refresh": token.json()["refresh"]}, format="json")
    assert out.status_code == 204
    assert SecurityEvent.objects.get(kind=SecurityEventKind.LOGOUT).user == owner

    published = client_for(owner).post(f"/api/pubky-domains/{world.pubky_domain.pk}/publish/")
    assert published.status_code == 200, published.content
    used = SecurityEvent.objects.filter(kind=SecurityEventKind.PRIVATE_KEY_USED).latest("id")
    assert used.user == owner and used.detail["acting"] == "user"
    assert used.target == f"pubky_domain:{world.pubky_domain.pk}"


def test_a_user_attaches_a_self_held_identity_only_with_a_proof(
    world: World, testnet: Testnet
) -> None:
    user = world.people["member"]
    holder = Keypair.random()
    key = holder.public_key.z32()
    refused = client_for(user).put("/api/me/pubky-identity/", {"public_key": key}, format="json")
    assert refused.status_code == 400 and "key_proof" in refused.json()
    attached = client_for(user).put(
        "/api/me/pubky-identity/",
        {"public_key": key, "key_proof": prove(user, holder)},
        format="json",
    )
    assert attached.status_code == 200, attached.content
    assert attached.json()["pubky_key_verification"] == "proven"
    assert attached.json()["pubky_public_key"] == key


def test_a_family_attaches_a_self_held_identity_only_with_a_proof(
    world: World, testnet: Testnet
) -> None:
    owner = world.people["stranger"]
    holder = Keypair.random()
    key = holder.public_key.z32()
    path = f"/api/families/{world.other_family.pk}/pubky/attach/"
    refused = client_for(owner).post(path, {"public_key": key}, format="json")
    assert refused.status_code == 400 and "key_proof" in refused.json()
    attached = client_for(owner).post(
        path, {"public_key": key, "key_proof": prove(owner, holder)}, format="json"
    )
    assert attached.status_code == 200, attached.content
    body = attached.json()
    assert body["pubky_public_key"] == key and body["pubky_key_verification"] == "proven"
    assert body["pubky_enabled"] is True


def test_session_sign_in_and_out_are_security_events(world: World) -> None:
    from django.test import Client

    owner = world.people["owner"]
    assert owner is not None
    browser = Client()
    assert browser.login(username=owner.username, password="pw")
    browser.logout()
    kinds = list(
        SecurityEvent.objects.filter(user=owner, detail__method="session")
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == [SecurityEventKind.LOGIN_SUCCEEDED, SecurityEventKind.LOGOUT]
