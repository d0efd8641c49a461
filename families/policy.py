"""Moved: the access policy is :mod:`pubkyproject.policy`, with the families app's rules in
:mod:`families.access_rules`.

This alias stays only while ``families/admin.py`` still imports ``families.policy``; delete it
once that import reads ``from pubkyproject import policy``.
"""

from pubkyproject.policy import can_change, can_read, can_read_audit, scope

__all__ = ["can_change", "can_read", "can_read_audit", "scope"]
