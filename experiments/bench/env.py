"""HOL Light: per-tactic latency raw vs through HolLightEnv, start-up, spawn, and a long run.

Raw means the tactic typed as an OCaml phrase straight into the same warm toplevel; through
the environment means the whole path a prover uses (grammar check, exact goal s-expression,
kernel replay of proofs, both printed forms of subgoals, proof-tree update). The long run
sends ``--calls`` consecutive tactics to one process and compares the latency and RSS of its
first and last thousand calls.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from data.proof_tree import Goal
from environments.hol_light.driver import HolLight
from environments.hol_light.env import HolLightEnv
from environments.hol_light.process import Zygote
from experiments.end_to_end.summary import p95

log = logging.getLogger(__name__)

# (goal, tactic) pairs whose tactic runs in a few milliseconds.
CASES = [
    ("!n. n + 0 = n", "ARITH_TAC"),
    ("!m n. m + n = n + m", "ARITH_TAC"),
    ("!n. n + 0 = n", "REWRITE_TAC[ADD_CLAUSES]"),
    ("!m n. m * n = n * m", "REWRITE_TAC[MULT_SYM]"),
    ("!n. n + 0 = n", "GEN_TAC"),
    ("!m n. m + n = n + m", "MESON_TAC[ADD_SYM]"),
    ("p /\\ q ==> q /\\ p", "ITAUT_TAC"),
    ("!x. x = x", "GEN_TAC"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=60, help="rounds over the cases")
    parser.add_argument("--calls", type=int, default=10_000, help="calls in the long run")
    parser.add_argument("--spawns", type=int, default=10, help="warm servers to fork")


def _percentiles(samples: list[float]) -> dict[str, float]:
    return {"median_s": statistics.median(samples), "p95_s": p95(samples)}


def _raw_phrase(goal: str, tactic: str, marker: str) -> str:
    return f'ignore ({tactic} ([], `{goal}`)); Itp.emit "{marker}" "{{}}";;\n'


def run(args: argparse.Namespace) -> dict[str, Any]:
    # A zygote of its own, so the load is timed and nobody else's zygote is touched.
    zygote = Zygote(Path(tempfile.mkdtemp(prefix="itp-bench-")))
    try:
        return _measure(zygote, args)
    finally:
        zygote.shutdown()


def _measure(zygote: Zygote, args: argparse.Namespace) -> dict[str, Any]:
    zygote.connect()
    startup_s = zygote.startup_s

    spawn_times = []
    for _ in range(args.spawns):
        started = time.perf_counter()
        extra = HolLight.spawn(zygote)
        spawn_times.append(time.perf_counter() - started)
        extra.close()

    prover = HolLight.spawn(zygote)
    goals = {text: prover.parse_goal([], text) for text, _ in CASES}
    raw: list[float] = []
    through_env: list[float] = []
    markers = itertools.count()
    for _ in range(args.repeats):
        with prover.server.toplevel():
            for text, tactic in CASES:
                marker = f"r{next(markers)}"
                started = time.perf_counter()
                prover.server.send_raw(_raw_phrase(text, tactic, marker), marker, 30.0)
                raw.append(time.perf_counter() - started)
        for text, tactic in CASES:
            record = _record(text, goals[text])
            started = time.perf_counter()
            with HolLightEnv(record, 30.0, prover=prover) as (env, root):
                edge = env.run_tactic(root, (tactic, 0.0))
            through_env.append(time.perf_counter() - started)
            if edge.dst and getattr(edge.dst[0], "kind", None) is not None:
                raise RuntimeError(f"benchmark case failed: {tactic} on {text}: {edge.dst[0]}")

    long_run = _long_run(prover, goals, args.calls)
    prover.close()
    raw_stats, env_stats = _percentiles(raw), _percentiles(through_env)
    return {
        "benchmark": "env",
        "raw": raw_stats,
        "env": env_stats,
        "ratio": env_stats["median_s"] / raw_stats["median_s"],
        "ratio_p95": env_stats["p95_s"] / raw_stats["p95_s"],
        "startup_s": startup_s,
        "spawn_s": statistics.median(spawn_times),
        "spawn_max_s": max(spawn_times),
        **long_run,
    }


def _record(text: str, goal: Goal) -> Any:
    from data.hol_light.database import TheoremDatabase, TheoremRecord

    assert goal.conclusion_sexp is not None
    everything = len(TheoremDatabase.cached())  # the bench goals may cite any theorem
    return TheoremRecord(
        name="bench",
        statement=text,
        sexp=goal.conclusion_sexp,
        position=everything,
        split="train",
    )


def _long_run(prover: HolLight, goals: dict[str, Goal], calls: int) -> dict[str, Any]:
    """``calls`` consecutive tactics on one process: latency and RSS, first vs last window."""
    window = min(1000, max(1, calls // 4))
    cases = itertools.cycle(CASES)
    latencies = []
    rss_start = prover.server.rss_bytes()
    for _ in range(calls):
        text, tactic = next(cases)
        started = time.perf_counter()
        prover.apply(goals[text], tactic, 30.0)
        latencies.append(time.perf_counter() - started)
    rss_end = prover.server.rss_bytes()
    first = statistics.median(latencies[:window])
    last = statistics.median(latencies[-window:])
    return {
        "long_run_calls": calls,
        "long_run_first_median_s": first,
        "long_run_last_median_s": last,
        "long_run_drift": last / first,
        "rss_start_mb": rss_start / 2**20,
        "rss_end_mb": rss_end / 2**20,
    }
