"""Re-encrypt every sealed private key under a new encryption key, all or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.db import transaction

from families import keyvault
from families.models import SecurityEvent, SecurityEventKind


@dataclass
class RotationReport:
    counts: dict[str, int] = field(default_factory=dict)
    already_current: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@transaction.atomic
def encryption_key_rotate(*, new_key: bytes, dry_run: bool = False) -> RotationReport:
    """Open every sealed key with the key it was sealed under and seal it again under ``new_key``.

    Runs in one transaction with the rows locked, so a failure (a key that cannot be opened)
    changes nothing, and no concurrent writer can seal a key under the old key meanwhile.
    """
    if len(new_key) != 32:
        raise ValueError("the new encryption key must be 32 bytes")
    new_id = keyvault.key_id(new_key)
    report = RotationReport()
    for spec in keyvault.ENCRYPTED_FIELDS:
        model = apps.get_model(spec.app_label, spec.model_name)
        label = f"{spec.app_label}.{spec.model_name}.{spec.field_name}"
        rows = list(
            model.objects.select_for_update()
            .exclude(**{spec.field_name: None})
            .only("pk", spec.field_name)
            .order_by("pk")
        )
        changed = []
        for row in rows:
            sealed = getattr(row, spec.field_name)
            if keyvault.sealed_key_id(sealed) == new_id:
                report.already_current += 1
                continue
            secret = keyvault.unseal(sealed)
            setattr(row, spec.field_name, keyvault.seal(secret, key=new_key))
            changed.append(row)
        report.counts[label] = len(changed)
        if changed and not dry_run:
            model.objects.bulk_update(changed, [spec.field_name], batch_size=500)
    if not dry_run:
        SecurityEvent.objects.create(
            kind=SecurityEventKind.KEY_ROTATED,
            target="PUBKY_KEY_ENCRYPTION_KEY",
            detail={"rotated": report.total, "already_current": report.already_current},
        )
    return report
