"""The trace command line: the format's JSON Schema, replaying a run's proofs, one attempt.

    python -m experiments.end_to_end.traces schema            # the JSON Schema of a trace
    python -m experiments.end_to_end.traces verify <run_dir>  # replay every proof, fresh env
    python -m experiments.end_to_end.traces show <file>       # one attempt, with its proof

The format itself (``data/traces/``) is pure data; this module adds what needs a live
environment built from config.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from data.traces.files import TRACES_DIR, TraceError, load_trace
from data.traces.loader import TraceLoader
from data.traces.schema import ProofTrace
from environments.base import Environment
from environments.replay import replay
from experiments.end_to_end.components import make_env

logger = logging.getLogger(__name__)

RunEnvFactory = Callable[[Mapping[str, Any], Mapping[str, Any]], Environment]
"""``(trace.environment, trace.theorem) -> a fresh environment``."""


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the trace format this code writes."""
    schema = ProofTrace.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def verify_run(run_dir: Path, env_factory: RunEnvFactory = make_env) -> dict[str, Any]:
    """Replay every proved trace of a run (all iterations): what passed, failed, was corrupt."""
    loader = TraceLoader(Path(run_dir) / TRACES_DIR, progress="verifying proofs")
    report: dict[str, Any] = {"traces": 0, "checked": 0, "ok": 0, "failed": []}
    for path, trace in loader.with_paths():
        report["traces"] += 1
        if not trace.proved:
            continue
        report["checked"] += 1
        try:
            ok, reason = replay(trace, env_factory(trace.environment.model_dump(), trace.theorem))
        except Exception as e:  # one environment that will not start must not hide the others
            ok, reason = False, f"replay raised {type(e).__name__}: {e}"
        if ok:
            report["ok"] += 1
        else:
            logger.warning("%s: proof does not replay: %s", path, reason)
            report["failed"].append({"file": str(path), "reason": reason})
    report["skipped_corrupt"] = [{"file": str(p), "reason": r} for p, r in loader.skipped]
    return report


def summary(trace: ProofTrace) -> str:
    """A short human-readable account: theorem, outcome, effort and the proof script."""
    counts, t = trace.counts, trace.timings
    lines = [
        f"theorem    {trace.theorem_id}  (iteration {trace.iteration}, {trace.role}, "
        f"{trace.environment.name})",
        f"status     {trace.status}" + (f": {trace.error}" if trace.error else ""),
        f"effort     {counts.expansions} expansions, {counts.nodes} nodes, "
        f"{counts.edges} edges, errors {counts.errors}",
        f"time       {t.total_s:.2f}s total (model {t.model_s:.2f}s, env {t.env_s:.2f}s, "
        f"search {t.search_s:.2f}s)",
    ]
    if trace.proof:
        lines.append(f"proof      {len(trace.proof)} step(s):")
        depth: dict[Any, int] = {}
        for step in trace.proof_steps():
            d = depth.get(step.goal.key, 0)
            for g in step.subgoals:
                depth.setdefault(g.key, d + 1)
            lines.append(f"  {'  ' * d}{step.goal}  by  {step.tactic}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, env_factory: RunEnvFactory = make_env) -> int:
    """``schema``, ``verify <run_dir>`` (exit 1 unless every proof replays and no file is
    corrupt) or ``show <file>``."""
    parser = argparse.ArgumentParser(prog="python -m experiments.end_to_end.traces")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("schema", help="print the JSON Schema of a trace file's content")
    verify = sub.add_parser("verify", help="replay every proved trace of a run")
    verify.add_argument("run_dir", type=Path)
    show = sub.add_parser("show", help="summarise one trace file")
    show.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        if args.command == "schema":
            print(json.dumps(json_schema(), indent=2))
            return 0
        if args.command == "verify":
            report = verify_run(args.run_dir, env_factory)
            print(json.dumps(report, indent=2))
            return 0 if not report["failed"] and not report["skipped_corrupt"] else 1
        print(summary(load_trace(args.file)))
        return 0
    except TraceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
