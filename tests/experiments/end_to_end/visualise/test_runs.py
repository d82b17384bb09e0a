from __future__ import annotations

from pathlib import Path

import pytest

from data.traces.attempts import AttemptRecord
from data.traces.files import TraceError, trace_path, write_trace
from experiments.end_to_end.visualise.runs import RunIndex, attempt_row, read_trace

from .conftest import search_trace_of


def test_index_lists_good_attempts_and_says_what_it_skipped(messy_run: Path) -> None:
    index = RunIndex.load(messy_run, progress=False)
    assert [e.key for e in index.entries] == ["0/CONJ_AB", "0/OPEN_ONE", "1/CONJ_AB"]
    assert all(isinstance(e, AttemptRecord) for e in index.entries)
    skipped = dict(index.skipped)
    assert set(skipped) == {str(trace_path(messy_run, 1, n)) for n in ("BROKEN", "ANCIENT")}
    assert "gzip" in skipped[str(trace_path(messy_run, 1, "BROKEN"))]
    assert "schema_version: 0" in skipped[str(trace_path(messy_run, 1, "ANCIENT"))]
    notices = index.notices()
    assert len(notices) == 2 and all(n.startswith("Skipped ") for n in notices)
    assert index.iterations == [0, 1]


def test_filters_and_sorts(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    for i, name in enumerate(["ZETA_LEMMA", "ALPHA", "MIDDLE_ONE"]):
        trace = search_trace_of(name, iteration=i % 2, prove=name != "ALPHA")
        timings = trace.timings.model_copy(update={"total_s": float(i + 1)})
        write_trace(trace.model_copy(update={"timings": timings}), run_dir)
    index = RunIndex.load(run_dir, progress=False)
    assert [e.theorem_id for e in index.select(statuses=["failed"])] == ["ALPHA"]
    assert [e.theorem_id for e in index.select(iterations=[1])] == ["ALPHA"]
    assert [e.theorem_id for e in index.select(name="lemma")] == ["ZETA_LEMMA"]
    assert [e.theorem_id for e in index.select(sort="time")] == [
        "MIDDLE_ONE",
        "ALPHA",
        "ZETA_LEMMA",
    ]
    assert [e.theorem_id for e in index.select(sort="theorem")] == [
        "ALPHA",
        "MIDDLE_ONE",
        "ZETA_LEMMA",
    ]
    by_size = index.select(sort="size")
    assert [e.nodes for e in by_size] == sorted((e.nodes for e in by_size), reverse=True)
    with pytest.raises(ValueError, match="sort"):
        index.select(sort="colour")
    with pytest.raises(KeyError, match="7/NOPE"):
        index.find("7/NOPE")


def test_empty_and_missing_sources(tmp_path: Path) -> None:
    empty = RunIndex.load(tmp_path, progress=False)
    assert empty.entries == [] and empty.notices() == [f"No readable traces in {tmp_path}."]
    with pytest.raises(FileNotFoundError, match="no such run directory"):
        RunIndex.load(tmp_path / "nowhere", progress=False)


def test_a_single_trace_file_is_a_source(tmp_path: Path) -> None:
    path = write_trace(search_trace_of("ONLY"), tmp_path)
    index = RunIndex.load(path, progress=False)
    assert [e.key for e in index.entries] == ["0/ONLY"]


def test_rows_are_what_the_front_ends_read(tmp_path: Path) -> None:
    path = write_trace(search_trace_of("ROW"), tmp_path)
    (entry,) = RunIndex.load(path, progress=False).entries
    trace = read_trace(entry)
    assert attempt_row(entry) == {
        "id": "0/ROW",
        "key": "0/ROW",
        "iteration": 0,
        "theorem_id": "ROW",
        "status": "proved",
        "total_s": 1.5,
        "nodes": len(trace.nodes),
        "edges": len(trace.edges),
        "expansions": trace.counts.expansions,
        "proof_steps": len(trace.proof),
        "path": str(path),
    }
    path.write_bytes(b"broken since it was indexed")
    with pytest.raises(TraceError, match="attempt 0/ROW: .*not a valid gzip file"):
        read_trace(entry)
