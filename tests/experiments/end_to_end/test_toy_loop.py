"""The whole loop on the toy prover, as `env_config=toy` configures it: evaluate, train with
the Lightning runner, reload, evaluate again, and every proof of the run replays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import ray
import yaml

from data.traces.files import load_trace, trace_files
from experiments.end_to_end import end_to_end_experiment as experiment
from experiments.end_to_end.config import compose
from experiments.end_to_end.traces import verify_run
from models.end_to_end.tactic_models.toy.model import MODULE_CLASS

# Ray's start (about half of it) and the training run's imports make it longer than ~20 s.
pytestmark = pytest.mark.slow


def test_the_toy_loop_trains_reloads_and_every_proof_replays(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    cfg = compose(["env_config=toy"], str(run_dir))
    attempts = cfg.num_theorems + cfg.num_data_theorems
    result = experiment.run(cfg)
    assert not ray.is_initialized()

    iterations = result["iterations"]
    assert [it["iteration"] for it in iterations] == [0, 1]
    assert all(it["attempted"] == cfg.num_theorems for it in iterations)
    assert all(it["errored"] == 0 for it in iterations)
    traces = {i: trace_files(run_dir / "traces" / str(i)) for i in (0, 1)}
    assert {i: len(files) for i, files in traces.items()} == {0: attempts, 1: attempts}

    handoff = json.loads((run_dir / "training" / "0" / "0" / "handoff.json").read_text())
    checkpoint = handoff["checkpoint"]
    assert handoff["model_class"] == MODULE_CLASS and Path(checkpoint).is_file()
    config_0 = yaml.safe_load((run_dir / "configs" / "0.yaml").read_text())
    config_1 = yaml.safe_load((run_dir / "configs" / "1.yaml").read_text())
    assert config_0["tac_model"]["ckpt_path"] is None
    assert config_1["tac_model"]["ckpt_path"] == checkpoint
    second = [load_trace(path) for path in traces[1]]
    assert all(t.models["tac_model"].checkpoint == checkpoint for t in second)
    first = [load_trace(path) for path in traces[0]]
    assert any(t.proved and t.theorem["split"] == "train" for t in first), "no training data"

    report = verify_run(run_dir)
    proved = sum(t.proved for t in first + second)
    assert report["checked"] == report["ok"] == proved > 0, report["failed"]
    assert report["skipped_corrupt"] == []
