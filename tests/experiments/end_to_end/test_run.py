"""The entry point on the toy prover: fail fast before anything is written, lock the run
directory, count errored attempts apart and refuse a run in which every attempt errored."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import ray

from experiments.end_to_end import end_to_end_experiment as experiment
from experiments.end_to_end.config import ConfigError, compose
from experiments.end_to_end.run_directory import LOCK, RunLock
from experiments.end_to_end.traces import json_schema

REPO = Path(__file__).resolve().parents[3]
# The toy loop without training: one iteration on three named theorems.
TOY = [
    "env_config=toy",
    "tac_model=toy_fixed",
    "num_iterations=1",
    "train_after_eval=[]",
    "update_checkpoints=[]",
    "num_data_theorems=0",
    "theorems=[imp_refl,ex_falso,truth]",
]
# The recording test model as a config option of the tac_model group.
RECORDING = [f"hydra.searchpath=[file://{REPO}/tests/configs/end_to_end]", "tac_model=recording"]


def cli(*overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "experiments.end_to_end.end_to_end_experiment", *overrides],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_missing_checkpoint_fails_fast_with_no_trace_and_a_non_zero_exit(tmp_path: Path) -> None:
    # The default (HOL Light) config: its models are built in the driver, HOL Light never starts.
    done = cli(f"exp_config.directory={tmp_path / 'run'}", "tac_model.ckpt_path=/nonexistent.ckpt")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "config error: tac_model: " in done.stderr and "/nonexistent.ckpt" in done.stderr
    assert "Started a local Ray instance" not in done.stdout + done.stderr
    assert not (tmp_path / "run").exists()  # nothing written, not even the run directory


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("search_model._target_=collections.OrderedDict", "search_model: _target_ .* built a"),
        ("env_config.environment._target_=no.such.Env", "env_config.environment: "),
        ("env_config.environment.theorems=/tmp/other.jsonl", "env_config: .* same file"),
        ("tac_model._target_=no.such.Model", "tac_model: "),
    ],
)
def test_components_that_cannot_be_built_are_one_config_error(
    tmp_path: Path, override: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        experiment.run(compose([*TOY, override], str(tmp_path / "run")))
    assert not ray.is_initialized() and not (tmp_path / "run").exists()


def test_the_named_theorems_are_evaluated_and_their_traces_fit_the_json_schema(
    tmp_path: Path,
) -> None:
    result = experiment.run(compose(TOY, str(tmp_path / "run")))
    (metrics,) = result["iterations"]
    assert metrics["attempted"] == 3 and metrics["proved"] == 3  # all three are one or two steps
    lines = (tmp_path / "run" / "attempts" / "0.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["theorem_id"] for line in lines) == [
        "ex_falso",
        "imp_refl",
        "truth",
    ]
    assert not (tmp_path / "run" / LOCK).read_text()  # released: an empty lock file
    # What the loop wrote is what the published schema describes, for a generic validator.
    validator = jsonschema.Draft202012Validator(json_schema())
    files = sorted((tmp_path / "run" / "traces" / "0").glob("*.json.gz"))
    assert [f.name for f in files] == ["ex_falso.json.gz", "imp_refl.json.gz", "truth.json.gz"]
    for path in files:
        data = json.loads(gzip.decompress(path.read_bytes()))
        assert list(validator.iter_errors(data)) == [], path
        assert data["schema_version"] == 3 and data["search_trace"] and data["nodes"]


def test_a_second_run_on_a_locked_directory_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with RunLock(run_dir), pytest.raises(ConfigError, match="is in use by another run .*pid"):
        experiment.run(compose(TOY, str(run_dir)))
    assert not (run_dir / "traces").exists()


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from experiments.end_to_end.run_directory import RunLock;"
            f"lock = RunLock(Path({str(run_dir)!r})).__enter__(); print('locked', flush=True);"
            "time.sleep(600)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    refused = pytest.raises(ConfigError, match=f"in use by another run \\(pid {holder.pid} ")
    with refused, RunLock(run_dir):
        pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert f"pid {holder.pid}" in (run_dir / LOCK).read_text()  # the dead run's claim remains
    with RunLock(run_dir):
        assert f"pid {os.getpid()} " in (run_dir / LOCK).read_text()


def test_a_run_in_which_every_attempt_errored_exits_non_zero(tmp_path: Path) -> None:
    done = cli(
        *TOY,
        f"exp_config.directory={tmp_path / 'run'}",
        *RECORDING,
        "tac_model.fail='*'",
    )
    assert done.returncode == 1, done.stdout[-3000:]
    assert "run failed: iteration 0: all 3 attempts ended in an infrastructure error" in done.stderr
    summary = (tmp_path / "run" / "summary.json").read_text()
    assert '"errored": 3' in summary and '"pass_at_1": 0.0' in summary
    assert len(list((tmp_path / "run" / "traces" / "0").glob("*.json.gz"))) == 3


def test_errored_attempts_are_counted_apart_in_the_output(tmp_path: Path) -> None:
    done = cli(*TOY, f"exp_config.directory={tmp_path / 'run'}", *RECORDING, "tac_model.fail=p")
    assert done.returncode == 0, done.stderr[-3000:]
    # imp_refl and ex_falso reach a goal `p` (after intro): the model raises there; truth is proved.
    assert "iteration 0: Pass@1 0.333 (1/3, 2 errored)" in done.stdout
