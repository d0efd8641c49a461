from __future__ import annotations

from django.contrib import admin

from domains.models import (
    DnsRecord,
    DomainMigration,
    DomainRecord,
    PkarrRecord,
    PubkyDomain,
    RelayStatus,
    SovereigntyScore,
)
from pubkyproject.admin_mixins import ReadOnlyAdminMixin


class DnsRecordInline(admin.TabularInline):
    model = DnsRecord
    extra = 0
    fields = ("name", "rtype", "value", "ttl")


@admin.register(DomainRecord)
class DomainRecordAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request: object) -> bool:
        # Registration generates and seals a key: only the register service creates these.
        return False


@admin.register(DomainMigration)
class DomainMigrationAdmin(admin.ModelAdmin):
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
    list_display = ("url", "is_up", "latency_ms", "last_status_code", "last_checked_at")
    list_filter = ("is_up",)
