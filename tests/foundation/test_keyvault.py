"""Private keys are sealed at rest and can be rotated to a new key, all or nothing."""

from __future__ import annotations

import io
import os

import pytest
from django.core.management import CommandError, call_command

from domains.models import PubkyDomain
from families import keyvault
from families.models import PubkyKeypair, SecurityEvent, User
from tests.factories import FamilyFactory, UserFactory

SEED = bytes(range(32))
OTHER_SEED = bytes([7]) * 32
NEW_KEY = bytes.fromhex("33" * 32)
KEY_A = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"
KEY_B = "yqooxx9u3aemh8mo5wcqq16yufu6jitouq1o4za751dger1igghy"


def test_seal_round_trips_and_hides_the_secret() -> None:
    sealed = keyvault.seal(SEED)
    assert SEED not in sealed
    assert keyvault.unseal(sealed) == SEED
    assert keyvault.unseal(memoryview(sealed)) == SEED


def test_each_seal_uses_a_fresh_nonce() -> None:
    assert keyvault.seal(SEED) != keyvault.seal(SEED)


def test_it_rejects_a_tampered_or_foreign_blob() -> None:
    sealed = bytearray(keyvault.seal(SEED))
    sealed[-1] ^= 1
    with pytest.raises(keyvault.KeyVaultError, match="authentication"):
        keyvault.unseal(bytes(sealed))
    with pytest.raises(keyvault.KeyVaultError, match="format"):
        keyvault.unseal(b"plain text")
    with pytest.raises(keyvault.KeyVaultError, match="unknown encryption key"):
        keyvault.unseal(keyvault.seal(SEED, key=NEW_KEY))


def test_extra_decryption_keys_open_old_blobs(settings) -> None:
    sealed_new = keyvault.seal(SEED, key=NEW_KEY)
    settings.PUBKY_KEY_DECRYPTION_KEYS = [NEW_KEY]
    assert keyvault.unseal(sealed_new) == SEED


@pytest.mark.django_db
def test_models_store_only_the_sealed_form() -> None:
    user = UserFactory()
    user.set_private_key(SEED)
    user.save()
    stored = User.objects.get(pk=user.pk)
    assert SEED not in bytes(stored.pubky_private_key_encrypted)
    assert stored.get_private_key() == SEED
    assert stored.has_private_key
    assert SEED.hex() not in repr(stored)
    assert SEED.hex() not in str(stored)


def _seal_everywhere() -> tuple[User, PubkyKeypair, PubkyDomain]:
    user = UserFactory()
    user.set_private_key(SEED)
    user.save()
    family = FamilyFactory()
    keypair = PubkyKeypair(family=family, public_key=KEY_A)
    keypair.set_private_key(OTHER_SEED)
    keypair.save()
    pubky_domain = PubkyDomain(name="p.example", family=family, public_key=KEY_B)
    pubky_domain.set_private_key(SEED)
    pubky_domain.save()
    return user, keypair, pubky_domain


@pytest.mark.django_db
def test_rotation_re_encrypts_every_key_under_the_new_key(settings) -> None:
    user, keypair, pubky_domain = _seal_everywhere()
    os.environ["PUBKY_NEW_KEY_ENCRYPTION_KEY"] = NEW_KEY.hex()
    try:
        out = io.StringIO()
        call_command("rotate_encryption_key", stdout=out)
    finally:
        del os.environ["PUBKY_NEW_KEY_ENCRYPTION_KEY"]
    assert "re-encrypted 3 key(s)" in out.getvalue()
    settings.PUBKY_KEY_ENCRYPTION_KEY = NEW_KEY
    for obj in (user, keypair, pubky_domain):
        obj.refresh_from_db()
        sealed = obj.__class__.objects.get(pk=obj.pk)
        field = obj.sealed_key_field
        assert keyvault.sealed_key_id(getattr(sealed, field)) == keyvault.key_id(NEW_KEY)
    assert user.get_private_key() == SEED
    assert keypair.get_private_key() == OTHER_SEED
    assert pubky_domain.get_private_key() == SEED
    assert SecurityEvent.objects.filter(kind="key_rotated").count() == 1


@pytest.mark.django_db
def test_rotation_is_all_or_nothing(settings) -> None:
    user, keypair, _ = _seal_everywhere()
    before = bytes(PubkyKeypair.objects.get(pk=keypair.pk).private_key_encrypted)
    # A key sealed under a key nobody configured: the rotation must refuse and change nothing.
    orphan = UserFactory()
    User.objects.filter(pk=orphan.pk).update(
        pubky_private_key_encrypted=keyvault.seal(SEED, key=bytes(32))
    )
    key_file = settings.BASE_DIR / ".data" / "test-new-key"
    key_file.parent.mkdir(exist_ok=True)
    key_file.write_text(NEW_KEY.hex())
    try:
        with pytest.raises(CommandError, match="nothing was changed"):
            call_command("rotate_encryption_key", new_key_file=key_file, stdout=io.StringIO())
    finally:
        key_file.unlink()
    assert bytes(PubkyKeypair.objects.get(pk=keypair.pk).private_key_encrypted) == before
    assert User.objects.get(pk=user.pk).get_private_key() == SEED
    assert not SecurityEvent.objects.filter(kind="key_rotated").exists()


@pytest.mark.django_db
def test_rotation_is_idempotent_and_dry_run_writes_nothing(settings) -> None:
    _seal_everywhere()
    out = io.StringIO()
    os.environ["PUBKY_NEW_KEY_ENCRYPTION_KEY"] = NEW_KEY.hex()
    try:
        call_command("rotate_encryption_key", dry_run=True, stdout=out)
        assert "would re-encrypt 3 key(s)" in out.getvalue()
        call_command("rotate_encryption_key", stdout=io.StringIO())
        settings.PUBKY_KEY_DECRYPTION_KEYS = [NEW_KEY]
        out = io.StringIO()
        call_command("rotate_encryption_key", stdout=out)
    finally:
        del os.environ["PUBKY_NEW_KEY_ENCRYPTION_KEY"]
    assert "re-encrypted 0 key(s); 3 already under it" in out.getvalue()


def test_rotation_rejects_a_wrong_length_key() -> None:
    os.environ["PUBKY_NEW_KEY_ENCRYPTION_KEY"] = "abcd"
    try:
        with pytest.raises(CommandError, match="32 bytes"):
            call_command("rotate_encryption_key", stdout=io.StringIO())
    finally:
        del os.environ["PUBKY_NEW_KEY_ENCRYPTION_KEY"]


def test_rotation_needs_a_key_source() -> None:
    os.environ.pop("PUBKY_NEW_KEY_ENCRYPTION_KEY", None)
    with pytest.raises(CommandError, match="give the new key"):
        call_command("rotate_encryption_key", stdout=io.StringIO())
