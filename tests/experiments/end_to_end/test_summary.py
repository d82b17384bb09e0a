"""Summary metrics: Pass@1 over evaluated theorems, errored attempts apart, one record a theorem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from data import files
from data.traces.attempts import AttemptRecord
from experiments.end_to_end import summary


def record(theorem_id: str, status: str, role: str = "eval", total: float = 1.0) -> AttemptRecord:
    return AttemptRecord(
        theorem_id=theorem_id,
        iteration=0,
        role=role,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        total_s=total,
        model_s=0.1,
        env_s=0.5,
        search_s=0.0,
        expansions=2,
        nodes=5,
        edges=4,
        proof_length=1 if status == "proved" else 0,
        errors={"tactic_error": 1},
    )


def test_pass_at_1_counts_evaluated_theorems_and_errored_attempts_apart() -> None:
    metrics = summary.iteration_metrics(
        0,
        [
            record("a", "proved"),
            record("b", "failed", total=3.0),
            record("e", "error", total=0.0),
            record("t", "timeout", total=2.0),
            record("c", "proved", role="data"),
            record("d", "proved", role="data"),
        ],
    )
    assert metrics["attempted"] == 4 and metrics["proved"] == 1
    assert (metrics["failed"], metrics["timeout"], metrics["errored"]) == (1, 1, 1)
    assert metrics["pass_at_1"] == 0.25
    assert metrics["mean_time_s"] == 1.5 and metrics["p95_time_s"] == 3.0
    assert metrics["errors"] == {"tactic_error": 4}
    assert metrics["data"]["attempted"] == 2 and metrics["data"]["pass_at_1"] == 1.0
    assert summary.pass_at_1_text(metrics) == "0.250 (1/4, 1 errored)"
    assert summary.pass_at_1_text(metrics["data"]) == "1.000 (2/2)"


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], 0.0), ([5.0], 5.0), ([float(i) for i in range(1, 21)], 19.0), ([1.0, 9.0], 9.0)],
)
def test_p95_is_the_nearest_rank(values: list[float], expected: float) -> None:
    assert summary.p95(values) == expected


def test_records_are_appended_one_json_line_each(tmp_path: Path) -> None:
    summary.append_attempt(tmp_path, record("a", "failed"))
    summary.append_attempt(tmp_path, record("a", "proved"))
    lines = summary.attempts_path(tmp_path, 0).read_text().splitlines()
    assert [AttemptRecord.model_validate_json(line).status for line in lines] == [
        "failed",
        "proved",
    ]


def test_summary_is_rewritten_through_the_atomic_helper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary.write_summary(tmp_path, [{"iteration": 0, "pass_at_1": 0.5}])
    writes: list[Any] = []
    real = files.os.replace

    def spy(src: Any, dst: Any) -> None:
        # A reader at this moment still sees the whole old summary, never a torn one.
        assert (
            json.loads((tmp_path / "summary.json").read_text())["iterations"][0]["pass_at_1"] == 0.5
        )
        writes.append(dst)
        real(src, dst)

    monkeypatch.setattr(files.os, "replace", spy)
    summary.write_summary(tmp_path, [{"iteration": 0, "pass_at_1": 0.75}])
    assert writes == [tmp_path / "summary.json"]
    assert summary.read_summary(tmp_path) == [{"iteration": 0, "pass_at_1": 0.75}]
    assert not list(tmp_path.glob(".summary.*"))
