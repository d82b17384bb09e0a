"""Learning: does the loop prove more after training, beyond noise?

Runs each End-to-End loop of ``--configs`` (by default the embedded ``hol_light``: the
HOList model mixed with its fixed prior, trained between iterations; ``hol_light_generator``
puts the generator beside it) for ``--iterations`` iterations, evaluating each on the same
``--theorems`` validation theorems, and, at the same budget on the same theorems, the
baseline: the first loop's fixed prior alone (``--baseline`` overrides), no training. For
each iteration it reports Pass@1 with its 95% Wilson interval and the exact McNemar test,
paired by theorem, against iteration 0 and against the baseline. The data-gathering part
(``--data-theorems`` training-split theorems per iteration) is what the models learn from;
every run shares the budgets of the config and its overrides.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from data.files import write_atomic
from data.jsonable import jsonable
from experiments.bench.stats import paired_comparison, wilson_interval
from experiments.end_to_end.components import environment_factory
from experiments.end_to_end.config import compose
from experiments.end_to_end.end_to_end_experiment import run as run_experiment
from experiments.end_to_end.report.run_data import collect_attempts

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/bench_learning"),
        help="bench directory: the loop's and the baseline's runs",
    )
    parser.add_argument(
        "--configs", nargs="+", default=["hol_light"], help="the loops' config names"
    )
    parser.add_argument(
        "--theorems", type=int, default=100, help="validation theorems evaluated in every iteration"
    )
    parser.add_argument(
        "--data-theorems",
        type=int,
        default=60,
        help="training-split theorems attempted per iteration for data",
    )
    parser.add_argument("--iterations", type=int, default=3, help="loop iterations")
    parser.add_argument(
        "--baseline",
        nargs="*",
        default=["tac_model=wide"],
        help="overrides that turn the loop's config into the baseline",
    )
    parser.add_argument("overrides", nargs="*", help="config overrides for both runs")


def proved_by_iteration(run_dir: Path) -> tuple[dict[int, set[str]], dict[int, set[str]]]:
    """Per iteration: the evaluated theorems, and those proved (eval attempts only)."""
    attempts, _ = collect_attempts(run_dir, progress=False)
    evaluated: dict[int, set[str]] = {}
    proved: dict[int, set[str]] = {}
    for a in attempts:
        if a.role != "eval":
            continue
        evaluated.setdefault(a.iteration, set()).add(a.theorem_id)
        proved.setdefault(a.iteration, set())
        if a.status == "proved":
            proved[a.iteration].add(a.theorem_id)
    return evaluated, proved


def compare(
    evaluated: dict[int, set[str]],
    proved: dict[int, set[str]],
    baseline: set[str],
    theorems: set[str],
) -> list[dict[str, Any]]:
    """Each iteration's Pass@1 with its interval, paired against iteration 0 and the baseline.

    Every iteration is scored on ``theorems`` (the evaluated list): a theorem whose attempt
    left no trace (an infrastructure error) counts as not proved.
    """
    rows = []
    first = proved.get(min(proved), set()) if proved else set()
    for iteration in sorted(evaluated):
        names = proved[iteration] & theorems
        low, high = wilson_interval(len(names), len(theorems))
        rows.append(
            {
                "iteration": iteration,
                "proved": len(names),
                "pass_at_1": len(names) / len(theorems) if theorems else 0.0,
                "interval_95": [low, high],
                "vs_iteration_0": paired_comparison(names, first, theorems),
                "vs_baseline": paired_comparison(names, baseline, theorems),
            }
        )
    return rows


def _device(cfg: Any) -> dict[str, Any]:
    """Where the learned model ran: the config's GPU request and what torch saw."""
    import torch

    return {
        "with_gpus": bool(cfg.with_gpus),
        "num_gpus": cfg.num_gpus,
        "logical_gpus": cfg.logical_gpus,
        "cuda_available": torch.cuda.is_available(),
        "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    out = args.out.resolve()
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"bench learning: {out} is not empty; give another --out")
    sizes = [
        f"num_theorems={args.theorems}",
        f"num_data_theorems={args.data_theorems}",
        "split=valid",
    ]
    started = time.monotonic()
    loops: dict[str, dict[str, Any]] = {}
    for name in args.configs:
        loop_started = time.monotonic()
        loop_cfg = compose(
            [*args.overrides, *sizes, f"num_iterations={args.iterations}"],
            str(out / name),
            config_name=name,
        )
        # This process keeps the environment warm between the runs (HOL Light: its zygote),
        # so no run loads the prover again.
        environment_factory(loop_cfg.env_config).func.warm_up()
        run_experiment(loop_cfg)
        loops[name] = {"cfg": loop_cfg, "loop_s": time.monotonic() - loop_started}
    first = loops[args.configs[0]]["cfg"]
    baseline_cfg = compose(
        [
            *args.overrides,
            *sizes,
            *args.baseline,
            "num_iterations=1",
            "num_data_theorems=0",
            "train_after_eval=[]",
            "update_checkpoints=[]",
        ],
        str(out / "baseline"),
        config_name=args.configs[0],
    )
    run_experiment(baseline_cfg)
    _, baseline_proved = proved_by_iteration(out / "baseline")
    results = {}
    theorems: set[str] = set()
    for name, loop in loops.items():
        evaluated, proved = proved_by_iteration(out / name)
        theorems = set().union(*evaluated.values()) if evaluated else set()
        results[name] = {
            "iterations": compare(evaluated, proved, baseline_proved.get(0, set()), theorems),
            "device": _device(loop["cfg"]),
            "loop_s": loop["loop_s"],
        }
    baseline = baseline_proved.get(0, set())
    low, high = wilson_interval(len(baseline & theorems), len(theorems))
    result = {
        "benchmark": "learning",
        "configs": list(args.configs),
        "overrides": list(args.overrides),
        "baseline_overrides": list(args.baseline),
        "theorems": len(theorems),
        "data_theorems_per_iteration": args.data_theorems,
        "total_timeout": first.total_timeout,
        "baseline": {
            "proved": len(baseline & theorems),
            "pass_at_1": len(baseline & theorems) / len(theorems) if theorems else 0.0,
            "interval_95": [low, high],
        },
        "loops": results,
        "total_s": time.monotonic() - started,
    }
    for name, loop_result in results.items():
        for row in loop_result["iterations"]:
            log.info(
                "%s iteration %d: Pass@1 %.3f [%.3f, %.3f]; vs iteration 0 p=%.3g; vs "
                "baseline (%.3f) p=%.3g",
                name,
                row["iteration"],
                row["pass_at_1"],
                *row["interval_95"],
                row["vs_iteration_0"]["p_value"],
                result["baseline"]["pass_at_1"],
                row["vs_baseline"]["p_value"],
            )
    write_atomic(out / "learning.json", json.dumps(jsonable(result), indent=1) + "\n")
    return result
