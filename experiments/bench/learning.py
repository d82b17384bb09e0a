"""The learning loop's numbers side by side: baseline, iteration 0 and iteration 1.

Runs the default loop (``configs/end_to_end/hol_light.yaml``: untrained HOList + ``fixed``
prior, training on the traces, trained HOList + prior) and, on the same validation theorems
with the same budgets, DeepHOL's baseline: the ``asm_meson`` model (``ASM_MESON_TAC`` citing
premises ranked by symbol overlap) alone. Pass@1 as fractions.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from experiments.end_to_end.config import compose
from experiments.end_to_end.end_to_end_experiment import run as run_experiment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs="*", help="config overrides for both runs")


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="itp-learning-") as tmp:
        loop = run_experiment(compose(list(args.overrides), str(Path(tmp) / "loop")))
        baseline_overrides = [
            *args.overrides,
            "tac_model=asm_meson",
            "num_iterations=1",
            "num_data_theorems=0",
            "train_after_eval=[]",
            "update_checkpoints=[]",
        ]
        baseline = run_experiment(compose(baseline_overrides, str(Path(tmp) / "baseline")))
    iterations = loop["iterations"]
    return {
        "benchmark": "learning",
        "baseline": baseline["iterations"][0]["pass_at_1"],
        **{f"iteration_{it['iteration']}": it["pass_at_1"] for it in iterations},
        "theorems": iterations[0]["attempted"],
        "data_theorems_proved": [it.get("data", {}).get("proved", 0) for it in iterations],
    }
