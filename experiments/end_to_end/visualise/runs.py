"""The attempts of a run directory (or of trace files), for listing, filtering and sorting.

The index keeps one `AttemptRecord` per attempt (a few numbers and the trace's path); a trace is
read again only when it is shown. Files that do not load (corrupt, another schema version) are
kept in `skipped` with the loader's reason, so the front ends can say what they left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.traces.attempts import AttemptRecord
from data.traces.files import TRACES_DIR, TraceError, load_trace
from data.traces.loader import TraceLoader
from data.traces.schema import ProofTrace

SORT_KEYS: dict[str, Callable[[AttemptRecord], Any]] = {
    "time": lambda e: -e.total_s,
    "size": lambda e: -e.nodes,
    "theorem": lambda e: (e.theorem_id, e.iteration),
    "iteration": lambda e: (e.iteration, e.theorem_id),
}


def attempt_row(entry: AttemptRecord) -> dict[str, Any]:
    """One row of the attempt list, as both front ends (and ``static/standalone.js``) read it."""
    return {
        "id": entry.key,
        "key": entry.key,
        "iteration": entry.iteration,
        "theorem_id": entry.theorem_id,
        "status": entry.status,
        "total_s": round(entry.total_s, 3),
        "nodes": entry.nodes,
        "edges": entry.edges,
        "expansions": entry.expansions,
        "proof_steps": entry.proof_length,
        "path": entry.path,
    }


@dataclass
class RunIndex:
    """Every attempt found under a source, and what could not be read."""

    source: Path
    entries: list[AttemptRecord]
    skipped: list[tuple[str, str]]

    @classmethod
    def load(cls, source: Path | str, progress: bool = True) -> RunIndex:
        """Index a run directory (its ``traces/``), a traces directory or one trace file.

        A missing source is an error; a run with no traces is an empty index, not an error.
        """
        source = Path(source)
        if not source.exists():
            raise FileNotFoundError(f"{source}: no such run directory or trace file")
        root = source / TRACES_DIR if (source / TRACES_DIR).is_dir() else source
        if source.is_dir() and not root.is_dir():
            return cls(source, [], [])
        loader = TraceLoader(root, progress="reading traces" if progress else None)
        entries = [AttemptRecord.of(trace, path) for path, trace in loader.with_paths()]
        entries.sort(key=SORT_KEYS["iteration"])
        return cls(source, entries, [(str(p), reason) for p, reason in loader.skipped])

    @property
    def iterations(self) -> list[int]:
        return sorted({e.iteration for e in self.entries})

    def find(self, key: str) -> AttemptRecord:
        for entry in self.entries:
            if entry.key == key:
                return entry
        raise KeyError(f"no attempt {key!r} in {self.source} (keys are <iteration>/<theorem id>)")

    def select(
        self,
        statuses: list[str] | None = None,
        iterations: list[int] | None = None,
        name: str = "",
        sort: str = "iteration",
    ) -> list[AttemptRecord]:
        """The entries that pass the filters (empty filter: all), in the chosen order."""
        if sort not in SORT_KEYS:
            raise ValueError(f"sort: {sort!r} is not one of {sorted(SORT_KEYS)}")
        needle = name.strip().lower()
        chosen = [
            e
            for e in self.entries
            if (not statuses or e.status in statuses)
            and (not iterations or e.iteration in iterations)
            and needle in e.theorem_id.lower()
        ]
        return sorted(chosen, key=SORT_KEYS[sort])

    def notices(self) -> list[str]:
        """What a user should know about this index: no traces, skipped files."""
        notes = []
        if not self.entries:
            notes.append(f"No readable traces in {self.source}.")
        notes += [
            f"Skipped {reason}" if reason.startswith(path) else f"Skipped {path}: {reason}"
            for path, reason in self.skipped
        ]
        return notes


def read_trace(entry: AttemptRecord) -> ProofTrace:
    """Load an indexed trace again (it may have changed or broken since it was indexed)."""
    if entry.path is None:
        raise TraceError(f"attempt {entry.key}: the index holds no trace file for it")
    try:
        return load_trace(entry.path)
    except TraceError as e:
        raise TraceError(f"attempt {entry.key}: {e}") from e
