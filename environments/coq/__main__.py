"""Coq from the command line: apply a tactic to a lemma, export a library, check the export.

    python -m environments.coq apply --theorem Coq.Arith.PeanoNat.Nat.add_0_r --tactic "auto"
    python -m environments.coq apply --batch < requests.jsonl
    python -m environments.coq export [--dirs Arith Bool Lists] [--out DIR]
    python -m environments.coq export --coq-project path/to/_CoqProject --out DIR
    python -m environments.coq roundtrip [--database DIR] [--limit N]

``apply`` prints one JSON object per request: status (proved, subgoals, error, timeout,
rejected or crash), subgoals, error and time_s. With --batch every line of stdin is a request
{"theorem", "tactic", "timeout"}, all answered by one coqidetop process.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from data.coq.database import DEFAULT_DIR, CoqDatabase
from environments.apply_result import ApplyResult, serve_batch
from environments.coq.driver import Coq, CoqProof
from environments.coq.env import theorem_context
from environments.coq.export import (
    DEFAULT_DIRS,
    DEFAULT_LIBRARY,
    export,
    read_coq_project,
    roundtrip,
)
from environments.coq.process import CoqError


def answer(
    coq: Coq, database: CoqDatabase, request: dict[str, Any], default_timeout: float
) -> dict[str, Any]:
    """One request in, the CLI's JSON object out; malformed requests get a clear error."""
    name, tactic = request.get("theorem"), request.get("tactic")
    timeout = request.get("timeout", default_timeout)
    problem = None
    if not isinstance(name, str) or name not in database.by_name:
        problem = f"'theorem' must name a lemma of the database {database.path}, got {name!r}"
    elif not isinstance(tactic, str):
        problem = "'tactic' must be a string"
    elif not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
        problem = "'timeout' must be a number of seconds in (0, 3600]"
    if problem:
        return ApplyResult("error", error=f"bad request: {problem}").to_json()
    assert isinstance(name, str) and isinstance(tactic, str)
    thm = database[name]
    try:
        proof = CoqProof(coq, theorem_context(database, thm), database.tactics_for(thm))
    except (ValueError, CoqError) as e:
        return ApplyResult("error", error=f"cannot start {name}: {e}").to_json()
    return proof.apply(proof.root, tactic, float(timeout)).to_json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m environments.coq",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    apply = sub.add_parser("apply", help="apply a tactic to a lemma's root goal")
    apply.add_argument("--theorem", help="the lemma's qualified name")
    apply.add_argument("--tactic", help="one tactic expression of the safe grammar")
    apply.add_argument("--timeout", type=float, default=5.0, help="seconds per tactic")
    apply.add_argument("--batch", action="store_true", help="read JSON requests from stdin")
    apply.add_argument("--database", default=str(DEFAULT_DIR), help="the database directory")
    exp = sub.add_parser("export", help="export a library's lemmas as a theorem database")
    exp.add_argument("--library", default=str(DEFAULT_LIBRARY), help="the library's root")
    exp.add_argument(
        "--coq-project",
        default=None,
        help="another project's _CoqProject: its -R/-Q directory is the library (default dirs:"
        " all of it)",
    )
    exp.add_argument("--dirs", nargs="+", default=None, help="subdirectories (Arith Bool Lists)")
    exp.add_argument("--out", default=str(DEFAULT_DIR), help="the database directory to write")
    exp.add_argument("--timeout", type=float, default=120.0, help="seconds per sentence")
    rt = sub.add_parser("roundtrip", help="replay the library's own proofs through CoqEnv")
    rt.add_argument("--database", default=str(DEFAULT_DIR), help="the database directory")
    rt.add_argument("--limit", type=int, default=None, help="only the first N lemmas")
    rt.add_argument("--timeout", type=float, default=10.0, help="seconds per tactic")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")

    if args.command == "export":
        if args.coq_project is not None:
            project = read_coq_project(Path(args.coq_project))
            db = export(
                project.root,
                args.dirs or ["."],
                Path(args.out),
                args.timeout,
                project.prefix,
                project.args,
            )
        else:
            dirs = args.dirs or list(DEFAULT_DIRS)
            db = export(Path(args.library), dirs, Path(args.out), args.timeout)
        print(json.dumps({"theorems": len(db), "files": len(db.files), "out": args.out}))
        return 0
    database = CoqDatabase.load(args.database)
    database.check_library()
    if args.command == "roundtrip":
        theorems = database.records[: args.limit]
        result = roundtrip(database, theorems, args.timeout)
        report = {
            "proved": result.proved,
            "total": result.total,
            "rate": round(result.rate, 4),
            "failures": dict(result.failures.most_common()),
            "examples": result.examples,
        }
        print(json.dumps(report, indent=1))
        return 0
    if not args.batch and (args.theorem is None or args.tactic is None):
        parser.error("apply needs --theorem and --tactic (or --batch)")
    coq = Coq(args=database.coq_args)
    try:
        if not args.batch:
            request = {"theorem": args.theorem, "tactic": args.tactic, "timeout": args.timeout}
            print(json.dumps(answer(coq, database, request, args.timeout)), flush=True)
            return 0
        serve_batch(sys.stdin, lambda r: answer(coq, database, r, args.timeout), sys.stdout)
    finally:
        coq.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
