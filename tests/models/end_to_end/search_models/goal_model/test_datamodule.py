"""The goal model's data module: labels from traces, a split by theorem, class counts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from data.traces.examples import goal_examples
from data.traces.loader import TraceLoader
from models.end_to_end.search_models.goal_model.datamodule import GoalDataModule
from tests.models.end_to_end.search_models.goal_model.conftest import HELD_OUT, NUM_THEOREMS


def test_goals_are_labelled_split_by_theorem_and_counted(
    goal_run: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = GoalDataModule(goal_run / "traces", val_fraction=0.25, min_effort=10)
    with caplog.at_level(logging.INFO):
        data.setup("fit")
    examples = [*data.train_examples, *data.val_examples]
    # The shared rules, on the train split's traces: every goal once, and nothing else.
    traces = [t for t in TraceLoader(goal_run / "traces") if t.theorem["split"] == "train"]
    assert sorted(examples, key=repr) == sorted(goal_examples(traces, 10), key=repr)
    assert [p.name for p, _ in data.skipped_files] == ["BROKEN.json.gz"]
    assert data.excluded_theorems == len(HELD_OUT)
    assert not {e.theorem_id for e in examples} & set(HELD_OUT)
    # Subgoals ("T00g1 T") are proved (T) or failed (F); roots ("T00") count only when proved
    # (an open one has 4 expansions, under min_effort 10).
    for e in examples:
        assert e.status == ("proved" if e.label else "failed")
        subgoal = " " in e.goal.conclusion
        assert e.label == (e.goal.conclusion.endswith(" T") if subgoal else 1)
    # No theorem on both sides; a quarter of the theorems held out whole.
    train = {e.theorem_id for e in data.train_examples}
    val = {e.theorem_id for e in data.val_examples}
    assert not train & val and data.val_theorems == val
    assert len(val) == round(0.25 * NUM_THEOREMS) and len(train | val) == NUM_THEOREMS
    for split, part in (("train", data.train_examples), ("val", data.val_examples)):
        positive = sum(e.label for e in part)
        assert data.class_counts[split] == {
            "positive": positive,
            "negative": len(part) - positive,
            "proved": positive,
            "failed": len(part) - positive,
            "open": 0,
        }
        assert 0 < positive < len(part)
    logged = caplog.text
    counts = data.class_counts["train"]
    assert f"train: {counts['positive']} positive, {counts['negative']} negative" in logged
    # The same split whatever the order of the files; another seed, another split.
    files = sorted((goal_run / "traces" / "0").glob("T*.json.gz"), reverse=True)
    again = GoalDataModule(files, val_fraction=0.25, min_effort=10)
    again.setup()
    assert again.val_theorems == data.val_theorems
    other = GoalDataModule(goal_run / "traces", val_fraction=0.25, min_effort=10, seed=1)
    other.setup()
    assert other.val_theorems != data.val_theorems


def test_batches_and_the_effort_knob(goal_run: Path) -> None:
    data = GoalDataModule(goal_run / "traces", batch_size=8, val_fraction=0.25)  # min_effort 4
    data.setup()
    # Each root has 4 expansions (itself and its three subgoals): open ones are now negatives.
    opened = [e for e in data.train_examples if e.status == "open"]
    assert opened and all(e.effort == 4 and e.label == 0 for e in opened)
    assert data.class_counts["train"]["open"] == len(opened)
    batch = next(iter(data.train_dataloader()))
    assert len(batch["goals"]) == 8 and all(g.startswith("(a ") for g in batch["goals"])
    assert batch["labels"].dtype == torch.float32 and set(batch["labels"].tolist()) <= {0.0, 1.0}
    assert len(data.val_dataloader()) == -(-len(data.val_examples) // 8)  # type: ignore[arg-type]
    assert GoalDataModule(goal_run / "traces", val_fraction=0.0).val_dataloader() == []


def test_no_examples_and_bad_settings_are_named(goal_run: Path) -> None:
    data = GoalDataModule(goal_run / "traces", splits=["test"])
    with pytest.raises(
        ValueError, match=r"no training examples in .*splits \['test'\] has a proved"
    ):
        data.train_dataloader()
    with pytest.raises(ValueError, match="min_effort"):
        GoalDataModule(goal_run / "traces", min_effort=0)
    with pytest.raises(ValueError, match="val_fraction"):
        GoalDataModule(goal_run / "traces", val_fraction=1.5)
