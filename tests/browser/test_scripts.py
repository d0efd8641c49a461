"""The dashboard's JavaScript, unit by unit, under node's own test runner (no packages)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from realtime.views import ASSET_DIR
from tests.browser.conftest import _in_ci

TESTS = Path(__file__).parent / "js"


def test_the_dashboard_modules_pass_their_node_tests(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        if _in_ci():
            pytest.fail("node is missing (Node 20 is a requirement of ./scripts/test)")
        pytest.skip("node is not installed")
    # The modules are plain ES modules served as-is; next to a package.json saying so, node
    # loads them exactly as the browser does.
    shutil.copytree(ASSET_DIR, tmp_path / "dashboard")
    (tmp_path / "package.json").write_text(json.dumps({"type": "module"}))
    for test_file in TESTS.glob("*.test.mjs"):
        shutil.copy(test_file, tmp_path)
    result = subprocess.run(
        [node, "--test", *sorted(p.name for p in tmp_path.glob("*.test.mjs"))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
