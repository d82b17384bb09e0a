"""Summary metrics: Pass@1 over evaluated theorems, data-gathering attempts apart, atomic."""

from __future__ import annotations

import json
from pathlib import Path

from experiments.end_to_end import summary


def attempt(theorem_id: str, status: str, role: str = "eval", total: float = 1.0) -> dict:
    return {
        "theorem_id": theorem_id,
        "status": status,
        "role": role,
        "total_s": total,
        "model_s": 0.1,
        "env_s": 0.5,
        "search_s": 0.0,
        "expansions": 2,
        "nodes": 5,
        "errors": {"tactic_error": 1},
    }


def test_pass_at_1_counts_evaluated_theorems_only() -> None:
    metrics = summary.iteration_metrics(
        0,
        [
            attempt("a", "proved"),
            attempt("b", "failed", total=3.0),
            attempt("c", "proved", role="data"),
            attempt("d", "proved", role="data"),
        ],
    )
    assert metrics["attempted"] == 2 and metrics["proved"] == 1
    assert metrics["pass_at_1"] == 0.5
    assert metrics["mean_time_s"] == 2.0 and metrics["p95_time_s"] == 3.0
    assert metrics["errors"] == {"tactic_error": 2}
    assert metrics["data"]["attempted"] == 2 and metrics["data"]["pass_at_1"] == 1.0


def test_latest_attempt_per_theorem_wins_and_cut_lines_are_skipped(tmp_path: Path) -> None:
    summary.append_attempt(tmp_path, 0, attempt("a", "failed"))
    summary.append_attempt(tmp_path, 0, attempt("a", "proved"))
    with summary.attempts_path(tmp_path, 0).open("a") as handle:
        handle.write('{"theorem_id": "b", "sta')  # a kill mid-write
    latest = summary.read_attempts(tmp_path, 0)
    assert list(latest) == ["a"] and latest["a"]["status"] == "proved"


def test_summary_is_rewritten_whole(tmp_path: Path) -> None:
    summary.write_summary(tmp_path, [{"iteration": 0, "pass_at_1": 0.5}])
    summary.write_summary(tmp_path, [{"iteration": 0, "pass_at_1": 0.75}])
    assert json.loads((tmp_path / "summary.json").read_text()) == {
        "iterations": [{"iteration": 0, "pass_at_1": 0.75}]
    }
    assert not list(tmp_path.glob(".summary.*"))
