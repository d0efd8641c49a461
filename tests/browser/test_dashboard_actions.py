"""Acting from the live dashboard in a real browser: add domains, register them on Pubky, move
one from DNS to Pubky with a guardian's approval in a second browser, manage guardians.

The server is a real daphne pointed at a local Pubky testnet (relays, homeserver, HTTP relay)
and at a loopback authoritative DNS server (``tests/dnsserver.py``) that holds the migration's
``_pubky-challenge`` TXT record once the test "publishes" it, as the family would at their
DNS provider. Every action goes through the page's controls and the REST API; every other
page learns of it only through its WebSocket.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from domains.models import DnsRecord, DomainMigration, DomainRecord, PubkyDomain
from families.models import FamilyRole
from guardians.models import FederationGuardian
from pubky import pubkyauth
from pubky.keys import Keypair
from pubky.testnet import Testnet
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    base_url,
    screenshot,
    subprocess_env,
)
from tests.dnsserver import LoopbackDnsServer
from tests.factories import DomainFactory, FamilyFactory, MembershipFactory, UserFactory
from tests.servers import Process, process_group

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

# Everything wider than the screen, or a card that scrolls sideways (the phone layout check).
OVERFLOW_JS = (
    "() => [...document.querySelectorAll('body *')]"
    ".filter((el) => el.getClientRects().length"
    " && (el.getBoundingClientRect().right > window.innerWidth + 0.5"
    " || (el.classList.contains('card') && el.scrollWidth > el.clientWidth + 1)))"
    ".map((el) => el.tagName + '.' + el.getAttribute('class'))"
)


@pytest.fixture(scope="module")
def testnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    net = Testnet.ephemeral(tmp_path_factory.mktemp("actions-testnet"), relays=2)
    net.start()
    try:
        yield net
    finally:
        net.stop()


@pytest.fixture(scope="module")
def dns_server() -> Iterator[LoopbackDnsServer]:
    with LoopbackDnsServer() as server:
        yield server


@pytest.fixture
def web(
    transactional_db: None, testnet: Testnet, dns_server: LoopbackDnsServer
) -> Iterator[Process]:
    """daphne on this test's database, publishing to the testnet, resolving on our DNS."""
    dns_server.clear()
    env = subprocess_env(
        PUBKY_RELAYS=",".join(testnet.relay_urls),
        PUBKY_HOMESERVER=testnet.homeserver_public_key.z32(),
        PUBKY_HOMESERVER_URL=testnet.homeserver_url,
        PUBKY_HTTP_RELAY_URL=testnet.http_relay_link_url or "",
        PUBKY_HTTP_TIMEOUT="5",
        PUBKY_DNS_RESOLVERS=dns_server.address,
    )
    env.pop("PUBKY_SIGNUP_TOKEN", None)
    with process_group(env) as group:
        yield group.daphne("web")


def _context(browser: Any, viewport: dict[str, int] = DESKTOP, **kwargs: Any) -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    context = browser.new_context(viewport=viewport, locale="en-US", timezone_id="UTC", **kwargs)
    context.set_default_timeout(15_000)
    return context


def _open(context: Any) -> tuple[Any, list[str]]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


def _sign_in(page: Any, web: Process, username: str) -> None:
    from playwright.sync_api import expect

    page.goto(base_url(web))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


def _load_id(page: Any) -> str:
    return str(page.evaluate("() => dashboardDebug.loadId"))


def _api(web: Process, method: str, path: str, username: str, body: dict | None = None) -> Any:
    """Call the REST API as ``username``; answers (status, body)."""

    def call(path: str, body: dict | None, token: str | None) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{base_url(web)}api/{path}",
            method=method if token else "POST",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    _, tokens = call("auth/token/", {"username": username, "password": "pw"}, None)
    return call(path, body, tokens["access"])


def _dialog(page: Any) -> Any:
    return page.locator("dialog.action-dialog")


def _add_domain(page: Any, family_id: int, name: str, record: str = "") -> Any:
    from playwright.sync_api import expect

    page.locator(f"#family-{family_id}").get_by_role("button", name="Add domain").click()
    dialog = _dialog(page)
    expect(dialog).to_be_visible()
    dialog.get_by_label("Domain name").fill(name)
    if record:
        dialog.get_by_label("Value").fill(record)
    dialog.get_by_role("button", name="Add domain").click()
    expect(dialog).to_have_count(0)
    card = page.locator("article.domain", has=page.get_by_role("heading", name=name, exact=True))
    expect(card).to_be_visible()
    return card


def test_a_member_adds_domains_and_registers_one_with_a_key_proven_by_qr_code(
    web: Process, browser: Any
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory(username="rivera")
    family = FamilyFactory(owner=owner, name="Rivera Family")
    context = _context(browser)
    page, errors = _open(context)
    try:
        _sign_in(page, web, "rivera")
        load_id = _load_id(page)
        count = page.locator(f"#domain-count-{family.pk}")
        expect(count).to_have_text("0")

        # A name the API refuses: its reason shows under the name field; nothing is added.
        page.get_by_role("button", name="Add domain").click()
        dialog = _dialog(page)
        dialog.get_by_label("Domain name").fill("not a domain!")
        dialog.get_by_role("button", name="Add domain").click()
        name_error = dialog.locator('[data-error-for="name"]')
        expect(name_error).to_be_visible()
        expect(dialog.get_by_label("Domain name")).to_have_attribute("aria-invalid", "true")
        assert not DomainRecord.objects.filter(family=family).exists()
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_have_count(0)

        # A good one, with its first record: the card appears from the answer and the event.
        card = _add_domain(page, family.pk, "garden.example", record="192.0.2.20")
        expect(count).to_have_text("1")
        domain = DomainRecord.objects.get(name="garden.example")
        assert list(domain.dns_records.values_list("rtype", "value")) == [("A", "192.0.2.20")]
        expect(card.locator(".score-value")).to_have_text(str(domain.sovereignty_score))

        # A record the API refuses reads next to its field; a good one is confirmed on the card.
        card.get_by_role("button", name="Add DNS record").click()
        dialog.get_by_label("Value").fill("not-an-address")
        dialog.get_by_role("button", name="Add record").click()
        expect(dialog.locator('[data-error-for="value"]')).to_be_visible()
        dialog.get_by_label("Type").select_option("TXT")
        dialog.get_by_label("Value").fill("v=spf1 -all")
        dialog.get_by_role("button", name="Add record").click()
        expect(dialog).to_have_count(0)
        expect(card.locator(".action-note")).to_contain_text("TXT record added")
        assert DnsRecord.objects.filter(domain=domain, rtype="TXT").count() == 1

        # A domain created elsewhere (through the API) appears without a reload.
        status, created = _api(
            web, "POST", "domains/", "rivera", {"family": family.pk, "name": "api-made.example"}
        )
        assert status == 201, created
        expect(page.locator(f"#domain-{created['id']}")).to_be_visible()
        expect(count).to_have_text("2")

        # Register on Pubky with a key the family holds, proven by scanning the QR code.
        keypair = Keypair.random()
        card.get_by_role("button", name="Register on Pubky").click()
        dialog.get_by_label("We hold it ourselves").check()
        dialog.get_by_label("Public key").fill(keypair.public_key.z32())
        dialog.get_by_role("button", name="Register on Pubky").click()
        expect(dialog.locator(".form-error")).to_contain_text("Prove that you hold this key")
        dialog.get_by_role("button", name="Prove with my authenticator").click()
        qr = dialog.get_by_role("img", name="QR code of the key proof request")
        expect(qr).to_be_visible()
        assert int(qr.get_attribute("data-modules") or 0) >= 21
        link = dialog.locator("a.pubkyauth-link").get_attribute("href") or ""
        assert link.startswith("pubkyauth://")
        screenshot(page, "actions-key-proof-qr")
        approval = _approve_in_background(keypair, link)
        expect(dialog.locator('.proof-status[data-status="proven"]')).to_be_visible(timeout=40_000)
        approval()
        dialog.get_by_role("button", name="Register on Pubky").click()
        expect(dialog).to_have_count(0, timeout=30_000)
        # The service does not hold this key: the family signs and publishes the packet.
        expect(card.get_by_text("Pubky · draft")).to_be_visible()
        expect(card.get_by_text("Self-custody key")).to_be_visible()
        expect(card.get_by_role("button", name="Republish")).to_have_count(0)
        pubky = PubkyDomain.objects.get(domain=domain)
        assert pubky.public_key == keypair.public_key.z32()
        assert pubky.key_custody == "family"
        assert pubky.key_verification == "proven"

        # The other one with a key the service holds: signed and published at once.
        other = page.locator(f"#domain-{created['id']}")
        other.get_by_role("button", name="Register on Pubky").click()
        dialog.get_by_role("button", name="Register on Pubky").click()
        expect(dialog).to_have_count(0, timeout=30_000)
        expect(other.get_by_text("Pubky · active")).to_be_visible()
        expect(other.get_by_text("Key held by service")).to_be_visible()

        # Republish and recalculate say what they did, next to the buttons.
        other.get_by_role("button", name="Republish").click()
        expect(other.locator(".action-note")).to_contain_text("Published to 2 of 2 relays")
        other.get_by_role("button", name="Recalculate score").click()
        expect(other.locator(".action-note")).to_contain_text("Score recalculated")
        total = DomainRecord.objects.get(pk=created["id"]).sovereignty_score
        expect(other.locator(".score-value")).to_have_text(str(total))
        assert _load_id(page) == load_id, "the page reloaded"
        screenshot(page, "actions-desktop")
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _approve_in_background(keypair: Keypair, url: str) -> Any:
    """Approve a pubkyauth link as an authenticator app would (on a thread: the relay holds
    the request until the service takes it)."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            pubkyauth.approve(keypair, pubkyauth.AuthRequest.parse(url), timeout=30)
        except BaseException as exc:  # reported by join()
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join() -> None:
        thread.join(timeout=35)
        assert not thread.is_alive(), "the approval never reached the service"
        assert not failures, failures

    return join


def test_a_domain_moves_from_dns_to_pubky_with_a_guardians_approval_in_another_browser(
    web: Process, browser: Any, dns_server: LoopbackDnsServer
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory(username="rivera")
    UserFactory(username="rosa")
    family = FamilyFactory(
        owner=owner, name="Rivera Family", guardian_approval_required=True, guardian_threshold=1
    )
    admin_context = _context(browser, permissions=["clipboard-read", "clipboard-write"])
    guardian_context = _context(browser)
    admin, admin_errors = _open(admin_context)
    guardian, guardian_errors = _open(guardian_context)
    try:
        _sign_in(admin, web, "rivera")
        admin_load = _load_id(admin)

        # The admin invites Rosa, who already agreed, as a guardian.
        admin.get_by_role("button", name="Invite guardian").click()
        dialog = _dialog(admin)
        dialog.get_by_label("Name", exact=True).fill("Grandma Rosa")
        dialog.get_by_label("Username here").fill("rosa")
        dialog.get_by_label("Status").select_option("active")
        dialog.get_by_role("button", name="Invite").click()
        expect(dialog).to_have_count(0)
        expect(admin.locator(".guardian", has_text="Grandma Rosa")).to_contain_text(
            "Active guardian"
        )
        assert FederationGuardian.objects.get(family=family, user__username="rosa").status == (
            "active"
        )

        # Rosa signs in elsewhere: she sees the family, may decide, may not change anything.
        _sign_in(guardian, web, "rosa")
        guardian_load = _load_id(guardian)
        expect(guardian.get_by_role("heading", name="Rivera Family")).to_be_visible()
        expect(guardian.get_by_role("button", name="Add domain")).to_have_count(0)
        expect(guardian.get_by_role("button", name="Invite guardian")).to_have_count(0)

        # The admin adds the domain: Rosa's page shows it live.
        card = _add_domain(admin, family.pk, "journey.example", record="192.0.2.30")
        domain = DomainRecord.objects.get(name="journey.example")
        rosa_card = guardian.locator(f"#domain-{domain.pk}")
        expect(rosa_card).to_be_visible()
        expect(rosa_card.get_by_role("button", name="Add DNS record")).to_have_count(0)

        # The admin starts the move: the DNS challenge shows with a copy button.
        card.get_by_role("button", name="Move to Pubky").click()
        panel = card.locator(".migration-panel")
        expect(panel).to_be_visible()
        migration = DomainMigration.objects.get(domain=domain)
        value = panel.locator('[data-copy="value"]')
        expect(value).to_have_value(migration.challenge_value)
        expect(panel.locator('[data-copy="name"]')).to_have_value(migration.challenge_name)
        panel.locator('[data-copy-button="value"]').click()
        expect(panel.locator(".copy-status").last).to_have_text("Copied")
        assert admin.evaluate("navigator.clipboard.readText()") == migration.challenge_value
        expect(panel.locator('[data-step="dns"]')).to_have_attribute("aria-current", "step")

        # Rosa's page follows: the migration is there, with her decision to make.
        rosa_panel = rosa_card.locator(".migration-panel")
        expect(rosa_panel).to_be_visible()
        expect(rosa_panel.get_by_role("button", name="Approve")).to_be_visible()
        expect(rosa_panel.get_by_role("button", name="Check DNS record")).to_have_count(0)
        expect(rosa_panel.locator(".challenge")).to_have_count(0)

        # Checking before the TXT record exists: the reason in plain words, next to the button.
        panel.get_by_role("button", name="Check DNS record").click()
        expect(panel.locator(".action-error")).to_contain_text(
            "The DNS check did not find the challenge record yet"
        )
        screenshot(admin, "actions-migration-challenge")

        # The family publishes the record at their DNS provider; now the check passes.
        dns_server.set_txt(migration.challenge_name, migration.challenge_value)
        panel.get_by_role("button", name="Check DNS record").click()
        expect(panel.locator('[data-step="dns"]')).to_have_class("step done")
        expect(panel.locator('[data-step="approval"]')).to_have_attribute("aria-current", "step")
        expect(panel.locator('[data-step="approval"]')).to_contain_text("0 of 1")
        expect(rosa_panel.locator('[data-step="dns"]')).to_have_class("step done")

        # Carrying it out before the guardian approved is refused, in plain words.
        panel.get_by_role("button", name="Carry out migration").click()
        expect(panel.locator(".action-error")).to_contain_text(
            "This migration needs 1 guardian approval before it can be carried out"
        )

        # Rosa approves in her browser; the admin's page sees the approval arrive.
        rosa_panel.get_by_role("button", name="Approve").click()
        expect(rosa_panel).to_contain_text("You approved this migration.")
        expect(panel.locator('[data-step="approval"]')).to_contain_text("1 of 1")
        screenshot(guardian, "actions-guardian-approval")

        # The admin carries it out: the domain is on Pubky, on both pages, without a reload.
        panel.get_by_role("button", name="Carry out migration").click()
        expect(card.get_by_text("Pubky · active")).to_be_visible(timeout=30_000)
        expect(card.locator(".migration-state")).to_have_text("completed")
        expect(card.locator(".migration-panel")).to_have_count(0)
        expect(rosa_card.get_by_text("Pubky · active")).to_be_visible()
        expect(rosa_card.locator(".migration-state")).to_have_text("completed")
        migration.refresh_from_db()
        assert migration.state == "completed"
        assert PubkyDomain.objects.get(domain=domain).status == "active"
        # Now on Pubky, the card offers to republish instead of to move.
        expect(card.get_by_role("button", name="Republish")).to_be_visible()
        expect(card.get_by_role("button", name="Move to Pubky")).to_have_count(0)
        assert _load_id(admin) == admin_load, "the admin's page reloaded"
        assert _load_id(guardian) == guardian_load, "the guardian's page reloaded"
        screenshot(admin, "actions-migration-completed")

        # The admin removes the guardian (asked twice). Rosa's page hears of it, and as she
        # no longer guards the family, it leaves her page altogether.
        row = admin.locator(".guardian", has_text="Grandma Rosa")
        row.get_by_role("button", name="Remove").click()
        row.get_by_role("button", name="Remove Grandma Rosa?").click()
        expect(row).to_contain_text("Guardian · revoked")
        expect(guardian.get_by_text("No families yet")).to_be_visible()
        assert FederationGuardian.objects.get(family=family).status == "revoked"
    finally:
        admin_context.close()
        guardian_context.close()
    assert not admin_errors, f"JavaScript errors on the admin's page: {admin_errors}"
    assert not guardian_errors, f"JavaScript errors on the guardian's page: {guardian_errors}"


def test_actions_a_member_may_not_take_are_not_shown_and_the_api_refuses_them(
    web: Process, browser: Any
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory(username="rivera")
    family = FamilyFactory(owner=owner, name="Rivera Family")
    MembershipFactory(family=family, user=UserFactory(username="sam"), role=FamilyRole.MEMBER)
    MembershipFactory(family=family, user=UserFactory(username="vic"), role=FamilyRole.VIEWER)
    FederationGuardian.objects.create(family=family, name="Grandma Rosa", status="active")
    DomainFactory(family=family, name="shared.example")

    context = _context(browser)
    page, errors = _open(context)
    try:
        # A member changes domains but does not manage guardians.
        _sign_in(page, web, "sam")
        guardians = page.locator(f"#guardians-{family.pk}")
        expect(guardians).to_contain_text("Grandma Rosa")
        expect(page.get_by_role("button", name="Add domain")).to_be_visible()
        expect(page.get_by_role("button", name="Invite guardian")).to_have_count(0)
        expect(guardians.get_by_role("button", name="Remove")).to_have_count(0)
        status, body = _api(
            web, "POST", f"families/{family.pk}/guardians/", "sam", {"name": "Someone"}
        )
        assert status == 403, body
        guardian = FederationGuardian.objects.get(family=family)
        status, body = _api(web, "PATCH", f"guardians/{guardian.pk}/", "sam", {"status": "revoked"})
        assert status == 403, body
        assert FederationGuardian.objects.get(family=family).status == "active"

        # A viewer reads everything and changes nothing.
        page.get_by_role("button", name="Sign out").click()
        _sign_in(page, web, "vic")
        expect(page.locator("article.domain", has_text="shared.example")).to_be_visible()
        expect(page.get_by_role("button", name="Add domain")).to_have_count(0)
        expect(page.locator(".actions")).to_have_count(0)
        status, body = _api(
            web, "POST", "domains/", "vic", {"family": family.pk, "name": "nope.example"}
        )
        assert status == 403, body
        assert not DomainRecord.objects.filter(name="nope.example").exists()
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_the_actions_fit_a_phone_screen(web: Process, browser: Any) -> None:
    from playwright.sync_api import expect

    owner = UserFactory(username="rivera")
    family = FamilyFactory(owner=owner, name="Rivera Family")
    FederationGuardian.objects.create(family=family, name="Uncle Tomás", status="invited")
    context = _context(browser, viewport=PHONE)
    page, errors = _open(context)
    try:
        _sign_in(page, web, "rivera")
        card = _add_domain(page, family.pk, "a-rather-long-domain-name-for-a-phone.example")
        card.get_by_role("button", name="Move to Pubky").click()
        expect(card.locator(".challenge")).to_be_visible()
        expect(card.locator('[data-copy="value"]')).not_to_have_value("")
        wide = page.evaluate(OVERFLOW_JS)
        assert not wide, f"the phone layout is wider than the screen: {wide[:5]}"
        screenshot(page, "actions-phone")

        # Every control can be reached and pressed (none is hidden under another).
        card.get_by_role("button", name="Check DNS record").click(trial=True)
        card.get_by_role("button", name="Copy").first.click(trial=True)
        page.locator(".guardian", has_text="Uncle Tomás").get_by_role(
            "button", name="Mark active"
        ).click(trial=True)

        # The forms fit too.
        page.get_by_role("button", name="Invite guardian").click()
        expect(_dialog(page)).to_be_visible()
        wide = page.evaluate(OVERFLOW_JS)
        assert not wide, f"the dialog is wider than the screen: {wide[:5]}"
        _dialog(page).get_by_role("button", name="Invite").click(trial=True)
        screenshot(page, "actions-phone-dialog")
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
