"""The HOL Light theorem database exported by ``python -m data.hol_light.export``.

One JSON line per named theorem: name, statement (HOL Light's printed form), its typed
s-expression, position in load order (premises of theorem i are theorems before i), the file
that binds it and a deterministic train/valid/test split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_PATH = Path(__file__).with_name("theorems.jsonl")
SPLITS = ("train", "valid", "test")


def split_of(name: str) -> str:
    """80/10/10 by a hash of the name: stable across exports and machines."""
    bucket = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 100
    return "train" if bucket < 80 else "valid" if bucket < 90 else "test"


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

    def to_json(self) -> str:
        data = asdict(self)
        data["hypotheses"], data["hypothesis_sexps"] = (
            list(self.hypotheses),
            list(self.hypothesis_sexps),
        )
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, line: str, where: str = "") -> TheoremRecord:
        try:
            data = json.loads(line)
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
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{where}: not a theorem record ({e!r})") from e
        if record.split not in SPLITS:
            raise ValueError(f"{where}: split must be one of {SPLITS}, got {record.split!r}")
        return record


class TheoremDatabase:
    """All theorems, in load order, with lookups by name and split."""

    def __init__(self, records: list[TheoremRecord]) -> None:
        self.records = sorted(records, key=lambda r: r.position)
        self.by_name = {r.name: r for r in self.records}
        if len(self.by_name) != len(self.records):
            raise ValueError("theorem database has duplicate names")

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH) -> TheoremDatabase:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(
                f"theorem database: no such file '{path}' (run python -m data.hol_light.export)"
            )
        with path.open() as handle:
            records = [
                TheoremRecord.from_json(line, f"{path}:{i}")
                for i, line in enumerate(handle, 1)
                if line.strip()
            ]
        return cls(records)

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
