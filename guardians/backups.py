"""Verifying the key backups guardians report (a report is a claim until it is seen).

A backup counts towards its family's sovereignty scores only once :func:`guardian_backup_verify`
fetched its URL from the homeserver and found a file written after the family key's last
rotation. ``manage.py verify_facts`` runs :func:`guardian_backups_verify_all` in each round
(through ``domains.guardianship``, which the guardians app provides).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from domains.guardianship import BackupCheckRound
from domains.models import DomainRecord
from domains.services.facts import domains_rescore
from families.models import PubkyKeypair
from guardians.models import BackupStatus, FederationGuardian, GuardianStatus
from pubky.errors import PubkyError
from pubky.http import parse_http_date
from pubkyproject.pubky_client import PubkyClient, pubky_client

__all__ = ["guardian_backup_verify", "guardian_backups_verify_all"]

log = logging.getLogger(__name__)


def _family_key_rotated_at(family_id: int) -> datetime | None:
    return (
        PubkyKeypair.objects.filter(family_id=family_id, is_active=True)
        .values_list("created_at", flat=True)
        .first()
    )


def guardian_backup_verify(
    *, guardian: FederationGuardian, client: PubkyClient | None = None
) -> bool:
    """Is ``guardian``'s backup current? Its URL must answer on its homeserver with a file
    written after the family key's last rotation. Records the outcome and rescores."""
    client = client or pubky_client()
    error = ""
    verified_at: datetime | None = None
    now = timezone.now()
    if guardian.pubky_backup_status != BackupStatus.CURRENT or not guardian.pubky_backup_url:
        error = "no backup reported as current"
    else:
        try:
            result = client.homeservers.head(guardian.pubky_backup_url)
        except PubkyError as exc:
            error = f"the backup URL does not answer: {exc}"[:2000]
        else:
            written = parse_http_date(result.last_modified)
            rotated = _family_key_rotated_at(guardian.family_id)
            if written is None:
                error = "the homeserver did not say when the backup was written"
            elif rotated is not None and written < int(rotated.timestamp()):
                error = "the backup was written before the family key's last rotation"
            else:
                verified_at = now
    with transaction.atomic():
        locked = FederationGuardian.objects.select_for_update().get(pk=guardian.pk)
        before = locked.pubky_backup_verified_at is not None
        locked.pubky_backup_verified_at = verified_at
        locked.pubky_backup_checked_at = now
        locked.pubky_backup_check_error = error
        locked.save(
            update_fields=[
                "pubky_backup_verified_at",
                "pubky_backup_checked_at",
                "pubky_backup_check_error",
                "updated_at",
            ]
        )
        if before != (verified_at is not None):
            domains_rescore(
                domain_ids=set(
                    DomainRecord.objects.filter(family_id=locked.family_id).values_list(
                        "pk", flat=True
                    )
                ),
                reason="guardian_backup_verified",
            )
    return verified_at is not None


def guardian_backups_verify_all(*, client: PubkyClient) -> BackupCheckRound:
    """Check every backup an active guardian reports current, and every one that counts now
    (so a backup that stopped answering stops counting); one failure does not stop the round."""
    round_ = BackupCheckRound()
    guardians = FederationGuardian.objects.filter(status=GuardianStatus.ACTIVE).filter(
        pubky_backup_status=BackupStatus.CURRENT
    ) | FederationGuardian.objects.exclude(pubky_backup_verified_at=None)
    for guardian in guardians.distinct().order_by("pk").iterator():
        try:
            guardian_backup_verify(guardian=guardian, client=client)
            round_.checked += 1
        except Exception as exc:  # one bad backup must not stop the round
            log.exception("backup check of guardian %s failed", guardian.pk)
            round_.errors.append(f"guardian {guardian.pk}: {exc}")
    return round_
