"""One evaluation pass: theorems handed to prover workers, traces and records collected.

``ProverPool`` owns the actors: ``logical_gpus`` TacticServers (and as many GoalServers when
the search values goals) and ``provers_per_gpu`` ProverWorkers per server. It waits until every
actor has started (so a model or environment that cannot start stops the run before any
attempt), then gives each worker one theorem at a time. What can be healed is healed:

- a worker that dies is replaced and its theorem retried once; a theorem whose worker dies
  twice gets an error trace;
- a model server that dies is replaced from the current model config (the latest checkpoint),
  the workers bound to it are rebound, and the attempts that were waiting on it run again;
- an attempt that raises gets an error trace; the run goes on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayActorError, WorkerCrashedError

from data.traces.attempts import AttemptRecord
from data.traces.files import write_trace
from data.traces.schema import ProofTrace
from experiments.end_to_end.distributed import (
    GoalServerActor,
    ProverWorkerActor,
    ServerDied,
    TacticServerActor,
    Task,
    WorkerConfig,
    actor_error_cause,
    environment_record,
    task_error_cause,
)

log = logging.getLogger(__name__)

ACTOR_DEATHS = (RayActorError, WorkerCrashedError)
WORKER_DEATHS_PER_THEOREM = 2  # then the theorem gets an error trace
SERVER_DEATHS_PER_THEOREM = 2  # likewise, for deaths of its model servers during the attempt
ROLES = {"tactic": ("tac_model", "TacticServer"), "goal": ("search_model.goal_model", "GoalServer")}


class PoolError(RuntimeError):
    """An actor could not start, or kept dying; the message names the config key and the cause."""


@dataclass(frozen=True)
class Resources:
    """How actors are placed: servers per logical GPU, provers per server, their shares."""

    logical_gpus: int
    provers_per_gpu: int
    gpu_per_server: float
    gpu_per_prover: float
    cpu_per_prover: float
    max_batch_size: int
    max_wait_s: float
    max_server_restarts: int = 3

    @property
    def device(self) -> str:
        """Where the servers' models run: on their GPU share if they have one, else the CPU."""
        return "cuda" if self.gpu_per_server > 0 else "cpu"


OnResult = Callable[[Task, AttemptRecord], None]


class ProverPool:
    """Model servers and ProverWorkers, kept alive (and healed) across iterations.

    ``goal_model``: the config of the goal model the search values goals with (None: none);
    each logical GPU then holds a GoalServer beside its TacticServer, sharing its GPU share.
    """

    def __init__(
        self,
        tac_model: dict[str, Any],
        worker_config: WorkerConfig,
        resources: Resources,
        goal_model: dict[str, Any] | None = None,
    ) -> None:
        self.models: dict[str, dict[str, Any]] = {"tactic": tac_model}
        if goal_model is not None:
            self.models["goal"] = goal_model
        self.worker_config = worker_config
        self.resources = resources
        self.restarts = {role: [0] * resources.logical_gpus for role in self.models}
        self.all_servers: dict[str, list[Any]] = {}
        self.workers: list[Any] = []
        try:
            for role in self.models:
                self.all_servers[role] = [
                    self._new_server(role) for _ in range(resources.logical_gpus)
                ]
                self._await_servers(role)
            self.workers = [
                self._new_worker(slot)
                for slot in range(resources.logical_gpus * resources.provers_per_gpu)
            ]
            self._await(self.workers, "env_config", "a ProverWorker could not start")
        except PoolError:
            self.shutdown()
            raise

    @property
    def servers(self) -> list[Any]:
        """The TacticServers, one per logical GPU."""
        return self.all_servers["tactic"]

    @property
    def server_restarts(self) -> list[int]:
        return self.restarts["tactic"]

    @property
    def tac_model(self) -> dict[str, Any]:
        return self.models["tactic"]

    @staticmethod
    def _await(actors: list[Any], key: str, what: str) -> None:
        try:
            ray.get([actor.ready.remote() for actor in actors])
        except ACTOR_DEATHS as e:
            raise PoolError(f"{key}: {what}: {actor_error_cause(e)}") from None

    def _await_servers(self, role: str) -> None:
        key, name = ROLES[role]
        self._await(self.all_servers[role], key, f"the {name} could not build its model")

    def _new_server(self, role: str) -> Any:
        r = self.resources
        actor = TacticServerActor if role == "tactic" else GoalServerActor
        share = r.gpu_per_server / len(self.models)  # the servers of a logical GPU share it
        return actor.options(  # type: ignore[attr-defined]
            num_gpus=share, num_cpus=0, max_concurrency=server_threads(r.provers_per_gpu)
        ).remote(self.models[role], r.max_batch_size, r.max_wait_s, r.provers_per_gpu, r.device)

    def _new_worker(self, slot: int) -> Any:
        r = self.resources
        index = slot // r.provers_per_gpu
        goal = self.all_servers["goal"][index] if "goal" in self.all_servers else None
        return ProverWorkerActor.options(  # type: ignore[attr-defined]
            num_cpus=r.cpu_per_prover, num_gpus=r.gpu_per_prover
        ).remote(self.worker_config, self.servers[index], slot % r.provers_per_gpu, goal)

    def update_model(
        self,
        model: dict[str, Any],
        checkpoint: str | None,
        rebuild: bool = False,
        role: str = "tactic",
    ) -> None:
        """The config ``role``'s replacements are built from; ``checkpoint``: reload its
        servers in place; ``rebuild``: new servers built from ``model`` instead (a change that
        ``reload`` cannot make, such as a retriever's checkpoint inside the config)."""
        self.models[role] = model
        if rebuild:
            old = self.all_servers[role]
            self.all_servers[role] = [self._new_server(role) for _ in old]
            self._await_servers(role)
            for index in range(len(old)):
                self._bind_workers(role, index)
            for server in old:
                ray.kill(server)
        elif checkpoint is not None:
            ray.get([server.reload.remote(checkpoint) for server in self.all_servers[role]])

    def set_models(self, models: dict[str, Any]) -> None:
        """What the next traces record as their models (checkpoints, config hashes)."""
        self.worker_config = dataclasses.replace(self.worker_config, models=models)
        ray.get([worker.set_models.remote(models) for worker in self.workers])

    def _replace_server(self, role: str, index: int, cause: str) -> None:
        """A fresh server ``index`` of ``role`` from the current config; its workers rebound."""
        _, name = ROLES[role]
        restarts = self.restarts[role]
        restarts[index] += 1
        if restarts[index] > self.resources.max_server_restarts:
            raise PoolError(
                f"tactic_server.max_restarts: {name} {index} died {restarts[index]} times "
                f"(last: {cause}); giving up"
            )
        log.warning("%s %d died (%s); starting a replacement", name, index, cause)
        ray.kill(self.all_servers[role][index])
        self.all_servers[role][index] = self._new_server(role)
        self._bind_workers(role, index)

    def _bind_workers(self, role: str, index: int) -> None:
        """Point server ``index``'s workers at it (each switches before its next task)."""
        per = self.resources.provers_per_gpu
        for worker in self.workers[index * per : (index + 1) * per]:
            worker.set_server.remote(self.all_servers[role][index], role)

    def run(self, tasks: list[Task], iteration: int, on_result: OnResult) -> None:
        """Attempt every task; ``on_result`` sees each attempt's record as it finishes."""
        queue = deque(tasks)
        worker_deaths: Counter[str] = Counter()
        server_deaths: Counter[str] = Counter()
        # ref -> (slot, task, restarts of its servers by role when submitted)
        running: dict[Any, tuple[int, Task, dict[str, int]]] = {}
        per = self.resources.provers_per_gpu

        def submit(slot: int) -> None:
            if queue:
                task = queue.popleft()
                ref = self.workers[slot].prove.remote(task, iteration)
                restarts = {role: counts[slot // per] for role, counts in self.restarts.items()}
                running[ref] = (slot, task, restarts)

        def give_up(task: Task, message: str) -> None:
            on_result(task, self._error_trace(task, iteration, message))

        for slot in range(len(self.workers)):
            submit(slot)
        while running:
            (ref,), _ = ray.wait(list(running), num_returns=1)
            slot, task, restarts = running.pop(ref)
            try:
                record = ray.get(ref)
            except ServerDied as e:
                role = e.role
                server_deaths[task.theorem_id] += 1
                if self.restarts[role][slot // per] == restarts[role]:  # not yet replaced
                    self._replace_server(role, slot // per, task_error_cause(e))
                if server_deaths[task.theorem_id] < SERVER_DEATHS_PER_THEOREM:
                    queue.appendleft(task)  # an infrastructure fault: the attempt runs again
                else:
                    name = ROLES[role][1]
                    give_up(task, f"the {name} died during each attempt: {task_error_cause(e)}")
            except ACTOR_DEATHS as e:
                worker_deaths[task.theorem_id] += 1
                log.warning(
                    "prover worker died on %s (%s); replacing it", task.theorem_id, type(e).__name__
                )
                self.workers[slot] = self._new_worker(slot)
                if worker_deaths[task.theorem_id] < WORKER_DEATHS_PER_THEOREM:
                    queue.appendleft(task)  # retried next, by the fresh worker
                else:
                    give_up(task, f"prover worker died twice: {actor_error_cause(e)}")
            except Exception as e:  # the attempt itself raised: record it, keep going
                cause = task_error_cause(e)
                log.warning("attempt on %s raised %s", task.theorem_id, cause)
                give_up(task, cause)
            else:
                on_result(task, record)
            submit(slot)

    def _error_trace(self, task: Task, iteration: int, message: str) -> AttemptRecord:
        config = self.worker_config
        trace = ProofTrace.error_trace(
            theorem_id=task.theorem_id,
            theorem=task.theorem,
            environment=environment_record(config.env_config),
            iteration=iteration,
            message=message,
            models=config.models,
            role=task.role,
        )
        return AttemptRecord.of(trace, write_trace(trace, Path(config.run_dir)))

    def shutdown(self) -> None:
        for actor in [*self.workers, *(s for group in self.all_servers.values() for s in group)]:
            ray.kill(actor)


def server_threads(provers: int) -> int:
    """Threads a TacticServer needs: one per bound prover's request, and a few for the pool."""
    return provers + 4
