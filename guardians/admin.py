"""The admin of guardians, their decisions and notifications, with their actions.

Guardians: ask for a fresh key backup, check a backup now. Migrations (offered on the
domains app's migration admin): approve or reject as a guardian. Each action calls the
service the API calls and asks the same policy rule (``families.admin_actions``).
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from domains.admin import explain_service_error, migration_label
from domains.models import DomainMigration
from families.admin import FamilyAdmin
from families.admin_actions import policy_action
from families.models import User
from guardians.backups import guardian_backup_verify
from guardians.models import (
    APPROVAL_COMMENT_MAX_LENGTH,
    FederationGuardian,
    GuardianApproval,
    GuardianNotification,
)
from guardians.services import (
    guardian_backup_request,
    guardian_migration_approve,
    guardian_migration_reject,
)
from pubkyproject import policy
from pubkyproject.admin_actions import Confirmation, admin_actions_register
from pubkyproject.admin_mixins import ReadOnlyAdminMixin


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def guardian_label(guardian: FederationGuardian) -> str:
    return f"Guardian {guardian.name} of {guardian.family.name}"


# --- decisions on migrations --------------------------------------------------------------------


def _approve(request: HttpRequest, migration: DomainMigration, reason: str) -> str:
    guardian_migration_approve(user=_user(request), migration=migration, comment=reason)
    migration.refresh_from_db()
    return f"approved by you; the migration is {migration.get_state_display().lower()}"


def _reject(request: HttpRequest, migration: DomainMigration, reason: str) -> str:
    guardian_migration_reject(user=_user(request), migration=migration, comment=reason)
    migration.refresh_from_db()
    return f"rejected by you; the migration is {migration.get_state_display().lower()}"


_DECIDE_REFUSAL = "only an active guardian of the domain's family decides on its migrations"

approve_migrations = policy_action(
    label=migration_label,
    name="approve_as_guardian",
    description="Approve as guardian",
    verb="approved",
    rule=policy.can_decide_migration,
    run=_approve,
    explain=explain_service_error,
    refusal=_DECIDE_REFUSAL,
)
reject_migrations = policy_action(
    label=migration_label,
    name="reject_as_guardian",
    description="Reject as guardian…",
    verb="rejected",
    rule=policy.can_decide_migration,
    run=_reject,
    explain=explain_service_error,
    confirm=Confirmation(
        question="Reject these migrations as their family's guardian? A rejection fails the "
        "migration at once, and a rejected migration is not retried.",
        button="Yes, reject them",
        input_label="Comment",
        input_help="Shown to the family with your decision.",
        input_max_length=APPROVAL_COMMENT_MAX_LENGTH,
    ),
    refusal=_DECIDE_REFUSAL,
)

admin_actions_register(DomainMigration, approve_migrations, reject_migrations)


# --- guardians ----------------------------------------------------------------------------------


def _request_backup(request: HttpRequest, guardian: FederationGuardian, reason: str) -> str:
    guardian_backup_request(user=_user(request), guardian=guardian)
    return "asked for a fresh backup (notified)"


def _check_backup(request: HttpRequest, guardian: FederationGuardian, reason: str) -> str:
    if guardian_backup_verify(guardian=guardian):
        return "the backup answers and is current"
    guardian.refresh_from_db()
    problem = guardian.pubky_backup_check_error or "not verified"
    return f"checked: the backup does not count ({problem})"


_ADMINISTER_REFUSAL = "only administrators of the guardian's family may"

request_guardian_backups = policy_action(
    label=guardian_label,
    name="request_backup",
    description="Ask for a fresh key backup",
    verb="asked",
    rule=policy.can_administer,
    run=_request_backup,
    explain=explain_service_error,
    refusal=f"{_ADMINISTER_REFUSAL} ask for a backup",
)
check_guardian_backups = policy_action(
    label=guardian_label,
    name="check_backup",
    description="Check the backup now",
    verb="checked",
    rule=policy.can_administer,
    run=_check_backup,
    explain=explain_service_error,
    refusal=f"{_ADMINISTER_REFUSAL} check a backup",
)


@admin.register(FederationGuardian)
class FederationGuardianAdmin(admin.ModelAdmin):
    actions = (request_guardian_backups, check_guardian_backups)
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


class GuardianInline(admin.TabularInline):
    model = FederationGuardian
    extra = 0
    fields = ("name", "user", "status", "pubky_backup_status", "pubky_backup_last_updated")
    readonly_fields = ("pubky_backup_last_updated",)
    autocomplete_fields = ("user",)
    show_change_link = True


# The family page lists its guardians (families sits below guardians, so the inline is added here).
FamilyAdmin.inlines = (*FamilyAdmin.inlines, GuardianInline)  # type: ignore[assignment]
