"""bench strength's sample, union and table (the arms themselves are ordinary runs)."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import pytest

from data.hol_light.database import TheoremDatabase, TheoremRecord
from experiments.bench.strength import (
    UNION,
    _arms,
    _budget,
    add_arguments,
    defaults,
    format_table,
    sample_theorems,
    tabulate,
)


def record(name: str, file: str, position: int) -> TheoremRecord:
    return TheoremRecord(name, "T", "(c bool T)", position, "test", file)


def test_the_sample_is_spread_over_files_deterministic_and_from_the_split_only() -> None:
    test = TheoremDatabase.cached().split("test")
    sample = sample_theorems(test, 200, seed=0)
    assert len(sample) == 200 and len({r.name for r in sample}) == 200
    assert all(r.split == "test" for r in sample)
    assert sample == sample_theorems(test, 200, seed=0)
    assert sample != sample_theorems(test, 200, seed=1)
    sizes, drawn = Counter(r.file for r in test), Counter(r.file for r in sample)
    assert set(drawn) == set(sizes)  # every library file of the split is represented
    # Round-robin: the files that were cut got (about) the same share, and no file taken whole
    # is bigger than that share.
    cut = [f for f in sizes if drawn[f] < sizes[f]]
    share = max(drawn[f] for f in cut)
    assert all(drawn[f] >= share - 1 for f in cut)
    assert all(sizes[f] <= share for f in sizes if f not in cut)


def test_round_robin_takes_small_files_whole() -> None:
    records = [record(f"A{i}", "a.ml", i) for i in range(10)] + [
        record("B0", "b.ml", 10),
        record("C0", "c.ml", 11),
        record("C1", "c.ml", 12),
    ]
    sample = sample_theorems(records, 6)
    assert Counter(r.file for r in sample) == {"a.ml": 3, "b.ml": 1, "c.ml": 2}
    with pytest.raises(ValueError, match="fewer than --size 14"):
        sample_theorems(records, 14)


def test_the_union_and_the_table_count_proofs_per_file() -> None:
    sample = [record("X", "a.ml", 0), record("Y", "a.ml", 1), record("Z", "b.ml", 2)]
    results = {
        "ARITH_TAC": {"X": "proved", "Y": "failed", "Z": "timeout"},
        "MESON_TAC[]": {"X": "proved", "Y": "failed", "Z": "proved"},
        "prove": {"X": "proved", "Y": "proved"},  # Z errored: no attempt record
    }
    result = tabulate(sample, results, ["ARITH_TAC", "MESON_TAC[]"])
    assert result["arms"][UNION] == {"total": 2, "by_file": {"a.ml": 1, "b.ml": 1}}
    assert result["arms"]["prove"] == {"total": 2, "by_file": {"a.ml": 2, "b.ml": 0}}
    assert result["best_single"] == "MESON_TAC[]"
    assert result["proved"][UNION] == ["X", "Z"]
    table = format_table(result, ["ARITH_TAC", UNION, "prove"]).splitlines()
    assert table[0].split() == ["file", "theorems", "ARITH_TAC", "union", "prove"]
    assert table[1].split() == ["a.ml", "2", "1", "1", "2"]
    assert table[-1].split() == ["total", "3", "1", "2", "2"]


def test_each_search_runs_the_configuration_with_its_tactic_model_and_budget() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = defaults(
        parser.parse_args(
            ["--tactics", "ARITH_TAC", "--searches", "htps", "bfs", "--arm", "mine", "prove", "x=1"]
        )
    )
    arms = _arms(args, Path("/tmp/sample.txt"))
    labels = [label for label, _, _ in arms]
    assert labels == ["ARITH_TAC", "prove", "prove/htps", "prove/bfs", "mine"]
    assert arms[-1][1:] == ("prove", [*arms[1][2], "x=1"])  # its own overrides, after the common
    by_label = {label: (name, overrides) for label, name, overrides in arms}
    assert by_label["prove/htps"][0] == "prove"  # the same configuration, another search
    assert by_label["prove/htps"][1][-1] == "search_model=htps"
    assert by_label["prove"][1] == by_label["prove/htps"][1][:-1]
    assert _budget("prove", ["search_model=htps"])["search_model"].endswith("htps.HTPS")


def test_coq_arms_use_coqs_tactics_fixed_model_and_configuration() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = defaults(parser.parse_args(["--env", "coq", "--tactics", "auto"]))
    arms = _arms(args, Path("/tmp/sample.txt"))
    assert [(label, name) for label, name, _ in arms] == [
        ("auto", "coq"),
        ("coq_prove", "coq_prove"),
    ]
    assert "tac_model=coq_fixed" in arms[0][2] and "tac_model.templates=['auto']" in arms[0][2]
    assert defaults(parser.parse_args(["--env", "coq"])).tactics[0] == "auto"
