"""bench learning's per-iteration comparison (the runs themselves are ordinary loop runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.traces.files import write_trace
from experiments.bench.learning import compare, proved_by_iteration
from tests.data.traces.sample import make_trace


def test_each_iteration_is_paired_with_iteration_0_and_the_baseline() -> None:
    theorems = {f"T{i}" for i in range(20)}
    evaluated = {0: set(theorems), 1: set(theorems)}
    proved = {0: {"T0", "T1"}, 1: {"T0", "T1", "T2", "T3", "T4", "T5", "T6", "T7"}}
    baseline = {"T0", "T9"}
    first, last = compare(evaluated, proved, baseline, theorems)
    assert first["pass_at_1"] == pytest.approx(0.1) and last["proved"] == 8
    assert first["vs_iteration_0"] == {
        "only_first": 0,
        "only_second": 0,
        "both": 2,
        "difference": 0.0,
        "p_value": 1.0,
    }
    gain = last["vs_iteration_0"]
    assert gain["only_first"] == 6 and gain["only_second"] == 0
    assert gain["p_value"] == pytest.approx(2 / 64)
    versus = last["vs_baseline"]
    assert versus["only_first"] == 7 and versus["only_second"] == 1
    assert versus["difference"] == pytest.approx(0.3)
    low, high = last["interval_95"]
    assert low < 0.4 < high


def test_a_theorem_without_a_trace_counts_as_not_proved() -> None:
    theorems = {"A", "B"}
    [row] = compare({0: {"A"}}, {0: {"A"}}, set(), theorems)
    assert row["pass_at_1"] == pytest.approx(0.5)


def test_proved_by_iteration_reads_eval_attempts_from_the_traces(tmp_path: Path) -> None:
    write_trace(make_trace(True, "A", 0), tmp_path)
    write_trace(make_trace(False, "B", 0), tmp_path)
    write_trace(make_trace(True, "B", 1), tmp_path)
    write_trace(make_trace(True, "D", 1, role="data"), tmp_path)  # data: not evaluated
    evaluated, proved = proved_by_iteration(tmp_path)
    assert evaluated == {0: {"A", "B"}, 1: {"B"}}
    assert proved == {0: {"A"}, 1: {"B"}}
