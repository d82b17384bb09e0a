"""Ray actors: TacticServers that batch model calls, ProverWorkers that run attempts.

One ``TacticServer`` per logical GPU holds a tactic model and batches concurrent requests from
the provers bound to it into one model call. ``provers_per_gpu`` ``ProverWorker`` actors per
logical GPU each keep one warm environment process across theorems and iterations, write each
trace the moment the attempt ends, and return its `AttemptRecord`. Models and environments are
built inside their actors from config: nothing heavy crosses the object store. The pool that
places, watches and replaces these actors is in ``evaluation.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayActorError

from data.proof_tree import Goal
from data.traces.attempts import AttemptRecord
from environments.base import Premise, Suggestion

log = logging.getLogger(__name__)


class TacticServerDied(RuntimeError):
    """The TacticServer a worker is bound to died: an infrastructure fault, not the attempt's.

    Raised by a worker instead of Ray's own actor error, so the pool can tell a dead server
    (replace it, retry the attempt) from a dead worker.
    """


def _configure_worker_process() -> None:
    """Small-model CPU inference and tests want one thread and no hub look-ups."""
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


Request = tuple[Goal, Sequence[Premise], "asyncio.Future[list[Suggestion]]", int]


class TacticServer:
    """Serves a tactic model to its provers, batching requests that arrive together.

    A batch is flushed as soon as every bound prover (``num_clients``) has a request pending,
    or it holds ``max_batch_size`` goals, or its oldest request has waited ``max_wait_s``.
    Plain Python (``TacticServerActor`` is the Ray actor), so its batching is tested without Ray.
    """

    def __init__(
        self,
        tac_model: dict[str, Any],
        max_batch_size: int,
        max_wait_s: float,
        num_clients: int,
        device: str = "cpu",
    ) -> None:
        _configure_worker_process()
        from models.end_to_end.tactic_models.tac_models import build_tactic_model

        # A model whose config leaves `device` null runs where this server's resources are.
        self.model = build_tactic_model(tac_model, device=device)
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.num_clients = num_clients
        self._pending: list[Request] = []
        self._timer: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1)  # one model call at a time
        self.batches: list[int] = []
        self._premises: OrderedDict[str, Sequence[Premise]] = OrderedDict()

    def ready(self) -> int:
        """The server's pid, once its model is built (the pool waits for this)."""
        return os.getpid()

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
        self,
        goals: list[Goal],
        premises: list[Sequence[Premise] | PremiseRef],
        client: int = 0,
    ) -> list[list[Suggestion]]:
        """Suggestions for one prover's goals (``premises[i]`` belongs to ``goals[i]``)."""
        resolved = [await self._resolve(p) for p in premises]
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[list[Suggestion]]] = []
        for goal, goal_premises in zip(goals, resolved, strict=True):
            future: asyncio.Future[list[Suggestion]] = loop.create_future()
            self._pending.append((goal, goal_premises, future, client))
            futures.append(future)
        if self._full():
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())
        return list(await asyncio.gather(*futures))

    def _full(self) -> bool:
        """Enough to run now: a whole batch, or every bound prover is waiting on this server."""
        if len(self._pending) >= self.max_batch_size:
            return True
        return len({client for *_, client in self._pending}) >= self.num_clients

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.max_wait_s)
        self._timer = None
        self._flush()

    def _flush(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
            self._timer = None
        batch = self._pending[: self.max_batch_size]
        self._pending = self._pending[self.max_batch_size :]
        if batch:
            asyncio.create_task(self._run(batch))
        if self._pending and self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())

    async def _run(self, batch: list[Request]) -> None:
        goals = [g for g, *_ in batch]
        premises = [p for _, p, *_ in batch]
        self.batches.append(len(batch))
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(
                self._executor, self.model.get_tactics, goals, premises
            )
        except Exception as e:  # a model failure fails these requests, not the server
            for _, _, future, _ in batch:
                if not future.done():
                    future.set_exception(e)
            return
        for (_, _, future, _), suggestions in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(suggestions)

    def reload(self, checkpoint: str) -> None:
        """Load new weights in place (the loop calls this between iterations)."""
        self.model.reload(checkpoint)

    def checkpoint(self) -> str | None:
        return self.model.checkpoint

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


@dataclass(frozen=True)
class Task:
    """One theorem to attempt; ``role`` is "eval" (counts for Pass@1) or "data" (training)."""

    theorem_id: str
    theorem: dict[str, Any]
    role: str = "eval"


class ProverWorker:
    """Runs proof attempts one at a time; its environment process stays warm throughout.

    ``ProverWorkerActor`` is the Ray actor; a worker that dies is replaced by the pool, not
    restarted by Ray, so the pool knows which theorem it was attempting.
    """

    def __init__(self, config: WorkerConfig, tactic_server: Any, client: int) -> None:
        _configure_worker_process()
        from hydra.utils import instantiate

        from experiments.end_to_end.components import environment_factory

        self.config = config
        self.server = tactic_server
        self.client = client
        self.env_factory = environment_factory(config.env_config)
        self.env_cls = self.env_factory.func
        self.env_cls.warm_up()  # before any attempt's clock starts
        self._premise_refs: dict[int, tuple[Sequence[Premise], PremiseRef]] = {}
        self.search_model = instantiate(config.search_model)

    def ready(self) -> int:
        """The worker's pid, once its environment is warm (the pool waits for this)."""
        return os.getpid()

    def set_server(self, tactic_server: Any) -> None:
        """Bind to a replacement TacticServer (the pool calls this after replacing one)."""
        self.server = tactic_server

    def set_models(self, models: dict[str, Any]) -> None:
        self.config = dataclasses.replace(self.config, models=models)

    def _get_tactics(
        self, goals: list[Goal], premises: list[Sequence[Premise]]
    ) -> list[list[Suggestion]]:
        refs = [self._premise_ref(p) for p in premises]
        try:
            suggestions: list[list[Suggestion]] = ray.get(
                self.server.get_tactics.remote(goals, refs, self.client)
            )
        except RayActorError as e:
            raise TacticServerDied(f"the TacticServer died: {actor_error_cause(e)}") from None
        return suggestions

    def _premise_ref(self, premises: Sequence[Premise]) -> PremiseRef:
        """One object-store copy per premise list (the prover passes the same list object)."""
        cached = self._premise_refs.get(id(premises))
        if cached is None or cached[0] is not premises:
            cached = (premises, PremiseRef(ray.put(list(premises))))
            self._premise_refs = {id(premises): cached}  # only the current attempt's
        return cached[1]

    def prove(self, task: Task, iteration: int) -> AttemptRecord:
        """One attempt; writes its trace atomically and returns the attempt's record."""
        from data.traces.files import write_trace
        from experiments.end_to_end.prover import AttemptInfo, Prover

        prover = Prover(
            self.search_model,
            self._get_tactics,
            self.config.num_sampled_tactics,
            self.config.total_timeout,
            self.config.env_timeout,
        )
        env = self.env_factory(thm=self.env_cls.theorem_from_dict(task.theorem))
        info = AttemptInfo(
            theorem_id=task.theorem_id,
            theorem=task.theorem,
            environment=environment_record(self.config.env_config),
            iteration=iteration,
            models=self.config.models,
            role=task.role,
        )
        trace = prover.prove(env, info)
        path = write_trace(trace, Path(self.config.run_dir))
        return AttemptRecord.of(trace, path, node_id=ray.get_runtime_context().get_node_id())


TacticServerActor = ray.remote(TacticServer)
ProverWorkerActor = ray.remote(max_restarts=0)(ProverWorker)


def environment_record(env_config: dict[str, Any]) -> dict[str, Any]:
    """What a trace records of its environment: its name and the config that rebuilds it."""
    return {"name": env_config.get("name", ""), "config": env_config}


def actor_error_cause(error: RayActorError) -> str:
    """The exception that killed an actor, as its last traceback line (``Type: message``)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
