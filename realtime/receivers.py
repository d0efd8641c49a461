"""Thin signal receivers: one call into the publisher each; the logic lives in services."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from realtime.events import emit_model_change
from realtime.payloads import registry


def on_save(sender: type, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if not raw:  # fixtures loading raw rows are not live changes
        emit_model_change(instance)


def on_delete(sender: type, instance: Any, **kwargs: Any) -> None:
    emit_model_change(instance, deleted=True)


def connect() -> None:
    for model in registry():
        post_save.connect(on_save, sender=model, dispatch_uid=f"realtime-save-{model.__name__}")
        post_delete.connect(
            on_delete, sender=model, dispatch_uid=f"realtime-delete-{model.__name__}"
        )
