"""The exported theorem database: loads, is in load order, and parses back in HOL Light."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from data.hol_light.database import TheoremDatabase
from data.proof_tree import Goal
from data.splits import SPLITS, split_of
from environments.hol_light.load_order import load_order
from environments.hol_light.process import DEFAULT_HOL_DIR


def test_database_loads_with_every_theorem(database: TheoremDatabase) -> None:
    assert len(database) == 2952
    assert [r.position for r in database] == list(range(len(database)))
    assert [r.name for r in database.records[:4]] == ["T_DEF", "TRUTH", "AND_DEF", "IMP_DEF"]
    counts = {s: len(database.split(s)) for s in SPLITS}
    assert counts["train"] > counts["valid"] > 0 and counts["test"] > 0
    assert all(r.split == split_of(r.name) for r in database)


def test_premises_come_before_in_load_order(database: TheoremDatabase) -> None:
    add_sym = database["ADD_SYM"]
    assert database["ADD_CLAUSES"].position < add_sym.position
    assert database.premises_for(add_sym)[-1].position == add_sym.position - 1


@pytest.mark.skipif(not (DEFAULT_HOL_DIR / "hol.ml").exists(), reason="needs HOL Light sources")
def test_load_order_is_rebuilt_from_the_sources(database: TheoremDatabase) -> None:
    order = load_order(DEFAULT_HOL_DIR, {r.name for r in database})
    assert len(order) == len(database)
    assert order["T_DEF"] < order["TRUTH"] < order["ADD_CLAUSES"] < order["REAL_ADD_SYM"]


def test_missing_database_names_the_export_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="python -m environments.hol_light.export"):
        TheoremDatabase.load(tmp_path / "missing.jsonl")


def test_corrupt_line_is_reported_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"name": "X"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        TheoremDatabase.load(path)


@pytest.mark.hol_light
def test_sample_of_statements_parse_back_in_hol_light(prover, database: TheoremDatabase) -> None:
    sample = random.Random(0).sample(database.records, 60)
    parsed = same = 0
    for record in sample:
        try:
            prover.parse_goal([], record.statement)
        except ValueError:
            continue
        parsed += 1
        same += prover.same_goal(
            Goal(record.statement, conclusion_sexp=record.sexp), Goal(record.statement)
        )
    # On the whole database 2,940 of 2,952 statements parse back and 2,480 give exactly the
    # exported term: printed terms drop type annotations, so some come back with other
    # (invented) types, and a dozen definitions shadow names and do not parse at all.
    assert parsed >= 0.95 * len(sample)
    assert same >= 0.75 * len(sample)
