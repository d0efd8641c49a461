"""The families API, one module per topic (``families.urls`` routes them).

``families`` (families), ``members``, ``identity`` (Pubky identities and keypairs), ``key_proofs``,
``grants`` (access grants) and ``audit`` (the audit trails, staff); ``common`` holds what they
share.

Every view parses input, asks the one access policy (through ``ApiView.readable`` → 404 and
``ApiView.require`` → 403), calls one service or selector, and shapes the output.
"""

from __future__ import annotations

from families.apis.audit import LogEntryListApi, SecurityEventListApi
from families.apis.families import FamilyDetailApi, FamilyListApi
from families.apis.grants import AccessGrantDetailApi, AccessGrantListApi, AccessGrantRevokeApi
from families.apis.identity import (
    FamilyHomeserverApi,
    FamilyKeypairListApi,
    FamilyKeypairRotateApi,
    FamilyPubkyAttachApi,
    FamilyPubkyEnableApi,
    MyPubkyIdentityApi,
)
from families.apis.key_proofs import KeyProofDetailApi, KeyProofListApi
from families.apis.members import FamilyMemberDetailApi, FamilyMemberListApi

__all__ = [
    "AccessGrantDetailApi",
    "AccessGrantListApi",
    "AccessGrantRevokeApi",
    "FamilyDetailApi",
    "FamilyHomeserverApi",
    "FamilyKeypairListApi",
    "FamilyKeypairRotateApi",
    "FamilyListApi",
    "FamilyMemberDetailApi",
    "FamilyMemberListApi",
    "FamilyPubkyAttachApi",
    "FamilyPubkyEnableApi",
    "KeyProofDetailApi",
    "KeyProofListApi",
    "LogEntryListApi",
    "MyPubkyIdentityApi",
    "SecurityEventListApi",
]
