"""The guardians app's part of the access policy (:mod:`pubkyproject.policy`).

Registered from :meth:`guardians.apps.GuardiansConfig.ready`: guardians, their notifications and
approvals are administered by the family's admins, and a principal's guardianships are the
families it is an active guardian of.
"""

from __future__ import annotations

from families.models import FamilyRole
from guardians.models import (
    FederationGuardian,
    GuardianApproval,
    GuardianNotification,
    GuardianStatus,
)
from pubkyproject import policy

_GUARDIAN_OF_SQL = """
SELECT coalesce(json_agg(g.family_id), '[]'::json)
  FROM federation_guardians g WHERE g.user_id = u.id AND g.status = %s
"""


def register() -> None:
    admin = FamilyRole.ADMIN
    policy.register_paths(FederationGuardian, policy.Paths(family="family_id", change_role=admin))
    policy.register_paths(GuardianNotification, policy.Paths(family="family_id", change_role=admin))
    policy.register_paths(
        GuardianApproval,
        policy.Paths(
            family="migration__domain__family_id",
            domain="migration__domain_id",
            change_role=admin,
        ),
    )
    policy.register_principal_part(
        "guardian_of",
        policy.PrincipalPart(sql=_GUARDIAN_OF_SQL, params=lambda: [GuardianStatus.ACTIVE]),
    )
