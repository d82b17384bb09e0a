"""The one trace loader: good traces in, unreadable files skipped, named and counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.traces.attempts import AttemptRecord
from data.traces.files import TraceError
from data.traces.loader import TraceLoader
from tests.data.traces.sample import make_trace
from tests.data.traces.test_files import populate_iteration


def test_the_loader_skips_and_counts_unreadable_files(tmp_path: Path) -> None:
    populate_iteration(tmp_path, 0)
    populate_iteration(tmp_path, 1)
    seen: list[tuple[Path, str]] = []
    loader = TraceLoader(tmp_path / "traces", on_error=lambda p, e: seen.append((p, e)))
    loaded = list(loader)
    # WRONG_NAME loads fine on its own: only resume cares that names match.
    assert sorted((t.iteration, t.theorem_id) for t in loaded) == [
        (0, "A_THM"),
        (0, "B_THM'"),
        (0, "OTHER"),
        (1, "A_THM"),
        (1, "B_THM'"),
        (1, "OTHER"),
    ]
    assert loader.loaded == 6 and len(loader.skipped) == 4 and seen == loader.skipped
    assert {p.name for p, _ in loader.skipped} == {"BROKEN.json.gz", "OLD.json.gz"}
    assert all(str(p) in msg for p, msg in loader.skipped)
    assert len(list(loader)) == 6 and len(loader.skipped) == 4  # a second pass recounts


def test_the_loader_takes_explicit_files_and_refuses_missing_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = populate_iteration(tmp_path, 0)
    loader = TraceLoader(
        [paths["A_THM"], str(tmp_path / "traces" / "0" / "BROKEN.json.gz")], progress="reading"
    )
    assert [t.theorem_id for t in loader] == ["A_THM"] and len(loader.skipped) == 1
    assert "reading" in capsys.readouterr().err  # the progress bar
    with pytest.raises(TraceError, match="no such trace file or directory"):
        TraceLoader(tmp_path / "nowhere")


def test_an_attempt_record_carries_what_summaries_and_lists_need(tmp_path: Path) -> None:
    trace = make_trace(prove=False, status="timeout", role="data", iteration=3)
    record = AttemptRecord.of(trace, tmp_path / "t.json.gz", node_id="n1")
    assert record.key == "3/CONJ_AB" and record.role == "data" and record.status == "timeout"
    assert (record.total_s, record.model_s, record.env_s) == (6.5, 1.0, 5.3)
    assert (record.expansions, record.nodes, record.edges, record.proof_length) == (4, 7, 6, 0)
    assert record.errors == {"tactic_error": 1, "tactic_timeout": 1}
    assert AttemptRecord.model_validate_json(record.model_dump_json()) == record
