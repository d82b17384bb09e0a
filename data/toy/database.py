"""The toy prover's theorem set, written by ``python -m environments.toy.export``.

One JSON line per theorem: its name (the theorem id), its statement (a propositional tautology
in the toy syntax, canonical form), its position in the set and its split (80/10/10 train,
valid, test by a hash of the name). Pure data: the statements are checked by the environment
(``environments/toy/env.py``), which parses them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from data.splits import SPLITS

DEFAULT_PATH = Path(__file__).with_name("theorems.jsonl")


@dataclass(frozen=True)
class ToyTheorem:
    """One theorem of the set: the toy environment's theorem record."""

    name: str
    statement: str
    position: int
    split: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any, where: str = "toy theorem record") -> ToyTheorem:
        """The record ``data`` holds; ValueError naming ``where`` and the problem otherwise."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: a toy theorem record is an object, got {data!r}")
        missing = [k for k in ("name", "statement", "position", "split") if k not in data]
        if missing:
            raise ValueError(f"{where}: not a toy theorem record, it lacks {missing}")
        name, statement, position, split = (
            data["name"],
            data["statement"],
            data["position"],
            data["split"],
        )
        if not (isinstance(name, str) and name and isinstance(statement, str)):
            raise ValueError(f"{where}: name and statement must be strings (name non-empty)")
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise ValueError(f"{where}: position must be a non-negative integer, got {position!r}")
        if split not in SPLITS:
            raise ValueError(f"{where}: split must be one of {SPLITS}, got {split!r}")
        return cls(name, statement, position, split)


class ToyTheorems:
    """The theorem set, in order, by name and by split (the loop's theorem source)."""

    def __init__(self, records: list[ToyTheorem], path: Path | None = None) -> None:
        self.path = path.resolve() if path is not None else None
        """The file the records were read from (None if built in memory)."""
        self.records = list(records)
        self.by_name = {r.name: r for r in self.records}
        if len(self.by_name) != len(self.records):
            raise ValueError("toy theorem set: two theorems have the same name")
        if [r.position for r in self.records] != list(range(len(self.records))):
            raise ValueError(
                "toy theorem set: positions must be 0..n-1 in file order "
                "(re-run python -m environments.toy.export)"
            )

    @staticmethod
    @lru_cache(maxsize=4)
    def cached(path: str | None = None) -> ToyTheorems:
        """The set at ``path`` (default: the packaged one), loaded once per process."""
        return ToyTheorems.load(path or DEFAULT_PATH)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH) -> ToyTheorems:
        path = Path(path)
        try:
            lines = path.read_text().splitlines()
        except OSError as e:
            raise FileNotFoundError(
                f"toy theorem set: cannot read '{path}' ({e}); write it with "
                "python -m environments.toy.export"
            ) from e
        records = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                data = json.loads(line)
            except ValueError as e:
                raise ValueError(f"{where}: not JSON ({e})") from e
            records.append(ToyTheorem.from_dict(data, where))
        return cls(records, path)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[ToyTheorem]:
        return iter(self.records)

    def __getitem__(self, name: str) -> ToyTheorem:
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"no theorem named {name!r} in the toy theorem set") from None

    def split(self, split: str) -> list[ToyTheorem]:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return [r for r in self.records if r.split == split]
