"""The generator's data module: each goal's best proving tactic, read the way the tactic
model reads it, with premises dropped only in training."""

from __future__ import annotations

from pathlib import Path

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
