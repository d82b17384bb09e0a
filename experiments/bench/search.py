"""Search: expansions per second of a search on a growing proof tree, instant env and models.

``--search`` names a config of ``configs/end_to_end/search_model/`` (bestfs, bfs, htps, updown,
fringe); a search that values goals gets an instant constant goal model (log 0.5). Each step
is what a prover does with free tactics: ``get_goals(--goals-per-step)``, then per goal
``--tactics`` edges added to the real ``ProofTree`` (each an error, or one or two new goals),
``process_response`` for each edge, ``mark_explored`` and ``expansion_done``. The tree is grown
from one root; as it passes each size in ``SIZES`` (all nodes, error nodes included) the next
``--window`` expansions are timed, split into search time (get_goal: ``get_goals``;
process_response: it and ``expansion_done``) and tree time (add_edge with goal creation,
mark_explored); time inside the garbage collector is reported beside them (it overlaps them).
``overall_per_s`` is the rate over the whole growth, every collection included; ``scaling``
is the rate at 10^5 nodes over the rate at 10^3 (below 0.5: some step costs O(tree)). Rates
are the median over ``--repeats`` identically seeded trees.
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

from hydra.utils import instantiate
from omegaconf import OmegaConf

from data.proof_tree import ErrorKind, Goal, InternalNode, ProofTree
from experiments.end_to_end.config import CONFIG_DIR
from experiments.end_to_end.prover import gc_paused
from models.end_to_end.search_models.base import FrontierSearch, SearchModel
from models.end_to_end.search_models.goal_model.base import ConstantGoalModel

log = logging.getLogger(__name__)

SIZES = (1_000, 10_000, 100_000)
SEARCHES = ("bestfs", "bfs", "htps", "updown", "fringe")
TARGET_PER_S = {"bestfs": 12_000, "bfs": 12_000, "htps": 5_000, "updown": 10_000, "fringe": 10_000}
"""Expansions per second each search should reach at 10^5 nodes on one core."""
SCALING_TARGET = 0.5
PHASES = ("get_goal", "add_edge", "process_response", "mark_explored")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--search", choices=SEARCHES, default="bestfs", help="the search model")
    parser.add_argument(
        "--goals-per-step", type=int, default=1, help="goals a step may take (get_goals(n))"
    )
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


def build_search(name: str, overrides: dict[str, Any] | None = None) -> SearchModel:
    """The search of ``configs/end_to_end/search_model/<name>.yaml`` with ``overrides``,
    bound to an instant constant goal model if it values goals."""
    config = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "search_model" / f"{name}.yaml"))
    assert isinstance(config, dict)
    config.pop("defaults", None)
    config.pop("goal_model", None)
    search = instantiate({**config, **(overrides or {})})
    if not isinstance(search, SearchModel):
        raise TypeError(f"search_model/{name}.yaml built a {type(search).__name__}")
    search.bind(ConstantGoalModel().values if search.uses_goal_model else None)
    return search


class _Grower:
    """One tree, one search, one random stream: expands and times on request."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.rng = Random(args.seed)
        self.tactics: int = args.tactics
        self.error_rate: float = args.error_rate
        self.goals_per_step: int = args.goals_per_step
        self.tree = ProofTree(Goal("g0"))
        self.search = build_search(args.search)
        self.search.reset(self.tree.root)
        self.goals = 1

    def step(self, phases: list[float]) -> int:
        """One step (``get_goals`` and its expansions); adds the seconds spent in each of
        PHASES to `phases` and returns the number of expansions."""
        tree, search = self.tree, self.search
        t0 = time.perf_counter()
        selected = search.get_goals(self.goals_per_step)
        phases[0] += time.perf_counter() - t0
        if not selected:
            raise RuntimeError(f"search ended at tree size {tree.size}; lower --error-rate")
        for node, _ in selected:
            self._expand(node, phases)
        return len(selected)

    def _expand(self, node: InternalNode, phases: list[float]) -> None:
        tree, search, rng = self.tree, self.search, self.rng
        t1 = time.perf_counter()
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
        search.expansion_done(node)
        t5 = time.perf_counter()
        phases[1] += t2 - t1
        phases[2] += (t3 - t2) + (t5 - t4)
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
                    expansions += grower.step(untimed)
                phases = [0.0] * len(PHASES)
                clock.total = 0.0
                started = time.perf_counter()
                timed = 0
                while timed < args.window:
                    timed += grower.step(phases)
                elapsed = time.perf_counter() - started
                search = grower.search
                bands[size] = {
                    "per_s": timed / elapsed,
                    **{f"{p}_us": 1e6 * s / timed for p, s in zip(PHASES, phases, strict=True)},
                    "gc_us": 1e6 * clock.total / timed,
                    "tree_size_after": grower.tree.size,
                    "frontier_after": (
                        search.frontier_size() if isinstance(search, FrontierSearch) else -1
                    ),
                }
                expansions += timed
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
    scaling = median[SIZES[-1]]["per_s"] / median[SIZES[0]]["per_s"]
    log.info("%s expansions/s by tree size: %s (scaling %.2f)", args.search, rates, scaling)
    return {
        "benchmark": "search",
        "search": args.search,
        "goals_per_step": args.goals_per_step,
        "expansions_per_s": rates,
        "target_per_s": TARGET_PER_S[args.search],
        "scaling": scaling,
        "scaling_target": SCALING_TARGET,
        "overall_per_s": median[0]["per_s"],
        "us_per_expansion_by_phase": {
            str(size): {p: median[size][f"{p}_us"] for p in (*PHASES, "gc")} for size in SIZES
        },
        "tree_size_after_window": {str(s): int(median[s]["tree_size_after"]) for s in SIZES},
        "frontier_after_window": {str(s): int(median[s]["frontier_after"]) for s in SIZES},
        # -1: the search keeps no frontier queue
        "window": args.window,
        "tactics": args.tactics,
        "error_rate": args.error_rate,
        "repeats": args.repeats,
    }
