"""One evaluation pass: theorems handed to prover workers, traces and metrics collected.

``ProverPool`` owns the actors: ``logical_gpus`` TacticServers and ``provers_per_gpu``
ProverWorkers per server. Each worker gets one theorem at a time; a worker that dies is
replaced and its theorem retried once, and a theorem that fails twice gets an error trace.
Nothing here calls ``sys.exit``: a crash is logged and the run goes on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayActorError, WorkerCrashedError

from experiments.end_to_end.distributed import (
    ProverWorker,
    TacticServer,
    WorkerConfig,
    attempt_summary,
)
from experiments.end_to_end.traces import ProofTrace, write_trace

log = logging.getLogger(__name__)

ACTOR_DEATHS = (RayActorError, WorkerCrashedError)


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


@dataclass(frozen=True)
class Task:
    """One theorem to attempt; ``role`` is "eval" (counts for Pass@1) or "data" (training)."""

    theorem_id: str
    theorem: dict[str, Any]
    role: str = "eval"


class ProverPool:
    """TacticServers and ProverWorkers, kept alive across iterations."""

    def __init__(
        self, tac_model: dict[str, Any], worker_config: WorkerConfig, resources: Resources
    ) -> None:
        self.worker_config = worker_config
        self.resources = resources
        self.servers = [
            TacticServer.options(  # type: ignore[attr-defined]
                num_gpus=resources.gpu_per_server, num_cpus=0
            ).remote(tac_model, resources.max_batch_size, resources.max_wait_s)
            for _ in range(resources.logical_gpus)
        ]
        self.workers: list[Any] = [
            self._new_worker(i) for i in range(resources.logical_gpus * resources.provers_per_gpu)
        ]

    def _new_worker(self, slot: int) -> Any:
        server = self.servers[slot // self.resources.provers_per_gpu]
        return ProverWorker.options(  # type: ignore[attr-defined]
            num_cpus=self.resources.cpu_per_prover, num_gpus=self.resources.gpu_per_prover
        ).remote(self.worker_config, server)

    def reload(self, checkpoint: str) -> None:
        """Point every TacticServer at new weights, in place (no Ray restart)."""
        ray.get([server.reload.remote(checkpoint) for server in self.servers])

    def set_models(self, models: dict[str, Any]) -> None:
        """What the next traces record as their models (checkpoints, config hashes)."""
        self.worker_config = dataclasses.replace(self.worker_config, models=models)
        ray.get([worker.set_models.remote(models) for worker in self.workers])

    def run(
        self,
        tasks: list[Task],
        iteration: int,
        on_result: Callable[[Task, dict[str, Any]], None],
    ) -> None:
        """Attempt every task; ``on_result`` sees each attempt's summary as it finishes."""
        queue = list(reversed(tasks))
        failures: dict[str, int] = {}
        running: dict[Any, tuple[int, Task]] = {}

        def submit(slot: int) -> None:
            if queue:
                task = queue.pop()
                ref = self.workers[slot].prove.remote(task.theorem, task.theorem_id, iteration)
                running[ref] = (slot, task)

        for slot in range(len(self.workers)):
            submit(slot)
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            ref = done[0]
            slot, task = running.pop(ref)
            try:
                summary = ray.get(ref)
            except ACTOR_DEATHS as e:
                failures[task.theorem_id] = failures.get(task.theorem_id, 0) + 1
                log.warning(
                    "prover worker died on %s (%s); replacing it", task.theorem_id, type(e).__name__
                )
                self.workers[slot] = self._new_worker(slot)
                if failures[task.theorem_id] < 2:
                    queue.append(task)  # retried next, by the fresh worker
                else:
                    summary = self._error_trace(task, iteration, f"prover worker died twice: {e}")
                    on_result(task, summary)
            except Exception as e:  # the attempt itself raised: record it, keep going
                log.exception("attempt on %s failed", task.theorem_id)
                summary = self._error_trace(task, iteration, f"{type(e).__name__}: {e}")
                on_result(task, summary)
            else:
                on_result(task, summary)
            submit(slot)

    def _error_trace(self, task: Task, iteration: int, message: str) -> dict[str, Any]:
        config = self.worker_config
        trace = ProofTrace.error_trace(
            theorem_id=task.theorem_id,
            theorem=task.theorem,
            environment={"name": config.env_config.get("name", ""), "config": config.env_config},
            iteration=iteration,
            message=message,
            models=config.models,
        )
        write_trace(trace, Path(config.run_dir))
        return attempt_summary(trace)

    def shutdown(self) -> None:
        for actor in [*self.workers, *self.servers]:
            ray.kill(actor)
