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
from experiments.end_to_end.config import compose
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
    summary = json.loads((run_dir / "summary.json").read_text())["iterations"][0]
    assert len(traces_of(run_dir)) == 4
    traces = [load_trace(p) for p in traces_of(run_dir)]
    assert {t.status for t in traces} <= {"proved", "failed", "timeout"}
    # The summary is the traces' own account: EQ_SYM (one of the four) is proved by `fixed`.
    proved = sorted(t.theorem_id for t in traces if t.proved)
    assert "EQ_SYM" in proved
    assert (summary["attempted"], summary["proved"], summary["errored"]) == (4, len(proved), 0)
    assert summary["pass_at_1"] == len(proved) / 4
    assert summary["mean_time_s"] == pytest.approx(sum(t.timings.total_s for t in traces) / 4)
    assert all(t.search_trace for t in traces)
    report = verify_run(run_dir)
    assert report["failed"] == [] and report["checked"] == metrics["proved"]
    assert list((run_dir / "wandb").glob("offline-run-*")), "an offline WandB run is written"
    assert (run_dir / "configs" / "0.yaml").exists()


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
            pid = ray.get(self.workers[0].ready.remote()) if not killed else None
            if pid:
                killed.append(pid)
                os.kill(pid, signal.SIGKILL)

        pids = [ray.get(w.ready.remote()) for w in self.workers]
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
