"""Generator: suggestions per second at batch sizes 1, 8 and 32, and the share that parses.

Decodes the generator (``tac_model/generator.yaml``, or ``--checkpoint``: a trained one, e.g.
from a ``hol_light_generator`` run's ``training/<k>/0/checkpoints/``) on HOL Light goals, the
statements of ``--goals`` theorems of ``--split``, each with the premises its theorem may use,
on ``--device`` (default: CUDA where there is one, else the CPU, one thread). For each batch
size every goal is decoded once, in batches of that size, after one warm-up batch;
``suggestions_per_s`` counts the tactics returned, ``goals_per_s`` the goals. ``parse_share``
is the share of the suggestions HOL Light's tactic grammar accepts (an untrained generator's
is 0: its text is not yet tactics).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from typing import Any

import torch
from omegaconf import OmegaConf

from data.proof_tree import Goal
from environments.base import Premise
from environments.hol_light.tactics import TacticRejected, parse_tactic
from experiments.end_to_end.config import CONFIG_DIR
from models.end_to_end.tactic_models.premise_pool import PremisePool
from models.end_to_end.tactic_models.tac_models import build_tactic_model

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=None, help="a generator Lightning checkpoint")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--goals", type=int, default=32, help="theorems decoded per batch size")
    parser.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    parser.add_argument("--device", default=None, choices=["cpu", "cuda"])
    parser.add_argument("--decoding", default=None, choices=["beam", "sample"])
    parser.add_argument("--num-sampled-tactics", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads on the CPU")


def _goals(split: str, count: int) -> tuple[list[Goal], list[Sequence[Premise]]]:
    pool = PremisePool()
    records = pool.database.split(split)[:count]
    goals = [Goal(r.statement, conclusion_sexp=r.sexp) for r in records]
    return goals, [pool.available(r) for r in records]


def _parses(tactic: str) -> bool:
    try:
        parse_tactic(tactic)
    except TacticRejected:
        return False
    return True


def run(args: argparse.Namespace) -> dict[str, Any]:
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        torch.set_num_threads(args.threads)
    config: dict[str, Any] = OmegaConf.to_container(  # type: ignore[assignment]
        OmegaConf.load(CONFIG_DIR / "tac_model" / "generator.yaml")
    )
    for key, value in (
        ("ckpt_path", args.checkpoint),
        ("decoding", args.decoding),
        ("num_sampled_tactics", args.num_sampled_tactics),
    ):
        if value is not None:
            config[key] = value
    model = build_tactic_model(config, device)
    goals, premises = _goals(args.split, args.goals)
    if not goals:
        raise SystemExit(f"bench generator: no theorems in split {args.split!r}")
    rates: dict[str, dict[str, float]] = {}
    suggestions: list[str] = []
    for size in args.batch_sizes:
        model.get_tactics(goals[:size], premises[:size])  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        started, returned = time.perf_counter(), 0
        for i in range(0, len(goals), size):
            out = model.get_tactics(goals[i : i + size], premises[i : i + size])
            returned += sum(len(row) for row in out)
            if size == args.batch_sizes[0]:
                suggestions.extend(t for row in out for t, _ in row)
        if device == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - started
        rates[str(size)] = {
            "suggestions_per_s": returned / elapsed,
            "goals_per_s": len(goals) / elapsed,
        }
        log.info(
            "batch %3d: %8.1f suggestions/s, %6.2f goals/s",
            size,
            rates[str(size)]["suggestions_per_s"],
            rates[str(size)]["goals_per_s"],
        )
    parsed = sum(map(_parses, suggestions))
    share = parsed / len(suggestions) if suggestions else 0.0
    log.info("%d of %d suggestions parse (%.1f%%)", parsed, len(suggestions), 100 * share)
    return {
        "benchmark": "generator",
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "checkpoint": args.checkpoint,
        "decoding": config.get("decoding"),
        "num_sampled_tactics": config.get("num_sampled_tactics"),
        "goals": len(goals),
        "rates": rates,
        "speedup_largest_over_1": (
            rates[str(args.batch_sizes[-1])]["suggestions_per_s"]
            / rates[str(args.batch_sizes[0])]["suggestions_per_s"]
            if rates[str(args.batch_sizes[0])]["suggestions_per_s"]
            else None
        ),
        "suggestions": len(suggestions),
        "parse_share": share,
    }
