from __future__ import annotations

from django.apps import AppConfig


class GuardiansConfig(AppConfig):
    name = "guardians"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from guardians import (
            audit,  # noqa: F401  (registers models with django-auditlog)
            receivers,
        )

        receivers.connect()
