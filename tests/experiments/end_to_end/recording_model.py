"""A tactic model and a goal model for the loop's fast tests: they record every batch and
fail on request (the tactic model also slowly)."""

from __future__ import annotations

import math
import threading
import time

from data.proof_tree import Goal
from environments.base import Suggestion
from models.end_to_end.search_models.goal_model.base import GoalModel
from models.end_to_end.tactic_models.base import Premises, TacticModel, check_batch


class RecordingModel(TacticModel):
    """Suggests ``tactics`` for every goal, uniformly. A goal whose conclusion is ``fail`` makes
    its batch raise (``fail="*"``: every batch raises); every call takes at least ``delay_s``.
    ``batches`` lists the size of every call."""

    def __init__(
        self,
        tactics: list[str],
        fail: str = "<fail>",
        device: str | None = None,
        ckpt_path: str | None = None,
        delay_s: float = 0.0,
    ) -> None:
        self.tactics, self.fail, self.device = tactics, fail, device
        self.delay_s = delay_s
        self.batches: list[int] = []
        self.threads: set[int] = set()
        self.checkpoint = ckpt_path

    def get_tactics(self, goals: list[Goal], premises: list[Premises]) -> list[list[Suggestion]]:
        check_batch(goals, premises)
        self.batches.append(len(goals))
        self.threads.add(threading.get_ident())
        time.sleep(self.delay_s)
        if any(self.fail in ("*", g.conclusion) for g in goals):
            raise ValueError(f"model error on a batch of {len(goals)}")
        logprob = -math.log(len(self.tactics))
        return [[(t, logprob) for t in self.tactics] for _ in goals]

    def reload(self, checkpoint: str) -> None:
        self.checkpoint = checkpoint


class RecordingGoalModel(GoalModel):
    """Values every goal ``logprob``; a goal whose conclusion is ``fail`` makes its batch raise,
    and ``nan`` makes the model answer NaN for it. ``batches`` lists the size of every call."""

    def __init__(
        self,
        logprob: float = -0.5,
        fail: str = "<fail>",
        nan: str = "<nan>",
        device: str | None = None,
        ckpt_path: str | None = None,
    ) -> None:
        self.logprob, self.fail, self.nan, self.device = logprob, fail, nan, device
        self.batches: list[int] = []
        self.checkpoint = ckpt_path

    def values(self, goals: list[Goal]) -> list[float]:
        self.batches.append(len(goals))
        if any(self.fail == g.conclusion for g in goals):
            raise ValueError(f"goal model error on a batch of {len(goals)}")
        return [math.nan if g.conclusion == self.nan else self.logprob for g in goals]

    def reload(self, checkpoint: str) -> None:
        self.checkpoint = checkpoint
