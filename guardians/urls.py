"""Routes of the guardians API (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

import pubkyproject.api.converters  # noqa: F401  (registers <id:…>)
from guardians import apis

urlpatterns = [
    path(
        "families/<id:family_id>/guardians/",
        apis.GuardianListApi.as_view(),
        name="guardians",
    ),
    path("guardians/<id:guardian_id>/", apis.GuardianDetailApi.as_view(), name="guardian"),
    path(
        "guardians/<id:guardian_id>/backup-status/",
        apis.GuardianBackupStatusApi.as_view(),
        name="guardian-backup-status",
    ),
    path(
        "families/<id:family_id>/notifications/",
        apis.NotificationListApi.as_view(),
        name="notifications",
    ),
    path(
        "notifications/<id:notification_id>/read/",
        apis.NotificationReadApi.as_view(),
        name="notification-read",
    ),
    path(
        "migrations/<id:migration_id>/approve/",
        apis.MigrationApproveApi.as_view(),
        name="migration-approve",
    ),
    path(
        "migrations/<id:migration_id>/reject/",
        apis.MigrationRejectApi.as_view(),
        name="migration-reject",
    ),
]
