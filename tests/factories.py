"""factory_boy factories shared by the test packages."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from domains.models import DnsRecord, DomainRecord
from families.models import Family, FamilyMembership, FamilyRole, User
from guardians.models import FederationGuardian


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class FamilyFactory(DjangoModelFactory):
    class Meta:
        model = Family
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Family {n}")
    slug = factory.Sequence(lambda n: f"family-{n}")
    owner = factory.SubFactory(UserFactory)

    @factory.post_generation
    def owner_membership(obj, create, extracted, **kwargs):
        if create:
            FamilyMembership.objects.get_or_create(
                family=obj, user=obj.owner, defaults={"role": FamilyRole.OWNER}
            )


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = FamilyMembership

    family = factory.SubFactory(FamilyFactory)
    user = factory.SubFactory(UserFactory)
    role = FamilyRole.MEMBER


class DomainFactory(DjangoModelFactory):
    class Meta:
        model = DomainRecord

    name = factory.Sequence(lambda n: f"domain{n}.example")
    family = factory.SubFactory(FamilyFactory)


class DnsRecordFactory(DjangoModelFactory):
    class Meta:
        model = DnsRecord

    domain = factory.SubFactory(DomainFactory)
    name = "@"
    rtype = "A"
    value = factory.Sequence(lambda n: f"192.0.2.{n % 250 + 1}")
    ttl = 3600


class GuardianFactory(DjangoModelFactory):
    class Meta:
        model = FederationGuardian

    family = factory.SubFactory(FamilyFactory)
    user = factory.SubFactory(UserFactory)
    name = factory.LazyAttribute(lambda o: o.user.username.title())
    status = "active"
