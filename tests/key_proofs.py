"""A proven key proof without the pubkyauth round trip, for tests about what a proof unlocks.

The round trip itself (authenticator, HTTP relay, token checks) is tested end to end in
``tests/api/test_key_proofs.py`` and ``tests/interop/test_npm_pubky_key_proof.py``.
"""

from __future__ import annotations

import os
from datetime import timedelta

from django.utils import timezone

from families.models import KeyProof, KeyProofStatus, User


def proven_proof(user: User, public_key: str) -> KeyProof:
    now = timezone.now()
    proof = KeyProof(
        user=user,
        public_key=public_key,
        status=KeyProofStatus.PROVEN,
        relay_url="http://127.0.0.1:9/link",
        created_at=now,
        expires_at=now + timedelta(minutes=10),
        proven_at=now,
        token_timestamp=int(now.timestamp() * 1_000_000),
    )
    proof.set_private_key(os.urandom(32))
    proof.save()
    return proof
