"""The repository explains itself: nothing in it points a reader at a file they cannot open.

Comments, docstrings, docs and tests cite the repository's own documents (``README.md``,
``docs/*.md``) or public sources by name (``pubky-core v0.6.0``, ``pkarr``, ``BEP 44``,
``RFC 1035 §4.1.4``). Working notes that live outside the repository, and section numbers
into them, are not allowed: a reader of a checkout cannot follow them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()

#: Names of documents that exist only outside the repository (matched case-insensitively).
OUTSIDE_DOCUMENTS = ("DESIGN.md", "STYLE.md", "PUBKY_PROTOCOL", "seed document", "/work/shared")

#: A section mark is fine when it follows the name of a public source: "RFC 3597 §4",
#: "BEP 44 §2", "UTS #46 §4". A bare "(§9.6)" points into a document nobody can open.
_NAMED_SECTION = re.compile(r"(?:RFC|BEP|UTS)\s*#?\d+[,:]?\s*§$")


def outside_references(text: str) -> list[str]:
    """Every citation in ``text`` that points outside the repository, as ``line N: …``."""
    found: list[str] = []
    lowered_names = [name.lower() for name in OUTSIDE_DOCUMENTS]
    for number, line in enumerate(text.splitlines(), start=1):
        lowered = line.lower()
        for name, lowered_name in zip(OUTSIDE_DOCUMENTS, lowered_names, strict=True):
            if lowered_name in lowered:
                found.append(f"line {number}: {name!r} in {line.strip()!r}")
        for mark in re.finditer("§", line):
            if not _NAMED_SECTION.search(line[: mark.end()]):
                found.append(f"line {number}: bare section mark in {line.strip()!r}")
    return found


def tracked_text_files() -> list[str]:
    """Paths of the tracked regular text files (no symlinks, no binaries), this test excluded."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    paths = []
    for name in filter(None, listing.split("\0")):
        path = ROOT / name
        if name == THIS_FILE or path.is_symlink() or not path.is_file():
            continue
        paths.append(name)
    return paths


def test_no_tracked_file_cites_a_document_outside_the_repository() -> None:
    problems: list[str] = []
    files = tracked_text_files()
    assert len(files) > 100, "git ls-files listed suspiciously few files"
    for name in files:
        data = (ROOT / name).read_bytes()
        if b"\0" in data:
            continue  # binary
        problems += [f"{name} {p}" for p in outside_references(data.decode("utf-8", "replace"))]
    assert not problems, (
        "cite the repository's own docs (README, docs/*.md) or a public source by name "
        "instead:\n" + "\n".join(problems)
    )


@pytest.mark.parametrize(
    "text",
    [
        "# byte layout as in shared/PUBKY_PROTOCOL.md §3.1",
        "see DESIGN.md for the outbox",
        "(style.md §7)",
        "The Seed Documents' names are kept as aliases.",
        "the /events/ feed (§9.6)",
        "§3.1 vector",
        "- the rules (§1)",
    ],
)
def test_the_check_catches_an_outside_citation(text: str) -> None:
    assert outside_references(text)


@pytest.mark.parametrize(
    "text",
    [
        "Types whose rdata is a compressible name (RFC 3597 §4).",
        "per RFC 1035 §4.1.4 and BEP 44 §2, also UTS #46 §4",
        "the key of the all-zero seed; the seed is sealed at rest",
        'See docs/pubky.md, "PKARR relays".',
    ],
)
def test_the_check_accepts_named_public_sources_and_key_seeds(text: str) -> None:
    assert outside_references(text) == []
