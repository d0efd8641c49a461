"""What each model change looks like on the wire: (topic, event type, data) triples.

Used by the ORM signal receivers and by the NOTIFY bridge alike, so a change reads the same
whichever way it was made. Each payload has the typed shape of its event type
(``pubkyproject.event_types``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Model

from domains.models import (
    DomainMigration,
    DomainRecord,
    PkarrRecord,
    PubkyDomain,
    RelayStatus,
    SovereigntyScore,
)
from families.models import AccessGrant, FamilyMembership
from guardians.models import FederationGuardian, GuardianNotification
from pubkyproject.event_types import (
    AccessChangedData,
    AccessGrantData,
    DnsRecordData,
    DomainData,
    DomainMigrationData,
    FamilyMembershipData,
    GuardianChangedData,
    GuardianData,
    GuardianNotificationData,
    PkarrRecordData,
    PubkyDomainData,
    RelayData,
    RelayStatusData,
    iso,
    sovereignty_score_event,
    sovereignty_score_object,
)
from pubkyproject.policy import paths_for
from realtime import topics

# (topic, event type, payload): the payload is one of the typed shapes of its event type.
Change = tuple[str, str, Mapping[str, Any]]

__all__ = ["Change", "changes_for", "iso", "registry"]


def pubky_domain(obj: Any, deleted: bool) -> list[Change]:
    return [(topics.pubky_domain(obj.pk), "pubky_domain_update", pubky_domain_data(obj, deleted))]


def pubky_domain_data(obj: Any, deleted: bool = False) -> PubkyDomainData:
    """One Pubky domain as its update, created and deleted events show it."""
    return PubkyDomainData(
        id=obj.pk,
        name=obj.name,
        familyId=obj.family_id,
        domainId=obj.domain_id,
        publicKey=obj.public_key,
        pubkyUrl=obj.pubky_url,
        status="deleted" if deleted else obj.status,
        keyCustody=obj.key_custody,
        lastPublishedAt=iso(obj.last_published_at),
    )


def pkarr_record(obj: Any, deleted: bool) -> list[Change]:
    data = PkarrRecordData(
        id=obj.pk,
        pubkyDomainId=obj.pubky_domain_id,
        relayUrl=obj.relay_url,
        status="deleted" if deleted else obj.status,
        httpStatus=obj.http_status,
        latencyMs=obj.latency_ms,
        packetTimestamp=obj.packet_timestamp,
        publishedAt=iso(obj.published_at),
        expiresAt=iso(obj.expires_at),
        error=obj.error,
    )
    return [(topics.pubky_domain(obj.pubky_domain_id), "pkarr_record_update", data)]


def sovereignty_score(obj: Any, deleted: bool) -> list[Change]:
    if deleted:
        return []
    # Events stay small (bulk recalculation publishes one per changed domain): the explained
    # breakdown is one request away (pubky_sovereignty_score, or GET /api/domains/{id}/score/).
    # The bulk path (domains.services.scoring) builds its events with the same two functions.
    score = sovereignty_score_object(
        domain_id=obj.domain_id,
        total=obj.total,
        components=obj.components,
        rubric_version=obj.rubric_version,
        calculated_at=obj.calculated_at,
    )
    data = sovereignty_score_event(score, score_id=obj.pk, reason=obj.reason)
    return [(topics.sovereignty_score(obj.domain_id), "pubky_sovereignty_score", data)]


def domain_migration(obj: Any, deleted: bool) -> list[Change]:
    data = domain_migration_data(obj, deleted)
    return [(topics.domain_migration(obj.pk), "domain_migration_update", data)]


def domain_migration_data(obj: Any, deleted: bool = False) -> DomainMigrationData:
    """One migration as its update, created and deleted events show it."""
    return DomainMigrationData(
        id=obj.pk,
        domainId=obj.domain_id,
        familyId=family_via_domain(obj),
        direction=obj.direction,
        state="deleted" if deleted else obj.state,
        approvalsRequired=obj.approvals_required,
        challengeName=obj.challenge_name,
        error=obj.error,
        updatedAt=iso(obj.updated_at),
    )


def family_via_domain(obj: Any) -> int | None:
    """The family of an object that belongs to a domain (a DNS record, a migration).

    Uses the domain already loaded when there is one; otherwise one query, which finds nothing
    when the domain is gone too (a raw-SQL delete of both, read back by the NOTIFY bridge).
    """
    cached = obj._state.fields_cache.get("domain")
    if cached is not None:
        return int(cached.family_id)
    family_id = (
        DomainRecord.objects.filter(pk=obj.domain_id).values_list("family_id", flat=True).first()
    )
    return int(family_id) if family_id is not None else None


def domain_data(obj: Any, deleted: bool = False) -> DomainData:
    """One domain as its created and deleted events show it (the dashboard's card)."""
    return DomainData(
        id=obj.pk,
        familyId=obj.family_id,
        name=obj.name,
        status="deleted" if deleted else obj.status,
        visibility=obj.visibility,
        sovereigntyScore=obj.sovereignty_score,
        pubkyEnabled=obj.pubky_enabled,
        createdAt=iso(obj.created_at),
        updatedAt=iso(obj.updated_at),
    )


def dns_record_data(obj: Any, deleted: bool = False) -> DnsRecordData:
    """One DNS record as its created and deleted events show it."""
    return DnsRecordData(
        id=obj.pk,
        domainId=obj.domain_id,
        familyId=family_via_domain(obj),
        name=obj.name,
        type=obj.rtype,
        value=obj.value,
        ttl=obj.ttl,
        updatedAt=iso(obj.updated_at),
    )


def relay_data(obj: Any) -> RelayData:
    """One relay as events and the ``pubky_relay_status`` reply show it."""
    return RelayData(
        url=obj.url,
        isUp=obj.is_up,
        latencyMs=obj.latency_ms,
        statusCode=obj.last_status_code,
        error=obj.last_error,
        lastCheckedAt=iso(obj.last_checked_at),
        lastChangedAt=iso(obj.last_changed_at),
    )


def relay_status(obj: Any, deleted: bool) -> list[Change]:
    data = relay_data(obj)
    if deleted:
        data["isUp"] = None
    return [(topics.RELAYS, "pubky_relay_status", RelayStatusData(relays=[data]))]


def guardian_notification(obj: Any, deleted: bool) -> list[Change]:
    if deleted:
        return []
    data = GuardianNotificationData(
        id=obj.pk,
        familyId=obj.family_id,
        guardianId=obj.guardian_id,
        kind=obj.kind,
        title=obj.title,
        message=obj.message,
        payload=obj.payload,
        createdAt=iso(obj.created_at),
    )
    return [(topics.family(obj.family_id), "pubky_guardian_notification", data)]


def guardian(obj: Any, deleted: bool) -> list[Change]:
    described = guardian_data(obj)
    if deleted:
        described["status"] = "removed"
    data = GuardianChangedData(
        kind="guardian_removed" if deleted else "guardian_updated",
        familyId=obj.family_id,
        guardian=described,
    )
    changes: list[Change] = [(topics.family(obj.family_id), "pubky_guardian_notification", data)]
    if obj.user_id:
        changes.append(access_changed_for(obj.user_id))
    return changes


def guardian_data(obj: Any) -> GuardianData:
    """One guardian as events and the ``pubky_guardian_status`` reply show it."""
    return GuardianData(
        id=obj.pk,
        name=obj.name,
        status=obj.status,
        backupStatus=obj.pubky_backup_status,
        backupUrl=obj.pubky_backup_url,
        backupLastUpdated=iso(obj.pubky_backup_last_updated),
    )


def access_changed_for(user_id: int) -> Change:
    """A control event: the user's access changed; their sockets re-check subscriptions."""
    return (topics.user(user_id), "access_changed", AccessChangedData(userId=user_id))


def membership_data(obj: Any, deleted: bool = False) -> FamilyMembershipData:
    """One family membership as its created and deleted events show it."""
    return FamilyMembershipData(
        id=obj.pk,
        familyId=obj.family_id,
        userId=obj.user_id,
        role=obj.role,
        createdAt=iso(obj.created_at),
    )


def access_grant_family(obj: Any) -> int | None:
    """The family an access grant's target belongs to (None when the target is gone)."""
    model = obj.content_type.model_class()
    if model is None:
        return None
    try:
        path = paths_for(model).family
    except TypeError:  # a target the access policy does not know has no family
        return None
    if path == "pk":
        return int(obj.object_id)
    value = model._default_manager.filter(pk=obj.object_id).values_list(path, flat=True).first()
    return int(value) if value is not None else None


def access_grant_data(obj: Any, deleted: bool = False) -> AccessGrantData:
    """One access grant as its created and deleted events show it."""
    return AccessGrantData(
        id=obj.pk,
        familyId=access_grant_family(obj),
        granteeId=obj.grantee_id,
        permission=obj.permission,
        targetType=obj.content_type.model,
        targetId=obj.object_id,
        expiresAt=iso(obj.expires_at),
        revokedAt=iso(obj.revoked_at),
    )


def membership(obj: Any, deleted: bool) -> list[Change]:
    return [access_changed_for(obj.user_id)]


def access_grant(obj: Any, deleted: bool) -> list[Change]:
    return [access_changed_for(obj.grantee_id)]


def _registry() -> dict[type[Model], Callable[[Any, bool], list[Change]]]:
    return {
        PubkyDomain: pubky_domain,
        PkarrRecord: pkarr_record,
        SovereigntyScore: sovereignty_score,
        DomainMigration: domain_migration,
        RelayStatus: relay_status,
        GuardianNotification: guardian_notification,
        FederationGuardian: guardian,
        FamilyMembership: membership,
        AccessGrant: access_grant,
    }


_REGISTRY: dict[type[Model], Callable[[Any, bool], list[Change]]] | None = None


def registry() -> dict[type[Model], Callable[[Any, bool], list[Change]]]:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _registry()
    return _REGISTRY


def changes_for(instance: Model, *, deleted: bool = False) -> list[Change]:
    builder = registry().get(type(instance))
    return builder(instance, deleted) if builder else []
