"""Per-iteration metrics of a run: ``attempts.jsonl`` in, ``summary.json`` out.

Each finished attempt appends its small summary (one JSON line) to
``<run_dir>/attempts/<iteration>.jsonl``; ``summary.json`` is recomputed from those lines
and rewritten atomically after every attempt. A theorem counts once per iteration (its
latest line), so a resumed run that re-runs a theorem never counts it twice, and a line cut
short by a kill is skipped.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from experiments.end_to_end.files import write_atomic


def attempts_path(run_dir: Path, iteration: int) -> Path:
    return run_dir / "attempts" / f"{iteration}.jsonl"


def append_attempt(run_dir: Path, iteration: int, attempt: dict[str, Any]) -> None:
    path = attempts_path(run_dir, iteration)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(attempt, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_attempts(run_dir: Path, iteration: int) -> dict[str, dict[str, Any]]:
    """The latest attempt per theorem id; malformed (cut-off) lines are skipped."""
    path = attempts_path(run_dir, iteration)
    latest: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return latest
    for line in path.read_text().splitlines():
        try:
            attempt = json.loads(line)
        except ValueError:
            continue
        if isinstance(attempt, dict) and isinstance(attempt.get("theorem_id"), str):
            latest[attempt["theorem_id"]] = attempt
    return latest


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def iteration_metrics(iteration: int, attempts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Pass@1 on the evaluated theorems, and the same figures for the data-gathering ones."""
    rows = list(attempts)
    evaluated = [a for a in rows if a.get("role", "eval") == "eval"]
    metrics = _metrics(iteration, evaluated)
    gathered = [a for a in rows if a.get("role", "eval") == "data"]
    if gathered:
        metrics["data"] = _metrics(iteration, gathered)
    return metrics


def _metrics(iteration: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Pass@1, timing split, expansions and error counts of a set of attempts."""
    attempted = len(rows)
    proved = sum(a["status"] == "proved" for a in rows)
    times = [float(a.get("total_s", 0.0)) for a in rows]
    errors: Counter[str] = Counter()
    for a in rows:
        errors.update(a.get("errors", {}))
    statuses = Counter(a["status"] for a in rows)
    mean = (lambda key: sum(float(a.get(key, 0.0)) for a in rows) / attempted) if rows else None
    return {
        "iteration": iteration,
        "attempted": attempted,
        "proved": proved,
        "pass_at_1": proved / attempted if attempted else 0.0,
        "statuses": dict(statuses),
        "mean_time_s": mean("total_s") if mean else 0.0,
        "p95_time_s": _p95(times),
        "mean_model_s": mean("model_s") if mean else 0.0,
        "mean_env_s": mean("env_s") if mean else 0.0,
        "mean_search_s": mean("search_s") if mean else 0.0,
        "mean_expansions": mean("expansions") if mean else 0.0,
        "mean_nodes": mean("nodes") if mean else 0.0,
        "errors": dict(errors),
    }


def write_summary(run_dir: Path, iterations: list[dict[str, Any]]) -> None:
    """Atomically rewrite ``summary.json``."""
    write_atomic(
        run_dir / "summary.json", json.dumps({"iterations": iterations}, indent=2, sort_keys=True)
    )


def read_summary(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "summary.json"
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
        return list(data["iterations"])
    except (ValueError, KeyError, TypeError):
        return []
