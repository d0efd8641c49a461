from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest

from families.models import (
    AccessGrant,
    Family,
    FamilyMembership,
    KeyProof,
    PubkyKeypair,
    SecurityEvent,
    User,
)
from pubkyproject import policy
from pubkyproject.admin_actions import RegisteredActionsMixin
from pubkyproject.admin_mixins import ReadOnlyAdminMixin


class PolicyAdminMixin:
    """Staff who are not superusers see and change what ``pubkyproject.policy`` allows them.

    Superusers keep Django's own rules (everything). For other staff the changelist is scoped
    with ``policy.scope`` and each object is checked with ``policy.can_read``/``can_change``,
    so the admin, the API and the WebSocket consumer decide alike. Adding and deleting keep
    Django's model permissions.
    """

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        if request.user.is_superuser:
            return queryset
        return policy.scope(request.user, queryset)

    def _policy_applies(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and not user.is_superuser)

    def has_module_permission(self, request: HttpRequest) -> bool:
        if self._policy_applies(request):
            return True
        return super().has_module_permission(request)  # type: ignore[misc]

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if not self._policy_applies(request):
            return super().has_view_permission(request, obj)  # type: ignore[misc]
        return obj is None or policy.can_read(request.user, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if not self._policy_applies(request):
            return super().has_change_permission(request, obj)  # type: ignore[misc]
        return obj is None or policy.can_change(request.user, obj)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,  # type: ignore[misc]
        ("Pubky", {"fields": ("pubky_public_key", "pubky_url", "has_private_key")}),
    )
    readonly_fields = ("has_private_key",)
    list_display = ("username", "email", "pubky_public_key", "is_staff", "is_active")

    @admin.display(boolean=True, description="Private key stored (encrypted)")
    def has_private_key(self, obj: User) -> bool:
        return obj.has_private_key


class FamilyMembershipInline(admin.TabularInline):
    model = FamilyMembership
    extra = 0
    autocomplete_fields = ("user",)


class PubkyKeypairInline(admin.TabularInline):
    """Public parts only: keypairs are created and rotated by services, never typed in."""

    model = PubkyKeypair
    extra = 0
    can_delete = False
    fields = ("public_key", "label", "is_active", "created_at", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Family)
class FamilyAdmin(RegisteredActionsMixin, PolicyAdminMixin, admin.ModelAdmin):
    """Families; their actions (recalculate their domains' scores, republish their Pubky
    domains) come from the domains app (``pubkyproject.admin_actions``)."""

    list_display = ("name", "slug", "owner", "visibility", "pubky_enabled", "member_count")
    list_filter = ("pubky_enabled", "visibility", "guardian_approval_required")
    search_fields = ("name", "slug", "owner__username", "pubky_public_key")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("owner",)
    readonly_fields = ("pubky_public_key", "created_at", "updated_at")
    # The guardians app adds its inline (guardians.admin): families sits below guardians.
    inlines = (FamilyMembershipInline, PubkyKeypairInline)
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "owner", "visibility")}),
        (
            "Pubky",
            {
                "fields": (
                    "pubky_enabled",
                    "pubky_public_key",
                    "pubky_url",
                    "pubky_homeserver_url",
                    "pubky_relay_url",
                )
            },
        ),
        ("Guardians", {"fields": ("guardian_approval_required", "guardian_threshold")}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Family]:
        return (
            super()
            .get_queryset(request)
            .select_related("owner")
            .annotate(_member_count=Count("memberships", distinct=True))
        )

    @admin.display(description="Members", ordering="_member_count")
    def member_count(self, obj: Family) -> int:
        return getattr(obj, "_member_count", 0)


@admin.register(PubkyKeypair)
class PubkyKeypairAdmin(ReadOnlyAdminMixin, PolicyAdminMixin, admin.ModelAdmin):
    list_display = ("public_key", "family", "label", "is_active", "created_at", "revoked_at")
    list_filter = ("is_active",)
    search_fields = ("public_key", "family__name")
    list_select_related = ("family",)
    fields = (
        "family",
        "public_key",
        "label",
        "is_active",
        "created_by",
        "created_at",
        "revoked_at",
    )


@admin.register(AccessGrant)
class AccessGrantAdmin(PolicyAdminMixin, admin.ModelAdmin):
    list_display = (
        "grantee",
        "content_type",
        "object_id",
        "permission",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("permission", "content_type")
    search_fields = ("grantee__username",)
    autocomplete_fields = ("grantee", "granted_by")
    list_select_related = ("grantee", "content_type")


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The security audit trail: every staff member may browse it (``policy.can_read_audit``)."""

    list_display = ("created_at", "kind", "user", "username", "ip_address", "target")
    list_filter = ("kind", "created_at")
    search_fields = ("username", "user__username", "target", "ip_address")
    date_hierarchy = "created_at"
    list_select_related = ("user",)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return policy.can_read_audit(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return policy.can_read_audit(request.user) or super().has_view_permission(request, obj)


@admin.register(KeyProof)
class KeyProofAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Proofs of key possession (pubkyauth); the sealed client secret is never shown."""

    list_display = ("created_at", "user", "public_key", "status", "proven_at", "expires_at")
    list_filter = ("status", "created_at")
    search_fields = ("public_key", "user__username")
    list_select_related = ("user",)
    exclude = ("secret_encrypted",)
