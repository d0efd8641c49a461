"""Families, their members, Pubky identity and keypairs, access grants, and the audit trails.

Every view parses input, asks the one access policy (through ``ApiView.readable`` → 404 and
``ApiView.require`` → 403), calls one service or selector, and shapes the output.
"""

from __future__ import annotations

from typing import Any

from auditlog.models import LogEntry
from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from families.models import (
    FAMILY_DESCRIPTION_MAX_LENGTH,
    AccessGrant,
    Family,
    FamilyMembership,
    FamilyRole,
    GrantPermission,
    KeyProof,
    KeyProofStatus,
    PubkyKeypair,
    SecurityEvent,
    SecurityEventKind,
    User,
    Visibility,
)
from families.selectors import (
    access_grants_list,
    families_list,
    family_keypairs_list,
    family_members_list,
    log_entries_list,
    security_events_list,
)
from families.serializers import (
    GRANT_TARGETS,
    AccessGrantSerializer,
    FamilySerializer,
    JSONObjectField,
    KeypairSerializer,
    MembershipSerializer,
    ReadModelSerializer,
    UserSummarySerializer,
)
from families.services.families import family_create, family_member_remove
from families.services.family_admin import (
    family_member_invite,
    family_member_role_change,
    family_update,
)
from families.services.grants import access_grant_create, access_grant_revoke
from families.services.key_claims import (
    family_homeserver_attach,
    family_homeserver_detach,
    family_identity_attach,
    user_identity_attach,
)
from families.services.key_proofs import (
    KeyProofUnavailable,
    key_proof_auth_request,
    key_proof_check,
    key_proof_request,
)
from families.services.pubky import enable_pubky_for_family, family_keypair_rotate
from families.validators import validate_public_key
from pubkyproject import policy
from pubkyproject.api.client import client_ip
from pubkyproject.api.fields import UsernameField
from pubkyproject.api.filters import IdField, ordering_field
from pubkyproject.api.permissions import AuditReader
from pubkyproject.api.schema import LIST, READ, WRITE, errors
from pubkyproject.api.throttles import AnonThrottle, PubkyNetworkThrottle, UserThrottle
from pubkyproject.api.views import ApiView

Action = policy.Action
MEMBER_ROLES = [(r.value, r.label) for r in FamilyRole if r != FamilyRole.OWNER]


def _active_users() -> Any:
    return User.objects.filter(is_active=True)


# --- families ----------------------------------------------------------------------------------


class FamilyListApi(ApiView):
    """Families the caller may read, and creating a family (the caller becomes its owner)."""

    class FilterSerializer(serializers.Serializer):
        search = serializers.CharField(required=False, max_length=200)
        visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
        pubky_enabled = serializers.BooleanField(required=False)
        ordering = ordering_field("name", "created_at", default="name")

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        slug = serializers.SlugField(max_length=100, required=False)
        description = serializers.CharField(
            required=False, allow_blank=True, max_length=FAMILY_DESCRIPTION_MAX_LENGTH
        )
        visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
        guardian_approval_required = serializers.BooleanField(required=False)
        guardian_threshold = serializers.IntegerField(min_value=1, max_value=100, required=False)

    OutputSerializer = FamilySerializer

    @extend_schema(
        tags=["families"],
        operation_id="families_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST)},
    )
    def get(self, request: Request) -> Response:
        filters = self.query(self.FilterSerializer)
        return self.page(self.OutputSerializer, families_list(who=self.principal, **filters))

    @extend_schema(
        tags=["families"],
        operation_id="families_create",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(400, 401, 409, 429)},
    )
    def post(self, request: Request) -> Response:
        data = self.parse(self.InputSerializer)
        family = family_create(owner=self.user, **data)
        del self.principal  # loaded before the caller became the owner (shows ``my_role``)
        return self.output(self.OutputSerializer, family, status=status.HTTP_201_CREATED)


class FamilyDetailApi(ApiView):
    """One family; its administrators change its settings."""

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        slug = serializers.SlugField(max_length=100, required=False)
        description = serializers.CharField(
            required=False, allow_blank=True, max_length=FAMILY_DESCRIPTION_MAX_LENGTH
        )
        visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
        guardian_approval_required = serializers.BooleanField(required=False)
        guardian_threshold = serializers.IntegerField(min_value=1, max_value=100, required=False)

    OutputSerializer = FamilySerializer

    @extend_schema(
        tags=["families"],
        operation_id="families_retrieve",
        responses={200: OutputSerializer, **errors(*READ)},
    )
    def get(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.select_related("owner"), pk=family_id)
        return self.output(self.OutputSerializer, family)

    @extend_schema(
        tags=["families"],
        operation_id="families_update",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(*WRITE, 409)},
    )
    def patch(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.select_related("owner"), pk=family_id)
        self.require(Action.CHANGE, family)
        data = self.parse(self.InputSerializer)
        return self.output(self.OutputSerializer, family_update(family=family, **data))


# --- members -----------------------------------------------------------------------------------


class FamilyMemberListApi(ApiView):
    """The members of a family (readable with the family); administrators add members."""

    class FilterSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=FamilyRole.choices, required=False)
        ordering = ordering_field("username", "created_at", default="username")

    class InputSerializer(serializers.Serializer):
        username = UsernameField(queryset=_active_users())
        role = serializers.ChoiceField(choices=MEMBER_ROLES, default=FamilyRole.MEMBER)

    OutputSerializer = MembershipSerializer

    @extend_schema(
        tags=["families"],
        operation_id="family_members_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST, 404)},
    )
    def get(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.all(), pk=family_id)
        filters = self.query(self.FilterSerializer)
        return self.page(self.OutputSerializer, family_members_list(family=family, **filters))

    @extend_schema(
        tags=["families"],
        operation_id="family_members_add",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.all(), pk=family_id)
        self.require(Action.ADMINISTER, family, "Only the family's administrators add members.")
        data = self.parse(self.InputSerializer)
        membership = family_member_invite(family=family, user=data["username"], role=data["role"])
        return self.output(self.OutputSerializer, membership, status=status.HTTP_201_CREATED)


class FamilyMemberDetailApi(ApiView):
    """One member: administrators change their role or remove them."""

    class InputSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=MEMBER_ROLES)

    OutputSerializer = MembershipSerializer

    def _membership(self, family_id: int, user_id: int) -> tuple[Family, FamilyMembership]:
        family = self.readable(Family.objects.all(), pk=family_id)
        membership = (
            FamilyMembership.objects.filter(family=family, user_id=user_id)
            .select_related("user")
            .first()
        )
        if membership is None:
            self.not_found("No such member.")
        return family, membership

    @extend_schema(
        tags=["families"],
        operation_id="family_members_retrieve",
        responses={200: OutputSerializer, **errors(*READ)},
    )
    def get(self, request: Request, family_id: int, user_id: int) -> Response:
        _, membership = self._membership(family_id, user_id)
        return self.output(self.OutputSerializer, membership)

    @extend_schema(
        tags=["families"],
        operation_id="family_members_update",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(*WRITE, 409)},
    )
    def patch(self, request: Request, family_id: int, user_id: int) -> Response:
        family, membership = self._membership(family_id, user_id)
        self.require(Action.ADMINISTER, family, "Only the family's administrators change roles.")
        data = self.parse(self.InputSerializer)
        updated = family_member_role_change(family=family, user=membership.user, role=data["role"])
        return self.output(self.OutputSerializer, updated)

    @extend_schema(
        tags=["families"],
        operation_id="family_members_remove",
        responses={204: None, **errors(*WRITE, 409)},
    )
    def delete(self, request: Request, family_id: int, user_id: int) -> Response:
        family, membership = self._membership(family_id, user_id)
        self.require(Action.ADMINISTER, family, "Only the family's administrators remove members.")
        family_member_remove(family=family, user=membership.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Pubky identity and keypairs ---------------------------------------------------------------


class FamilyPubkyEnableApi(ApiView):
    """Give the family a Pubky identity: keypair, homeserver account, ``_pubky`` record."""

    throttle_classes = (AnonThrottle, UserThrottle, PubkyNetworkThrottle)
    OutputSerializer = FamilySerializer

    @extend_schema(
        tags=["families"],
        operation_id="families_pubky_enable",
        request=None,
        responses={200: OutputSerializer, **errors(*WRITE, 409, 502)},
    )
    def post(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.select_related("owner"), pk=family_id)
        self.require(Action.ADMINISTER, family, "Only the family's administrators enable Pubky.")
        enable_pubky_for_family(family=family, created_by=self.user)
        return self.output(self.OutputSerializer, family)


class _KeyClaimInput(serializers.Serializer):
    public_key = serializers.CharField(max_length=52, validators=[validate_public_key])
    key_proof = IdField(
        required=False,
        allow_null=True,
        help_text="The id of your proven proof of public_key (POST /api/key-proofs/).",
    )


class FamilyPubkyAttachApi(ApiView):
    """Make a key the family holds itself its Pubky identity (proven by a key proof)."""

    class InputSerializer(_KeyClaimInput):
        homeserver_url = serializers.URLField(max_length=512, required=False, allow_blank=True)

    OutputSerializer = FamilySerializer

    @extend_schema(
        tags=["families"],
        operation_id="families_pubky_attach",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.select_related("owner"), pk=family_id)
        self.require(Action.ADMINISTER, family, "Only the family's administrators attach keys.")
        data = self.parse(self.InputSerializer)
        attached = family_identity_attach(
            family=family,
            user=self.user,
            public_key=data["public_key"],
            key_proof=data.get("key_proof"),
            homeserver_url=data.get("homeserver_url", ""),
        )
        return self.output(self.OutputSerializer, attached)


class FamilyHomeserverApi(ApiView):
    """The homeserver the family runs itself: its key, proven by a key proof. Domains whose
    packet points (``_pubky``) at it count as self-hosted; nothing else makes them so."""

    throttle_classes = (AnonThrottle, UserThrottle, PubkyNetworkThrottle)

    class InputSerializer(_KeyClaimInput):
        pass

    OutputSerializer = FamilySerializer

    @extend_schema(
        tags=["families"],
        operation_id="families_homeserver_set",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(*WRITE)},
    )
    def put(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.select_related("owner"), pk=family_id)
        self.require(Action.ADMINISTER, family, "Only the family's administrators attach keys.")
        data = self.parse(self.InputSerializer)
        attached = family_homeserver_attach(
            family=family,
            user=self.user,
            public_key=data["public_key"],
            key_proof=data.get("key_proof"),
        )
        return self.output(self.OutputSerializer, attached)

    @extend_schema(
        tags=["families"],
        operation_id="families_homeserver_clear",
        request=None,
        responses={200: OutputSerializer, **errors(*WRITE)},
    )
    def delete(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.select_related("owner"), pk=family_id)
        self.require(Action.ADMINISTER, family, "Only the family's administrators detach keys.")
        return self.output(
            self.OutputSerializer, family_homeserver_detach(family=family, user=self.user)
        )


class MyPubkyIdentityApi(ApiView):
    """Your own Pubky identity: attach a key you hold (proven by a key proof)."""

    permission_classes = (IsAuthenticated,)

    class InputSerializer(_KeyClaimInput):
        pass

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        pubky_public_key = serializers.CharField(allow_null=True)
        pubky_url = serializers.CharField()
        pubky_key_verification = serializers.CharField()

    @extend_schema(
        tags=["key-proofs"],
        operation_id="me_pubky_identity_retrieve",
        responses={200: OutputSerializer, **errors(401, 429)},
    )
    def get(self, request: Request) -> Response:
        return self.output(self.OutputSerializer, self.user)

    @extend_schema(
        tags=["key-proofs"],
        operation_id="me_pubky_identity_set",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(400, 401, 429)},
    )
    def put(self, request: Request) -> Response:
        data = self.parse(self.InputSerializer)
        user = user_identity_attach(
            user=self.user, public_key=data["public_key"], key_proof=data.get("key_proof")
        )
        return self.output(self.OutputSerializer, user)


class FamilyKeypairListApi(ApiView):
    """The family's keypairs: public parts only (``access_rules.keypair_public_fields``)."""

    class FilterSerializer(serializers.Serializer):
        is_active = serializers.BooleanField(required=False)

    OutputSerializer = KeypairSerializer

    @extend_schema(
        tags=["families"],
        operation_id="family_keypairs_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST, 404)},
    )
    def get(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.all(), pk=family_id)
        filters = self.query(self.FilterSerializer)
        keypairs = family_keypairs_list(who=self.principal, family=family, **filters)
        return self.page(self.OutputSerializer, keypairs)


class FamilyKeypairRotateApi(ApiView):
    """Replace the family's keypair with a new one (new homeserver account and ``_pubky``)."""

    throttle_classes = (AnonThrottle, UserThrottle, PubkyNetworkThrottle)
    OutputSerializer = KeypairSerializer

    @extend_schema(
        tags=["families"],
        operation_id="family_keypairs_rotate",
        request=None,
        responses={201: OutputSerializer, **errors(*WRITE, 409, 502)},
    )
    def post(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.all(), pk=family_id)
        self.require(Action.CHANGE, PubkyKeypair(family=family))
        keypair = family_keypair_rotate(family=family, created_by=self.user)
        return self.output(self.OutputSerializer, keypair, status=status.HTTP_201_CREATED)


# --- proofs of key possession ------------------------------------------------------------------


class KeyProofSerializer(ReadModelSerializer):
    """A proof of key possession; ``pubkyauth_url`` is shown to its owner while it is pending."""

    pubkyauth_url = serializers.SerializerMethodField(
        help_text="The pubkyauth:// deep link (or QR code) for the key's authenticator to "
        "approve; null once the proof is decided."
    )

    class Meta:
        model = KeyProof
        fields = (
            "id",
            "public_key",
            "status",
            "pubkyauth_url",
            "failure_reason",
            "created_at",
            "expires_at",
            "proven_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_pubkyauth_url(self, proof: KeyProof) -> str | None:
        if proof.status != KeyProofStatus.PENDING:
            return None
        return key_proof_auth_request(proof).url()


class KeyProofListApi(ApiView):
    """Prove that you hold a Pubky key: start a pubkyauth request, list your proofs.

    Approve the returned ``pubkyauth_url`` with any authenticator that holds the key; the
    service receives the signed AuthToken through the HTTP relay and the proof turns
    ``proven`` (or ``failed`` with the reason, or ``expired``). Claims of self-held keys name a
    proven proof as ``key_proof``.
    """

    permission_classes = (IsAuthenticated,)

    class FilterSerializer(serializers.Serializer):
        public_key = serializers.CharField(required=False, max_length=52)
        status = serializers.ChoiceField(choices=KeyProofStatus.choices, required=False)

    class InputSerializer(serializers.Serializer):
        public_key = serializers.CharField(
            max_length=52,
            validators=[validate_public_key],
            help_text="The z-base-32 public key you hold.",
        )

    OutputSerializer = KeyProofSerializer

    @extend_schema(
        tags=["key-proofs"],
        operation_id="key_proofs_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST)},
    )
    def get(self, request: Request) -> Response:
        filters = self.query(self.FilterSerializer)
        proofs = KeyProof.objects.filter(user=self.user, **filters).order_by("-created_at", "-pk")
        return self.page(self.OutputSerializer, proofs)

    @extend_schema(
        tags=["key-proofs"],
        operation_id="key_proofs_create",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(400, 401, 429)},
    )
    def post(self, request: Request) -> Response:
        data = self.parse(self.InputSerializer)
        proof, _url = key_proof_request(
            user=self.user, public_key=data["public_key"], ip_address=client_ip(request)
        )
        return self.output(self.OutputSerializer, proof, status=status.HTTP_201_CREATED)


class KeyProofDetailApi(ApiView):
    """One of your proofs. While it is pending, reading it also looks on the HTTP relay for an
    approval for up to ``wait`` seconds (default ``PUBKY_KEY_PROOF_CHECK_WAIT``; 0 = only what
    the ``receive_key_proofs`` worker recorded). Other users' proofs answer 404."""

    permission_classes = (IsAuthenticated,)

    class FilterSerializer(serializers.Serializer):
        wait = serializers.FloatField(
            required=False,
            min_value=0,
            max_value=25,
            help_text="Seconds to wait on the relay for a pending proof (0-25).",
        )

    OutputSerializer = KeyProofSerializer

    @extend_schema(
        tags=["key-proofs"],
        operation_id="key_proofs_retrieve",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer, **errors(*READ, 400)},
    )
    def get(self, request: Request, proof_id: int) -> Response:
        filters = self.query(self.FilterSerializer)
        proof = KeyProof.objects.filter(user=self.user, pk=proof_id).first()
        if proof is None:
            self.not_found("No key proof of yours matches the given query.")
        wait = filters.get("wait", settings.PUBKY_KEY_PROOF_CHECK_WAIT)
        if proof.status == KeyProofStatus.PENDING and wait > 0:
            try:
                proof = key_proof_check(proof=proof, wait=wait)
            except KeyProofUnavailable:
                proof.refresh_from_db()  # still pending; the worker keeps trying
        return self.output(self.OutputSerializer, proof)


# --- access grants -----------------------------------------------------------------------------


class AccessGrantListApi(ApiView):
    """Grants the caller received, gave or administers; administrators of a target grant."""

    class FilterSerializer(serializers.Serializer):
        target_type = serializers.ChoiceField(choices=GRANT_TARGETS, required=False)
        target_id = IdField(required=False)
        grantee = IdField(required=False, help_text="The grantee's user id.")
        current = serializers.BooleanField(
            required=False, help_text="Only grants in force (true) or only ended ones (false)."
        )

    class InputSerializer(serializers.Serializer):
        grantee = UsernameField(queryset=_active_users(), help_text="The grantee's username.")
        target_type = serializers.ChoiceField(choices=GRANT_TARGETS)
        target_id = IdField()
        permission = serializers.ChoiceField(
            choices=GrantPermission.choices, default=GrantPermission.READ
        )
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

    OutputSerializer = AccessGrantSerializer

    @extend_schema(
        tags=["grants"],
        operation_id="grants_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST)},
    )
    def get(self, request: Request) -> Response:
        filters = self.query(self.FilterSerializer)
        grants = access_grants_list(
            who=self.principal,
            target_type=filters.get("target_type"),
            target_id=filters.get("target_id"),
            grantee_id=filters.get("grantee"),
            current=filters.get("current"),
        )
        return self.page(self.OutputSerializer, grants)

    @extend_schema(
        tags=["grants"],
        operation_id="grants_create",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request) -> Response:
        data = self.parse(self.InputSerializer)
        model = policy.grant_target_model(data["target_type"])
        target = self.readable(model._default_manager.all(), pk=data["target_id"])
        self.require(Action.ADMINISTER, target, "Only the target's administrators grant access.")
        grant = access_grant_create(
            grantee=data["grantee"],
            target=target,
            permission=data["permission"],
            expires_at=data.get("expires_at"),
            granted_by=self.user,
        )
        return self.output(self.OutputSerializer, grant, status=status.HTTP_201_CREATED)


def _grants() -> Any:
    return AccessGrant.objects.select_related("grantee", "granted_by", "content_type")


class AccessGrantDetailApi(ApiView):
    OutputSerializer = AccessGrantSerializer

    @extend_schema(
        tags=["grants"],
        operation_id="grants_retrieve",
        responses={200: OutputSerializer, **errors(*READ)},
    )
    def get(self, request: Request, grant_id: int) -> Response:
        return self.output(self.OutputSerializer, self.readable(_grants(), pk=grant_id))


class AccessGrantRevokeApi(ApiView):
    """Revoke a grant (administrators of its target; the grantee may give it up)."""

    OutputSerializer = AccessGrantSerializer

    @extend_schema(
        tags=["grants"],
        operation_id="grants_revoke",
        request=None,
        responses={200: OutputSerializer, **errors(*WRITE)},
    )
    def post(self, request: Request, grant_id: int) -> Response:
        grant = self.readable(_grants(), pk=grant_id)
        if grant.grantee_id != self.principal.user_id:
            self.require(Action.CHANGE, grant, "Only the target's administrators revoke grants.")
        return self.output(self.OutputSerializer, access_grant_revoke(grant=grant))


# --- the audit trails (staff) ------------------------------------------------------------------


class SecurityEventListApi(ApiView):
    """Failed logins, denied access, rate-limit hits, private key use, relay and guardian events."""

    permission_classes = (AuditReader,)

    class FilterSerializer(serializers.Serializer):
        # Kinds are checked, not listed: a key-use kind named in the schema would read like a
        # private key field to the no-leak checks (tests/foundation/test_no_key_leaks.py).
        kind = serializers.RegexField(
            r"^[a-z_]{1,32}$",
            max_length=32,
            required=False,
            help_text="A security event kind, e.g. `login_failed`, `access_denied`, "
            "`rate_limited`.",
        )
        user = IdField(required=False, help_text="The user's id.")
        username = serializers.CharField(required=False, max_length=150)
        ip_address = serializers.IPAddressField(required=False, max_length=45)
        target = serializers.CharField(required=False, max_length=255)
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)
        ordering = ordering_field("created_at", "kind", default="-created_at")

        def validate_kind(self, value: str) -> str:
            if value not in SecurityEventKind.values:
                raise serializers.ValidationError(f"Unknown kind; one of {len(SecurityEventKind)}.")
            return value

    class OutputSerializer(serializers.ModelSerializer):
        kind = serializers.CharField(read_only=True)
        user = UserSummarySerializer(read_only=True, allow_null=True)
        detail = JSONObjectField(read_only=True)

        class Meta:
            model = SecurityEvent
            fields = (
                "id",
                "kind",
                "user",
                "username",
                "ip_address",
                "target",
                "detail",
                "created_at",
            )
            read_only_fields = fields

    @extend_schema(
        tags=["audit"],
        operation_id="audit_security_events_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = self.query(self.FilterSerializer)
        user_id = filters.pop("user", None)
        events = security_events_list(user_id=user_id, **filters)
        return self.page(self.OutputSerializer, events)


class LogEntryListApi(ApiView):
    """django-auditlog's record of every model change, with its actor."""

    permission_classes = (AuditReader,)

    class FilterSerializer(serializers.Serializer):
        model = serializers.RegexField(
            r"^[a-z_]+\.[a-z_]+$",
            max_length=201,  # two names of at most 100 characters (Django's column sizes)
            required=False,
            help_text="`app_label.model`, e.g. `domains.dnsrecord`.",
        )
        object_id = serializers.CharField(required=False, max_length=255)
        actor = IdField(required=False, help_text="The acting user's id.")
        action = serializers.ChoiceField(choices=LogEntry.Action.choices, required=False)
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)
        ordering = ordering_field("timestamp", default="-timestamp")

    class OutputSerializer(serializers.ModelSerializer):
        actor = UserSummarySerializer(read_only=True, allow_null=True)
        model = serializers.SerializerMethodField()
        changes = JSONObjectField(read_only=True, source="changes_dict")

        class Meta:
            model = LogEntry
            fields = (
                "id",
                "timestamp",
                "action",
                "model",
                "object_pk",
                "object_repr",
                "actor",
                "remote_addr",
                "changes",
            )
            read_only_fields = fields

        def get_model(self, entry: LogEntry) -> str:
            return f"{entry.content_type.app_label}.{entry.content_type.model}"

    @extend_schema(
        tags=["audit"],
        operation_id="audit_log_entries_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = self.query(self.FilterSerializer)
        entries = log_entries_list(
            model=filters.get("model"),
            object_id=filters.get("object_id"),
            actor_id=filters.get("actor"),
            action=filters.get("action"),
            since=filters.get("since"),
            until=filters.get("until"),
            ordering=filters.get("ordering"),
        )
        return self.page(self.OutputSerializer, entries)
