"""The attempts of a run directory (or of trace files), for listing, filtering and sorting.

The index keeps a few numbers per attempt and the trace's path; a trace is read again only
when it is shown. Files that do not load (corrupt, another schema version) are kept in
`skipped` with the loader's reason, so the front ends can say what they left out.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from experiments.end_to_end.traces import (
    TRACES_DIR,
    ProofTrace,
    TraceError,
    iter_traces,
    load_trace,
)

SORT_KEYS = {
    "time": lambda e: -e.total_s,
    "size": lambda e: -e.nodes,
    "theorem": lambda e: (e.theorem_id, e.iteration),
    "iteration": lambda e: (e.iteration, e.theorem_id),
}


def attempt_key(trace: ProofTrace) -> str:
    """How the front ends name an attempt: ``<iteration>/<theorem id>``."""
    return f"{trace.iteration}/{trace.theorem_id}"


@dataclass(frozen=True)
class AttemptEntry:
    """One row of the attempt list."""

    key: str
    iteration: int
    theorem_id: str
    status: str
    total_s: float
    nodes: int
    edges: int
    expansions: int
    proof_steps: int
    path: str

    @classmethod
    def of(cls, trace: ProofTrace, path: Path) -> AttemptEntry:
        return cls(
            key=attempt_key(trace),
            iteration=trace.iteration,
            theorem_id=trace.theorem_id,
            status=trace.status,
            total_s=round(trace.timings.total_s, 3),
            nodes=int(trace.counts.get("nodes", len(trace.nodes))),
            edges=int(trace.counts.get("edges", len(trace.edges))),
            expansions=int(trace.counts.get("expansions", 0)),
            proof_steps=len(trace.proof),
            path=str(path),
        )

    def row(self) -> dict[str, Any]:
        return {"id": self.key, **asdict(self)}


@dataclass
class RunIndex:
    """Every attempt found under a source, and what could not be read."""

    source: Path
    entries: list[AttemptEntry]
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
        loader = iter_traces(root)
        entries = []
        bar = tqdm(
            loader.with_paths(),
            total=len(loader.files),
            desc="reading traces",
            unit="trace",
            disable=not progress,
            file=sys.stderr,
        )
        for path, trace in bar:
            entries.append(AttemptEntry.of(trace, path))
        entries.sort(key=SORT_KEYS["iteration"])
        return cls(source, entries, [(str(p), reason) for p, reason in loader.skipped])

    @property
    def iterations(self) -> list[int]:
        return sorted({e.iteration for e in self.entries})

    def find(self, key: str) -> AttemptEntry:
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
    ) -> list[AttemptEntry]:
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


def read_trace(entry: AttemptEntry) -> ProofTrace:
    """Load an indexed trace again (it may have changed or broken since it was indexed)."""
    try:
        return load_trace(Path(entry.path))
    except TraceError as e:
        raise TraceError(f"attempt {entry.key}: {e}") from e
