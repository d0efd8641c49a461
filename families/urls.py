"""Routes of the families API (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

import pubkyproject.api.converters  # noqa: F401  (registers <id:…>)
from families import apis

urlpatterns = [
    path("families/", apis.FamilyListApi.as_view(), name="families"),
    path("families/<id:family_id>/", apis.FamilyDetailApi.as_view(), name="family"),
    path(
        "families/<id:family_id>/members/",
        apis.FamilyMemberListApi.as_view(),
        name="family-members",
    ),
    path(
        "families/<id:family_id>/members/<id:user_id>/",
        apis.FamilyMemberDetailApi.as_view(),
        name="family-member",
    ),
    path(
        "families/<id:family_id>/pubky/enable/",
        apis.FamilyPubkyEnableApi.as_view(),
        name="family-pubky-enable",
    ),
    path(
        "families/<id:family_id>/pubky/attach/",
        apis.FamilyPubkyAttachApi.as_view(),
        name="family-pubky-attach",
    ),
    path(
        "families/<id:family_id>/homeserver/",
        apis.FamilyHomeserverApi.as_view(),
        name="family-homeserver",
    ),
    path("me/pubky-identity/", apis.MyPubkyIdentityApi.as_view(), name="me-pubky-identity"),
    path(
        "families/<id:family_id>/keypairs/",
        apis.FamilyKeypairListApi.as_view(),
        name="family-keypairs",
    ),
    path(
        "families/<id:family_id>/keypairs/rotate/",
        apis.FamilyKeypairRotateApi.as_view(),
        name="family-keypairs-rotate",
    ),
    path("key-proofs/", apis.KeyProofListApi.as_view(), name="key-proofs"),
    path("key-proofs/<id:proof_id>/", apis.KeyProofDetailApi.as_view(), name="key-proof"),
    path("grants/", apis.AccessGrantListApi.as_view(), name="grants"),
    path("grants/<id:grant_id>/", apis.AccessGrantDetailApi.as_view(), name="grant"),
    path("grants/<id:grant_id>/revoke/", apis.AccessGrantRevokeApi.as_view(), name="grant-revoke"),
    path(
        "audit/security-events/",
        apis.SecurityEventListApi.as_view(),
        name="audit-security-events",
    ),
    path("audit/log-entries/", apis.LogEntryListApi.as_view(), name="audit-log-entries"),
]
