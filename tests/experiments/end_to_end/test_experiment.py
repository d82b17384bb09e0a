"""The End-to-End entry point on the real HOL Light and real Ray (slow integration tests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray

from data.traces.files import load_trace
from experiments.end_to_end import end_to_end_experiment as experiment
from experiments.end_to_end.config import ConfigError, compose
from experiments.end_to_end.traces import verify_run

pytestmark = [pytest.mark.hol_light, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
SMALL = [
    "tac_model=fixed",
    "num_iterations=1",
    "num_data_theorems=0",
    "train_after_eval=[]",
    "update_checkpoints=[]",
    "num_theorems=4",
    "total_timeout=6",
    "env_timeout=4",
    "num_sampled_tactics=4",
    "env_config.environment.timeout=2",
    "num_cpus=2",
]


def traces_of(run_dir: Path, iteration: int = 0) -> list[Path]:
    return sorted((run_dir / "traces" / str(iteration)).glob("*.json.gz"))


def test_default_config_runs_end_to_end(zygote, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = experiment.run(compose(SMALL, str(run_dir)))
    (metrics,) = result["iterations"]
    assert metrics["attempted"] == 4
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["iterations"][0]["attempted"] == 4
    assert 0.0 <= summary["iterations"][0]["pass_at_1"] <= 1.0
    for key in ("mean_time_s", "p95_time_s", "mean_model_s", "mean_env_s", "errors"):
        assert key in summary["iterations"][0]
    assert len(traces_of(run_dir)) == 4
    traces = [load_trace(p) for p in traces_of(run_dir)]
    assert {t.status for t in traces} <= {"proved", "failed", "timeout"}
    assert all(t.search_trace for t in traces)
    report = verify_run(run_dir)
    assert report["failed"] == [] and report["checked"] == metrics["proved"]
    assert list((run_dir / "wandb").glob("offline-run-*")), "an offline WandB run is written"
    assert (run_dir / "configs" / "0.yaml").exists()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("total_timeout=-1", "total_timeout"),
        ("env_timeout=0", "env_timeout"),
        ("num_theorems=100000", "num_theorems"),
        ("split=dev", "split"),
        ("num_sampled_tactics=0", "num_sampled_tactics"),
        ("provers_per_gpu=3", "provers_per_gpu: 1 x 3 ProverWorkers .* need 3 CPUs"),
        ("gpu_per_prover=0.5", "gpu_per_prover: the actors need 1 GPUs but num_gpus is 0"),
        ("with_gpus=true num_gpus=3 logical_gpus=2", "num_gpus: 3 GPUs over 2 logical GPUs"),
    ],
)
def test_bad_config_is_reported_before_ray_starts(
    tmp_path: Path, override: str, field: str
) -> None:
    cfg = compose(override.split(), str(tmp_path / "run"))
    with pytest.raises(ConfigError, match=field):
        experiment.run(cfg)
    assert not ray.is_initialized()


def test_unknown_group_value_and_missing_theorem_file(tmp_path: Path) -> None:
    from hydra.errors import MissingConfigException

    with pytest.raises(MissingConfigException, match="search_model"):
        compose(["search_model=nonesuch"])
    cfg = compose(["env_config.theorems.path=/nonexistent/theorems.jsonl"], str(tmp_path / "run"))
    with pytest.raises(ConfigError, match="env_config.theorems: .*/nonexistent/theorems.jsonl"):
        experiment.run(cfg)
    assert not ray.is_initialized()


def _start(run_dir: Path, *overrides: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "experiments.end_to_end.end_to_end_experiment",
        f"exp_config.directory={run_dir}",
        *SMALL,
        *overrides,
    ]
    return subprocess.Popen(
        command, cwd=REPO, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def test_sigkill_mid_iteration_then_resume_attempts_each_theorem_once(
    zygote, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    overrides = ("num_theorems=6", "provers_per_gpu=1")
    process = _start(run_dir, *overrides)
    deadline = time.monotonic() + 240
    while len(traces_of(run_dir)) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode()[-3000:]
        time.sleep(0.2)
    assert len(traces_of(run_dir)) >= 2
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = {p.name for p in traces_of(run_dir)}
    assert len(killed_at) < 6, "the kill should land mid-iteration"
    # A trace cut short by the kill (or corrupted since) is re-run, not fatal.
    corrupt = traces_of(run_dir)[0]
    corrupt.write_bytes(b"not a trace")

    resumed = _start(run_dir, *overrides, "exp_config.resume=true")
    output = resumed.communicate(timeout=300)[0].decode()
    assert resumed.returncode == 0, output[-3000:]
    files = traces_of(run_dir)
    assert len(files) == 6 and len({p.name for p in files}) == 6
    assert all(load_trace(p).theorem_id for p in files)  # none corrupt, none missing
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["iterations"][0]["attempted"] == 6
    attempts = [
        json.loads(line)
        for line in (run_dir / "attempts" / "0.jsonl").read_text().splitlines()
        if line.strip()
    ]
    counts = {a["theorem_id"]: 0 for a in attempts}
    for a in attempts:
        counts[a["theorem_id"]] += 1
    recomputed = {name for name, n in counts.items() if n > 1}
    assert recomputed <= {corrupt.name.removesuffix(".json.gz")}  # only the corrupted one re-ran


def test_killed_prover_worker_is_replaced_and_theorem_gets_a_trace(zygote, tmp_path: Path) -> None:
    from experiments.end_to_end import evaluation

    run_dir = tmp_path / "run"
    cfg = compose([*SMALL, "num_theorems=3", "provers_per_gpu=1", "total_timeout=8"], str(run_dir))
    killed: list[int] = []
    original_run = evaluation.ProverPool.run

    def run_and_kill(self, tasks, iteration, on_result):
        def killer() -> None:
            time.sleep(1.0)  # inside the first attempt (it runs for up to total_timeout)
            pid = ray.get(self.workers[0].pid.remote()) if not killed else None
            if pid:
                killed.append(pid)
                os.kill(pid, signal.SIGKILL)

        pids = [ray.get(w.pid.remote()) for w in self.workers]
        thread = threading.Thread(target=killer)
        thread.start()
        try:
            original_run(self, tasks, iteration, on_result)
        finally:
            thread.join()
        assert killed and killed[0] in pids

    evaluation.ProverPool.run = run_and_kill
    try:
        result = experiment.run(cfg)
    finally:
        evaluation.ProverPool.run = original_run
    assert result["iterations"][0]["attempted"] == 3
    assert len(traces_of(run_dir)) == 3


def test_two_node_cluster_proves_on_both_nodes(zygote, tmp_path: Path) -> None:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        run_dir = tmp_path / "run"
        cfg = compose(
            [*SMALL, "num_theorems=6", f"ray_address={cluster.address}", "provers_per_gpu=2"],
            str(run_dir),
        )
        experiment.run(cfg)
    finally:
        ray.shutdown()
        cluster.shutdown()
    attempts = [
        json.loads(line) for line in (run_dir / "attempts" / "0.jsonl").read_text().splitlines()
    ]
    assert len(attempts) == 6
    nodes = {a["node_id"] for a in attempts}
    assert len(nodes) == 2, "each node's worker attempted theorems"
    assert len(traces_of(run_dir)) == 6


def test_hydra_multirun_sweep_makes_one_run_directory_per_job(zygote, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    command = [
        sys.executable,
        "-m",
        "experiments.end_to_end.end_to_end_experiment",
        "-m",
        "search_model=bestfs,bfs",
        *SMALL,
        "num_theorems=2",
        f"hydra.sweep.dir={sweep}",
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    summaries = sorted(sweep.glob("*/summary.json"))
    assert [p.parent.name for p in summaries] == ["0_bestfs", "1_bfs"]
    for path in summaries:
        assert json.loads(path.read_text())["iterations"][0]["attempted"] == 2
