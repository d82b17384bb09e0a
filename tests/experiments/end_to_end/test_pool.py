"""ProverPool on real Ray and the toy prover: a dead server or worker is healed, nothing lost."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

from data.toy.database import ToyTheorems
from data.traces.attempts import AttemptRecord
from data.traces.files import load_trace
from environments.toy.env import ToyEnv, root_goal
from experiments.end_to_end.distributed import Task, WorkerConfig
from experiments.end_to_end.evaluation import PoolError, ProverPool, Resources

MODEL = "tests.experiments.end_to_end.recording_model.RecordingModel"
TACTICS = ["intro", "split", "assumption", "left", "right", "elim 0", "elim 1", "trivial"]
TOY = {
    "name": "toy",
    "environment": {"_target_": "environments.toy.env.ToyEnv", "_partial_": True, "timeout": 1.0},
    "theorems": {"_target_": "data.toy.database.ToyTheorems.cached", "path": None},
}


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def tasks(count: int) -> list[Task]:
    records = ToyTheorems.cached().split("train")[:count]
    return [Task(ToyEnv.theorem_id(r), ToyEnv.theorem_to_dict(r), "eval") for r in records]


def make_pool(
    run_dir: Path, provers: int = 2, goal_model: dict[str, Any] | None = None, **model: Any
) -> ProverPool:
    search = "htps.HTPS" if goal_model is not None else "bestfs.BestFS"
    worker = WorkerConfig(
        env_config=TOY,
        search_model={"_target_": f"models.end_to_end.search_models.{search}"},
        num_sampled_tactics=8,
        total_timeout=5.0,
        env_timeout=5.0,
        run_dir=str(run_dir),
        models={},
        goals_per_step=4,
    )
    resources = Resources(1, provers, 0.0, 0.0, 1.0, max_batch_size=8, max_wait_s=0.005)
    return ProverPool(
        {"_target_": MODEL, "tactics": TACTICS, **model}, worker, resources, goal_model
    )


def run_pool(pool: ProverPool, todo: list[Task], on_result: Any = None) -> dict[str, AttemptRecord]:
    records: dict[str, AttemptRecord] = {}

    def collect(task: Task, record: AttemptRecord) -> None:
        assert task.theorem_id not in records, f"{task.theorem_id} reported twice"
        records[task.theorem_id] = record
        if on_result is not None:
            on_result(len(records))

    pool.run(todo, 0, collect)
    return records


def test_a_killed_tactic_server_is_replaced_and_no_attempt_is_lost(
    local_ray: None, tmp_path: Path
) -> None:
    pool = make_pool(tmp_path, delay_s=0.02)  # slow calls: attempts are in flight at the kill
    try:
        killed: list[int] = []

        def kill_server(done: int) -> None:
            if done == 2 and not killed:
                killed.append(ray.get(pool.servers[0].ready.remote()))
                os.kill(killed[0], signal.SIGKILL)

        todo = tasks(8)
        records = run_pool(pool, todo, kill_server)
        assert killed and pool.server_restarts == [1]
        assert ray.get(pool.servers[0].ready.remote()) != killed[0]  # a new server process
        assert set(records) == {t.theorem_id for t in todo}
        assert {r.status for r in records.values()} <= {"proved", "failed", "timeout"}
        assert all(load_trace(r.path).status == r.status for r in records.values() if r.path)
    finally:
        pool.shutdown()


GOAL_MODEL = "tests.experiments.end_to_end.recording_model.RecordingGoalModel"


def test_htps_values_goals_through_a_goal_server_that_is_healed_when_killed(
    local_ray: None, tmp_path: Path
) -> None:
    todo = tasks(8)
    nan_goal = root_goal(ToyTheorems.cached()[todo[5].theorem_id]).conclusion
    pool = make_pool(tmp_path, goal_model={"_target_": GOAL_MODEL, "nan": nan_goal}, delay_s=0.02)
    try:
        killed: list[int] = []

        def kill_goal_server(done: int) -> None:
            if done == 2 and not killed:
                killed.append(ray.get(pool.all_servers["goal"][0].ready.remote()))
                os.kill(killed[0], signal.SIGKILL)

        records = run_pool(pool, todo, kill_goal_server)
        assert killed and pool.restarts == {"tactic": [0], "goal": [1]}
        assert set(records) == {t.theorem_id for t in todo}
        traces = {k: load_trace(r.path) for k, r in records.items() if r.path}
        # The goal model's NaN is that attempt's error, named; every other attempt ran.
        bad = traces.pop(todo[5].theorem_id)
        assert bad.status == "error" and "GoalModelError" in bad.error and "nan" in bad.error
        assert {t.status for t in traces.values()} <= {"proved", "failed", "timeout"}
        assert any(t.proved for t in traces.values())
        assert all(t.search_trace[0].event == "display" for t in traces.values())
        assert all(t.timings.model_s > 0 for t in traces.values())
        sizes = ray.get(pool.all_servers["goal"][0].batch_sizes.remote())
        assert sizes and max(sizes) >= 1
    finally:
        pool.shutdown()


def test_a_killed_worker_is_replaced_and_its_theorem_retried(
    local_ray: None, tmp_path: Path
) -> None:
    pool = make_pool(tmp_path, delay_s=0.02)
    try:
        killed: list[int] = []

        def kill_worker(done: int) -> None:
            if done == 2 and not killed:
                killed.append(ray.get(pool.workers[1].ready.remote()))
                os.kill(killed[0], signal.SIGKILL)

        todo = tasks(8)
        records = run_pool(pool, todo, kill_worker)
        assert killed and ray.get(pool.workers[1].ready.remote()) != killed[0]
        assert set(records) == {t.theorem_id for t in todo}
        assert "error" not in {r.status for r in records.values()}
    finally:
        pool.shutdown()


def test_an_attempt_that_raises_gets_an_error_trace_and_the_run_goes_on(
    local_ray: None, tmp_path: Path
) -> None:
    todo = tasks(4)
    doomed = root_goal(ToyTheorems.cached()[todo[1].theorem_id])  # its first model call raises
    pool = make_pool(tmp_path, provers=1, fail=doomed.conclusion)  # batches of one prover
    try:
        records = run_pool(pool, todo)
    finally:
        pool.shutdown()
    assert len(records) == 4 and records[todo[1].theorem_id].status == "error"
    assert [r.status for r in records.values()].count("error") == 1
    trace = load_trace(records[todo[1].theorem_id].path or "")
    assert trace.status == "error" and trace.error.startswith("ValueError: model error")


def test_a_model_that_cannot_be_built_stops_the_pool_before_any_attempt(
    local_ray: None, tmp_path: Path
) -> None:
    with pytest.raises(PoolError, match=r"tac_model: the TacticServer could not build .*no_such"):
        ProverPool(
            {"_target_": "no_such_module.Model"},
            WorkerConfig(TOY, {"_target_": "x"}, 1, 1.0, 1.0, str(tmp_path), {}),
            Resources(1, 1, 0.0, 0.0, 1.0, 1, 0.0),
        )
    assert not (tmp_path / "traces").exists()


def test_a_changed_model_config_gets_new_servers_that_every_worker_uses(
    local_ray: None, tmp_path: Path
) -> None:
    pool = make_pool(tmp_path)
    try:
        before = ray.get(pool.servers[0].ready.remote())
        pool.update_model({"_target_": MODEL, "tactics": ["trivial"]}, None, rebuild=True)
        assert ray.get(pool.servers[0].ready.remote()) != before  # a new server process
        assert pool.server_restarts == [0]  # a rebuild is not a failure
        records = run_pool(pool, tasks(4))
        traces = [load_trace(r.path) for r in records.values() if r.path]
        assert len(traces) == 4
        # Both workers now ask the new server: only its one tactic was tried.
        assert {e.tactic for t in traces for e in t.edges} == {"trivial"}
    finally:
        pool.shutdown()
