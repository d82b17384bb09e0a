"""Ray actors: TacticServers that batch model calls, ProverWorkers that run attempts.

One ``TacticServer`` per logical GPU holds a tactic model and batches concurrent
``get_tactics`` requests from many provers into one model call. ``provers_per_gpu``
``ProverWorker`` actors per logical GPU each keep one warm environment process across
theorems and iterations, write each trace the moment the attempt ends, and return a small
summary. Models and environments are built inside their actors from config: nothing heavy
crosses the object store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from environments.base import Premise, Suggestion
from experiments.end_to_end.proof_tree import Goal

log = logging.getLogger(__name__)


def _configure_worker_process() -> None:
    """Small-model CPU inference and tests want one thread and no hub look-ups (FACTS.md)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)


@dataclass(frozen=True)
class PremiseRef:
    """An attempt's premise list, put in the object store once and cached by the server.

    Premise lists are long (thousands of theorems) and the same for every goal of an
    attempt, so they cross the object store once per attempt, not once per request.
    """

    ref: Any  # ray.ObjectRef, wrapped so Ray does not resolve it on every call


@ray.remote
class TacticServer:
    """Serves a tactic model to many provers, batching requests that arrive together."""

    def __init__(self, tac_model: dict[str, Any], max_batch_size: int, max_wait_s: float) -> None:
        _configure_worker_process()
        from models.end_to_end.tactic_models.tac_models import build_tactic_model

        self.model = build_tactic_model(tac_model)
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._pending: list[tuple[Goal, Sequence[Premise], asyncio.Future[list[Suggestion]]]] = []
        self._timer: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1)  # one model call at a time
        self.batches: list[int] = []
        self._premises: OrderedDict[str, Sequence[Premise]] = OrderedDict()

    async def _resolve(self, premises: Sequence[Premise] | PremiseRef) -> Sequence[Premise]:
        if not isinstance(premises, PremiseRef):
            return premises
        key = premises.ref.hex()
        if key in self._premises:
            self._premises.move_to_end(key)
            return self._premises[key]
        resolved: Sequence[Premise] = await premises.ref
        self._premises[key] = resolved
        if len(self._premises) > 64:  # a few attempts per prover
            self._premises.popitem(last=False)
        return resolved

    async def get_tactics(
        self, goal: Goal, premises: Sequence[Premise] | PremiseRef
    ) -> list[Suggestion]:
        resolved = await self._resolve(premises)
        future: asyncio.Future[list[Suggestion]] = asyncio.get_running_loop().create_future()
        self._pending.append((goal, resolved, future))
        if len(self._pending) >= self.max_batch_size:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())
        return await future

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.max_wait_s)
        self._timer = None
        self._flush()

    def _flush(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
            self._timer = None
        batch, self._pending = (
            self._pending[: self.max_batch_size],
            self._pending[self.max_batch_size :],
        )
        if batch:
            asyncio.create_task(self._run(batch))
        if self._pending and self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())

    async def _run(
        self, batch: list[tuple[Goal, Sequence[Premise], asyncio.Future[list[Suggestion]]]]
    ) -> None:
        goals = [g for g, _, _ in batch]
        premises = [p for _, p, _ in batch]
        self.batches.append(len(batch))
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(
                self._executor, self.model.get_tactics, goals, premises
            )
        except Exception as e:  # a model failure fails these requests, not the server
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(e)
            return
        for (_, _, future), suggestions in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(suggestions)

    def reload(self, checkpoint: str) -> None:
        """Load new weights in place (the loop calls this between iterations)."""
        self.model.reload(checkpoint)

    def checkpoint(self) -> str | None:
        return getattr(self.model, "checkpoint", None)

    def batch_sizes(self) -> list[int]:
        return list(self.batches)


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a ProverWorker needs to build its prover, as plain data."""

    env_config: dict[str, Any]
    search_model: dict[str, Any]
    num_sampled_tactics: int
    total_timeout: float
    env_timeout: float
    run_dir: str
    models: dict[str, Any]


@ray.remote(max_restarts=0)
class ProverWorker:
    """Runs proof attempts one at a time; its environment process stays warm throughout."""

    def __init__(self, config: WorkerConfig, tactic_server: Any) -> None:
        _configure_worker_process()
        from hydra.utils import instantiate

        from experiments.end_to_end.environments import environment_class, environment_factory

        self.config = config
        self.server = tactic_server
        self.env_factory = environment_factory(config.env_config)
        self.env_cls = environment_class(config.env_config)
        self.env_cls.warm_up()  # before any attempt's clock starts
        self._premise_refs: dict[int, tuple[Sequence[Premise], PremiseRef]] = {}
        self.search_model = instantiate(config.search_model)

    def pid(self) -> int:
        return os.getpid()

    def set_models(self, models: dict[str, Any]) -> None:
        self.config = dataclasses.replace(self.config, models=models)

    def _get_tactics(
        self, goals: list[Goal], premises: list[Sequence[Premise]]
    ) -> list[list[Suggestion]]:
        refs = [
            self.server.get_tactics.remote(goal, self._premise_ref(p))
            for goal, p in zip(goals, premises, strict=True)
        ]
        return ray.get(refs)

    def _premise_ref(self, premises: Sequence[Premise]) -> PremiseRef:
        """One object-store copy per premise list (the prover passes the same list object)."""
        cached = self._premise_refs.get(id(premises))
        if cached is None or cached[0] is not premises:
            cached = (premises, PremiseRef(ray.put(list(premises))))
            self._premise_refs = {id(premises): cached}  # only the current attempt's
        return cached[1]

    def prove(self, theorem: dict[str, Any], theorem_id: str, iteration: int) -> dict[str, Any]:
        """One attempt; writes its trace atomically and returns the trace's summary."""
        from experiments.end_to_end.prover import AttemptInfo, Prover
        from experiments.end_to_end.traces import write_trace

        prover = Prover(
            self.search_model,
            self._get_tactics,
            self.config.num_sampled_tactics,
            self.config.total_timeout,
            self.config.env_timeout,
        )
        env_cls = self.env_cls
        env = self.env_factory(thm=env_cls.theorem_from_dict(theorem))
        info = AttemptInfo(
            theorem_id=theorem_id,
            theorem=theorem,
            environment={
                "name": self.config.env_config.get("name", env_cls.name),
                "config": self.config.env_config,
            },
            iteration=iteration,
            models=self.config.models,
        )
        trace = prover.prove(env, info)
        write_trace(trace, Path(self.config.run_dir))
        summary = attempt_summary(trace)
        summary["node_id"] = ray.get_runtime_context().get_node_id()
        return summary


def attempt_summary(trace: Any) -> dict[str, Any]:
    """The few numbers of a trace the driver aggregates (no tree crosses the object store)."""
    return {
        "theorem_id": trace.theorem_id,
        "status": trace.status,
        "total_s": trace.timings.total_s,
        "model_s": trace.timings.model_s,
        "env_s": trace.timings.env_s,
        "search_s": trace.timings.search_s,
        "expansions": trace.counts.get("expansions", 0),
        "nodes": trace.counts.get("nodes", 0),
        "errors": dict(trace.counts.get("errors", {})),
        "proof_length": len(trace.proof),
        "finished_unix": time.time(),
    }
