"""Federation guardians: people a family trusts to approve migrations and hold key backups."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from domains.models import DomainMigration
from families.models import Family
from families.validators import validate_public_key
from pubkyproject.text_limits import bounded_text_field, text_length_constraint


class GuardianStatus(models.TextChoices):
    INVITED = "invited", "Invited"
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"


class BackupStatus(models.TextChoices):
    NONE = "none", "No backup"
    PENDING = "pending", "Backup pending"
    CURRENT = "current", "Backup current"
    STALE = "stale", "Backup stale"
    FAILED = "failed", "Backup failed"


class GuardianQuerySet(models.QuerySet["FederationGuardian"]):
    def active(self) -> GuardianQuerySet:
        return self.filter(status=GuardianStatus.ACTIVE)


class FederationGuardian(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="guardians")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="guardianships",
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    pubky_public_key = models.CharField(max_length=52, blank=True, validators=[validate_public_key])
    status = models.CharField(
        max_length=16, choices=GuardianStatus.choices, default=GuardianStatus.INVITED
    )
    pubky_backup_status = models.CharField(
        max_length=16, choices=BackupStatus.choices, default=BackupStatus.NONE
    )
    pubky_backup_url = models.CharField(max_length=512, blank=True)
    pubky_backup_last_updated = models.DateTimeField(null=True, blank=True)
    pubky_backup_verified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the backup URL last answered on its homeserver, newer than the key.",
    )
    pubky_backup_checked_at = models.DateTimeField(null=True, blank=True)
    pubky_backup_check_error = models.TextField(blank=True, db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GuardianQuerySet.as_manager()

    class Meta:
        db_table = "federation_guardians"
        ordering = ["family_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["family", "user"],
                condition=Q(user__isnull=False),
                name="one_guardianship_per_user_and_family",
            ),
        ]
        indexes = [
            models.Index(fields=["family", "status"], name="guardian_family_status"),
            models.Index(fields=["pubky_backup_status"], name="guardian_backup_status"),
        ]

    def __str__(self) -> str:
        return f"{self.name} for {self.family_id}"


class ApprovalDecision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


# The longest comment a guardian leaves on a decision, in characters (API, model, CHECK).
APPROVAL_COMMENT_MAX_LENGTH = 1000


class GuardianApproval(models.Model):
    """A guardian's decision on a domain migration (m of n approvals gate publishing)."""

    migration = models.ForeignKey(
        DomainMigration, on_delete=models.CASCADE, related_name="approvals"
    )
    guardian = models.ForeignKey(
        FederationGuardian, on_delete=models.CASCADE, related_name="approvals"
    )
    decision = models.CharField(max_length=16, choices=ApprovalDecision.choices)
    comment = bounded_text_field(APPROVAL_COMMENT_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "guardian_approvals"
        constraints = [
            models.UniqueConstraint(
                fields=["migration", "guardian"], name="one_decision_per_guardian"
            ),
            text_length_constraint(
                "comment", APPROVAL_COMMENT_MAX_LENGTH, "approval_comment_length"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.guardian_id} {self.decision} {self.migration_id}"


class GuardianNotification(models.Model):
    """Something a family's guardians should know about (approval requests, relay outages, …)."""

    family = models.ForeignKey(
        Family, on_delete=models.CASCADE, related_name="guardian_notifications"
    )
    guardian = models.ForeignKey(
        FederationGuardian,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        help_text="Empty for notifications addressed to every guardian of the family.",
    )
    kind = models.CharField(max_length=64)
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "guardian_notifications"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["family", "-created_at"], name="notification_family")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"
