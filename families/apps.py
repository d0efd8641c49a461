from __future__ import annotations

from django.apps import AppConfig


class FamiliesConfig(AppConfig):
    name = "families"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from families import (
            audit,  # noqa: F401  (registers models with django-auditlog)
            receivers,  # noqa: F401  (session sign-in/out security events)
        )
