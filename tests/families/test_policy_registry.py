"""The access policy's framework (``pubkyproject.policy``) knows no model: every app registers
the rules for its own objects from its ``ready()``, and a model nobody registered is refused."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured

from domains.models import DomainRecord, PubkyDomain
from families.models import Family
from guardians.models import GuardianApproval
from pubkyproject import policy
from tests.factories import FamilyFactory

pytestmark = pytest.mark.django_db


def test_a_model_without_a_registered_rule_is_refused_not_guessed() -> None:
    content_type = ContentType.objects.get_for_model(Family)
    owner = FamilyFactory().owner
    with pytest.raises(TypeError, match="no rule for ContentType"):
        policy.can_read(owner, content_type)
    with pytest.raises(TypeError, match="no rule for ContentType"):
        policy.scope(owner, ContentType.objects.all())


def test_a_second_rule_for_the_same_model_is_a_configuration_error() -> None:
    with pytest.raises(ImproperlyConfigured, match="already has a rule for DomainRecord"):
        policy.register_paths(DomainRecord, policy.Paths(family="family_id"))
    assert policy.paths_for(DomainRecord).domain == "pk"  # the app's own rule still stands


def test_each_app_registered_its_grant_targets_and_rules() -> None:
    assert dict(policy.grant_targets()) == {
        Family: "family",
        DomainRecord: "domain",
        PubkyDomain: "pubky_domain",
    }
    assert policy.grant_target_model("pubky_domain") is PubkyDomain
    assert policy.grant_kind("domains.domainrecord") == "domain"
    assert policy.paths_for(GuardianApproval).family == "migration__domain__family_id"
    with pytest.raises(LookupError):
        policy.grant_target_model("guardian")


def test_the_family_an_object_belongs_to_follows_its_registered_path() -> None:
    family = FamilyFactory()
    domain = DomainRecord.objects.create(family=family, name="owned.example", owner=family.owner)
    assert policy.family_of(domain) == family.pk
    assert policy.family_of(family) == family.pk
