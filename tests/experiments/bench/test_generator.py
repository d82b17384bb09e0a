"""bench generator: rates per batch size and the share of suggestions that parse, from a
generator checkpoint trained here to write one valid and one invalid tactic."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from experiments.bench import generator
from experiments.bench.generator import _goals
from models.end_to_end.tactic_models.generator.inputs import format_input
from models.end_to_end.tactic_models.generator.model import GeneratorModel
from tests.models.end_to_end.tactic_models.generator.helpers import TINY, fit


def test_rates_per_batch_size_and_the_parse_share(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    goals, _ = _goals("valid", 4)
    assert len(goals) == 4 and all(g.conclusion for g in goals)
    # Every goal gets ARITH_TAC (parses) and "BOGUS(" (does not), equally likely.
    sources = [format_input(g) for g in goals for _ in range(2)]
    targets = ["ARITH_TAC", "BOGUS("] * len(goals)
    model = GeneratorModel(**TINY)
    trainer = fit(model, sources, targets, steps=150, batch_size=8)
    checkpoint = tmp_path / "generator.ckpt"
    trainer.save_checkpoint(checkpoint)
    args = argparse.Namespace(
        checkpoint=str(checkpoint),
        batch_sizes=[1, 2],
        goals=4,
        split="valid",
        device="cpu",
        decoding="beam",
        num_sampled_tactics=2,
        threads=1,
    )
    result = generator.run(args)
    assert result["device"] == "cpu" and result["goals"] == 4
    assert set(result["rates"]) == {"1", "2"}
    assert all(rate["goals_per_s"] > 0 for rate in result["rates"].values())
    assert result["suggestions"] == 8  # two distinct tactics per goal, at batch size 1
    assert result["parse_share"] == 0.5
