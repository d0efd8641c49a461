"""``devstack reset`` (``./scripts/reset``): stop leftovers and delete a profile's data."""

from __future__ import annotations

import argparse
import contextlib
import shutil

from ..children import Stack
from ..console import rel, say
from ..paths import data_root
from ..postgres import private_tmp_path, reap_stale_postmaster


def cmd_reset(args: argparse.Namespace) -> int:
    names = ["run", "test"] if args.which == "all" else [args.which]
    for name in names:
        stack = Stack(data_root() / name)
        stack.lock(f"./scripts/{name}")
        stack.reap_leftovers()
        for path in (stack.data_dir, private_tmp_path(str(stack.data_dir))):
            if path.exists():
                reap_stale_postmaster(path / "postgres")
                shutil.rmtree(path)
                say(f"removed {rel(path)}")
    if args.which == "all":
        with contextlib.suppress(FileNotFoundError):
            (data_root() / "local.env").unlink()
            say(f"removed {rel(data_root() / 'local.env')}")
    return 0
