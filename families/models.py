"""Users, families, membership, family keypairs, explicit access grants and security events."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone

from families import keyvault
from families.validators import validate_pubky_url, validate_public_key
from pubkyproject.text_limits import bounded_text_field, text_length_constraint


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    PUBLIC = "public", "Public"


class SealedKeyMixin:
    """Access to a sealed Ed25519 seed without ever exposing it in repr, forms or serializers."""

    sealed_key_field: ClassVar[str]

    def set_private_key(self, seed: bytes) -> None:
        setattr(self, self.sealed_key_field, keyvault.seal(seed))

    def get_private_key(self) -> bytes:
        sealed = getattr(self, self.sealed_key_field)
        if not sealed:
            raise keyvault.KeyVaultError("no private key is stored for this object")
        return keyvault.unseal(sealed)

    @property
    def has_private_key(self) -> bool:
        return bool(getattr(self, self.sealed_key_field))


class KeyVerification(models.TextChoices):
    """How we know a stored public key belongs to whoever claims it."""

    HELD = "held", "Held by this service (sealed at rest)"
    PROVEN = "proven", "Proven by its holder (pubkyauth)"
    UNVERIFIED = "unverified", "Claimed, not proven"


class User(SealedKeyMixin, AbstractUser):
    sealed_key_field = "pubky_private_key_encrypted"

    pubky_url = models.CharField(max_length=512, blank=True, validators=[validate_pubky_url])
    pubky_public_key = models.CharField(
        max_length=52, blank=True, null=True, unique=True, validators=[validate_public_key]
    )
    pubky_private_key_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    pubky_key_verification = models.CharField(
        max_length=16,
        choices=KeyVerification.choices,
        default=KeyVerification.UNVERIFIED,
        db_default=KeyVerification.UNVERIFIED,
    )
    pubky_key_proof = models.ForeignKey(
        "families.KeyProof",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The proof of possession that attached a self-held identity key.",
    )

    class Meta:
        db_table = "users"

    def __str__(self) -> str:
        return self.username


# The longest family description, in characters (API, model and a CHECK constraint).
FAMILY_DESCRIPTION_MAX_LENGTH = 2000


class Family(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = bounded_text_field(FAMILY_DESCRIPTION_MAX_LENGTH, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_families"
    )
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    pubky_url = models.CharField(max_length=512, blank=True, validators=[validate_pubky_url])
    pubky_public_key = models.CharField(
        max_length=52, blank=True, null=True, unique=True, validators=[validate_public_key]
    )
    pubky_homeserver_url = models.URLField(max_length=512, blank=True)
    pubky_relay_url = models.URLField(max_length=512, blank=True)
    pubky_enabled = models.BooleanField(default=False)
    pubky_key_verification = models.CharField(
        max_length=16,
        choices=KeyVerification.choices,
        default=KeyVerification.HELD,
        db_default=KeyVerification.HELD,
    )
    pubky_key_proof = models.ForeignKey(
        "families.KeyProof",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The proof of possession that attached a self-held identity key.",
    )
    homeserver_public_key = models.CharField(
        max_length=52,
        blank=True,
        db_default="",
        validators=[validate_public_key],
        help_text="The key of the homeserver the family runs itself (proven by pubkyauth).",
    )
    homeserver_key_proof = models.ForeignKey(
        "families.KeyProof",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    homeserver_proven_at = models.DateTimeField(null=True, blank=True)
    guardian_approval_required = models.BooleanField(
        default=False, help_text="Domain migrations need guardian approval before publishing."
    )
    guardian_threshold = models.PositiveSmallIntegerField(
        default=1, help_text="How many guardians (m of n) must approve a migration."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "families"
        verbose_name_plural = "families"
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(guardian_threshold__gte=1), name="family_guardian_threshold_positive"
            ),
            models.CheckConstraint(
                condition=Q(pubky_enabled=False) | ~Q(pubky_public_key=None),
                name="family_pubky_enabled_needs_key",
            ),
            text_length_constraint(
                "description", FAMILY_DESCRIPTION_MAX_LENGTH, "family_description_length"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC


class FamilyRole(models.TextChoices):
    """Roles in order of power; the access policy compares them by rank."""

    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"


ROLE_RANK: dict[str, int] = {
    FamilyRole.VIEWER: 10,
    FamilyRole.MEMBER: 20,
    FamilyRole.ADMIN: 30,
    FamilyRole.OWNER: 40,
}


class FamilyMembership(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="family_memberships"
    )
    role = models.CharField(max_length=16, choices=FamilyRole.choices, default=FamilyRole.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "family_memberships"
        constraints = [
            models.UniqueConstraint(fields=["family", "user"], name="unique_family_member"),
        ]
        indexes = [models.Index(fields=["user", "family"], name="membership_user_family")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.family_id} as {self.role}"

    @property
    def rank(self) -> int:
        return ROLE_RANK[self.role]


class PubkyKeypairQuerySet(models.QuerySet["PubkyKeypair"]):
    def active(self) -> PubkyKeypairQuerySet:
        return self.filter(is_active=True)


class PubkyKeypair(SealedKeyMixin, models.Model):
    """A family's Ed25519 keypair; the seed is sealed at rest and only services open it."""

    sealed_key_field = "private_key_encrypted"

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="keypairs")
    label = models.CharField(max_length=100, blank=True)
    public_key = models.CharField(max_length=52, unique=True, validators=[validate_public_key])
    private_key_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = PubkyKeypairQuerySet.as_manager()

    class Meta:
        db_table = "pubky_keypairs"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["family"],
                condition=Q(is_active=True),
                name="one_active_keypair_per_family",
            ),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(revoked_at=None),
                name="active_keypair_not_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_key} ({'active' if self.is_active else 'inactive'})"


class GrantPermission(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class AccessGrantQuerySet(models.QuerySet["AccessGrant"]):
    def current(self) -> AccessGrantQuerySet:
        now = timezone.now()
        return self.filter(revoked_at=None).filter(Q(expires_at=None) | Q(expires_at__gt=now))


class AccessGrant(models.Model):
    """An explicit grant of read or write access to one object, optionally expiring."""

    grantee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_grants"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="grants_given",
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    permission = models.CharField(
        max_length=8, choices=GrantPermission.choices, default=GrantPermission.READ
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AccessGrantQuerySet.as_manager()

    class Meta:
        db_table = "access_grants"
        indexes = [
            models.Index(fields=["grantee", "content_type", "object_id"], name="grant_lookup"),
            models.Index(fields=["content_type", "object_id"], name="grant_target"),
        ]

    def __str__(self) -> str:
        return f"{self.permission} on {self.content_type_id}:{self.object_id} for {self.grantee_id}"

    @property
    def is_current(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )


class KeyProofStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the key holder"
    PROVEN = "proven", "Proven"
    EXPIRED = "expired", "Expired"
    FAILED = "failed", "Failed"


class KeyProof(SealedKeyMixin, models.Model):
    """A request that the holder of ``public_key`` sign an AuthToken for ``user`` (pubkyauth).

    The pubkyauth client secret is sealed at rest like a private key: whoever has it can read
    the approval off the relay. A proof belongs to the user who asked for it and is only ever
    used for that user's claims.
    """

    sealed_key_field = "secret_encrypted"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="key_proofs"
    )
    public_key = models.CharField(max_length=52, validators=[validate_public_key])
    status = models.CharField(
        max_length=16, choices=KeyProofStatus.choices, default=KeyProofStatus.PENDING
    )
    relay_url = models.URLField(max_length=512, help_text="The HTTP relay base (…/link).")
    secret_encrypted = models.BinaryField(editable=False)
    failure_reason = models.TextField(blank=True)
    token_timestamp = models.BigIntegerField(
        null=True, blank=True, help_text="Timestamp (µs) of the AuthToken that proved the key."
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    proven_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "key_proofs"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="proven") | ~Q(proven_at=None),
                name="key_proof_proven_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="key_proof_pending"),
            models.Index(fields=["user", "public_key"], name="key_proof_user_key"),
        ]

    def __str__(self) -> str:
        return f"proof of {self.public_key} for {self.user_id} [{self.status}]"


class SecurityEventKind(models.TextChoices):
    LOGIN_SUCCEEDED = "login_succeeded", "Signed in"
    LOGOUT = "logout", "Signed out"
    LOGIN_FAILED = "login_failed", "Failed login"
    KEY_PROOF_REQUESTED = "key_proof_requested", "Key proof requested"
    KEY_PROOF_MADE = "key_proof_made", "Key possession proven"
    KEY_PROOF_FAILED = "key_proof_failed", "Key proof failed"
    KEY_CLAIM_ATTACHED = "key_claim_attached", "Self-held key attached"
    KEY_CLAIM_SUSPENDED = "key_claim_suspended", "Unproven key claim suspended"
    TOKEN_INVALID = "token_invalid", "Invalid or expired token"
    ACCESS_DENIED = "access_denied", "Access denied"
    RATE_LIMITED = "rate_limited", "Rate limit hit"
    PRIVATE_KEY_USED = "private_key_used", "Private key used"
    KEY_ROTATED = "key_rotated", "Encryption key rotated"
    RELAY_DOWN = "relay_down", "Relay went down"
    RELAY_UP = "relay_up", "Relay came back"
    GUARDIAN_ACTION = "guardian_action", "Guardian action"


class SecurityEvent(models.Model):
    """Append-only security audit trail (failed logins, denials, key use, …)."""

    kind = models.CharField(max_length=32, choices=SecurityEventKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="security_events",
    )
    username = models.CharField(max_length=150, blank=True, help_text="As given, for failures.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    target = models.CharField(max_length=255, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "security_audit_events"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "-created_at"], name="security_kind_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.username or self.user_id or ''} {self.target}".strip()

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("security events are append-only")
        super().save(*args, **kwargs)
