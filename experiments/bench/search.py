"""Search: BestFS expansions per second on a growing proof tree, instant environment and model.

Each expansion is what a prover does with free tactics: ``get_goal``, ``--tactics`` edges added
to the real ``ProofTree`` (each an error, or one or two new goals), ``process_response`` for
each edge, ``mark_explored``. The tree is grown from one root; as it passes each size in
``SIZES`` (all nodes, error nodes included) the next ``--window`` expansions are timed, split
into search time (get_goal, process_response) and tree time (add_edge with goal creation,
mark_explored); time inside the garbage collector is reported beside them (it overlaps them).
``overall_per_s`` is the rate over the whole growth, every collection included. Rates are the
median over ``--repeats`` identically seeded trees.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import statistics
import time
from random import Random
from typing import Any

from data.proof_tree import ErrorKind, Goal, ProofTree
from experiments.end_to_end.prover import gc_paused
from models.end_to_end.search_models.bestfs import BestFS

log = logging.getLogger(__name__)

SIZES = (1_000, 10_000, 100_000)
TARGET_PER_S = 12_000
PHASES = ("get_goal", "add_edge", "process_response", "mark_explored")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", type=int, default=1000, help="expansions timed per size")
    parser.add_argument("--tactics", type=int, default=4, help="edges per expansion")
    parser.add_argument("--error-rate", type=float, default=0.25, help="share of error edges")
    parser.add_argument("--repeats", type=int, default=5, help="trees grown (median reported)")
    parser.add_argument("--seed", type=int, default=0, help="seed of random.Random")
    parser.add_argument(
        "--gc",
        choices=("paused", "default"),
        default="paused",
        help="paused: the prover's policy (no cyclic GC inside an attempt)",
    )


class _GcClock:
    """Seconds spent inside the cyclic garbage collector while installed, via gc.callbacks."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


class _Grower:
    """One tree, one BestFS, one random stream: expands and times on request."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.rng = Random(args.seed)
        self.tactics: int = args.tactics
        self.error_rate: float = args.error_rate
        self.tree = ProofTree(Goal("g0"))
        self.search = BestFS()
        self.search.reset(self.tree.root)
        self.goals = 1

    def expand(self, phases: list[float]) -> None:
        """One expansion; adds the seconds spent in each of PHASES to `phases`."""
        tree, search, rng = self.tree, self.search, self.rng
        t0 = time.perf_counter()
        selected = search.get_goal()
        t1 = time.perf_counter()
        if selected is None:
            raise RuntimeError(f"search ended at tree size {tree.size}; lower --error-rate")
        node = selected[0]
        edges = []
        for i in range(self.tactics):
            logprob = -3.0 * rng.random()
            if rng.random() < self.error_rate:
                edges.append(
                    tree.add_edge(node, f"t{i}", logprob, error=(ErrorKind.TACTIC_ERROR, "e"))
                )
                continue
            count = 1 if rng.random() < 0.5 else 2
            subgoals = [Goal(f"g{self.goals + j}") for j in range(count)]
            self.goals += count
            edges.append(tree.add_edge(node, f"t{i}", logprob, subgoals=subgoals))
        t2 = time.perf_counter()
        for edge in edges:
            search.process_response(edge)
        t3 = time.perf_counter()
        tree.mark_explored(node)
        t4 = time.perf_counter()
        phases[0] += t1 - t0
        phases[1] += t2 - t1
        phases[2] += t3 - t2
        phases[3] += t4 - t3


def _grow_once(args: argparse.Namespace) -> dict[int, dict[str, float]]:
    """Per size: expansions/s over the window after the tree reaches it, and µs per phase.

    Key 0 holds the whole growth (every expansion, every garbage collection) as one rate.
    """
    grower = _Grower(args)
    expansions = 0
    growth_started = time.perf_counter()
    untimed = [0.0] * len(PHASES)
    bands: dict[int, dict[str, float]] = {}
    clock = _GcClock()
    gc.callbacks.append(clock)
    policy = gc_paused() if args.gc == "paused" else contextlib.nullcontext()
    try:
        with policy:  # the prover's policy: no cyclic GC inside an attempt
            for size in SIZES:
                while grower.tree.size < size:
                    grower.expand(untimed)
                    expansions += 1
                phases = [0.0] * len(PHASES)
                clock.total = 0.0
                started = time.perf_counter()
                for _ in range(args.window):
                    grower.expand(phases)
                elapsed = time.perf_counter() - started
                bands[size] = {
                    "per_s": args.window / elapsed,
                    **{
                        f"{p}_us": 1e6 * s / args.window
                        for p, s in zip(PHASES, phases, strict=True)
                    },
                    "gc_us": 1e6 * clock.total / args.window,
                    "tree_size_after": grower.tree.size,
                    "frontier_after": grower.search.frontier_size(),
                }
                expansions += args.window
    finally:
        gc.callbacks.remove(clock)
    bands[0] = {"per_s": expansions / (time.perf_counter() - growth_started)}
    return bands


def run(args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for _ in range(args.repeats):
        runs.append(_grow_once(args))
        gc.collect()  # the previous tree's cycles, so they are not collected inside a window
    median = {
        size: {key: statistics.median(r[size][key] for r in runs) for key in runs[0][size]}
        for size in (0, *SIZES)
    }
    rates = {str(size): median[size]["per_s"] for size in SIZES}
    log.info("BestFS expansions/s by tree size: %s", rates)
    return {
        "benchmark": "search",
        "expansions_per_s": rates,
        "target_per_s": TARGET_PER_S,
        "overall_per_s": median[0]["per_s"],
        "us_per_expansion_by_phase": {
            str(size): {p: median[size][f"{p}_us"] for p in (*PHASES, "gc")} for size in SIZES
        },
        "tree_size_after_window": {str(s): int(median[s]["tree_size_after"]) for s in SIZES},
        "frontier_after_window": {str(s): int(median[s]["frontier_after"]) for s in SIZES},
        "window": args.window,
        "tactics": args.tactics,
        "error_rate": args.error_rate,
        "repeats": args.repeats,
    }
