from __future__ import annotations

from django.apps import AppConfig


class DomainsConfig(AppConfig):
    name = "domains"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from domains import audit  # noqa: F401  (registers models with django-auditlog)
