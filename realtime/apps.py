from __future__ import annotations

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, which exist only once
        # the app registry is ready (Django imports this module before that).
        from pubkyproject import event_port
        from pubkyproject.api import sessions
        from realtime import lifecycle, receivers
        from realtime.events import OutboxEmitter

        event_port.register(OutboxEmitter())

        receivers.connect()
        lifecycle.connect()  # created/deleted events on the family topic
        sessions.connect_receivers()
