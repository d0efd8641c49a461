"""The dashboard's charts in a real browser, drawn from history stored in PostgreSQL.

The rows are written here through the ORM and the services (score calculations, relay probes
as ``check_relays`` keeps them, usage counters as resolving and publishing count them); the
page reads them only through the API. With ``SCREENSHOTS_DIR`` set, the screenshots test also
writes the README's pictures there (``scripts/screenshots``).
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from domains.models import (
    DnsRecord,
    DomainMigration,
    PkarrRecord,
    PubkyDomain,
    RelayProbe,
    RelayStatus,
    SovereigntyScore,
)
from domains.services.scoring import calculate_sovereignty_score
from domains.services.usage import pubky_domain_usage_record
from guardians.models import GuardianNotification
from realtime.activity import domain_topics
from realtime.models import OutboxEvent
from tests.browser.conftest import DESKTOP, base_url, screenshot
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

RELAY = "http://127.0.0.1:15411"
SECOND_RELAY = "http://127.0.0.1:15413"
PUBLIC_KEY = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"
PHONE = {"width": 375, "height": 812}
# (days ago, provider independence, key ownership, censorship resistance, privacy, portability)
SCORES = [
    (6, 10, 0, 5, 10, 5),
    (4, 10, 10, 5, 10, 10),
    (2, 15, 10, 15, 10, 15),
    (0.2, 15, 20, 15, 12, 18),
]
DOWN_HOURS = {3, 10}  # hours ago (of the first relay) whose probe failed
OVERFLOW_JS = (
    "() => [...document.querySelectorAll('body *')]"
    ".filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5"
    " || (el.classList.contains('card') && el.scrollWidth > el.clientWidth + 1))"
    ".map((el) => el.tagName + '.' + el.getAttribute('class'))"
)


def _interpolated(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _history() -> dict[str, Any]:
    """A family whose domain has a week of scores, usage and relays with a day of probes."""
    now = timezone.now()
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
        last_published_at=now - timedelta(hours=1),
    )
    for relay_url in (RELAY, SECOND_RELAY):
        PkarrRecord.objects.create(
            pubky_domain=pubky, relay_url=relay_url, status="published", served_timestamp=1
        )
    shop = DomainFactory(family=family, name="rivera-shop.example", registrar="Reg Co.")
    DnsRecord.objects.create(domain=shop, rtype="A", value="192.0.2.11")
    calculate_sovereignty_score(domain=shop, reason="created")
    DomainMigration.objects.create(
        domain=shop, direction="dns_to_pubky", state="verifying", approvals_required=1
    )
    GuardianFactory(
        family=family,
        name="Grandma Rosa",
        pubky_backup_status="current",
        pubky_backup_verified_at=now,
    )
    GuardianFactory(family=family, name="Uncle Tomás", pubky_backup_status="stale")
    GuardianNotification.objects.create(
        family=family,
        kind="relay_down",
        title="Relay 127.0.0.1:15411 is down",
        message="1 of your Pubky domains is published on it; it stays reachable through the "
        "other relays. The relay at 127.0.0.1:15411 did not answer (connection refused: it is "
        "not running or not accepting connections).",
    )

    scores = []
    for days, *parts in SCORES:
        names = ("provider_independence", "key_ownership", "censorship_resistance")
        row = SovereigntyScore.objects.create(
            domain=domain,
            total=sum(parts),
            **dict(zip(names, parts[:3], strict=True)),
            privacy=parts[3],
            portability=parts[4],
            reason="history",
        )
        at = now - timedelta(days=days)
        SovereigntyScore.objects.filter(pk=row.pk).update(calculated_at=at)
        scores.append((at, sum(parts)))
    domain.sovereignty_score = scores[-1][1]
    domain.save(update_fields=["sovereignty_score"])

    latencies: dict[str, list[float]] = {RELAY: [], SECOND_RELAY: []}
    for hours_ago in range(24):
        at = now - timedelta(hours=hours_ago, minutes=30)
        for url, base in ((RELAY, 12.0), (SECOND_RELAY, 30.0)):
            ok = not (url == RELAY and hours_ago in DOWN_HOURS)
            value = base + (hours_ago % 5) * 2.5
            RelayProbe.objects.create(
                url=url, checked_at=at, ok=ok, latency_ms=value if ok else None
            )
            if ok:
                latencies[url].append(value)
    for url, latest in ((RELAY, 12.0), (SECOND_RELAY, 30.0)):
        RelayStatus.objects.create(url=url, is_up=True, latency_ms=latest, last_checked_at=now)

    hour = now.replace(minute=0, second=0, microsecond=0)
    for hours_ago, resolves in ((30, 4), (12, 2), (1, 7)):  # three 7-hour buckets
        for _ in range(resolves):
            pubky_domain_usage_record(
                pubky_domain=pubky, kind="resolve", at=hour - timedelta(hours=hours_ago)
            )
    pubky_domain_usage_record(pubky_domain=pubky, kind="publish", at=hour - timedelta(hours=26))
    pubky_domain_usage_record(pubky_domain=pubky, kind="republish", at=hour - timedelta(hours=2))
    return {"domain": domain, "scores": scores, "latencies": latencies, "pubky": pubky}


def _sign_in(page: Any, url: str) -> None:
    page.goto(url)
    page.get_by_label("Username").fill("rivera")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()


def _open_charts(page: Any, domain_id: int) -> Any:
    from playwright.sync_api import expect

    card = page.locator(f"#domain-{domain_id}")
    card.get_by_text("History and activity").click()
    expect(card.locator("svg.score-chart")).to_be_visible()
    expect(card.locator("svg.activity-chart")).to_be_visible()
    return card


def _day_label(at: datetime) -> str:
    return f"{at:%b} {at.day}"


def test_the_score_chart_draws_every_stored_calculation_on_a_dated_axis(
    web: Any, page: Any
) -> None:
    from playwright.sync_api import expect

    history = _history()
    domain, scores = history["domain"], history["scores"]
    _sign_in(page, base_url(web))
    card = _open_charts(page, domain.pk)
    chart = card.locator("svg.score-chart")

    expect(chart).to_have_attribute("data-points", str(len(scores)))
    points = chart.locator("circle.point")
    expect(points).to_have_count(len(scores))
    values = [int(v) for v in points.evaluate_all("(els) => els.map((e) => e.dataset.value)")]
    assert values == [total for _, total in scores]
    xs = points.evaluate_all("(els) => els.map((e) => Number(e.getAttribute('cx')))")
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    ys = points.evaluate_all("(els) => els.map((e) => Number(e.getAttribute('cy')))")
    assert ys == sorted(ys, reverse=True)  # every score higher than the last: drawn higher
    # The time axis names days (the page runs in UTC), from the first calculation to now.
    labels = chart.locator(".x-label").all_text_contents()
    first, now = scores[0][0], timezone.now()
    days = {_day_label(first + timedelta(days=n)) for n in range((now - first).days + 2)}
    assert len(labels) >= 2
    assert set(labels) <= days, labels
    assert chart.locator(".y-label").all_text_contents() == ["0", "25", "50", "75", "100"]
    # The five components are stacked under the total.
    bands = chart.locator("polygon.band")
    expect(bands).to_have_count(5)
    assert bands.evaluate_all("(els) => els.map((e) => e.dataset.component)") == [
        "provider_independence",
        "key_ownership",
        "censorship_resistance",
        "privacy",
        "portability",
    ]
    expect(card.locator(".chart-legend").first).to_contain_text("Censorship resistance")

    # A new calculation arrives live: the open panel stays open and redraws with it.
    calculate_sovereignty_score(domain=domain, reason="recalculated", force=True)
    expect(chart).to_have_attribute("data-points", str(len(scores) + 1), timeout=15_000)
    expect(card.locator("details.charts-panel")).to_have_attribute("open", "")


def test_the_activity_chart_counts_resolves_publishes_and_events_per_hour(
    web: Any, page: Any
) -> None:
    from playwright.sync_api import expect

    history = _history()
    domain = history["domain"]
    events = OutboxEvent.objects.filter(topic__in=domain_topics(domain)).count()
    _sign_in(page, base_url(web))
    card = _open_charts(page, domain.pk)
    chart = card.locator("svg.activity-chart")

    def total(kind: str) -> int:
        values = chart.locator(f"rect.seg.{kind}").evaluate_all(
            "(els) => els.map((e) => Number(e.dataset.value))"
        )
        return sum(values)

    expect(chart.locator("rect.seg.resolves")).to_have_count(3)
    assert total("resolves") == 13
    assert total("publishes") == 1
    assert total("republishes") == 1
    assert total("events") == events
    labels = chart.locator(".x-label").all_text_contents()
    assert len(labels) >= 2 and all(re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}", x) for x in labels)
    # Events older than the outbox keeps are shaded, not drawn as zero.
    expect(chart.locator("rect.not-kept")).to_have_count(1)


def test_each_relay_shows_its_uptime_and_latency_over_the_last_day(web: Any, page: Any) -> None:
    from playwright.sync_api import expect

    history = _history()
    _sign_in(page, base_url(web))
    first = page.locator(f'.relay-history-item[data-url="{RELAY}"]')
    second = page.locator(f'.relay-history-item[data-url="{SECOND_RELAY}"]')

    p50 = _interpolated(history["latencies"][RELAY], 0.5)
    p95 = _interpolated(history["latencies"][RELAY], 0.95)
    expect(first.locator(".relay-figures")).to_have_text(
        f"91.7 % up · p50 {p50:.1f} ms · p95 {p95:.1f} ms"
    )
    expect(second.locator(".relay-figures")).to_contain_text("100 % up")
    chart = first.locator("svg.relay-chart")
    expect(chart.locator("rect.slot")).to_have_count(24)
    expect(chart.locator("rect.slot.down")).to_have_count(len(DOWN_HOURS))
    expect(chart.locator("rect.slot.up")).to_have_count(24 - len(DOWN_HOURS))
    expect(chart.locator("circle.latency-point.p50")).to_have_count(24 - len(DOWN_HOURS))
    expect(chart.locator("polyline.latency.p95")).to_have_count(1)
    labels = chart.locator(".x-label").all_text_contents()
    assert len(labels) >= 2
    assert all(re.fullmatch(r"\d{2}:00|[A-Z][a-z]{2} \d{1,2}", x) for x in labels), labels
    assert "ms" in (chart.get_attribute("aria-label") or "")


def test_the_phone_layout_stacks_the_cards_without_horizontal_overflow(
    browser: Any, web: Any
) -> None:
    from playwright.sync_api import expect

    history = _history()
    context = browser.new_context(viewport=PHONE, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _sign_in(page, base_url(web))
        expect(page.get_by_role("heading", name="Rivera Family")).to_be_visible()
        _open_charts(page, history["domain"].pk)
        expect(page.locator("svg.relay-chart")).to_have_count(2)
        wide = page.evaluate(OVERFLOW_JS)
        assert not wide, f"the phone layout is wider than the screen: {wide[:5]}"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        boxes = page.locator(".domain").evaluate_all(
            "(els) => els.map((e) => e.getBoundingClientRect()).map((r) => [r.left, r.top])"
        )
        assert len(boxes) == 2
        assert len({round(left) for left, _ in boxes}) == 1  # one column
        families = page.locator("#families").bounding_box()
        side = page.locator("aside.side").bounding_box()
        assert families and side and side["y"] >= families["y"] + families["height"] - 1
        for svg in page.locator("svg.chart").all():
            box = svg.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    finally:
        context.close()
    assert not errors, errors


def test_screenshots_of_the_main_views(browser: Any, web: Any, page: Any) -> None:
    """The README's pictures: the dashboard, a domain's history, the phone layout."""
    from playwright.sync_api import expect

    history = _history()
    target = os.environ.get("SCREENSHOTS_DIR")
    _sign_in(page, base_url(web))
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("svg.relay-chart")).to_have_count(2)
    shots: dict[str, Path] = {"dashboard": screenshot(page, "charts-dashboard")}
    page.set_viewport_size({"width": DESKTOP["width"], "height": 1600})  # the whole open card
    card = _open_charts(page, history["domain"].pk)
    shots["domain-history"] = _element_shot(card, "charts-domain-history")
    phone = browser.new_context(viewport=PHONE, locale="en-US", timezone_id="UTC")
    try:
        small = phone.new_page()
        _sign_in(small, base_url(web))
        expect(small.locator("svg.relay-chart")).to_have_count(2)
        _open_charts(small, history["domain"].pk)
        small.evaluate("() => window.scrollTo(0, 0)")  # the sticky top bar back on top
        shots["phone"] = screenshot(small, "charts-phone")
    finally:
        phone.close()
    for path in shots.values():
        assert path.stat().st_size > 10_000
    if target:
        folder = Path(target)
        folder.mkdir(parents=True, exist_ok=True)
        for name, path in shots.items():
            (folder / f"{name}.png").write_bytes(path.read_bytes())
    page.set_viewport_size(DESKTOP)


def _element_shot(locator: Any, name: str) -> Path:
    from tests.browser.conftest import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    locator.screenshot(path=str(path))
    return path
