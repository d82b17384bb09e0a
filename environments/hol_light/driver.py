"""Typed requests to a warm HOL Light server: parse goals, apply checked tactics, list theorems.

``HolLight`` is what the environment, the CLI, the export and the benchmark share. A tactic
is parsed against the safe grammar first; only the parsed form reaches HOL Light, and a text
that fails the grammar comes back ``rejected`` without touching the process.
"""

from __future__ import annotations

import threading
from collections.abc import Container, Sequence
from typing import Any

from data.proof_tree import Goal
from environments.apply_result import ApplyResult
from environments.hol_light import tactics
from environments.hol_light.process import (
    HolLightServer,
    ServerCrashed,
    ServerTimeout,
    Zygote,
)
from environments.hol_light.terms import parse_sexp


def goal_from_json(data: dict[str, Any]) -> Goal:
    return Goal(
        conclusion=data["conclusion"],
        hypotheses=tuple(data["hypotheses"]),
        conclusion_sexp=data["conclusion_sexp"],
        hypothesis_sexps=tuple(data["hypothesis_sexps"]),
    )


def encode_goal(goal: Goal) -> str:
    """The request form of a goal: exact s-expressions when known, else text to parse jointly."""
    if goal.conclusion_sexp is not None:
        for text in (goal.conclusion_sexp, *goal.hypothesis_sexps):
            parse_sexp(text)  # untrusted (it may come from a trace file): must be one balanced sexp
        return f"(goal ({' '.join(goal.hypothesis_sexps)}) {goal.conclusion_sexp})"
    return encode_text_goal(goal.hypotheses, goal.conclusion)


def encode_text_goal(hypotheses: Sequence[str], conclusion: str) -> str:
    quote = tactics.quote_sexp_string
    return f"(goaltext ({' '.join(quote(h) for h in hypotheses)}) {quote(conclusion)})"


class HolLight:
    """One warm HOL Light server and the typed requests it answers."""

    def __init__(self, server: HolLightServer) -> None:
        self.server = server

    @classmethod
    def spawn(cls, zygote: Zygote | None = None) -> HolLight:
        return cls((zygote or shared_zygote()).spawn())

    def close(self) -> None:
        self.server.close()

    def apply(
        self,
        goal: Goal,
        tactic: str,
        timeout: float,
        allowed_premises: Container[str] | None = None,
        database_names: Container[str] | None = None,
    ) -> ApplyResult:
        """Parse ``tactic`` against the grammar, then apply it to ``goal`` in HOL Light."""
        try:
            expr = tactics.parse_tactic(tactic, allowed_premises, database_names)
        except tactics.TacticRejected as e:
            return ApplyResult("rejected", error=str(e))
        try:
            goal_text = encode_goal(goal)
        except ValueError as e:
            return ApplyResult("error", error=f"malformed goal s-expression: {e}")
        return self._apply_request(goal_text, tactics.render_request(expr), timeout)

    def apply_text(
        self, hypotheses: Sequence[str], conclusion: str, tactic: str, timeout: float
    ) -> ApplyResult:
        """Like ``apply`` for a goal given as HOL Light text (the CLI)."""
        try:
            expr = tactics.parse_tactic(tactic)
        except tactics.TacticRejected as e:
            return ApplyResult("rejected", error=str(e))
        goal_text = encode_text_goal(hypotheses, conclusion)
        return self._apply_request(goal_text, tactics.render_request(expr), timeout)

    def _apply_request(self, goal_text: str, tactic_sexp: str, timeout: float) -> ApplyResult:
        try:
            reply = self.server.request(f"apply {timeout:.3f} {goal_text} {tactic_sexp}", timeout)
        except ServerTimeout as e:
            return ApplyResult("timeout", error=str(e), time_s=timeout, restarted=True)
        except ServerCrashed as e:
            return ApplyResult("crash", error=str(e), restarted=True)
        data = reply.data
        return ApplyResult(
            status=data["status"],
            subgoals=[goal_from_json(g) for g in data.get("subgoals", [])],
            error=data.get("error", ""),
            time_s=float(data.get("time_s", 0.0)),
            restarted=reply.restarted,
        )

    def parse_goal(self, hypotheses: Sequence[str], conclusion: str, timeout: float = 10.0) -> Goal:
        """Parse a goal given as text (hypotheses and conclusion jointly) into its exact form."""
        reply = self.server.request(
            f"parse {timeout:.3f} {encode_text_goal(hypotheses, conclusion)}", timeout
        )
        if reply.data["status"] != "parsed":
            raise ValueError(f"HOL Light cannot parse the goal: {reply.data.get('error', '')}")
        return goal_from_json(reply.data["goal"])

    def same_goal(self, exact: Goal, text: Goal, timeout: float = 10.0) -> bool:
        """Whether ``text`` (printed strings) parses back to ``exact`` up to type variables."""
        text_goal = encode_text_goal(text.hypotheses, text.conclusion)
        reply = self.server.request(
            f"roundtrip {timeout:.3f} {encode_goal(exact)} {text_goal}", timeout
        )
        if reply.data["status"] != "roundtrip":
            return False
        return bool(reply.data["same"])

    def theorems(self) -> list[dict[str, Any]]:
        """Every named theorem HOL Light has loaded (``!theorems``), as name and goal."""
        reply = self.server.request("theorems", 600.0)
        return [
            {"name": t["name"], "goal": goal_from_json(t["goal"])} for t in reply.data["theorems"]
        ]


_shared_lock = threading.Lock()
_shared_zygote: Zygote | None = None
_shared_prover: HolLight | None = None


def shared_zygote() -> Zygote:
    """This process's lease on the machine's zygote (started on first use)."""
    global _shared_zygote
    with _shared_lock:
        if _shared_zygote is None:
            _shared_zygote = Zygote()
        _shared_zygote.connect()
        return _shared_zygote


def shared_prover() -> HolLight:
    """This process's warm server, reused by every attempt the process makes."""
    global _shared_prover
    zygote = shared_zygote()
    with _shared_lock:
        if _shared_prover is None:
            _shared_prover = HolLight.spawn(zygote)
        return _shared_prover
