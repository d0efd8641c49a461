"""The live dashboard in a real browser: sign in, watch changes arrive, survive a server restart.

Changes are made from this test process through the ORM and the scoring service, exactly as
the app's own services make them; the page sees them only through daphne's WebSocket.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.utils import timezone

from domains.models import DnsRecord, DomainMigration, PkarrRecord, PubkyDomain, RelayStatus
from domains.services.scoring import calculate_sovereignty_score
from guardians.models import GuardianNotification
from tests.browser.conftest import DESKTOP, PHONE, base_url, screenshot
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

RELAY = "http://127.0.0.1:15411"
SECOND_RELAY = "http://127.0.0.1:15413"
PUBLIC_KEY = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"


def _demo_family() -> dict:
    """A family with a Pubky domain, a DNS-only domain being migrated, a guardian and relays."""
    user = UserFactory(username="rivera")
    family = FamilyFactory(owner=user, name="Rivera Family")
    domain = DomainFactory(family=family, name="rivera.example", registrar="Registrar Inc.")
    DnsRecord.objects.create(domain=domain, rtype="A", value="192.0.2.10")
    pubky = PubkyDomain.objects.create(
        name="rivera.example",
        family=family,
        domain=domain,
        public_key=PUBLIC_KEY,
        key_custody="family",
        key_verification="proven",
        status="active",
        pubky_url=f"pubky://{PUBLIC_KEY}",
    )
    for relay_url in (RELAY, SECOND_RELAY):
        PkarrRecord.objects.create(
            pubky_domain=pubky, relay_url=relay_url, status="published", served_timestamp=1
        )
    GuardianFactory(
        family=family,
        name="Grandma Rosa",
        pubky_backup_status="current",
        pubky_backup_verified_at=timezone.now(),
    )
    GuardianFactory(family=family, name="Uncle Tomás", pubky_backup_status="stale")
    first = calculate_sovereignty_score(domain=domain, reason="created")
    second_domain = DomainFactory(family=family, name="rivera-shop.example", registrar="Reg Co.")
    DnsRecord.objects.create(domain=second_domain, rtype="A", value="192.0.2.11")
    calculate_sovereignty_score(domain=second_domain, reason="created")
    DomainMigration.objects.create(
        domain=second_domain, direction="dns_to_pubky", state="verifying", approvals_required=1
    )
    GuardianNotification.objects.create(
        family=family,
        kind="migration_approval_requested",
        title="Approve moving rivera-shop.example to Pubky",
        message="A family admin started the migration; one guardian approval is needed.",
    )
    now = timezone.now()
    relay = RelayStatus.objects.create(url=RELAY, is_up=True, latency_ms=12.5, last_checked_at=now)
    RelayStatus.objects.create(url=SECOND_RELAY, is_up=True, latency_ms=31.0, last_checked_at=now)
    return {"user": user, "family": family, "domain": domain, "score": first, "relay": relay}


def _sign_in(page, url: str, username: str, password: str = "pw") -> None:
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _debug(page) -> dict:
    return page.evaluate(
        "() => ({loadId: dashboardDebug.loadId, restLoads: dashboardDebug.restLoads,"
        " resyncs: dashboardDebug.resyncs, tokenRefreshes: dashboardDebug.tokenRefreshes,"
        " live: dashboardDebug.live})"
    )


def test_a_member_sees_changes_live_and_catches_up_after_the_server_restarts(web, page) -> None:
    from playwright.sync_api import expect

    demo = _demo_family()
    domain, relay = demo["domain"], demo["relay"]
    card = page.locator(f"#domain-{domain.pk}")
    relay_row = page.locator(f'.relay[data-url="{RELAY}"]')
    connection = page.locator("#conn")

    _sign_in(page, base_url(web), "rivera")
    expect(page.get_by_role("heading", name="Rivera Family")).to_be_visible()
    expect(connection).to_have_attribute("data-state", "live")
    expect(card.locator(".score-value")).to_have_text(str(demo["score"].total))
    expect(card.get_by_text("Pubky · active")).to_be_visible()
    expect(page.get_by_text("Migrating DNS → Pubky · verifying")).to_be_visible()
    expect(page.locator(".guardian", has_text="Grandma Rosa")).to_contain_text("Backup current")
    expect(page.locator(".guardian", has_text="Uncle Tomás")).to_contain_text("Backup stale")
    expect(relay_row).to_contain_text("Up · 12.5 ms")
    expect(page.locator("#feed")).to_contain_text("Approve moving rivera-shop.example")
    before = _debug(page)
    assert before["restLoads"] == 1
    screenshot(page, "dashboard-desktop")

    # A fact changes (the self-hosting check saw the packet point at the family's proven
    # homeserver) and the scoring service stores a new score: the card follows, no reload.
    domain.self_hosted_homeserver = True
    domain.self_hosted_verified_at = timezone.now()
    domain.save()
    new_score = calculate_sovereignty_score(domain=domain, reason="self-hosted homeserver")
    assert new_score.total > demo["score"].total
    expect(card.locator(".score-value")).to_have_text(str(new_score.total))
    privacy = card.locator('[data-component="privacy"] [role="meter"]')
    expect(privacy).to_have_attribute("aria-valuenow", str(new_score.privacy))
    expect(card.locator(".sparkline")).to_have_attribute("data-points", "2")
    # The event carries the numbers; the page fetches the explanation that goes with them.
    card.get_by_text("Why this score").click()
    expect(card.locator(".why li.holds", has_text="self-hosted homeserver").first).to_be_visible()
    expect(page.locator("#feed")).to_contain_text(
        f"rivera.example: sovereignty score {demo['score'].total} → {new_score.total}"
    )

    # A relay goes down (as check_relays would record it).
    relay.is_up, relay.latency_ms, relay.last_error = False, None, "connection refused"
    relay.save()
    expect(relay_row).to_have_attribute("data-state", "down")
    expect(page.locator("#relay-summary")).to_have_text("1 of 2 up")
    expect(page.locator("#feed")).to_contain_text("Relay 127.0.0.1:15411 is down")
    assert _debug(page)["loadId"] == before["loadId"]

    # The server goes away: the page says so, and keeps the last data on screen.
    web.stop()
    expect(connection).to_have_attribute("data-state", re.compile("reconnecting|offline"))
    expect(page.locator("#conn-banner")).to_contain_text("Connection lost")
    expect(card.locator(".score-value")).to_have_text(str(new_score.total))
    screenshot(page, "dashboard-offline")

    # While it is down the relay recovers; the event waits in the outbox.
    relay.is_up, relay.latency_ms, relay.last_error = True, 8.4, ""
    relay.save()
    web.restart()
    expect(connection).to_have_attribute("data-state", "live", timeout=30_000)
    expect(page.locator("#conn-banner")).to_be_hidden()
    expect(relay_row).to_contain_text("Up · 8.4 ms")
    expect(page.locator("#relay-summary")).to_have_text("2 of 2 up")
    after = _debug(page)
    assert after["loadId"] == before["loadId"], "the page reloaded"
    # Caught up through `since` (the outbox replay), not by refetching over REST.
    assert after["restLoads"] == 1
    assert after["resyncs"] == 0
    assert after["live"]["connects"] == 2
    assert after["live"]["replayed"] >= 1
    assert after["live"]["recovered"] and all(after["live"]["recovered"])

    # The 15 s access token was refreshed and sent in-band: the socket was never refused.
    deadline = time.monotonic() + 20
    while _debug(page)["live"]["reauths"] < 1 and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    final = _debug(page)
    assert final["tokenRefreshes"] >= 1
    assert final["live"]["reauths"] >= 1
    assert 4401 not in final["live"]["closeCodes"]
    assert final["live"]["status"] == "live"

    page.set_viewport_size(PHONE)
    expect(page.get_by_role("heading", name="Rivera Family")).to_be_visible()
    screenshot(page, "dashboard-phone")
    wide = page.evaluate(
        "() => [...document.querySelectorAll('body *')]"
        ".filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5"
        " || (el.classList.contains('card') && el.scrollWidth > el.clientWidth + 1))"
        ".map((el) => el.tagName + '.' + el.getAttribute('class'))"
    )
    assert not wide, f"the phone layout is wider than the screen: {wide[:5]}"
    page.set_viewport_size(DESKTOP)


def test_a_wrong_password_shows_an_error_and_no_dashboard(web, page) -> None:
    from playwright.sync_api import expect

    UserFactory(username="rivera")
    _sign_in(page, base_url(web), "rivera", "not-the-password")
    error = page.get_by_role("alert").filter(has_text="Wrong username or password.")
    expect(error).to_be_visible()
    expect(page.locator("#dashboard-view")).to_be_hidden()
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "login-error")


def test_a_user_in_no_family_sees_empty_states_and_stays_signed_in_this_tab(web, page) -> None:
    from playwright.sync_api import expect

    UserFactory(username="newcomer")
    page.set_viewport_size(PHONE)
    _sign_in(page, base_url(web), "newcomer")
    expect(page.get_by_text("No families yet")).to_be_visible()
    expect(page.get_by_text("Nothing yet. Changes show up here as they happen.")).to_be_visible()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    screenshot(page, "empty-state-phone")

    # A reload keeps the session (sessionStorage); signing out ends it.
    page.reload()
    expect(page.get_by_text("No families yet")).to_be_visible()
    expect(page.locator("#login-view")).to_be_hidden()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_an_api_failure_shows_an_error_and_try_again_recovers(web, page) -> None:
    from playwright.sync_api import expect

    _demo_family()
    # The families list fails once, as a broken server would answer it.
    page.route(
        re.compile(r".*/api/families/\?.*"),
        lambda route: route.fulfill(status=500, json={"detail": "Internal error."}),
    )
    _sign_in(page, base_url(web), "rivera")
    failure = page.get_by_role("alert").filter(has_text="Could not load your dashboard")
    expect(failure).to_contain_text("The server had a problem. Try again in a moment.")
    screenshot(page, "api-error")
    page.unroute(re.compile(r".*/api/families/\?.*"))
    failure.get_by_role("button", name="Try again").click()
    expect(page.get_by_role("heading", name="Rivera Family")).to_be_visible()
    expect(failure).to_be_hidden()


def _api(web, method: str, path: str, body: dict | None = None, token: str | None = None) -> Any:
    """Call the REST API of the running server from this process, as any client would."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{base_url(web)}api/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else None


def test_domains_added_and_removed_through_the_api_come_and_go_without_a_reload(web, page) -> None:
    from playwright.sync_api import expect

    from domains.models import DomainRecord

    demo = _demo_family()
    family = demo["family"]
    count = page.locator(f"#domain-count-{family.pk}")
    cards = page.locator(f"#domains-{family.pk} article.domain")
    _sign_in(page, base_url(web), "rivera")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(count).to_have_text("2")
    before = _debug(page)

    token = _api(web, "POST", "auth/token/", {"username": "rivera", "password": "pw"})["access"]
    added = _api(web, "POST", "domains/", {"family": family.pk, "name": "a-new.example"}, token)
    card = page.locator(f"#domain-{added['id']}")
    expect(card).to_be_visible()
    expect(count).to_have_text("3")
    expect(page.locator("#feed")).to_contain_text("Domain a-new.example was added")
    # In the page's order (by name), and with the score the server computed for it.
    names = cards.locator("h4").all_text_contents()
    assert names == page.evaluate("(n) => [...n].sort((a, b) => a.localeCompare(b))", names)
    assert "a-new.example" in names
    total = DomainRecord.objects.get(pk=added["id"]).sovereignty_score
    expect(card.locator(".score-value")).to_have_text(str(total))

    # Removed through the API: the card goes, the count follows.
    _api(web, "DELETE", f"domains/{added['id']}/", token=token)
    expect(card).to_have_count(0)
    expect(count).to_have_text("2")
    expect(page.locator("#feed")).to_contain_text("Domain a-new.example was removed")

    # A relay failure reads in plain words; the library's text is only a tooltip.
    relay = demo["relay"]
    relay.is_up, relay.latency_ms = False, None
    relay.last_error = (
        "HTTPConnectionPool(host='127.0.0.1', port=15411): Max retries exceeded with url: / "
        "(Caused by NewConnectionError('Failed to establish a new connection: [Errno 111] "
        "Connection refused'))"
    )
    relay.save()
    relay_row = page.locator(f'.relay[data-url="{RELAY}"]')
    expect(relay_row).to_have_attribute("data-state", "down")
    expect(relay_row).to_contain_text("The relay did not answer (connection refused")
    expect(relay_row).not_to_contain_text("HTTPConnectionPool")

    after = _debug(page)
    assert after["loadId"] == before["loadId"], "the page reloaded"
    assert after["restLoads"] == 1
