"""The shared trace data module: the labelled examples of train-split theorems only, with
whole theorems held out for validation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from data.traces.examples import EdgeExample
from data.traces.files import write_trace
from models.end_to_end.trace_datamodule import EdgeDataModule
from tests.data.traces.sample import make_trace


class ProvingEdges(EdgeDataModule[EdgeExample]):
    """The best proving edges themselves, as examples."""

    def build_examples(
        self, labelled: Mapping[str, list[EdgeExample]]
    ) -> dict[str, list[EdgeExample]]:
        return {t: [e for e in edges if e.best] for t, edges in labelled.items()}

    def collate(self, examples: Sequence[EdgeExample]) -> list[str]:
        return [e.tactic for e in examples]


def test_evaluation_theorems_stay_out_and_validation_holds_out_whole_theorems(
    tmp_path: Path,
) -> None:
    for name, split in [("T1", "train"), ("T2", "train"), ("T3", "train"), ("V1", "valid")]:
        theorem = {
            "name": name,
            "statement": "a /\\ b",
            "sexp": "(a (a (c /\\) a) b)",
            "split": split,
        }
        write_trace(make_trace(theorem_id=name, theorem=theorem), tmp_path)
    data = ProvingEdges(str(tmp_path / "traces"), 4, 1 / 3, 0, ("train",), 0)
    data.setup("fit")
    assert data.excluded_theorems == 1  # V1's trace
    train = {e.theorem_id for e in data.train_examples}
    val = {e.theorem_id for e in data.val_examples}
    assert train | val == {"T1", "T2", "T3"} and len(val) == 1 and not train & val
    assert val == data.val_theorems
    per_theorem = [e.tactic for e in data.train_examples if e.theorem_id == min(train)]
    assert per_theorem == ["CONJ_TAC", "REWRITE_TAC[A_IMP_C]", "REWRITE_TAC[B_IMP_C]", "ARITH_TAC"]
    assert data.collate(data.val_examples) == per_theorem
