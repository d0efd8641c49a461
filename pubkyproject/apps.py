"""The composition root as an app: what wires every app together and belongs to none.

Listed last in ``INSTALLED_APPS``. It owns the ``seed_demo`` command (the demo seeds every app)
and plugs the service-wide metrics, which read the models of several apps, into ``/metrics``.
"""

from __future__ import annotations

from django.apps import AppConfig


class ProjectConfig(AppConfig):
    name = "pubkyproject"
    label = "pubkyproject"
    verbose_name = "Pubky domain service"

    def ready(self) -> None:
        # Imported here, not at the top: it imports the apps' models, which may be imported
        # only once the app registry is ready.
        from pubkyproject import metrics, service_metrics

        metrics.register_service_collector(service_metrics.DatabaseCollector)
