"""``<data dir>/stack.json``: where ``./scripts/run`` serves, for ``./scripts/manage`` to find."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from .environment import Setup

# What ./scripts/manage needs to talk to the stack ./scripts/run started, whatever its ports:
# these, and every PUBKY_* value (the testnet's relays, homeserver, …) except the key material,
# which comes from .data/local.env for both anyway.
STACK_STATE_KEYS = ("DATABASE_URL", "REDIS_URL", "PORT")
STACK_STATE_SECRETS = ("PUBKY_KEY_ENCRYPTION_KEY", "PUBKY_KEY_DECRYPTION_KEYS")


def stack_state_key(key: str) -> bool:
    return key in STACK_STATE_KEYS or (key.startswith("PUBKY_") and key not in STACK_STATE_SECRETS)


def stack_state_path(data_dir: Path) -> Path:
    return data_dir / "stack.json"


def write_stack_state(setup: Setup) -> None:
    """Record the running stack's addresses (removed again when ./scripts/run stops)."""
    state = {key: value for key, value in setup.env.items() if value and stack_state_key(key)}
    path = stack_state_path(setup.data_dir)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(state, handle, indent=1, sort_keys=True)
    tmp.replace(path)


def running_stack_state(data_dir: Path) -> dict[str, str] | None:
    """The addresses of the ./scripts/run that holds ``data_dir`` now, or None if none runs."""
    path = stack_state_path(data_dir)
    if not path.exists():
        return None
    try:
        with open(data_dir / "devstack.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # held: the run that wrote the state is alive
            else:
                return None  # a crashed run left the file behind
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    return {str(k): str(v) for k, v in state.items() if stack_state_key(str(k))}
