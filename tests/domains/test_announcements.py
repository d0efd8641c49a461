"""Domain code announces what happened (``domains.signals``) and asks the guardians what it
needs (``domains.guardianship``); it never calls guardian code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal

from domains import guardianship, signals
from domains.models import DomainMigration, MigrationDirection, MigrationState
from domains.services.migration import (
    create_domain_migration,
    domain_migration_cancel,
    domain_migration_fail,
)
from guardians.guardianship import GuardiansGuardianship
from tests.domains.conftest import make_domain

pytestmark = pytest.mark.django_db


class Heard:
    """Every send of one signal, as the keyword arguments its receivers got."""

    def __init__(self, signal: Signal) -> None:
        self.calls: list[dict[str, Any]] = []
        self.signal = signal

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        kwargs.pop("signal")
        self.calls.append({"sender": sender, **kwargs})


@pytest.fixture
def heard() -> Iterator[dict[str, Heard]]:
    listeners = {
        name: Heard(getattr(signals, name))
        for name in ("migration_opened", "migration_failed", "migration_cancelled")
    }
    for listener in listeners.values():
        listener.signal.connect(listener, weak=False)
    yield listeners
    for listener in listeners.values():
        listener.signal.disconnect(listener)


def test_a_migration_announces_its_opening_failure_and_cancellation_once_each(
    heard: dict[str, Heard],
) -> None:
    domain = make_domain()
    migration = create_domain_migration(domain=domain, direction=MigrationDirection.DNS_TO_PUBKY)
    domain_migration_fail(migration=migration, reason="the relays did not answer")
    domain_migration_cancel(migration=migration, reason="not now")

    (opened,) = heard["migration_opened"].calls
    assert opened["sender"] is DomainMigration
    assert opened["migration"].pk == migration.pk
    (failed,) = heard["migration_failed"].calls
    assert failed["migration"].pk == migration.pk
    assert failed["migration"].state == MigrationState.FAILED
    assert failed["reason"] == "the relays did not answer"
    (cancelled,) = heard["migration_cancelled"].calls
    assert cancelled["migration"].state == MigrationState.CANCELLED
    assert cancelled["reason"] == "not now"


def test_domain_code_without_a_guardianship_provider_fails_loudly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(guardianship, "_provider", None)
    with pytest.raises(ImproperlyConfigured, match="guardians"):
        guardianship.guardianship()


def test_the_guardians_app_provides_the_guardianship_domain_code_asks() -> None:
    assert isinstance(guardianship.guardianship(), GuardiansGuardianship)
