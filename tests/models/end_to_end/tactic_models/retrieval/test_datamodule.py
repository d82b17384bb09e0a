"""The retriever's data module: the premises proofs cited, against uncited ones, labelled
over the whole batch."""

from __future__ import annotations

from pathlib import Path

from data.hol_light.database import TheoremDatabase
from models.end_to_end.tactic_models.retrieval.datamodule import RetrievalDataModule, cited
from models.end_to_end.tactic_models.retrieval.model import goal_text, premise_text
from tests.models.end_to_end.tactic_models.holist_model.helpers import goal


def test_cited_names_are_whole_identifiers() -> None:
    names = {"ADD", "ADD_SYM", "MULT"}
    assert cited("REWRITE_TAC[ADD_SYM; ADD_SUC] THEN MESON_TAC[ADD]", names) == ["ADD_SYM", "ADD"]
    assert cited("ARITH_TAC", names) == [] and cited("MULT_TAC", names) == []


def test_positives_negatives_and_the_batch_label_matrix(run_dir: Path) -> None:
    data = RetrievalDataModule(str(run_dir / "traces"), num_negatives=7, val_fraction=0.0)
    data.setup("fit")
    db = TheoremDatabase.cached()
    got = [(e.theorem, e.goal, e.positives) for e in data.train_examples]
    assert got == [
        ("ADD_0", goal("ADD_0"), ("ADD",)),
        ("ADD_SYM", goal("ADD_SYM"), ("ADD_CLAUSES",)),
        ("ADD_SYM", goal("ADD_ASSOC"), ("ADD_SUC",)),
    ]
    for e in data.train_examples:
        available = db.premise_names_for(db[e.theorem])
        assert len(e.negatives) == 7 and set(e.negatives) <= available
        assert not set(e.negatives) & set(e.positives)
    batch = data.collate(data.train_examples)
    assert batch["goals"] == [goal_text(e.goal) for e in data.train_examples]
    names = [p.split(":")[0] for p in batch["premises"]]
    assert len(names) == len(set(names))
    assert batch["premises"][names.index("ADD")] == premise_text(data._pool.premise("ADD"))
    for j, e in enumerate(data.train_examples):
        positives = {names[k] for k in range(len(names)) if batch["labels"][j, k] == 1.0}
        assert positives == set(e.positives)  # a column is 1 only for the goals it proves
    # ADD is ADD_0's positive and (being the most +-like earlier theorem) a hard negative of
    # ADD_SYM's goals: one column, labelled 1 in one row only.
    assert "ADD" in data.train_examples[1].negatives
    column = names.index("ADD")
    assert batch["labels"][:, column].tolist() == [1.0, 0.0, 0.0]
