"""The generator's data module: each goal's best proving tactic, read the way the tactic
model reads it, with premises dropped only in training."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.hol_light.database import TheoremDatabase
from models.end_to_end.tactic_models.generator.datamodule import GeneratorDataModule
from models.end_to_end.tactic_models.generator.inputs import format_goal, format_input
from models.end_to_end.tactic_models.generator.premises import PremiseRanking
from models.end_to_end.tactic_models.premise_pool import PremisePool


def _module(run_dir: Path, **kw: object) -> GeneratorDataModule:
    options: dict[str, object] = {"val_fraction": 0.0, **kw}
    module = GeneratorDataModule(str(run_dir / "traces"), **options)  # type: ignore[arg-type]
    module.setup("fit")
    return module


def test_examples_are_best_proving_tactics_as_text(run_dir: Path) -> None:
    module = _module(run_dir)
    got = [(e.theorem, e.tactic) for e in module.train_examples]
    assert got == [
        ("ADD_0", "MP_TAC ADD"),
        ("ADD_0", "DISCH_TAC"),
        ("ADD_0", "ARITH_TAC THEN ARITH_TAC"),  # any text the environment accepted is a target
        ("ADD_SYM", "REWRITE_TAC[ADD_CLAUSES]"),
        ("ADD_SYM", "ARITH_TAC"),
        ("ADD_SYM", "MATCH_MP_TAC ADD_SUC"),
    ]
    batch = module.collate(module.train_examples)
    assert batch["targets"] == [t for _, t in got]
    assert batch["sources"] == [format_goal(e.goal) for e in module.train_examples]
    # all_proving_edges adds iteration 1's 3-step GEN_TAC proof of ADD_SYM; a tactic longer
    # than max_output_bytes is left out and counted.
    every = _module(run_dir, all_proving_edges=True, max_output_bytes=20)
    tactics = [e.tactic for e in every.train_examples]
    assert "GEN_TAC" in tactics and "ARITH_TAC THEN ARITH_TAC" not in tactics
    assert every.skipped_steps == 2  # REWRITE_TAC[ADD_CLAUSES] and ARITH_TAC THEN ARITH_TAC


def test_premises_are_ranked_as_at_inference_and_dropped_only_in_training(
    run_dir: Path,
) -> None:
    module = _module(run_dir, num_retrieved=4, p_drop=0.5, max_input_bytes=4096)
    db = TheoremDatabase.cached()
    ranking, pool = PremiseRanking(), PremisePool()
    for example in module.train_examples:
        record = db[example.theorem]
        available = pool.available(record)
        assert list(example.premises) == ranking.rank([example.goal], [available], 4)[0]
        assert {p.name for p in example.premises} <= db.premise_names_for(record)
    assert all(len(e.premises) == 4 for e in module.train_examples)
    val = module.collate(module.train_examples)
    assert val["sources"] == [format_input(e.goal, e.premises, 4096) for e in module.train_examples]
    assert val == module.collate(module.train_examples)  # validation is deterministic
    trained = [module.collate_train(module.train_examples) for _ in range(4)]
    shorter = [
        len(t) < len(v)
        for batch in trained
        for t, v in zip(batch["sources"], val["sources"], strict=True)
    ]
    assert any(shorter) and not all(shorter)  # some premises dropped, not all
    assert all(b["targets"] == val["targets"] for b in trained)


def test_a_coq_librarys_own_proof_steps_join_the_traces_examples(
    run_dir: Path, tmp_path: Path
) -> None:
    from data.coq.database import CoqDatabase

    library = CoqDatabase.load("data/coq/stdlib")
    train = [r for r in library if r.split == "train" and r.proof]
    module = _module(run_dir, library_proofs="data/coq/stdlib", max_output_bytes=40)
    from_library = [e for e in module.train_examples if e.theorem in library.by_name]
    # By theorem name (the data module's order), each lemma's steps in proof order.
    steps = [
        (r.name, t)
        for r in sorted(train, key=lambda r: r.name)
        for t in r.proof
        if len(t.tactic.encode()) <= 40
    ]
    assert [(e.theorem, e.tactic) for e in from_library] == [(n, t.tactic) for n, t in steps]
    assert [(e.goal.hypotheses, e.goal.conclusion) for e in from_library] == [
        (t.hypotheses, t.conclusion) for _, t in steps
    ]
    assert module.library_steps == len(steps) and module.skipped_steps > 0  # long ones left out
    assert {e.theorem for e in module.train_examples} > {e.theorem for e in from_library}
    # The held-out and the evaluation splits stay out: valid lemmas give no example, and with
    # a validation fraction whole lemmas move to validation.
    assert not {e.theorem for e in from_library} & {r.name for r in library if r.split != "train"}
    held = _module(run_dir, library_proofs="data/coq/stdlib", val_fraction=0.2)
    val_names = {e.theorem for e in held.val_examples}
    assert val_names and not val_names & {e.theorem for e in held.train_examples}


def test_library_proofs_take_no_retrieved_premises(run_dir: Path) -> None:
    with pytest.raises(ValueError, match="library_proofs.*num_retrieved=2"):
        GeneratorDataModule(
            str(run_dir / "traces"), library_proofs="data/coq/stdlib", num_retrieved=2
        )
