"""Ray actors: model servers that batch model calls, ProverWorkers that run attempts.

One ``TacticServer`` per logical GPU holds a tactic model and batches concurrent requests from
the provers bound to it into one model call; where the search values goals (HTPS, UpDown,
Fringe), a ``GoalServer`` beside it does the same for the goal model. ``provers_per_gpu``
``ProverWorker`` actors per
logical GPU each keep one warm environment process across theorems and iterations, write each
trace the moment the attempt ends, and return its `AttemptRecord`. Models and environments are
built inside their actors from config: nothing heavy crosses the object store. The pool that
places, watches and replaces these actors is in ``evaluation.py``.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

import ray
from ray.exceptions import RayActorError, RayTaskError

from data.proof_tree import Goal
from data.traces.attempts import AttemptRecord
from environments.base import Environment, Premise, Suggestion

log = logging.getLogger(__name__)

Answer = TypeVar("Answer")


class ServerDied(RuntimeError):
    """A model server a worker is bound to died: an infrastructure fault, not the attempt's.

    Raised by a worker instead of Ray's own actor error, so the pool can tell a dead server
    (replace it, retry the attempt) from a dead worker. ``role`` says which server.
    """

    role = "server"


class TacticServerDied(ServerDied):
    role = "tactic"


class GoalServerDied(ServerDied):
    role = "goal"


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


class BatchingServer(ABC, Generic[Answer]):
    """Serves a model to its provers, batching requests that arrive together.

    Each request runs on a thread of its own (the actor is threaded: cheaper per call than an
    asyncio actor); one model thread takes the pending goals as a batch once the model is free
    and either every bound prover (``num_clients``) is waiting, the batch is full
    (``max_batch_size`` goals) or the oldest request has waited ``max_wait_s``, or came in while
    the model was busy. While the model is busy, requests only accumulate: a smaller batch
    started early would just queue behind it. Plain Python (the ``...Actor`` names are the Ray
    actors), so the batching is tested without Ray.
    """

    model: Any

    def __init__(self, max_batch_size: int, max_wait_s: float, num_clients: int) -> None:
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.num_clients = num_clients
        self.batches: list[int] = []
        self._pending: list[_Request[Answer]] = []
        self._ready = threading.Condition()
        self._model_lock = threading.Lock()  # model calls and reloads, one at a time
        self._free_since = 0.0  # when the last model call ended
        threading.Thread(target=self._serve, name="model", daemon=True).start()

    @abstractmethod
    def _answer(self, batch: list[_Request[Answer]]) -> list[Answer]:
        """The model's answers for one batch, in order."""

    def ready(self) -> int:
        """The server's pid, once its model is built (the pool waits for this)."""
        return os.getpid()

    def _ask(self, goals: list[Goal], premises: Sequence[Any], client: int) -> list[Answer]:
        """Queue one prover's goals and wait for their answers."""
        requests = [
            _Request[Answer](goal, p, client, time.monotonic(), Future())
            for goal, p in zip(goals, premises, strict=True)
        ]
        with self._ready:
            self._pending.extend(requests)
            self._ready.notify()
        return [request.future.result() for request in requests]

    def _full(self) -> bool:
        """Enough to run now: a whole batch, or every bound prover is waiting on this server."""
        if len(self._pending) >= self.max_batch_size:
            return True
        return len({r.client for r in self._pending}) >= self.num_clients

    def _next_batch(self) -> list[_Request[Answer]]:
        """Wait until the pending requests are ready to go, and take up to a batch of them."""
        with self._ready:
            while True:
                if not self._pending:
                    self._ready.wait()
                    continue
                oldest = self._pending[0].arrived
                wait = oldest + self.max_wait_s - time.monotonic()
                # A request that came in while the model was busy has waited a model call
                # already: it goes now, and the model stays busy (requests pipeline).
                if wait <= 0 or self._full() or oldest < self._free_since:
                    batch = self._pending[: self.max_batch_size]
                    del self._pending[: self.max_batch_size]
                    return batch
                self._ready.wait(wait)

    def _serve(self) -> None:
        """The model thread: one batch at a time, for the life of the server."""
        while True:
            batch = self._next_batch()
            self.batches.append(len(batch))
            try:
                with self._model_lock:
                    results = self._answer(batch)
            except Exception as e:  # a model failure fails these requests, not the server
                for request in batch:
                    request.future.set_exception(e)
            else:
                for request, answer in zip(batch, results, strict=True):
                    request.future.set_result(answer)
            with self._ready:
                self._free_since = time.monotonic()

    def reload(self, checkpoint: str) -> None:
        """Load new weights in place (the loop calls this between iterations)."""
        with self._model_lock:
            self.model.reload(checkpoint)

    def checkpoint(self) -> str | None:
        return cast(str | None, self.model.checkpoint)

    def batch_sizes(self) -> list[int]:
        return list(self.batches)


class TacticServer(BatchingServer[list[Suggestion]]):
    """Serves a tactic model: goals with their premises in, suggestions out."""

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
        self._premises: OrderedDict[str, Sequence[Premise]] = OrderedDict()
        super().__init__(max_batch_size, max_wait_s, num_clients)

    def get_tactics(
        self,
        goals: list[Goal],
        premises: list[Sequence[Premise] | PremiseRef],
        client: int = 0,
    ) -> list[list[Suggestion]]:
        """Suggestions for one prover's goals (``premises[i]`` belongs to ``goals[i]``)."""
        return self._ask(goals, [self._resolve(p) for p in premises], client)

    def _answer(self, batch: list[_Request[list[Suggestion]]]) -> list[list[Suggestion]]:
        return self.model.get_tactics([r.goal for r in batch], [r.premises for r in batch])  # type: ignore[no-any-return]

    def _resolve(self, premises: Sequence[Premise] | PremiseRef) -> Sequence[Premise]:
        if not isinstance(premises, PremiseRef):
            return premises
        key = premises.ref.hex()
        with self._ready:
            if key in self._premises:
                self._premises.move_to_end(key)
                return self._premises[key]
        resolved: Sequence[Premise] = ray.get(premises.ref)
        with self._ready:
            self._premises[key] = resolved
            if len(self._premises) > 64:  # a few attempts per prover
                self._premises.popitem(last=False)
        return resolved


class GoalServer(BatchingServer[float]):
    """Serves a goal model: goals in, log-probabilities that each is provable out."""

    def __init__(
        self,
        goal_model: dict[str, Any],
        max_batch_size: int,
        max_wait_s: float,
        num_clients: int,
        device: str = "cpu",
    ) -> None:
        _configure_worker_process()
        from models.end_to_end.search_models.goal_model.goal_models import build_goal_model

        self.model = build_goal_model(goal_model, device=device)
        super().__init__(max_batch_size, max_wait_s, num_clients)

    def values(self, goals: list[Goal], client: int = 0) -> list[float]:
        """One prover's goals valued, batched with the other provers' requests."""
        return self._ask(goals, [None] * len(goals), client)

    def _answer(self, batch: list[_Request[float]]) -> list[float]:
        return self.model.values([r.goal for r in batch])  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Request(Generic[Answer]):
    """One goal waiting for its answer, and where the answer goes."""

    goal: Goal
    premises: Any  # the goal's premises (tactic requests), None for goal values
    client: int
    arrived: float
    future: Future[Answer]


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
    max_expansions: int | None = None
    root_tactic_timeout: float | None = None
    goals_per_step: int = 1


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

    def __init__(
        self, config: WorkerConfig, tactic_server: Any, client: int, goal_server: Any = None
    ) -> None:
        _configure_worker_process()
        from hydra.utils import instantiate

        from experiments.end_to_end.components import environment_factory

        self.config = config
        self.server = tactic_server
        self.goal_server = goal_server
        self.client = client
        self.env_factory = environment_factory(config.env_config)
        self.env_cls = cast(type[Environment], self.env_factory.func)  # checked there
        self.env_cls.warm_up()  # before any attempt's clock starts
        self._premise_refs: dict[int, tuple[Sequence[Premise], PremiseRef]] = {}
        self.search_model = instantiate(config.search_model)
        # Everything loaded so far (torch, Ray, the prover's client) lives as long as the worker:
        # out of the collector's way, so the collection after each attempt stays cheap.
        gc.freeze()

    def ready(self) -> int:
        """The worker's pid, once its environment is warm (the pool waits for this)."""
        return os.getpid()

    def set_server(self, server: Any, role: str = "tactic") -> None:
        """Bind to a replacement TacticServer (``role`` "tactic") or GoalServer ("goal")."""
        if role == "goal":
            self.goal_server = server
        else:
            self.server = server

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

    def _get_values(self, goals: list[Goal]) -> list[float]:
        from experiments.end_to_end.prover import GoalModelError

        try:
            values: list[float] = ray.get(self.goal_server.values.remote(goals, self.client))
        except RayActorError as e:
            raise GoalServerDied(f"the GoalServer died: {actor_error_cause(e)}") from None
        except RayTaskError as e:  # the model raised: this attempt's error, named
            raise GoalModelError(f"goal model: {task_error_cause(e)}") from None
        return values

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
            max_expansions=self.config.max_expansions,
            root_tactic_timeout=self.config.root_tactic_timeout,
            get_values=self._get_values if self.goal_server is not None else None,
            goals_per_step=self.config.goals_per_step,
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


TacticServerActor = ray.remote(TacticServer)  # threaded: the pool sets max_concurrency
GoalServerActor = ray.remote(GoalServer)
ProverWorkerActor = ray.remote(max_restarts=0)(ProverWorker)


def environment_record(env_config: dict[str, Any]) -> dict[str, Any]:
    """What a trace records of its environment: its name and the config that rebuilds it."""
    return {"name": env_config.get("name", ""), "config": env_config}


def actor_error_cause(error: Exception) -> str:
    """The exception that killed an actor, as its last traceback line (``Type: message``)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def task_error_cause(error: Exception) -> str:
    """``Type: message`` of the exception a remote task raised, without Ray's traceback."""
    cause = error.cause if isinstance(error, RayTaskError) and error.cause is not None else error
    return f"{type(cause).__name__}: {cause}"
