"""Routes of the domains API (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

import pubkyproject.api.converters  # noqa: F401  (registers <id:…>)
from domains import apis

urlpatterns = [
    path("domains/", apis.DomainListApi.as_view(), name="domains"),
    path("domains/<id:domain_id>/", apis.DomainDetailApi.as_view(), name="domain"),
    path(
        "domains/<id:domain_id>/dns-records/",
        apis.DnsRecordListApi.as_view(),
        name="dns-records",
    ),
    path(
        "domains/<id:domain_id>/dns-records/<id:record_id>/",
        apis.DnsRecordDetailApi.as_view(),
        name="dns-record",
    ),
    path("domains/<id:domain_id>/score/", apis.DomainScoreApi.as_view(), name="domain-score"),
    path(
        "domains/<id:domain_id>/score/recalculate/",
        apis.DomainScoreRecalculateApi.as_view(),
        name="domain-score-recalculate",
    ),
    path(
        "domains/<id:domain_id>/scores/",
        apis.DomainScoreHistoryApi.as_view(),
        name="domain-score-history",
    ),
    path("migrations/", apis.MigrationListApi.as_view(), name="migrations"),
    path("migrations/<id:migration_id>/", apis.MigrationDetailApi.as_view(), name="migration"),
    path(
        "migrations/<id:migration_id>/advance/",
        apis.MigrationAdvanceApi.as_view(),
        name="migration-advance",
    ),
    path(
        "migrations/<id:migration_id>/cancel/",
        apis.MigrationCancelApi.as_view(),
        name="migration-cancel",
    ),
    path(
        "migrations/<id:migration_id>/retry/",
        apis.MigrationRetryApi.as_view(),
        name="migration-retry",
    ),
    path(
        "migrations/<id:migration_id>/rollback/",
        apis.MigrationRollbackApi.as_view(),
        name="migration-rollback",
    ),
    path("pubky-domains/", apis.PubkyDomainListApi.as_view(), name="pubky-domains"),
    path(
        "pubky-domains/<id:pubky_domain_id>/",
        apis.PubkyDomainDetailApi.as_view(),
        name="pubky-domain",
    ),
    path(
        "pubky-domains/<id:pubky_domain_id>/prove/",
        apis.PubkyDomainProveApi.as_view(),
        name="pubky-domain-prove",
    ),
    path(
        "pubky-domains/<id:pubky_domain_id>/publish/",
        apis.PubkyDomainPublishApi.as_view(),
        name="pubky-domain-publish",
    ),
    path(
        "pubky-domains/<id:pubky_domain_id>/resolve/",
        apis.PubkyDomainResolveApi.as_view(),
        name="pubky-domain-resolve",
    ),
    path(
        "pubky-domains/<id:pubky_domain_id>/pkarr-records/",
        apis.PkarrRecordListApi.as_view(),
        name="pkarr-records",
    ),
    path("relays/", apis.RelayStatusListApi.as_view(), name="relays"),
    path("relays/history/", apis.RelayHistoryApi.as_view(), name="relays-history"),
]
