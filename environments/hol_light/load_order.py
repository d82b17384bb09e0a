"""The order in which HOL Light binds its named theorems, rebuilt from its sources.

``!theorems`` is sorted by name, not by load order, so the order (which theorems may serve as
premises of which) comes from scanning the files ``hol.ml`` loads, in order, for each name's
last top-level binding: ``let X =``, ``let A,B =``, ``let [A;B] =``, ``and X =``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

_LOADS = re.compile(r'^loads\s+"([^"]+)"\s*;;', re.MULTILINE)
_BINDING = re.compile(r"^(?:let(?:\s+rec)?|and)\s+([^=]+?)\s*=", re.MULTILINE)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_']*")
_MODULE = re.compile(r"^module\s+([A-Z][A-Za-z0-9_]*)\s*=\s*struct", re.MULTILINE)


def loaded_files(hol_dir: Path) -> list[Path]:
    """The files ``hol.ml`` loads, in order."""
    text = (hol_dir / "hol.ml").read_text(errors="replace")
    return [hol_dir / name for name in _LOADS.findall(text)]


def _strip_comments(text: str) -> str:
    """Blank out comments (which nest), string literals and `term quotations` (where `(*)`
    is an operator, not a comment), keeping line structure."""
    out: list[str] = []
    i, n, depth = 0, len(text), 0
    while i < n:
        two = text[i : i + 2]
        if two == "(*" and not (depth == 0 and text[i : i + 3] == "(*)"):
            depth += 1
            i += 2
        elif depth and two == "*)":
            depth -= 1
            i += 2
        elif depth:
            out.append("\n" if text[i] == "\n" else "")
            i += 1
        elif text[i] in '`"':
            close = text[i]
            j = i + 1
            while j < n and text[j] != close:
                j += 2 if close == '"' and text[j] == "\\" else 1
            out.append(" " + "\n" * text.count("\n", i, j + 1) + " ")
            i = j + 1
        elif text[i] == "'" and text[i + 2 : i + 3] == "'":
            out.append("' '")  # a character literal such as '`' or '"'
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def bindings(path: Path) -> Iterator[str]:
    """Names bound at top level in ``path``, in textual order (patterns split into names)."""
    text = _strip_comments(path.read_text(errors="replace"))
    modules = [(m.start(), m.group(1)) for m in _MODULE.finditer(text)]
    for match in _BINDING.finditer(text):
        pattern = match.group(1)
        if "(" in pattern and "," not in pattern:
            continue  # a function definition `let f (x) =`, not a theorem pattern
        words = pattern.replace("[", " ").replace("]", " ").replace(",", " ").replace(";", " ")
        names = words.split()
        simple = len(names) == 1 or "," in pattern or "[" in pattern
        if not simple or not all(_NAME.fullmatch(n) for n in names):
            continue
        inside = [name for start, name in modules if start < match.start()]
        for name in names:
            yield name
            if inside:
                yield f"{inside[-1]}.{name}"  # e.g. Hashek.hashek_eq in thecops.ml


def load_order(hol_dir: Path, names: set[str]) -> dict[str, int]:
    """Rank of each of ``names`` in load order (its last binding wins); missing names absent."""
    last: dict[str, tuple[int, int]] = {}
    counter = 0
    for file_index, path in enumerate(loaded_files(hol_dir)):
        if not path.exists():
            continue
        for name in bindings(path):
            if name in names:
                last[name] = (file_index, counter)
            counter += 1
    ordered = sorted(last, key=lambda n: last[n])
    return {name: rank for rank, name in enumerate(ordered)}


def source_files(hol_dir: Path, names: set[str]) -> dict[str, str]:
    """The file (relative to ``hol_dir``) holding each name's last binding."""
    where: dict[str, str] = {}
    for path in loaded_files(hol_dir):
        if path.exists():
            for name in bindings(path):
                if name in names:
                    where[name] = path.name
    return where
