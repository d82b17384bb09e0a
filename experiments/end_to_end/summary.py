"""Per-iteration metrics of a run: attempt records in, ``summary.json`` out.

Each finished attempt appends its `AttemptRecord` (one JSON line) to
``<run_dir>/attempts/<iteration>.jsonl``, a log of the run; ``summary.json`` is recomputed from
the records and rewritten atomically after every attempt. A theorem counts once per iteration
(its latest record), so a resumed run that re-runs a theorem never counts it twice.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from data.files import write_atomic
from data.traces.attempts import AttemptRecord


def attempts_path(run_dir: Path, iteration: int) -> Path:
    return run_dir / "attempts" / f"{iteration}.jsonl"


def append_attempt(run_dir: Path, record: AttemptRecord) -> None:
    """Append one record to its iteration's log, flushed to disk before returning."""
    path = attempts_path(run_dir, record.iteration)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(record.model_dump_json() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def p95(values: Sequence[float]) -> float:
    """The 95th percentile by nearest rank (a value that occurred); 0.0 for no values."""
    if not values:
        return 0.0
    return float(np.percentile(values, 95, method="inverted_cdf"))


def iteration_metrics(iteration: int, records: Iterable[AttemptRecord]) -> dict[str, Any]:
    """Pass@1 on the evaluated theorems, and the same figures for the data-gathering ones."""
    rows = list(records)
    metrics = _metrics(iteration, [r for r in rows if r.role == "eval"])
    gathered = [r for r in rows if r.role == "data"]
    if gathered:
        metrics["data"] = _metrics(iteration, gathered)
    return metrics


def _metrics(iteration: int, rows: list[AttemptRecord]) -> dict[str, Any]:
    """Pass@1, outcome counts, timing split, expansions and error counts of a set of attempts.

    ``errored`` counts attempts that did not run to an end (infrastructure), apart from
    ``failed`` and ``timeout``; Pass@1 still divides by every attempt, errored ones included.
    """
    attempted = len(rows)
    statuses = Counter(r.status for r in rows)
    errors: Counter[str] = Counter()
    for r in rows:
        errors.update(r.errors)

    def mean(key: str) -> float:
        return sum(float(getattr(r, key)) for r in rows) / attempted if rows else 0.0

    return {
        "iteration": iteration,
        "attempted": attempted,
        "proved": statuses["proved"],
        "failed": statuses["failed"],
        "timeout": statuses["timeout"],
        "errored": statuses["error"],
        "pass_at_1": statuses["proved"] / attempted if attempted else 0.0,
        "statuses": dict(statuses),
        "mean_time_s": mean("total_s"),
        "p95_time_s": p95([r.total_s for r in rows]),
        "mean_model_s": mean("model_s"),
        "mean_env_s": mean("env_s"),
        "mean_search_s": mean("search_s"),
        "mean_expansions": mean("expansions"),
        "mean_nodes": mean("nodes"),
        "errors": dict(errors),
    }


def pass_at_1_text(metrics: dict[str, Any]) -> str:
    """Pass@1 as the loop, the report and the README print it: ``0.250 (3/12, 1 errored)``."""
    errored = f", {metrics['errored']} errored" if metrics.get("errored") else ""
    return f"{metrics['pass_at_1']:.3f} ({metrics['proved']}/{metrics['attempted']}{errored})"


def write_summary(run_dir: Path, iterations: list[dict[str, Any]]) -> None:
    """Atomically rewrite ``summary.json``."""
    write_atomic(
        run_dir / "summary.json", json.dumps({"iterations": iterations}, indent=2, sort_keys=True)
    )


def read_summary(run_dir: Path) -> list[dict[str, Any]]:
    """The iterations of ``summary.json``; [] if there is none or it does not parse."""
    path = run_dir / "summary.json"
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
        return list(data["iterations"])
    except (ValueError, KeyError, TypeError):
        return []
