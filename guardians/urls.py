"""Routes of the guardians API (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

import pubkyproject.api.converters  # noqa: F401  (registers <id:…>)
from guardians.apis import decisions, notifications, roster

urlpatterns = [
    path(
        "families/<id:family_id>/guardians/",
        roster.GuardianListApi.as_view(),
        name="guardians",
    ),
    path("guardians/<id:guardian_id>/", roster.GuardianDetailApi.as_view(), name="guardian"),
    path(
        "guardians/<id:guardian_id>/backup-status/",
        roster.GuardianBackupStatusApi.as_view(),
        name="guardian-backup-status",
    ),
    path(
        "families/<id:family_id>/notifications/",
        notifications.NotificationListApi.as_view(),
        name="notifications",
    ),
    path(
        "notifications/<id:notification_id>/read/",
        notifications.NotificationReadApi.as_view(),
        name="notification-read",
    ),
    path(
        "migrations/<id:migration_id>/approve/",
        decisions.MigrationApproveApi.as_view(),
        name="migration-approve",
    ),
    path(
        "migrations/<id:migration_id>/reject/",
        decisions.MigrationRejectApi.as_view(),
        name="migration-reject",
    ),
]
