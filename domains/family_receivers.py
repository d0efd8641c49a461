"""Receivers for what the families app announces (``families.signals``), kept thin: each
hands over to a domains service."""

from __future__ import annotations

from typing import Any

from domains.models import DomainRecord
from domains.services.facts import domain_self_hosting_verify
from families.models import Family
from families.signals import family_homeserver_changed


def verify_self_hosting(sender: Any, family: Family, **kwargs: Any) -> None:
    """The family's homeserver changed: check which of its domains' packets point at it
    (network; sent outside any transaction) and rescore them."""
    for domain in DomainRecord.objects.filter(family=family).select_related("family"):
        domain_self_hosting_verify(domain=domain)


def connect() -> None:
    family_homeserver_changed.connect(
        verify_self_hosting, sender=Family, dispatch_uid="domains.verify_self_hosting"
    )
