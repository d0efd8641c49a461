"""What the families app announces to the apps above it (which it never imports).

Apps that keep data about a family connect receivers in their ``AppConfig.ready()``.
"""

from __future__ import annotations

from django.dispatch import Signal

#: The family's proven homeserver key was attached or detached (``family=``: the stored
#: family). Sent after the change is committed and outside any transaction, so receivers may
#: use the network (e.g. check which of the family's domains point at the homeserver).
family_homeserver_changed = Signal()

#: The family's signing key was replaced (``family=``: the stored family). Sent inside the
#: rotation's transaction: what receivers write commits or rolls back with it.
family_key_rotated = Signal()
