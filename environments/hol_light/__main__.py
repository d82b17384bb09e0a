"""Apply tactics to goals on the real HOL Light from the command line.

    python -m environments.hol_light apply --goal "!n. n + 0 = n" --tactic "ARITH_TAC"
    python -m environments.hol_light apply --batch < requests.jsonl

Prints one JSON object per request: status (proved, subgoals, error, timeout, rejected),
subgoals, error and time_s. With --batch every line of stdin is a request
{"goal", "hypotheses", "tactic", "timeout"}, all answered by one HOL Light process.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from environments.apply_result import ApplyResult, serve_batch
from environments.hol_light.driver import HolLight, shared_prover


def answer(prover: HolLight, request: dict[str, Any], default_timeout: float) -> dict[str, Any]:
    """One request in, the CLI's JSON object out; malformed requests get a clear error."""
    goal, tactic = request.get("goal"), request.get("tactic")
    hypotheses = request.get("hypotheses", [])
    timeout = request.get("timeout", default_timeout)
    problem = None
    if not isinstance(goal, str) or not goal.strip():
        problem = "'goal' must be a non-empty string"
    elif not isinstance(tactic, str):
        problem = "'tactic' must be a string"
    elif not isinstance(hypotheses, list) or not all(isinstance(h, str) for h in hypotheses):
        problem = "'hypotheses' must be a list of strings"
    elif not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
        problem = "'timeout' must be a number of seconds in (0, 3600]"
    if problem:
        return ApplyResult("error", error=f"bad request: {problem}").to_json()
    assert isinstance(goal, str) and isinstance(tactic, str)
    return prover.apply_text(hypotheses, goal, tactic, float(timeout)).to_json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m environments.hol_light",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    apply = sub.add_parser("apply", help="apply a tactic to a goal")
    apply.add_argument("--goal", help="the conclusion, in HOL Light syntax")
    apply.add_argument("--hyp", action="append", default=[], help="a hypothesis (repeatable)")
    apply.add_argument("--tactic", help="the tactic, in the safe HOList grammar")
    apply.add_argument("--timeout", type=float, default=5.0, help="seconds per tactic")
    apply.add_argument("--batch", action="store_true", help="read JSON requests from stdin")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")

    if not args.batch and (args.goal is None or args.tactic is None):
        parser.error("apply needs --goal and --tactic (or --batch)")
    prover = shared_prover()
    if not args.batch:
        request = {
            "goal": args.goal,
            "hypotheses": args.hyp,
            "tactic": args.tactic,
            "timeout": args.timeout,
        }
        print(json.dumps(answer(prover, request, args.timeout)), flush=True)
        return 0
    serve_batch(sys.stdin, lambda r: answer(prover, r, args.timeout), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
