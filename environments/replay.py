"""Replaying a recorded proof in a fresh environment: the check that a trace's proof is real.

Each step's tactic must give exactly the recorded outcome (the goal closed, or the same set of
subgoals), every subgoal must be the goal of some step, and the script must not be circular.
Any environment can be checked this way: it only needs ``apply`` (and ``check_proof``, for
a prover that checks a proof as a whole at its end, like Coq's ``Qed``).
"""

from __future__ import annotations

from typing import Any

from data.proof_tree import ProofStep
from data.traces.schema import ProofTrace
from environments.base import Environment, Failure, Proved, Subgoals


def replay(trace: ProofTrace, env: Environment, timeout: float | None = None) -> tuple[bool, str]:
    """Replay a proved trace's proof step by step in ``env`` (not yet entered): (ok, reason).

    ``timeout`` is per step. None: the environment's own, or more for a step that took
    longer when it was found (a tactic on the theorem itself may have had a longer timeout,
    ``root_tactic_timeout``): twice its recorded time plus a second.
    """
    if not trace.proved:
        return False, f"trace status is {trace.status!r}, not 'proved': nothing to replay"
    steps = trace.proof_steps()
    problem = script_problem(steps)
    if problem:
        return False, problem
    with env as (live, root):
        if root.goal.key != steps[0].goal.key:
            return False, (
                f"the environment's root goal {root.goal} is not the proof's first goal "
                f"{steps[0].goal}"
            )
        for i, step in enumerate(steps):
            if timeout is None:
                recorded = trace.edges[step.edge_id].time_s
                step_timeout = max(live.timeout, 2.0 * recorded + 1.0)
            else:
                step_timeout = timeout
            outcome = live.apply(step.goal, step.tactic, step_timeout)
            where = f"step {i} ({step.tactic!r} on {step.goal})"
            if isinstance(outcome, Failure):
                return False, f"{where}: {outcome.kind.value}: {outcome.message}"
            if isinstance(outcome, Proved):
                if step.subgoals:
                    return False, (
                        f"{where}: closed the goal, but the trace has {len(step.subgoals)} "
                        "subgoal(s)"
                    )
            elif isinstance(outcome, Subgoals):
                got = {g.key for g in outcome.goals}
                if not step.subgoals or got != {g.key for g in step.subgoals}:
                    return False, (
                        f"{where}: subgoals differ: got {[str(g) for g in outcome.goals]}, "
                        f"trace has {[str(g) for g in step.subgoals]}"
                    )
        problem = live.check_proof(steps)
        if problem:
            return False, f"every step replayed, but the kernel refused the proof: {problem}"
    return True, f"replayed {len(steps)} step(s)"


def script_problem(steps: list[ProofStep]) -> str:
    """Why the steps are not a closed, well-founded script from their first goal, or ""."""
    if not steps:
        return "the proof is empty"
    by_key: dict[Any, ProofStep] = {}
    for step in steps:
        if step.goal.key in by_key:
            return f"goal {step.goal} has more than one step"
        by_key[step.goal.key] = step
    for step in steps:
        for g in step.subgoals:
            if g.key not in by_key:
                return f"subgoal {g} of {step.tactic!r} is never closed by a step of the proof"
    # Depth-first from the first goal: a goal met again while still open is a circular proof.
    state: dict[Any, int] = {}  # 1 = open, 2 = done
    stack: list[tuple[Any, bool]] = [(steps[0].goal.key, False)]
    while stack:
        key, leaving = stack.pop()
        if leaving:
            state[key] = 2
            continue
        if state.get(key) == 2:
            continue
        if state.get(key) == 1:
            return f"the proof is circular at goal {by_key[key].goal}"
        state[key] = 1
        stack.append((key, True))
        stack.extend((g.key, False) for g in by_key[key].subgoals)
    return ""
