"""Proofs of key possession (pubkyauth) for the keys a family or user claims."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from families.models import KeyProof, KeyProofStatus
from families.serializers import ReadModelSerializer
from families.services.key_proofs import (
    KeyProofUnavailable,
    key_proof_auth_request,
    key_proof_check,
    key_proof_request,
)
from families.validators import validate_public_key
from pubkyproject.api.client import client_ip
from pubkyproject.api.schema import LIST, READ, errors
from pubkyproject.api.views import ApiView


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
