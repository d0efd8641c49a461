from __future__ import annotations

from django.contrib import admin

from guardians.models import FederationGuardian, GuardianApproval, GuardianNotification
from pubkyproject.admin_mixins import ReadOnlyAdminMixin


@admin.register(FederationGuardian)
class FederationGuardianAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "family",
        "user",
        "status",
        "pubky_backup_status",
        "pubky_backup_last_updated",
    )
    list_filter = ("family", "pubky_backup_status", "status")
    search_fields = ("name", "email", "user__username", "family__name", "pubky_public_key")
    list_select_related = ("family", "user")
    autocomplete_fields = ("family", "user")


@admin.register(GuardianApproval)
class GuardianApprovalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("migration", "guardian", "decision", "created_at")
    list_filter = ("decision",)
    list_select_related = ("migration__domain", "guardian")


@admin.register(GuardianNotification)
class GuardianNotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "family", "guardian", "created_at", "read_at")
    list_filter = ("kind", "family")
    search_fields = ("title", "message")
    list_select_related = ("family", "guardian")
