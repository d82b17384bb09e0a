"""Typed requests to a warm coqidetop: move the document, apply a checked tactic, certify a proof.

Coq keeps proof state; the framework's proof tree applies tactics to goals. ``Coq`` bridges
the two with one linear document per process. A goal lives at a *location*: the sentences
from the start of the document (the theorem's file prefix, its statement, then the tactics
that led to the goal) and its position among the foreground goals there. Applying a tactic
moves the document to that location (``Edit_at`` back to the longest common prefix, then
``Add`` what is missing: the prefix of a theorem is sent once and shared by its attempts)
and adds ``N: timeout T (tactic).``. Subgoals are the goals whose ids are new after it.

Tactic text is parsed against ``environments.coq.tactics`` first: a text that fails the
grammar comes back ``rejected`` and nothing reaches Coq.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from data.proof_tree import Goal, ProofStep
from environments.apply_result import ApplyResult, ApplyStatus
from environments.coq import tactics
from environments.coq.process import (
    CoqCrashed,
    CoqIdeTop,
    CoqTimeout,
    Goals,
    SentenceFailed,
)

GRACE_S = 2.0  # beyond Coq's own `timeout`, before the process is killed from outside
CONTEXT_TIMEOUT_S = 600.0  # a library file's prefix may hold slow proofs of its own
_AXIOM_LINE = re.compile(r"^(\S+) : ")


@dataclass(frozen=True)
class Location:
    """Where a goal lives: the sentences after the theorem's context, and its goal number."""

    steps: tuple[str, ...]
    index: int


def as_goal(goal: Any) -> Goal:
    """A Coq goal as the proof tree's goal (its printed hypotheses and conclusion)."""
    return Goal(conclusion=goal.conclusion, hypotheses=tuple(goal.hypotheses))


def is_timeout(message: str) -> bool:
    return "Timeout!" in message or "tclTIMEOUT" in message


def assumptions(messages: Sequence[str]) -> list[str]:
    """The axiom names in ``Print Assumptions`` output (none when it is closed)."""
    names: list[str] = []
    for text in messages:
        in_axioms = False
        for line in text.splitlines():
            if line.strip() in ("Axioms:", "Opaque constants:", "Section Variables:"):
                in_axioms = line.strip() == "Axioms:"
                continue
            match = _AXIOM_LINE.match(line)
            if in_axioms and match:
                names.append(match.group(1))
    return names


class Coq:
    """One warm coqidetop process and its document, restarted after ``restart_every`` theorems."""

    def __init__(
        self,
        restart_every: int = 100,
        memory_limit_mb: int | None = 4096,
        args: Sequence[str] = (),
    ) -> None:
        if restart_every < 1:
            raise ValueError(f"restart_every must be at least 1, got {restart_every}")
        self.restart_every = restart_every
        self.memory_limit_mb = memory_limit_mb
        self.args = tuple(args)
        self.restarts = 0
        self._process: CoqIdeTop | None = None
        self._doc: list[tuple[str, int]] = []  # (sentence, state id after it), in order
        self._theorems = 0

    def close(self) -> None:
        if self._process is not None:
            self._process.close()
        self._process, self._doc = None, []

    def begin_theorem(self) -> None:
        """Count a theorem; past ``restart_every`` the next request starts a fresh process."""
        self._theorems += 1
        if self._theorems > self.restart_every:
            self.close()
            self._theorems = 1

    def goto(self, sentences: Sequence[str], timeout: float) -> Goals | None:
        """Make the document exactly ``sentences``, executed; the proof state there.

        Raises SentenceFailed (the document is left at the failing sentence's predecessor),
        CoqTimeout or CoqCrashed (the process is gone; the next call starts a fresh one).
        """
        try:
            proc = self._live()
            common = 0
            for (text, _), wanted in zip(self._doc, sentences, strict=False):
                if text != wanted:
                    break
                common += 1
            if common < len(self._doc):
                proc.edit_at(self._doc[common - 1][1] if common else proc.initial_state, timeout)
                del self._doc[common:]
            tip = self._doc[-1][1] if self._doc else proc.initial_state
            for sentence in sentences[common:]:
                tip = proc.add(sentence, tip, timeout)
                self._doc.append((sentence, tip))
            if len(sentences) > common:
                proc.execute(timeout)
            return proc.goals(timeout)
        except SentenceFailed as e:
            self._cut_to(e.state, timeout)
            raise
        except (CoqTimeout, CoqCrashed):
            self._process, self._doc = None, []
            raise

    def query(self, text: str, timeout: float) -> list[str]:
        proc = self._live()
        tip = self._doc[-1][1] if self._doc else proc.initial_state
        return proc.query(text, tip, timeout)

    def _cut_to(self, state: int, timeout: float) -> None:
        """After a failure: forget every sentence after ``state`` (Coq needs the Edit_at)."""
        keep = next((i + 1 for i, (_, s) in enumerate(self._doc) if s == state), 0)
        del self._doc[keep:]
        if self._process is not None:
            try:
                self._process.edit_at(state, timeout)
            except (CoqTimeout, CoqCrashed):
                self._process, self._doc = None, []

    def _live(self) -> CoqIdeTop:
        if self._process is None or not self._process.alive:
            if self._process is not None:
                self._process.close()
                self.restarts += 1
            self._process = CoqIdeTop(self.args, self.memory_limit_mb)
            self._doc = []
        return self._process


class CoqProof:
    """One attempt at one theorem: its context, and where each goal it reached lives."""

    def __init__(
        self,
        coq: Coq,
        context: Sequence[str],
        library_tactics: frozenset[str] = frozenset(),
        timeout: float = CONTEXT_TIMEOUT_S,
    ) -> None:
        self.coq = coq
        self.context = tuple(context)
        self.library_tactics = library_tactics  # Ltac names the context defines
        coq.begin_theorem()
        start = time.perf_counter()
        state = coq.goto(self.context, timeout)
        self.start_s = time.perf_counter() - start
        if state is None or len(state.foreground) != 1:
            raise ValueError(
                "the theorem's context does not end in a proof with one goal "
                f"(got {state!r}); is its last sentence the statement?"
            )
        self.root = as_goal(state.foreground[0])
        self._where: dict[Any, Location] = {self.root.key: Location((), 1)}

    def apply(self, goal: Goal, tactic: str, timeout: float) -> ApplyResult:
        """Parse ``tactic`` against the grammar, then apply it to ``goal`` where it lives."""
        try:
            text = tactics.parse_tactic(tactic, self.library_tactics)
        except tactics.TacticRejected as e:
            return ApplyResult("rejected", error=str(e))
        where = self._where.get(goal.key)
        if where is None:
            return ApplyResult("error", error=f"goal not reached in this attempt: {goal}")
        sentence = tactics.render_sentence(text, where.index, timeout, self.library_tactics)
        restarts = self.coq.restarts
        start = time.perf_counter()
        try:
            before = self.coq.goto(self.context + where.steps, CONTEXT_TIMEOUT_S)
            started = time.perf_counter()
            after = self.coq.goto(self.context + where.steps + (sentence,), timeout + GRACE_S)
        except SentenceFailed as e:
            elapsed = time.perf_counter() - start
            status: ApplyStatus = "timeout" if is_timeout(str(e)) else "error"
            return ApplyResult(status, error=str(e), time_s=elapsed)
        except CoqTimeout as e:
            return ApplyResult("timeout", error=str(e), time_s=timeout, restarted=True)
        except CoqCrashed as e:
            return ApplyResult("crash", error=str(e), restarted=True)
        elapsed = time.perf_counter() - started
        restarted = self.coq.restarts != restarts
        if before is None or after is None:
            return ApplyResult("error", error="the tactic left proof mode", time_s=elapsed)
        if after.shelved > before.shelved or after.given_up > before.given_up:
            return ApplyResult("error", error="the tactic shelved or gave up goals", time_s=elapsed)
        others = {g.id for i, g in enumerate(before.foreground) if i != where.index - 1}
        steps = (*where.steps, sentence)
        new: list[Goal] = []
        for i, g in enumerate(after.foreground):
            if g.id in others:
                continue
            subgoal = as_goal(g)
            new.append(subgoal)
            self._where.setdefault(subgoal.key, Location(steps, i + 1))
        status = "subgoals" if new else "proved"
        return ApplyResult(status, new, time_s=elapsed, restarted=restarted)

    def certify(
        self, steps: Sequence[ProofStep], name: str, allowed_axioms: Sequence[str], timeout: float
    ) -> str:
        """Replay ``steps`` from the statement as one script, then ``Qed`` and check axioms.

        Returns "" for a proof Coq's kernel accepts with no axiom beyond ``allowed_axioms``,
        else the reason. The script always acts on the first open goal, with the tactic of the
        step whose goal is printed like it: the proof tree merges goals printed alike, so a
        goal that two branches share is one step but one of Coq's goals in each branch.
        """
        step_for: dict[tuple[tuple[str, ...], str], ProofStep] = {}
        for known in steps:
            step_for.setdefault((known.goal.hypotheses, known.goal.conclusion), known)
        limit = max(100, 10 * len(steps))  # a circular script must not run for ever
        script: list[str] = []
        try:
            state = self.coq.goto(self.context, CONTEXT_TIMEOUT_S)
            while state is not None and state.foreground:
                goal = state.foreground[0]
                step = step_for.get((goal.hypotheses, goal.conclusion))
                if step is None:
                    return f"no step of the proof acts on the open goal {as_goal(goal)}"
                if len(script) >= limit:
                    return f"the script does not close the proof within {limit} tactics"
                script.append(
                    tactics.render_sentence(step.tactic, 1, timeout, self.library_tactics)
                )
                state = self.coq.goto(self.context + tuple(script), timeout + GRACE_S)
            if state is None or state.foreground or state.background:
                return f"goals remain after the script: {state!r}"
            if state.shelved or state.given_up:
                return f"shelved or given-up goals remain: {state!r}"
            self.coq.goto(self.context + tuple(script) + ("Qed.",), timeout + GRACE_S)
            axioms = assumptions(self.coq.query(f"Print Assumptions {name}.", timeout))
        except tactics.TacticRejected as e:
            return f"rejected tactic in the proof: {e}"
        except (SentenceFailed, CoqTimeout, CoqCrashed) as e:
            return f"Coq refused the proof: {e}"
        extra = sorted(set(axioms) - set(allowed_axioms))
        if extra:
            return f"the proof depends on axioms beyond the library's own: {', '.join(extra)}"
        return ""


_shared_lock = threading.Lock()
_shared: Coq | None = None


def shared_coq(
    restart_every: int = 100, memory_limit_mb: int | None = 4096, args: Sequence[str] = ()
) -> Coq:
    """This process's warm Coq, reused by every attempt the process makes (a fresh one when
    an attempt needs other settings, e.g. another library's load path)."""
    global _shared
    with _shared_lock:
        wanted = (restart_every, memory_limit_mb, tuple(args))
        if (
            _shared is not None
            and (
                _shared.restart_every,
                _shared.memory_limit_mb,
                _shared.args,
            )
            != wanted
        ):
            _shared.close()
            _shared = None
        if _shared is None:
            _shared = Coq(restart_every, memory_limit_mb, args)
        return _shared
