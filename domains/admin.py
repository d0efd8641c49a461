"""The admin of domains, Pubky domains, migrations, scores and relays, with their actions.

The actions call the same services as the API and ask the same access policy rule
(``families.admin_actions.policy_action``): republish a Pubky domain, check its relays now,
recalculate scores, advance / retry / cancel / roll back a migration; on families, recalculate
the scores of their domains and republish their Pubky domains. A service error becomes an
admin message in plain words (:func:`explain_service_error`).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from domains.models import (
    DnsRecord,
    DomainMigration,
    DomainRecord,
    PkarrRecord,
    PubkyDomain,
    PubkyDomainStatus,
    RelayStatus,
    SovereigntyScore,
)
from domains.services.facts import pkarr_records_verify
from domains.services.migration import (
    MigrationError,
    domain_migration_cancel,
    domain_migration_retry,
    domain_migration_rollback,
)
from domains.services.migration.advance import domain_migration_advance
from domains.services.publishing import PublishOutcome, pubky_domain_publish
from domains.services.relays import RelayCheck, relay_statuses_check, relay_urls_to_check
from domains.services.scoring import calculate_sovereignty_score
from domains.services.wording import count_of, migration_problem, network_problem, relay_problem
from families.admin_actions import policy_action
from families.models import Family
from pubky.errors import PubkyError
from pubkyproject import policy
from pubkyproject.admin_actions import (
    ActionFailed,
    Confirmation,
    RegisteredActionsMixin,
    admin_actions_register,
)
from pubkyproject.admin_mixins import ReadOnlyAdminMixin
from pubkyproject.pubky_client import PubkyNetworkError, PubkyServiceError, PublishFailed

#: Why a score was stored, in the score history, when an admin asked for it.
RECALCULATED = "recalculated"


# --- plain words for the services' errors -------------------------------------------------------


def _relay_failures(results: Any) -> str:
    return "; ".join(
        f"{r.relay_url}: {relay_problem(r.error or '', r.status)}" for r in results if not r.ok
    )


def explain_service_error(exc: Exception) -> str | None:
    """A Pubky service's error as a sentence an admin understands (None: not one of them)."""
    if isinstance(exc, PublishFailed):
        failures = _relay_failures(exc.results)
        return "no relay took the packet" + (f" ({failures})" if failures else "")
    if isinstance(exc, MigrationError):
        return migration_problem(str(exc))
    if isinstance(exc, PubkyNetworkError | PubkyError):
        meaning = network_problem(str(exc))
        return f"a Pubky relay or homeserver {meaning}" if meaning else str(exc)
    if isinstance(exc, PubkyServiceError):
        return str(exc)
    return None


def _rule_change(principal: policy.Principal, obj: Any) -> bool:
    return policy.can_change(principal, obj)


# How messages name what an action ran on.


def domain_label(domain: DomainRecord) -> str:
    return f"Domain {domain.name}"


def pubky_domain_label(pubky_domain: PubkyDomain) -> str:
    return f"Pubky domain {pubky_domain.name}"


def family_label(family: Family) -> str:
    return f"Family {family.name}"


def migration_label(migration: DomainMigration) -> str:
    return f"Migration {migration.pk} of {migration.domain.name}"


# --- scores -------------------------------------------------------------------------------------


def _recalculated(domain: DomainRecord) -> str:
    before = domain.sovereignty_score
    row = calculate_sovereignty_score(domain=domain, reason=RECALCULATED)
    if row.total == before:
        return f"score {row.total}/100, unchanged"
    return f"score {row.total}/100 (was {before})"


def _recalculate_domain(request: HttpRequest, domain: DomainRecord, reason: str) -> str:
    return _recalculated(domain)


recalculate_domain_scores = policy_action(
    label=domain_label,
    name="recalculate_scores",
    description="Recalculate the sovereignty score",
    verb="recalculated",
    rule=_rule_change,
    run=_recalculate_domain,
    explain=explain_service_error,
    refusal="only members of its family (or holders of a write grant) may recalculate it",
)


def _recalculate_linked(request: HttpRequest, pubky_domain: PubkyDomain, reason: str) -> str:
    domain = pubky_domain.domain
    if domain is None:
        raise ActionFailed("it has no registrar-side domain, so it has no score of its own")
    return _recalculated(domain)


recalculate_pubky_domain_scores = policy_action(
    label=pubky_domain_label,
    name="recalculate_scores",
    description="Recalculate the sovereignty score of its domain",
    verb="recalculated",
    rule=_rule_change,
    run=_recalculate_linked,
    explain=explain_service_error,
    refusal="only members of its family (or holders of a write grant) may recalculate it",
)


def _family_domains_rule(principal: policy.Principal, family: Family) -> bool:
    # The right to change the family's domains, asked as the API asks it for a new domain.
    return policy.can_change(principal, DomainRecord(family=family))


def _recalculate_family(request: HttpRequest, family: Family, reason: str) -> str:
    domains = list(DomainRecord.objects.filter(family=family).order_by("name"))
    if not domains:
        return "no domains to score"
    changed = []
    for domain in domains:
        before = domain.sovereignty_score
        row = calculate_sovereignty_score(domain=domain, reason=RECALCULATED)
        if row.total != before:
            changed.append(f"{domain.name} {before} → {row.total}")
    text = f"{count_of(len(domains), 'domain')} scored"
    return text + (f"; changed: {', '.join(changed)}" if changed else "; no score changed")


recalculate_family_scores = policy_action(
    label=family_label,
    name="recalculate_family_scores",
    description="Recalculate the sovereignty scores of their domains",
    verb="recalculated",
    rule=_family_domains_rule,
    run=_recalculate_family,
    explain=explain_service_error,
    refusal="only members of the family may recalculate its domains' scores",
)


# --- publishing and relays ----------------------------------------------------------------------


def _published(outcome: PublishOutcome) -> str:
    total = len(outcome.attempts)
    text = f"published on {len(outcome.succeeded)} of {count_of(total, 'relay')}"
    failures = _relay_failures(outcome.results())
    return text + (f"; {failures}" if failures else "")


def _republish(request: HttpRequest, pubky_domain: PubkyDomain, reason: str) -> str:
    return _published(pubky_domain_publish(pubky_domain=pubky_domain))


republish_pubky_domains = policy_action(
    label=pubky_domain_label,
    name="republish",
    description="Republish now (sign and put the packet on every relay)",
    verb="republished",
    rule=_rule_change,
    run=_republish,
    explain=explain_service_error,
    refusal="only members of its family (or holders of a write grant) may republish it",
)


def _family_pubky_rule(principal: policy.Principal, family: Family) -> bool:
    return policy.can_change(principal, PubkyDomain(family=family))


# A disabled domain was retired (its copies lapse on purpose) and a suspended one is someone
# else's key; a draft was never published. Each can still be republished on its own.
_REPUBLISHABLE = (PubkyDomainStatus.ACTIVE, PubkyDomainStatus.ERROR)


def _republish_family(request: HttpRequest, family: Family, reason: str) -> str:
    pubky_domains = list(
        PubkyDomain.objects.filter(family=family, status__in=_REPUBLISHABLE).order_by("name")
    )
    if not pubky_domains:
        raise ActionFailed("it has no active Pubky domain to publish")
    done: list[str] = []
    failed: list[str] = []
    for pubky_domain in pubky_domains:
        try:
            outcome = pubky_domain_publish(pubky_domain=pubky_domain)
        except PubkyServiceError as exc:
            failed.append(f"{pubky_domain.name}: {explain_service_error(exc)}")
        else:
            done.append(f"{pubky_domain.name} ({_published(outcome)})")
    if not done:
        raise ActionFailed("; ".join(failed))
    text = f"republished {len(done)} of {count_of(len(pubky_domains), 'Pubky domain')}: "
    text += "; ".join(done)
    return text + (f". Not republished: {'; '.join(failed)}" if failed else "")


republish_family_pubky_domains = policy_action(
    label=family_label,
    name="republish_family_pubky_domains",
    description="Republish their Pubky domains now",
    verb="republished",
    rule=_family_pubky_rule,
    run=_republish_family,
    explain=explain_service_error,
    refusal="only members of the family may republish its Pubky domains",
)


_RELAY_CHECKS = "_admin_relay_checks"


def _relay_checks(request: HttpRequest) -> list[RelayCheck]:
    """Probe the configured relays once per admin request (the selection shares them)."""
    checks = getattr(request, _RELAY_CHECKS, None)
    if checks is None:
        checks = relay_statuses_check(relay_urls=relay_urls_to_check())
        setattr(request, _RELAY_CHECKS, checks)
    return checks


def _check_relays(request: HttpRequest, pubky_domain: PubkyDomain, reason: str) -> str:
    checks = _relay_checks(request)
    up = [c for c in checks if c.result.ok]
    text = f"{len(up)} of {count_of(len(checks), 'relay')} up"
    down = "; ".join(
        f"{c.url}: {relay_problem(c.result.error or '', c.result.status)}"
        for c in checks
        if not c.result.ok
    )
    if down:
        text += f" ({down})"
    published = pubky_domain.pkarr_records.count()
    if not published:
        return text + "; it was never published on any relay"
    serving = pkarr_records_verify(pubky_domain=pubky_domain)
    return text + f"; {serving} of {count_of(published, 'relay')} serve its current packet"


check_pubky_domain_relays = policy_action(
    label=pubky_domain_label,
    name="check_relays",
    description="Check its relays now",
    verb="checked",
    rule=_rule_change,
    run=_check_relays,
    explain=explain_service_error,
    refusal="only members of its family (or holders of a write grant) may check its relays",
)


def _operator_rule(principal: policy.Principal, relay: RelayStatus) -> bool:
    # A relay serves every family: its health is operators' business, like the audit trail.
    return policy.can_read_audit(principal)


def relay_label(relay: RelayStatus) -> str:
    return f"Relay {relay.url}"


def _check_relay(request: HttpRequest, relay: RelayStatus, reason: str) -> str:
    if relay.url not in relay_urls_to_check():
        raise ActionFailed("it is no longer configured (PUBKY_RELAYS), so it is not checked")
    (check,) = relay_statuses_check(relay_urls=[relay.url])
    if check.result.ok:
        text = f"up ({check.result.latency_ms:.0f} ms)"
    else:
        text = f"down: {relay_problem(check.result.error or '', check.result.status)}"
    if check.transition is not None:
        text += f"; it went {check.transition}"
        if check.notified_families:
            text += f", {count_of(check.notified_families, 'family', 'families')} told"
    return text


check_relays_now = policy_action(
    label=relay_label,
    name="check_now",
    description="Check now",
    verb="checked",
    rule=_operator_rule,
    run=_check_relay,
    explain=explain_service_error,
    refusal="only staff check relays",
)


# --- migrations ---------------------------------------------------------------------------------


def _state(migration: DomainMigration) -> str:
    return f"now {migration.get_state_display().lower()}"


def _advance(request: HttpRequest, migration: DomainMigration, reason: str) -> str:
    return _state(domain_migration_advance(migration=migration))


def _retry(request: HttpRequest, migration: DomainMigration, reason: str) -> str:
    return _state(domain_migration_retry(migration=migration)) + "; advance it to go on"


def _cancel(request: HttpRequest, migration: DomainMigration, reason: str) -> str:
    return _state(domain_migration_cancel(migration=migration, reason=reason or "cancelled"))


def _rollback(request: HttpRequest, migration: DomainMigration, reason: str) -> str:
    return _state(domain_migration_rollback(migration=migration, reason=reason))


_MIGRATION_REFUSAL = "only members of the domain's family (or holders of a write grant) may"

advance_migrations = policy_action(
    label=migration_label,
    name="advance",
    description="Advance (check the DNS challenge, or carry out a verified migration)",
    verb="advanced",
    rule=_rule_change,
    run=_advance,
    explain=explain_service_error,
    refusal=f"{_MIGRATION_REFUSAL} advance it",
)
retry_migrations = policy_action(
    label=migration_label,
    name="retry",
    description="Retry from the step that failed",
    verb="retried",
    rule=_rule_change,
    run=_retry,
    explain=explain_service_error,
    refusal=f"{_MIGRATION_REFUSAL} retry it",
)
cancel_migrations = policy_action(
    label=migration_label,
    name="cancel",
    description="Cancel…",
    verb="cancelled",
    rule=_rule_change,
    run=_cancel,
    explain=explain_service_error,
    confirm=Confirmation(
        question="Cancel these migrations for good? Each domain keeps the status it had "
        "before; a cancelled migration cannot be retried (open a new one).",
        button="Yes, cancel them",
        input_label="Reason",
        input_help="Recorded on the migration and told to the family's guardians.",
    ),
    refusal=f"{_MIGRATION_REFUSAL} cancel it",
)
rollback_migrations = policy_action(
    label=migration_label,
    name="rollback",
    description="Roll back…",
    verb="rolled back",
    rule=_rule_change,
    run=_rollback,
    explain=explain_service_error,
    confirm=Confirmation(
        question="Roll back these completed migrations? Each domain gets back its DNS records "
        "and settings from before the migration; a Pubky domain the migration created is "
        "disabled and its relay copies lapse.",
        button="Yes, roll them back",
        input_label="Reason",
        input_help="Recorded on the migration.",
    ),
    refusal=f"{_MIGRATION_REFUSAL} roll it back",
)

admin_actions_register(Family, recalculate_family_scores, republish_family_pubky_domains)


class DnsRecordInline(admin.TabularInline):
    model = DnsRecord
    extra = 0
    fields = ("name", "rtype", "value", "ttl")


@admin.register(DomainRecord)
class DomainRecordAdmin(admin.ModelAdmin):
    actions = (recalculate_domain_scores,)
    list_display = ("name", "family", "status", "sovereignty_score", "pubky_enabled", "visibility")
    list_filter = ("status", "pubky_enabled", "visibility", "family")
    search_fields = ("name", "family__name", "registrar")
    list_select_related = ("family",)
    autocomplete_fields = ("family", "owner")
    readonly_fields = ("sovereignty_score", "created_at", "updated_at")
    inlines = (DnsRecordInline,)


class PkarrRecordInline(admin.TabularInline):
    model = PkarrRecord
    extra = 0
    can_delete = False
    fields = ("relay_url", "status", "http_status", "latency_ms", "published_at", "expires_at")
    readonly_fields = fields

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(PubkyDomain)
class PubkyDomainAdmin(admin.ModelAdmin):
    actions = (republish_pubky_domains, check_pubky_domain_relays, recalculate_pubky_domain_scores)
    list_display = ("name", "family", "public_key", "status", "key_custody", "last_published_at")
    list_filter = ("status", "key_custody", "visibility")
    search_fields = ("name", "public_key", "family__name")
    list_select_related = ("family",)
    readonly_fields = (
        "public_key",
        "key_custody",
        "last_packet_timestamp",
        "last_published_at",
        "created_at",
        "updated_at",
    )
    fields = (
        "name",
        "family",
        "domain",
        "public_key",
        "key_custody",
        "pubky_url",
        "homeserver_url",
        "visibility",
        "status",
        "last_packet_timestamp",
        "last_published_at",
        "created_at",
        "updated_at",
    )
    autocomplete_fields = ("family", "domain")
    inlines = (PkarrRecordInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Registration generates and seals a key: only the register service creates these.
        return False


@admin.register(DomainMigration)
class DomainMigrationAdmin(RegisteredActionsMixin, admin.ModelAdmin):
    """Migrations are started by the API; here they are moved on (guardians' decisions are
    added by the guardians app)."""

    actions = (advance_migrations, retry_migrations, cancel_migrations, rollback_migrations)
    list_display = ("domain", "direction", "state", "approvals_required", "created_at")
    list_filter = ("state", "direction")
    search_fields = ("domain__name",)
    list_select_related = ("domain",)
    readonly_fields = (
        "domain",
        "pubky_domain",
        "direction",
        "state",
        "challenge_name",
        "challenge_value",
        "verified_at",
        "approvals_required",
        "previous_state",
        "error",
        "created_by",
        "created_at",
        "updated_at",
        "completed_at",
        "rolled_back_at",
    )

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(SovereigntyScore)
class SovereigntyScoreAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "domain",
        "total",
        "provider_independence",
        "key_ownership",
        "censorship_resistance",
        "privacy",
        "portability",
        "calculated_at",
    )
    list_filter = ("calculated_at", "rubric_version")
    search_fields = ("domain__name",)
    list_select_related = ("domain",)
    date_hierarchy = "calculated_at"


@admin.register(RelayStatus)
class RelayStatusAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    actions = (check_relays_now,)
    list_display = ("url", "is_up", "latency_ms", "last_status_code", "last_checked_at")
    list_filter = ("is_up",)
