from __future__ import annotations

from django.apps import AppConfig

from pubkyproject import security_port


class FamiliesConfig(AppConfig):
    name = "families"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: models may be imported only once the app registry is
        # ready, and these modules import them.
        from families import (
            access_rules,
            audit,  # noqa: F401  (registers models with django-auditlog)
            receivers,  # noqa: F401  (session sign-in/out security events)
            security,
        )

        access_rules.register()
        security_port.register(security.record_reported)
