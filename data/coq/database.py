"""The Coq theorem database exported by ``python -m environments.coq export``.

A directory with two files:

- ``files.json``: the library it was exported from (its root directory, logical prefix
  and the coqidetop arguments that load it) and, per source file in load order, its
  SHA-256, the files it requires, the definitions it declares (premises that are not
  theorems) and the tactics it defines;
- ``theorems.jsonl``: one line per lemma, in load order: qualified and short name, file,
  the index of its statement among the file's sentences, the root goal as Coq prints it,
  the library's own proof split into tactics with the goal before each, the axioms that
  proof assumes, and a train/valid/test split that is a function of the name.

A theorem's context is its file's sentences up to its statement, read from the library
source; the file hashes make a database and a library that disagree fail before any attempt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from data.splits import SPLITS

DEFAULT_DIR = Path(__file__).with_name("stdlib")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
FILES = "files.json"
THEOREMS = "theorems.jsonl"


@dataclass(frozen=True)
class TracedTactic:
    """One tactic of the library's own proof and the goal it was applied to."""

    tactic: str
    hypotheses: tuple[str, ...]
    conclusion: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "tactic": self.tactic,
            "hypotheses": list(self.hypotheses),
            "conclusion": self.conclusion,
        }

    @classmethod
    def from_dict(cls, data: Any) -> TracedTactic:
        return cls(data["tactic"], tuple(data["hypotheses"]), data["conclusion"])


@dataclass(frozen=True)
class CoqTheorem:
    """A lemma of a Coq library; the environment's theorem record."""

    name: str  # qualified: Coq.Arith.PeanoNat.Nat.add_comm
    short_name: str  # as declared: add_comm (what Print Assumptions is asked at its Qed)
    file: str  # relative to the library root: Arith/PeanoNat.v
    sentence: int  # index of the statement among the file's sentences
    statement: str  # as written in the source
    hypotheses: tuple[str, ...]  # the root goal as Coq prints it
    conclusion: str
    position: int  # load order over the database; premises come before
    split: str
    axioms: tuple[str, ...] = ()  # what the library's own proof assumes
    proof: tuple[TracedTactic, ...] = field(default=())  # the library's own, traced

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "short_name": self.short_name,
            "file": self.file,
            "sentence": self.sentence,
            "statement": self.statement,
            "hypotheses": list(self.hypotheses),
            "conclusion": self.conclusion,
            "position": self.position,
            "split": self.split,
            "axioms": list(self.axioms),
            "proof": [t.to_dict() for t in self.proof],
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "theorem record") -> CoqTheorem:
        try:
            record = cls(
                name=data["name"],
                short_name=data["short_name"],
                file=data["file"],
                sentence=int(data["sentence"]),
                statement=data["statement"],
                hypotheses=tuple(data["hypotheses"]),
                conclusion=data["conclusion"],
                position=int(data["position"]),
                split=data["split"],
                axioms=tuple(data.get("axioms", ())),
                proof=tuple(TracedTactic.from_dict(t) for t in data.get("proof", ())),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{where}: not a Coq theorem record ({e!r})") from e
        texts = (record.name, record.short_name, record.file, record.statement, record.conclusion)
        if not all(isinstance(t, str) and t for t in texts):
            raise ValueError(f"{where}: name, short_name, file, statement, conclusion: non-empty")
        if record.split not in SPLITS:
            raise ValueError(f"{where}: split must be one of {SPLITS}, got {record.split!r}")
        if record.sentence < 0:
            raise ValueError(f"{where}: sentence must be >= 0, got {record.sentence}")
        return record


@dataclass(frozen=True)
class SourceFile:
    """A library file as exported: its hash, what it requires and what it defines."""

    path: str
    sha256: str
    requires: tuple[str, ...]
    definitions: tuple[tuple[str, str, int], ...]  # (qualified name, its sentence, its index)
    tactics: tuple[tuple[str, int], ...] = ()  # Ltac names it defines, with their sentence index


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class CoqDatabase:
    """All exported lemmas in load order, their files, and each lemma's premises."""

    def __init__(
        self,
        records: list[CoqTheorem],
        files: list[SourceFile],
        library_root: Path,
        logical_prefix: str = "Coq",
        path: Path | None = None,
        prelude_tactics: tuple[str, ...] = (),
        coq_args: tuple[str, ...] = (),
    ) -> None:
        self.path = path.resolve() if path is not None else None
        self.library_root = Path(library_root)
        self.logical_prefix = logical_prefix
        self.prelude_tactics = prelude_tactics  # tactics Coq's prelude defines (Init/*.v)
        self.coq_args = coq_args  # what coqidetop needs to load the library (-R dir Name)
        self.records = sorted(records, key=lambda r: r.position)
        self.by_name = {r.name: r for r in self.records}
        if len(self.by_name) != len(self.records):
            raise ValueError("Coq theorem database has duplicate names")
        self.files = {f.path: f for f in files}
        missing = sorted({r.file for r in self.records} - set(self.files))
        if missing:
            raise ValueError(f"Coq theorem database: theorems of unlisted files {missing[:3]}")
        self._closure: dict[str, frozenset[str]] = {}

    @staticmethod
    @lru_cache(maxsize=4)
    def cached(path: str | None = None) -> CoqDatabase:
        """The database in directory ``path`` (default: the packaged one), loaded once."""
        return CoqDatabase.load(path or DEFAULT_DIR)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_DIR) -> CoqDatabase:
        """The database in directory ``path``; a relative path missing here is looked up
        under the project root, so ``data/coq/stdlib`` works from any directory."""
        path = Path(path)
        if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).exists():
            path = PROJECT_ROOT / path
        files_path, theorems_path = path / FILES, path / THEOREMS
        for p in (files_path, theorems_path):
            if not p.exists():
                raise FileNotFoundError(
                    f"Coq theorem database: no such file '{p}' (run python -m environments.coq "
                    "export)"
                )
        header = json.loads(files_path.read_text())
        files = [
            SourceFile(
                f["path"],
                f["sha256"],
                tuple(f["requires"]),
                tuple((d[0], d[1], int(d[2])) for d in f["definitions"]),
                tuple((t[0], int(t[1])) for t in f.get("tactics", ())),
            )
            for f in header["files"]
        ]
        with theorems_path.open() as handle:
            records = [
                CoqTheorem.from_dict(json.loads(line), f"{theorems_path}:{i}")
                for i, line in enumerate(handle, 1)
                if line.strip()
            ]
        return cls(
            records,
            files,
            Path(header["library_root"]),
            header["logical_prefix"],
            path,
            tuple(header.get("prelude_tactics", ())),
            tuple(header.get("coq_args", ())),
        )

    def save(self, path: str | Path) -> None:
        from data.files import write_atomic

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        header = {
            "library_root": str(self.library_root),
            "logical_prefix": self.logical_prefix,
            "prelude_tactics": list(self.prelude_tactics),
            "coq_args": list(self.coq_args),
            "files": [
                {
                    "path": f.path,
                    "sha256": f.sha256,
                    "requires": list(f.requires),
                    "definitions": [list(d) for d in f.definitions],
                    "tactics": [list(t) for t in f.tactics],
                }
                for f in self.files.values()
            ],
        }
        write_atomic(path / FILES, json.dumps(header, indent=1) + "\n")
        lines = "".join(json.dumps(r.to_dict(), sort_keys=True) + "\n" for r in self.records)
        write_atomic(path / THEOREMS, lines)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[CoqTheorem]:
        return iter(self.records)

    def __getitem__(self, name: str) -> CoqTheorem:
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"no theorem {name!r} in the Coq theorem database") from None

    def split(self, split: str) -> list[CoqTheorem]:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return [r for r in self.records if r.split == split]

    def check_library(self) -> None:
        """Raise ValueError unless every exported file is on disk, unchanged."""
        for f in self.files.values():
            source = self.library_root / f.path
            if not source.exists():
                raise ValueError(
                    f"Coq library file {source} is missing (the database was exported from "
                    f"{self.library_root}; install coq or re-run the export)"
                )
            if file_sha256(source) != f.sha256:
                raise ValueError(
                    f"Coq library file {source} differs from the one exported (another Coq "
                    "version?); re-run python -m environments.coq export"
                )

    def dependencies(self, file: str) -> frozenset[str]:
        """The exported files ``file`` loads, transitively, itself included."""
        if file not in self._closure:
            seen: set[str] = set()
            stack = [file]
            while stack:
                f = stack.pop()
                if f in seen or f not in self.files:
                    continue
                seen.add(f)
                stack.extend(self.files[f].requires)
            self._closure[file] = frozenset(seen)
        return self._closure[file]

    def tactics_for(self, thm: CoqTheorem) -> frozenset[str]:
        """Names of the library tactics defined in ``thm``'s context (the prelude's included)."""
        names = set(self.prelude_tactics)
        for f in self.dependencies(thm.file):
            names.update(
                n for n, index in self.files[f].tactics if f != thm.file or index < thm.sentence
            )
        return frozenset(names)

    def module_of(self, file: str) -> str:
        """The logical name a file is loaded under: Arith/PeanoNat.v is Coq.Arith.PeanoNat."""
        stem = file[: -len(".v")] if file.endswith(".v") else file
        return ".".join([self.logical_prefix, *stem.split("/")])

    def premises_for(self, thm: CoqTheorem) -> list[tuple[str, str]]:
        """(name, statement) of what ``thm`` may cite: lemmas and definitions loaded before it.

        Those of its own file that come earlier (named relative to the file, as they are in
        its context) and everything of the files it requires (fully qualified).
        """
        deps = self.dependencies(thm.file)
        own = self.module_of(thm.file) + "."

        def cite(name: str, file: str) -> str:
            return name[len(own) :] if file == thm.file and name.startswith(own) else name

        out: list[tuple[str, str]] = []
        for f in sorted(deps):
            for name, text, index in self.files[f].definitions:
                if f != thm.file or index < thm.sentence:
                    out.append((cite(name, f), text))
        for r in self.records:
            if r.position >= thm.position:
                break
            if r.file in deps:
                out.append((cite(r.name, r.file), r.statement))
        return out
