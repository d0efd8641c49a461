from __future__ import annotations

from django.apps import AppConfig


class GuardiansConfig(AppConfig):
    name = "guardians"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: models may be imported only once the app registry is
        # ready, and these modules import them.
        from guardians import (
            access_rules,
            audit,  # noqa: F401  (registers models with django-auditlog)
            family_receivers,
            receivers,
        )

        access_rules.register()
        family_receivers.connect()
        receivers.connect()
