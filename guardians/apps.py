from __future__ import annotations

from django.apps import AppConfig


class GuardiansConfig(AppConfig):
    name = "guardians"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: models (and what imports them) load only once the
        # app registry is ready.
        from domains import guardianship
        from guardians import (
            access_rules,
            audit,  # noqa: F401  (registers models with django-auditlog)
            family_receivers,
            receivers,
        )
        from guardians.guardianship import GuardiansGuardianship

        access_rules.register()
        family_receivers.connect()
        receivers.connect()
        guardianship.register(GuardiansGuardianship())
