"""The project stands alone: nothing it ships points at notes outside its repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(
    r"\.\./shared|\bshared/(DESIGN|STYLE|FACTS)|\b(DESIGN|STYLE|FACTS)\.md\b|DESIGN section"
)


def test_no_file_refers_to_notes_outside_the_repository() -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    found = []
    for name in files:
        path = REPO / name
        if name == "tests/docs/test_stands_alone.py" or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue  # binary
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{name}:{number}: {line.strip()}")
    assert found == []
