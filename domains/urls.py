"""Routes of the domains API (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

import pubkyproject.api.converters  # noqa: F401  (registers <id:…>)
from domains.apis import dns_records, domains, migrations, pubky_domains, relays, scores

urlpatterns = [
    path("domains/", domains.DomainListApi.as_view(), name="domains"),
    path("domains/<id:domain_id>/", domains.DomainDetailApi.as_view(), name="domain"),
    path(
        "domains/<id:domain_id>/dns-records/",
        dns_records.DnsRecordListApi.as_view(),
        name="dns-records",
    ),
    path(
        "domains/<id:domain_id>/dns-records/<id:record_id>/",
        dns_records.DnsRecordDetailApi.as_view(),
        name="dns-record",
    ),
    path("domains/<id:domain_id>/score/", scores.DomainScoreApi.as_view(), name="domain-score"),
    path(
        "domains/<id:domain_id>/score/recalculate/",
        scores.DomainScoreRecalculateApi.as_view(),
        name="domain-score-recalculate",
    ),
    path(
        "domains/<id:domain_id>/scores/",
        scores.DomainScoreHistoryApi.as_view(),
        name="domain-score-history",
    ),
    path("migrations/", migrations.MigrationListApi.as_view(), name="migrations"),
    path(
        "migrations/<id:migration_id>/", migrations.MigrationDetailApi.as_view(), name="migration"
    ),
    path(
        "migrations/<id:migration_id>/advance/",
        migrations.MigrationAdvanceApi.as_view(),
        name="migration-advance",
    ),
    path(
        "migrations/<id:migration_id>/cancel/",
        migrations.MigrationCancelApi.as_view(),
        name="migration-cancel",
    ),
    path(
        "migrations/<id:migration_id>/retry/",
        migrations.MigrationRetryApi.as_view(),
        name="migration-retry",
    ),
    path(
        "migrations/<id:migration_id>/rollback/",
        migrations.MigrationRollbackApi.as_view(),
        name="migration-rollback",
    ),
    path("pubky-domains/", pubky_domains.PubkyDomainListApi.as_view(), name="pubky-domains"),
    path(
        "pubky-domains/<id:pubky_domain_id>/",
        pubky_domains.PubkyDomainDetailApi.as_view(),
        name="pubky-domain",
    ),
    path(
        "pubky-domains/<id:pubky_domain_id>/prove/",
        pubky_domains.PubkyDomainProveApi.as_view(),
        name="pubky-domain-prove",
    ),
    path(
        "pubky-domains/<id:pubky_domain_id>/publish/",
        pubky_domains.PubkyDomainPublishApi.as_view(),
        name="pubky-domain-publish",
    ),
    path(
        "pubky-domains/<id:pubky_domain_id>/resolve/",
        pubky_domains.PubkyDomainResolveApi.as_view(),
        name="pubky-domain-resolve",
    ),
    path(
        "pubky-domains/<id:pubky_domain_id>/pkarr-records/",
        pubky_domains.PkarrRecordListApi.as_view(),
        name="pkarr-records",
    ),
    path("relays/", relays.RelayStatusListApi.as_view(), name="relays"),
    path("relays/history/", relays.RelayHistoryApi.as_view(), name="relays-history"),
]
