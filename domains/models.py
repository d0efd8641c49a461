"""Domains, their DNS records, Pubky domains, PKARR publish state, migrations, scores, relays."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Now

from domains.validators import validate_domain_name, validate_record_name
from families.models import Family, KeyVerification, SealedKeyMixin, Visibility
from families.validators import validate_pubky_url, validate_public_key
from pubkyproject.text_limits import (
    MaxBytesValidator,
    bounded_text_field,
    text_length_constraint,
)


class DomainStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    MIGRATING = "migrating", "Migrating"
    SUSPENDED = "suspended", "Suspended"


class DomainRecord(models.Model):
    """A family's domain, under registrar DNS, Pubky, or moving between them."""

    # Unique through Meta.constraints rather than unique=True: the field option also builds a
    # varchar_pattern_ops index for LIKE queries that nothing here runs, and every index is
    # paid for on each score update (recalculate_scores writes 100,000 rows).
    name = models.CharField(max_length=253, validators=[validate_domain_name])
    # No index of its own: domain_family_name (family_id, name) serves lookups by family.
    family = models.ForeignKey(
        Family, on_delete=models.CASCADE, related_name="domains", db_index=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_domains",
    )
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    status = models.CharField(
        max_length=16, choices=DomainStatus.choices, default=DomainStatus.ACTIVE
    )
    registrar = models.CharField(max_length=200, blank=True)
    dns_provider = models.CharField(max_length=200, blank=True)
    self_hosted_homeserver = models.BooleanField(
        default=False,
        help_text="Verified, never declared: the domain's packet points (_pubky) at a homeserver "
        "whose key the family proved.",
    )
    self_hosted_verified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the self-hosting check last ran."
    )
    sovereignty_score = models.PositiveSmallIntegerField(default=0)
    pubky_enabled = models.BooleanField(default=False)
    pubky_homeserver_url = models.URLField(max_length=512, blank=True)
    pubky_relay_url = models.URLField(max_length=512, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "domain_records"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="domain_name_unique"),
            models.CheckConstraint(
                condition=Q(sovereignty_score__gte=0) & Q(sovereignty_score__lte=100),
                name="domain_score_range",
            ),
            models.CheckConstraint(condition=Q(name=Lower("name")), name="domain_name_lowercase"),
        ]
        indexes = [models.Index(fields=["family", "name"], name="domain_family_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC


class DnsRecordType(models.TextChoices):
    A = "A"
    AAAA = "AAAA"
    CNAME = "CNAME"
    TXT = "TXT"
    MX = "MX"
    NS = "NS"
    HTTPS = "HTTPS"
    SVCB = "SVCB"


# The longest DNS record value, in characters of presentation format (API, model and a CHECK
# constraint), and in bytes of UTF-8 (API and model: the value is part of a unique index). A
# whole signed Pubky packet carries at most 1000 bytes of DNS data, so no longer value could be
# published.
DNS_RECORD_VALUE_MAX_LENGTH = 1000
DNS_RECORD_VALUE_MAX_BYTES = 1000


class DnsRecord(models.Model):
    """One DNS record of a domain; ``value`` is in DNS presentation format (as in a zone file)."""

    domain = models.ForeignKey(DomainRecord, on_delete=models.CASCADE, related_name="dns_records")
    name = models.CharField(max_length=253, default="@", validators=[validate_record_name])
    rtype = models.CharField("type", max_length=8, choices=DnsRecordType.choices)
    value = bounded_text_field(
        DNS_RECORD_VALUE_MAX_LENGTH, validators=[MaxBytesValidator(DNS_RECORD_VALUE_MAX_BYTES)]
    )
    ttl = models.PositiveIntegerField(default=3600)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "dns_records"
        ordering = ["name", "rtype", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ttl__lte=2147483647), name="dns_ttl_range"),
            text_length_constraint("value", DNS_RECORD_VALUE_MAX_LENGTH, "dns_value_length"),
            models.UniqueConstraint(
                fields=["domain", "name", "rtype", "value"], name="unique_dns_record"
            ),
        ]
        indexes = [models.Index(fields=["domain", "name", "rtype"], name="dns_lookup")]

    def __str__(self) -> str:
        return f"{self.name} {self.ttl} IN {self.rtype} {self.value}"


class KeyCustody(models.TextChoices):
    SERVICE = "service", "Held by this service (encrypted)"
    FAMILY = "family", "Held by the family (self-custody)"


class PubkyDomainStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ERROR = "error", "Error"
    DISABLED = "disabled", "Disabled"
    SUSPENDED = "suspended", "Suspended (its key was proven by someone else)"


class PubkyDomain(SealedKeyMixin, models.Model):
    """A domain on Pubky: an Ed25519 key whose signed PKARR packet carries the domain's records."""

    sealed_key_field = "private_key_encrypted"

    name = models.CharField(max_length=253, unique=True)
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="pubky_domains")
    domain = models.OneToOneField(
        DomainRecord,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="pubky_domain",
    )
    # Unique among the live rows (see Meta): a suspended squatter keeps its key for the record.
    public_key = models.CharField(max_length=52, validators=[validate_public_key])
    private_key_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    key_custody = models.CharField(
        max_length=16, choices=KeyCustody.choices, default=KeyCustody.SERVICE
    )
    key_verification = models.CharField(
        max_length=16,
        choices=KeyVerification.choices,
        default=KeyVerification.UNVERIFIED,
        db_default=KeyVerification.UNVERIFIED,
        help_text="Service custody: held. Self-custody: proven by pubkyauth, or unverified.",
    )
    key_proof = models.ForeignKey(
        "families.KeyProof",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    key_proven_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.TextField(blank=True, db_default="")
    pubky_url = models.CharField(max_length=512, blank=True, validators=[validate_pubky_url])
    homeserver_url = models.URLField(max_length=512, blank=True)
    homeserver_key = models.CharField(
        max_length=52,
        blank=True,
        db_default="",  # raw-SQL writers (the NOTIFY path) need not know the column
        validators=[validate_public_key],
        help_text="The homeserver the domain's key has its account on; its packet's _pubky "
        "record points there, so pubky://<key>/… resolves.",
    )
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    status = models.CharField(
        max_length=16, choices=PubkyDomainStatus.choices, default=PubkyDomainStatus.DRAFT
    )
    last_packet_timestamp = models.BigIntegerField(
        null=True, blank=True, help_text="Timestamp (µs) of the last packet we signed."
    )
    last_published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "pubky_domains"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(key_custody=KeyCustody.FAMILY) | ~Q(private_key_encrypted=None),
                name="service_custody_needs_key",
            ),
            models.UniqueConstraint(
                fields=["public_key"],
                condition=~Q(status="suspended"),
                name="pubky_domain_live_key_unique",
                violation_error_message="A live Pubky domain already uses this public key.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_key})"


class PkarrPublishStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PUBLISHED = "published", "Published"
    FAILED = "failed", "Failed"


class PkarrRecord(models.Model):
    """Publish state of a Pubky domain's packet on one relay."""

    pubky_domain = models.ForeignKey(
        PubkyDomain, on_delete=models.CASCADE, related_name="pkarr_records"
    )
    relay_url = models.URLField(max_length=512)
    status = models.CharField(
        max_length=16, choices=PkarrPublishStatus.choices, default=PkarrPublishStatus.PENDING
    )
    packet_timestamp = models.BigIntegerField(null=True, blank=True)
    packet_ttl = models.PositiveIntegerField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    served_timestamp = models.BigIntegerField(
        null=True, blank=True, help_text="Timestamp (µs) of the packet the relay served when asked."
    )
    verified_at = models.DateTimeField(
        null=True, blank=True, help_text="When we last asked the relay what it serves."
    )

    class Meta:
        db_table = "pkarr_records"
        ordering = ["relay_url"]
        constraints = [
            models.UniqueConstraint(
                fields=["pubky_domain", "relay_url"], name="unique_pkarr_record_per_relay"
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="pkarr_republish")]

    def __str__(self) -> str:
        return f"{self.pubky_domain_id} @ {self.relay_url}: {self.status}"


class MigrationDirection(models.TextChoices):
    DNS_TO_PUBKY = "dns_to_pubky", "Registrar DNS → Pubky"
    PUBKY_TO_DNS = "pubky_to_dns", "Pubky → registrar DNS"


class MigrationState(models.TextChoices):
    PENDING = "pending", "Pending"
    VERIFYING = "verifying", "Verifying ownership"
    VERIFIED = "verified", "Verified"
    PUBLISHING = "publishing", "Publishing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    ROLLED_BACK = "rolled_back", "Rolled back"


OPEN_MIGRATION_STATES = (
    MigrationState.PENDING,
    MigrationState.VERIFYING,
    MigrationState.VERIFIED,
    MigrationState.PUBLISHING,
)


class DomainMigration(models.Model):
    """A move of a domain between registrar DNS and Pubky, as a state machine."""

    domain = models.ForeignKey(DomainRecord, on_delete=models.CASCADE, related_name="migrations")
    pubky_domain = models.ForeignKey(
        PubkyDomain, on_delete=models.SET_NULL, null=True, blank=True, related_name="migrations"
    )
    direction = models.CharField(max_length=16, choices=MigrationDirection.choices)
    state = models.CharField(
        max_length=16, choices=MigrationState.choices, default=MigrationState.PENDING
    )
    challenge_name = models.CharField(max_length=253, blank=True)
    challenge_value = models.CharField(max_length=128, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    approvals_required = models.PositiveSmallIntegerField(default=0)
    previous_state = models.JSONField(
        default=dict, blank=True, help_text="Snapshot taken before publishing, for rollback."
    )
    error = models.TextField(blank=True)
    failed_step = models.CharField(
        max_length=16,
        choices=MigrationState.choices,
        blank=True,
        db_default="",  # raw-SQL writers (the NOTIFY path) need not know the column
        help_text="The state the migration was in when it failed (where a retry resumes).",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "domain_migrations"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain"],
                condition=Q(state__in=OPEN_MIGRATION_STATES),
                name="one_open_migration_per_domain",
            ),
        ]
        indexes = [models.Index(fields=["state", "updated_at"], name="migration_state")]

    def __str__(self) -> str:
        return f"{self.domain_id} {self.direction} [{self.state}]"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_MIGRATION_STATES


COMPONENT_MAX = 20
SCORE_COMPONENTS = (
    "provider_independence",
    "key_ownership",
    "censorship_resistance",
    "privacy",
    "portability",
)


class SovereigntyScore(models.Model):
    """One calculation of a domain's sovereignty score with its breakdown (append-only history)."""

    domain = models.ForeignKey(
        DomainRecord, on_delete=models.CASCADE, related_name="sovereignty_scores"
    )
    total = models.PositiveSmallIntegerField()
    provider_independence = models.PositiveSmallIntegerField()
    key_ownership = models.PositiveSmallIntegerField()
    censorship_resistance = models.PositiveSmallIntegerField()
    privacy = models.PositiveSmallIntegerField()
    portability = models.PositiveSmallIntegerField()
    breakdown = models.JSONField(default=dict, help_text="Each component's facts and points.")
    rubric_version = models.PositiveSmallIntegerField(default=1)
    reason = models.CharField(max_length=100, blank=True)
    calculated_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "sovereignty_scores"
        ordering = ["-calculated_at", "-id"]
        get_latest_by = "calculated_at"
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    total=F("provider_independence")
                    + F("key_ownership")
                    + F("censorship_resistance")
                    + F("privacy")
                    + F("portability")
                ),
                name="score_total_is_sum",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__lte": COMPONENT_MAX}), name=f"score_{name}_range"
                )
                for name in SCORE_COMPONENTS
            ),
        ]
        indexes = [models.Index(fields=["domain", "-calculated_at"], name="score_history")]

    def __str__(self) -> str:
        return f"{self.domain_id}: {self.total} at {self.calculated_at:%Y-%m-%d %H:%M}"

    @property
    def components(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in SCORE_COMPONENTS}


class RelayStatus(models.Model):
    """Last known health of one PKARR relay, updated by ``check_relays``."""

    url = models.URLField(max_length=512, unique=True)
    is_up = models.BooleanField(null=True)
    latency_ms = models.FloatField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_changed_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the relay left PUBKY_RELAYS: no longer checked, shown or alerted about.",
    )

    class Meta:
        db_table = "relay_statuses"
        ordering = ["url"]
        verbose_name_plural = "relay statuses"

    def __str__(self) -> str:
        state = {True: "up", False: "down", None: "unknown"}[self.is_up]
        return f"{self.url} ({'retired' if self.retired_at else state})"


class RelayProbe(models.Model):
    """One health probe of a PKARR relay: the history behind :class:`RelayStatus`.

    Written by ``check_relays`` with every probe and pruned by the same worker once older than
    ``PUBKY_RELAY_HISTORY_DAYS``. Uptime and latency percentiles over a window are computed from
    these rows (``domains.selectors.relay_history``).
    """

    url = models.URLField(max_length=512)
    checked_at = models.DateTimeField()
    ok = models.BooleanField()
    latency_ms = models.FloatField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        db_table = "relay_probes"
        ordering = ["url", "checked_at"]
        indexes = [
            models.Index(fields=["url", "checked_at"], name="relay_probe_url_time"),
            models.Index(fields=["checked_at"], name="relay_probe_time"),
        ]

    def __str__(self) -> str:
        return f"{self.url} at {self.checked_at:%Y-%m-%d %H:%M:%S}: {'up' if self.ok else 'down'}"


class UsageKind(models.TextChoices):
    RESOLVE = "resolve", "Resolve"
    PUBLISH = "publish", "Publish"
    REPUBLISH = "republish", "Republish"


class PubkyDomainUsage(models.Model):
    """How often a Pubky domain was resolved, published and republished, counted per hour.

    One row per (domain, kind, hour), incremented in place
    (``domains.services.usage.pubky_domain_usage_record``); ``failures`` counts the attempts
    that found nothing (a resolve) or that no relay stored (a publish).
    """

    pubky_domain = models.ForeignKey(PubkyDomain, on_delete=models.CASCADE, related_name="usage")
    kind = models.CharField(max_length=16, choices=UsageKind.choices)
    hour = models.DateTimeField(help_text="Start of the hour (UTC) the counts belong to.")
    count = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "pubky_domain_usage"
        ordering = ["pubky_domain", "hour", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["pubky_domain", "kind", "hour"], name="pubky_domain_usage_hour"
            ),
            models.CheckConstraint(
                condition=Q(failures__lte=F("count")), name="pubky_domain_usage_failures_le_count"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pubky_domain_id} {self.kind} {self.hour:%Y-%m-%d %H}h: {self.count}"


class RescoreRequest(models.Model):
    """A durable request to recalculate one domain's score, queued when one of its facts changed.

    Rows are written by PostgreSQL triggers on the fact tables (any writer: ORM saves, bulk
    ``update()``, raw SQL) and by :func:`domains.services.rescoring.domain_rescore_request`;
    ``manage.py pubky_listen`` claims them once they are older than the debounce and
    recalculates each domain once however many rows it has (see ``domains.services.rescoring``).
    No foreign key: a write to a fact table never waits on the domain row, and requests for
    a domain deleted since are simply dropped.
    """

    domain_id = models.BigIntegerField()
    reason = models.CharField(max_length=63, blank=True, db_default="")
    requested_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "domain_rescore_queue"
        ordering = ["id"]
        indexes = [
            models.Index(fields=["domain_id"], name="rescore_queue_domain"),
            models.Index(fields=["requested_at"], name="rescore_queue_due"),
        ]

    def __str__(self) -> str:
        return f"rescore {self.domain_id} ({self.reason})"
