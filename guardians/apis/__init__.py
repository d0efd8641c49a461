"""The guardians API, one module per topic (``guardians.urls`` routes them).

``roster`` (guardians and their backup reports), ``notifications`` and ``decisions`` (approve
or reject a migration). Decisions and backup reports go through ``guardians.services``, which
ask the policy themselves (``can_decide_migration``; the guardian or an administrator): a
refusal there is the same 403, recorded as ``access_denied``.
"""
