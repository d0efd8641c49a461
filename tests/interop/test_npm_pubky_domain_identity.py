"""A registered Pubky domain is a Pubky identity: the official ``@synonymdev/pubky@0.6.0``
client finds its homeserver from the domain's own packet (``_pubky``) and reads its files."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from domains.services.registration import register_pubky_domain
from pubky.homeserver_client import homeserver_of_packet
from pubky.keys import Keypair
from pubkyproject.pubky_client import PubkyClient
from tests.factories import FamilyFactory
from tests.interop.oracles import pubky

if TYPE_CHECKING:
    from pubky.testnet import Testnet

pytestmark = [pytest.mark.interop, pytest.mark.django_db]


def test_the_official_client_resolves_a_registered_domains_homeserver_and_reads_its_file(
    interop_testnet: Testnet, signup_token: Callable[[], str]
) -> None:
    client = PubkyClient(
        relays=interop_testnet.relay_urls,
        homeserver=interop_testnet.homeserver_public_key.z32(),
        homeserver_url=interop_testnet.homeserver_url,
        signup_token=signup_token(),  # this homeserver only signs up with an operator's token
    )
    pubky_domain = register_pubky_domain(
        name="identity.example",
        family=FamilyFactory(),
        records=[("@", "A", "192.0.2.10")],
        client=client,
    )
    homeserver = interop_testnet.homeserver_public_key.z32()
    assert pubky_domain.homeserver_key == homeserver
    key = pubky_domain.public_key
    packet = client.resolve(key)
    assert packet is not None and str(homeserver_of_packet(packet)) == homeserver
    # The family serves a file from the domain's own storage, with the domain's key.
    keypair = Keypair.from_secret(pubky_domain.get_private_key())
    url = client.put_data(keypair, "/pub/identity.example/index.html", "<h1>hello</h1>")
    assert url == f"pubky://{key}/pub/identity.example/index.html"

    run = pubky(
        {"op": "get_homeserver_of", "relays": interop_testnet.relay_urls, "user": key},
        {"op": "public_get_text", "relays": interop_testnet.relay_urls, "address": url},
        timeout=60,
    )

    assert run.value(0)["homeserver"] == homeserver
    assert run.value(1)["text"] == "<h1>hello</h1>"
    # Our own resolver (what pubky_resolve uses) finds it the same way, from a cold start.
    fresh = PubkyClient(
        relays=interop_testnet.relay_urls,
        homeserver=homeserver,
        homeserver_url=interop_testnet.homeserver_url,
    )
    assert fresh.get_data(url) == b"<h1>hello</h1>"
