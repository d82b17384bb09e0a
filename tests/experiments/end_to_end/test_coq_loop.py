"""coq.yaml on the real Coq: two iterations, the generator trained in between and reloaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from data.coq.database import CoqDatabase
from data.traces.files import load_trace
from experiments.end_to_end import end_to_end_experiment as experiment
from experiments.end_to_end.config import compose
from experiments.end_to_end.traces import verify_run

pytestmark = pytest.mark.slow

# The first lemmas in load order (Arith's, Bool's): the fixed prior proves some in iteration
# 0, and the tiny generator trains on those proofs and on the library's own proof steps.
TINY = [
    "shuffle=false",
    "num_theorems=3",
    "num_data_theorems=4",
    "total_timeout=3",
    "env_timeout=3",
    "num_sampled_tactics=8",
    "tac_model.components.learned.num_sampled_tactics=2",  # a narrow beam: CPU model time
    "train_after_eval=['python -m experiments.lightning_runner "
    "--config-name=end_to_end/train/generator/run data_module.trace_files={traces} "
    "data_module.library_proofs=data/coq/stdlib trainer.max_epochs=1 "
    "+trainer.limit_train_batches=20 +trainer.limit_val_batches=2']",
]


def test_the_coq_loop_trains_the_generator_on_traces_and_library_proofs(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = experiment.run(compose(TINY, str(run_dir), config_name="coq"))
    assert [it["iteration"] for it in result["iterations"]] == [0, 1]
    handoff = yaml.safe_load((run_dir / "training" / "0" / "0" / "handoff.json").read_text())
    checkpoint = handoff["checkpoint"]
    assert Path(checkpoint).exists()
    configs = [yaml.safe_load((run_dir / "configs" / f"{i}.yaml").read_text()) for i in (0, 1)]
    assert configs[0]["tac_model"]["ckpt_path"] is None
    assert configs[1]["tac_model"]["ckpt_path"] == checkpoint
    traces = {
        i: [load_trace(p) for p in (run_dir / "traces" / str(i)).glob("*.json.gz")] for i in (0, 1)
    }
    assert all(len(ts) == 7 for ts in traces.values())
    every = traces[0] + traces[1]
    assert {t.environment.name for t in every} == {"coq"}
    assert {t.status for t in every} <= {"proved", "failed", "timeout"}  # never "error"
    assert any(t.proved for t in every)
    assert all(t.models["tac_model"].checkpoint == checkpoint for t in traces[1])
    # The theorems come from the Coq database and each trace stores its record.
    database = CoqDatabase.cached()
    assert all(t.theorem["name"] in database.by_name for t in every)
    # The training run read the library's own proof steps as well as the traces.
    log = (run_dir / "training" / "0" / "0" / "train.log").read_text()
    assert "steps of the library's own proofs" in log
    # Every proof replays in a fresh environment and is accepted at Qed.
    report = verify_run(run_dir)
    assert report["failed"] == [] and report["checked"] == sum(t.proved for t in every) > 0
