"""The HOList data module turns real trace files into correctly labelled examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.hol_light.database import TheoremDatabase
from environments.base import Premise
from models.end_to_end.tactic_models.fixed import FixedTacticModel
from models.end_to_end.tactic_models.holist_model.datamodule import HOListDataModule
from tests.models.end_to_end.tactic_models.holist_model.helpers import goal


def _module(run_dir: Path, **kw: object) -> HOListDataModule:
    options: dict[str, object] = {"val_fraction": 0.0, "num_negatives": 7, **kw}
    module = HOListDataModule(str(run_dir / "traces"), **options)  # type: ignore[arg-type]
    module.setup("fit")
    return module


def test_examples_are_the_best_proving_tactic_of_every_goal(run_dir: Path) -> None:
    module = _module(run_dir)
    db = TheoremDatabase.cached()
    got = [(e.theorem, e.tactic, e.positives) for e in module.examples]
    assert got == [
        ("ADD_0", "MP_TAC", ("ADD",)),
        ("ADD_0", "DISCH_TAC", ()),
        ("ADD_SYM", "REWRITE_TAC", ("ADD_CLAUSES",)),  # iteration 0's 2-step proof, not 1's
        ("ADD_SYM", "ARITH_TAC", ()),  # in both iterations: one example
        # Iteration 1's proof of ADD_ASSOC, a goal iteration 0 never met, is its best.
        ("ADD_SYM", "MATCH_MP_TAC", ("ADD_SUC",)),
    ]
    assert module.skipped_steps == 1  # ARITH_TAC THEN ARITH_TAC names no single class
    assert [p.name for p, _ in module.skipped_files] == ["BROKEN.json.gz"]
    rewrite = module.examples[2]
    assert rewrite.goal_sexp == db["ADD_SYM"].sexp
    # A goal's hypotheses are folded in as implications.
    disch = module.examples[1]
    assert disch.goal_sexp.startswith("(a (a (c (fun (bool) (fun (bool) (bool))) ==>) ")
    assert db["ADD"].sexp in disch.goal_sexp and db["ADD_0"].sexp in disch.goal_sexp


def test_negatives_are_available_premises_that_were_not_cited(run_dir: Path) -> None:
    module = _module(run_dir)
    db = TheoremDatabase.cached()
    for example in module.examples:
        if not example.positives:
            assert example.negatives == ()
            continue
        available = db.premise_names_for(db[example.theorem])
        assert len(example.negatives) == 7 == len(set(example.negatives))
        assert set(example.negatives) <= available
        assert not set(example.negatives) & set(example.positives)
    # Hard negatives: the uncited premises that overlap ADD_SYM most (the other `+` lemmas).
    rewrite = module.examples[2]
    hard = rewrite.negatives[: module.num_hard]
    assert module.num_hard == 4
    assert {"ADD", "ADD_0", "ADD_SUC"} <= set(hard)
    ranker = FixedTacticModel(["MESON_TAC[{premises}]"], num_premises=5, score="idf")
    premises = [Premise(r.name, r.statement, r.sexp) for r in db.premises_for(db["ADD_SYM"])]
    ranked = ranker.select_premises(goal("ADD_SYM"), premises)
    assert list(hard) == [n for n in ranked if n != "ADD_CLAUSES"][:4]
    easy = _module(run_dir, hard_negatives=False).examples[2].negatives
    assert easy != rewrite.negatives
    assert sum("+" in db[n].statement for n in easy) < len(easy)
    assert _module(run_dir).examples == module.examples  # deterministic


def test_collate_labels_goal_premise_pairs(run_dir: Path) -> None:
    module = _module(run_dir)
    db = TheoremDatabase.cached()
    batch = module.collate(module.examples)
    assert batch["tactics"] == ["MP_TAC", "DISCH_TAC", "REWRITE_TAC", "ARITH_TAC", "MATCH_MP_TAC"]
    assert batch["goals"][2] == db["ADD_SYM"].sexp
    assert batch["pair_goal"].tolist() == [0] * 8 + [2] * 8 + [4] * 8
    assert batch["pair_label"].tolist() == ([1.0] + [0.0] * 7) * 3
    cited = batch["premises"][int(batch["pair_premise"][8])]
    assert cited == db["ADD_CLAUSES"].sexp
    assert len(batch["premises"]) == len(set(batch["premises"]))


def test_split_by_theorem(run_dir: Path) -> None:
    assert not _module(run_dir, val_fraction=0.0).val_examples
    everything = _module(run_dir, val_fraction=1.0)
    assert not everything.train_examples and len(everything.val_examples) == 5
    halves = [_module(run_dir, val_fraction=0.5, seed=s) for s in range(8)]
    assert any(m.train_examples and m.val_examples for m in halves)
    for module in halves:
        theorems = {e.theorem for e in module.train_examples}
        assert not theorems & {e.theorem for e in module.val_examples}
    with pytest.raises(ValueError, match="no training examples"):
        everything.train_dataloader()
