"""Pubky identities (a family's, a user's, the family homeserver) and the family keypairs."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from families.apis.common import Action
from families.models import Family, PubkyKeypair
from families.selectors import family_keypairs_list
from families.serializers import FamilySerializer, KeypairSerializer
from families.services.key_claims import (
    family_homeserver_attach,
    family_homeserver_detach,
    family_identity_attach,
    user_identity_attach,
)
from families.services.pubky import enable_pubky_for_family, family_keypair_rotate
from families.validators import validate_public_key
from pubkyproject.api.filters import IdField
from pubkyproject.api.schema import LIST, WRITE, errors
from pubkyproject.api.throttles import AnonThrottle, PubkyNetworkThrottle, UserThrottle
from pubkyproject.api.views import ApiView


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
