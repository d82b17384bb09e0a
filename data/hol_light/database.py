"""The HOL Light theorem database exported by ``python -m environments.hol_light.export``.

One JSON line per named theorem: name, statement (HOL Light's printed form), its typed
s-expression, position in load order (premises of theorem i are theorems before i), the file
that binds it and a deterministic train/valid/test split.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from data.splits import SPLITS

DEFAULT_PATH = Path(__file__).with_name("theorems.jsonl")


@dataclass(frozen=True)
class TheoremRecord:
    """A named theorem of HOL Light; the environment's theorem record."""

    name: str
    statement: str
    sexp: str
    position: int
    split: str
    file: str = ""
    hypotheses: tuple[str, ...] = field(default=())
    hypothesis_sexps: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hypotheses"] = list(self.hypotheses)
        data["hypothesis_sexps"] = list(self.hypothesis_sexps)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, line: str, where: str = "") -> TheoremRecord:
        try:
            data = json.loads(line)
        except ValueError as e:
            raise ValueError(f"{where}: not JSON ({e})") from e
        return cls.from_dict(data, where)

    @classmethod
    def from_dict(cls, data: Any, where: str = "theorem record") -> TheoremRecord:
        try:
            record = cls(
                name=data["name"],
                statement=data["statement"],
                sexp=data["sexp"],
                position=int(data["position"]),
                split=data["split"],
                file=data.get("file", ""),
                hypotheses=tuple(data.get("hypotheses", ())),
                hypothesis_sexps=tuple(data.get("hypothesis_sexps", ())),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{where}: not a theorem record ({e!r})") from e
        texts = (record.name, record.statement, record.sexp, *record.hypotheses)
        if not all(isinstance(t, str) for t in texts):
            raise ValueError(f"{where}: name, statement, sexp and hypotheses must be strings")
        if record.split not in SPLITS:
            raise ValueError(f"{where}: split must be one of {SPLITS}, got {record.split!r}")
        return record


class TheoremDatabase:
    """All theorems, in load order, with lookups by name and split."""

    def __init__(self, records: list[TheoremRecord], path: Path | None = None) -> None:
        self.path = path.resolve() if path is not None else None
        """The file the records were read from (None if built in memory)."""
        self.records = sorted(records, key=lambda r: r.position)
        self.by_name = {r.name: r for r in self.records}
        self.names = frozenset(self.by_name)
        if len(self.by_name) != len(self.records):
            raise ValueError("theorem database has duplicate names")
        if [r.position for r in self.records] != list(range(len(self.records))):
            raise ValueError("theorem database positions must be 0..n-1 (re-run the export)")

    @staticmethod
    @lru_cache(maxsize=4)
    def cached(path: str | None = None) -> TheoremDatabase:
        """The database at ``path`` (default: the packaged one), loaded once per process."""
        return TheoremDatabase.load(path or DEFAULT_PATH)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH) -> TheoremDatabase:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(
                f"theorem database: no such file '{path}' "
                "(run python -m environments.hol_light.export)"
            )
        with path.open() as handle:
            records = [
                TheoremRecord.from_json(line, f"{path}:{i}")
                for i, line in enumerate(handle, 1)
                if line.strip()
            ]
        return cls(records, path)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[TheoremRecord]:
        return iter(self.records)

    def __getitem__(self, name: str) -> TheoremRecord:
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"no theorem named {name!r} in the database") from None

    def split(self, split: str) -> list[TheoremRecord]:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return [r for r in self.records if r.split == split]

    def premises_for(self, record: TheoremRecord) -> list[TheoremRecord]:
        """Theorems loaded before ``record``: what a proof of it may cite."""
        return self.records[: record.position]

    def premise_names_for(self, record: TheoremRecord) -> frozenset[str]:
        return frozenset(r.name for r in self.records[: record.position])
