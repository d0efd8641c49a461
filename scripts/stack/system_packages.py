"""Debian packages that optional test suites need, installed only when missing and only as root."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from .console import say, warn
from .signals import run_step

# Debian packages that optional test suites need (e.g. "chromium" for the browser tests). They are
# installed by scripts/test only when missing, see ensure_system_packages().
OPTIONAL_TEST_SYSTEM_PACKAGES: tuple[str, ...] = ("chromium",)


def ensure_system_packages(packages: Sequence[str]) -> list[str]:
    """Install Debian packages that are missing (root only) and return those still missing.

    The hook for optional suites such as the browser tests (``chromium``). Without root it only
    reports, so a developer's machine is never changed behind their back.
    """

    def missing() -> list[str]:
        result = []
        for name in packages:
            status = subprocess.run(  # noqa: S603 -- fixed argv, a package name of ours
                ["dpkg-query", "-W", "-f=${Status}", name],  # noqa: S607 -- from PATH
                capture_output=True,
                text=True,
                check=False,
            )
            if "install ok installed" not in status.stdout:
                result.append(name)
        return result

    if not packages or shutil.which("dpkg-query") is None:
        return list(packages)
    todo = missing()
    if todo and os.geteuid() == 0 and shutil.which("apt-get"):
        say(f"installing system packages: {' '.join(todo)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run_step(["apt-get", "update", "-qq"], env=env)
        run_step(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *todo], env=env)
        todo = missing()
    for name in todo:
        warn(
            f"system package {name} is missing (apt-get install {name}); tests needing it will skip"
        )
    return todo
