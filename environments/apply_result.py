"""``ApplyResult``: what a prover driver answers for one tactic on one goal.

The drivers (HOL Light's, Coq's) and their command lines share it; ``outcome`` turns it
into the Environment interface's ``TacticOutcome``, and ``serve_batch`` is the command lines'
``--batch`` mode.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from data.proof_tree import ErrorKind, Goal
from environments.base import Failure, Proved, Subgoals, TacticOutcome

ApplyStatus = Literal["proved", "subgoals", "error", "timeout", "rejected", "crash"]

_FAILURE_KIND = {
    "error": ErrorKind.TACTIC_ERROR,
    "timeout": ErrorKind.TACTIC_TIMEOUT,
    "rejected": ErrorKind.REJECTED,
    "crash": ErrorKind.PROCESS_CRASH,
}


@dataclass
class ApplyResult:
    """What one tactic did to one goal; ``restarted`` says the prover process was replaced."""

    status: ApplyStatus
    subgoals: list[Goal] = field(default_factory=list)
    error: str = ""
    time_s: float = 0.0
    restarted: bool = False

    def to_json(self) -> dict[str, Any]:
        """The command lines' JSON object."""
        out: dict[str, Any] = {
            "status": self.status,
            "subgoals": [
                {"hypotheses": list(g.hypotheses), "conclusion": g.conclusion}
                for g in self.subgoals
            ],
            "error": self.error,
            "time_s": round(self.time_s, 6),
        }
        if self.restarted:
            out["restarted"] = True
        return out

    def outcome(self, prover: str) -> TacticOutcome:
        """The environment's outcome; a restart after a hang or a crash is named in it."""
        if self.status == "proved":
            return Proved(self.time_s)
        if self.status == "subgoals":
            return Subgoals(tuple(self.subgoals), self.time_s)
        message = self.error
        if self.restarted and self.status in ("timeout", "crash"):
            message = f"{message} ({prover} restarted)"
        return Failure(_FAILURE_KIND[self.status], message, self.time_s)


def serve_batch(
    lines: Iterable[str], answer: Callable[[dict[str, Any]], dict[str, Any]], out: TextIO
) -> None:
    """Answer one JSON request a line with one JSON object a line; bad lines get an error."""
    for line in lines:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request must be a JSON object")
        except ValueError as e:
            reply = ApplyResult("error", error=f"bad request: {e}").to_json()
        else:
            reply = answer(request)
        print(json.dumps(reply), file=out, flush=True)
