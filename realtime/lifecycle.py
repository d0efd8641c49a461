"""Created and deleted events on the family topic: what lets an open dashboard add and remove
cards without a reload.

Every model a family member sees as a card or a list entry is registered here once, with the
event name and the function that describes one object (the same description its update event
carries, when it has one: one shape per object). Saving a new row publishes
``<name>_created`` on ``family.<id>``; deleting one publishes ``<name>_deleted`` with its last
description (so a client knows which card to remove). Both go through the outbox in the
writer's transaction: a rolled-back write publishes nothing.

The ORM path uses the signal receivers below; the NOTIFY bridge (``realtime.services``) calls
:func:`lifecycle_changes` for raw-SQL inserts and deletes of the tables it watches.

Adding a model is one entry in :func:`_registrations`, e.g.::

    "families.KeyProof": Lifecycle("key_proof", fields=("id", "family_id", "public_key")),

and its shape in ``pubkyproject.event_types.LIFECYCLE_SHAPES`` (a test checks that every
registered name has one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db.models import Model
from django.db.models.signals import post_delete, post_save

from pubkyproject.event_types import GuardianListedData
from realtime import payloads, topics
from realtime.events import emit
from realtime.models import EventSource
from realtime.payloads import Change

Describe = Callable[[Any, bool], Mapping[str, Any]]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class Lifecycle:
    """How one model's creates and deletes read on the family topic.

    ``describe`` builds the event data from an instance (and whether it was deleted); without
    it the data is the named ``fields`` (attribute names, written in camelCase: ``family_id``
    becomes ``familyId``; datetimes as ISO 8601). The family comes from the data's
    ``familyId``; objects without a family publish nothing.
    """

    name: str
    describe: Describe | None = None
    fields: tuple[str, ...] = ()

    def data(self, instance: Any, deleted: bool) -> Mapping[str, Any]:
        if self.describe is not None:
            return self.describe(instance, deleted)
        data: dict[str, Any] = {}
        for field in self.fields:
            value = getattr(instance, field)
            data[_camel(field)] = payloads.iso(value) if hasattr(value, "isoformat") else value
        data.setdefault("id", instance.pk)
        return data


def _registrations() -> dict[str, Lifecycle]:
    """Model label -> how its creates and deletes are published (one line per model)."""
    return {
        "domains.DomainRecord": Lifecycle("domain", payloads.domain_data),
        "domains.DnsRecord": Lifecycle("dns_record", payloads.dns_record_data),
        "domains.PubkyDomain": Lifecycle("pubky_domain", payloads.pubky_domain_data),
        "domains.DomainMigration": Lifecycle("domain_migration", payloads.domain_migration_data),
        "guardians.FederationGuardian": Lifecycle("guardian", _guardian_data),
        "families.AccessGrant": Lifecycle("access_grant", payloads.access_grant_data),
        "families.FamilyMembership": Lifecycle("family_membership", payloads.membership_data),
    }


def _guardian_data(obj: Any, deleted: bool) -> GuardianListedData:
    data = payloads.guardian_data(obj)
    return GuardianListedData(
        id=data["id"],
        name=data["name"],
        status="removed" if deleted else data["status"],
        backupStatus=data["backupStatus"],
        backupUrl=data["backupUrl"],
        backupLastUpdated=data["backupLastUpdated"],
        familyId=obj.family_id,
    )


_REGISTRY: dict[type[Model], Lifecycle] | None = None


def registry() -> dict[type[Model], Lifecycle]:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = {
            apps.get_model(label): lifecycle for label, lifecycle in _registrations().items()
        }
    return _REGISTRY


def event_types() -> list[str]:
    """Every event type this module publishes (for docs and tests)."""
    names = [lifecycle.name for lifecycle in registry().values()]
    return [f"{name}_{what}" for name in names for what in ("created", "deleted")]


def lifecycle_changes(instance: Model, *, created: bool, deleted: bool) -> list[Change]:
    """The family-topic event for a created or deleted ``instance`` (none for an update)."""
    lifecycle = registry().get(type(instance))
    if lifecycle is None or not (created or deleted):
        return []
    data = lifecycle.data(instance, deleted)
    family_id = data.get("familyId")
    if family_id is None:
        return []
    kind = "deleted" if deleted else "created"
    return [(topics.family(int(family_id)), f"{lifecycle.name}_{kind}", data)]


def _publish(changes: Iterable[Change]) -> None:
    for topic, event_type, data in changes:
        emit(topic=topic, type=event_type, payload=data, source=EventSource.ORM)


def on_save(
    sender: type, instance: Any, created: bool = False, raw: bool = False, **_: Any
) -> None:
    if created and not raw:  # fixtures loading raw rows are not live changes
        _publish(lifecycle_changes(instance, created=True, deleted=False))


def on_delete(sender: type, instance: Any, **_: Any) -> None:
    _publish(lifecycle_changes(instance, created=False, deleted=True))


def connect() -> None:
    """Connect after ``realtime.receivers``: an object's own update event comes first."""
    for model in registry():
        uid = f"realtime-lifecycle-{model._meta.label}"
        post_save.connect(on_save, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(on_delete, sender=model, dispatch_uid=f"{uid}-delete")
