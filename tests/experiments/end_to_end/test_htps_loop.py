"""hol_light_htps.yaml on the real HOL Light: HTPS with the goal model trained and reloaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from data.traces.files import load_trace
from experiments.end_to_end import end_to_end_experiment as experiment
from experiments.end_to_end.config import compose
from experiments.end_to_end.traces import verify_run

pytestmark = [pytest.mark.hol_light, pytest.mark.slow]

# Structural tactics first, so attempts search (split, then close the parts); the first
# theorems in load order are easy, so there are proofs (positives) and dead ends (negatives)
# to train the goal model on. Only the goal model is trained: the tactic model has no weights.
TINY = [
    "tac_model=fixed",
    "tac_model.templates=[STRIP_TAC,CONJ_TAC,EQ_TAC,GEN_TAC,DISCH_TAC,ARITH_TAC,'MESON_TAC[]']",
    "tac_model.log_priors=null",
    "shuffle=false",
    "num_theorems=2",
    "num_data_theorems=4",
    "total_timeout=4",
    "env_timeout=3",
    "num_sampled_tactics=7",
    "env_config.environment.timeout=1",
    "root_tactic_timeout=1",
    "train_after_eval=['python -m experiments.lightning_runner "
    "--config-name=end_to_end/train/goal_model/run data_module.trace_files={traces} "
    "trainer.max_epochs=2 model.encoder.dim=32 model.hidden_dim=32 data_module.min_effort=2']",
    "update_checkpoints=[[search_model.goal_model.ckpt_path,checkpoint]]",
]


def test_the_htps_loop_trains_and_reloads_the_goal_model(zygote, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = experiment.run(compose(TINY, str(run_dir), config_name="hol_light_htps"))
    assert [it["iteration"] for it in result["iterations"]] == [0, 1]
    handoff = yaml.safe_load((run_dir / "training" / "0" / "0" / "handoff.json").read_text())
    checkpoint = handoff["checkpoint"]
    assert Path(checkpoint).exists()
    configs = [yaml.safe_load((run_dir / "configs" / f"{i}.yaml").read_text()) for i in (0, 1)]
    assert configs[0]["search_model"]["goal_model"]["ckpt_path"] is None
    assert configs[1]["search_model"]["goal_model"]["ckpt_path"] == checkpoint
    traces = {
        i: [load_trace(p) for p in (run_dir / "traces" / str(i)).glob("*.json.gz")] for i in (0, 1)
    }
    assert all(len(ts) == 6 for ts in traces.values())
    every = traces[0] + traces[1]
    assert {t.status for t in every} <= {"proved", "failed", "timeout"}  # never "error"
    assert any(t.proved for t in every)
    assert all(t.models["goal_model"].checkpoint is None for t in traces[0])
    assert all(t.models["goal_model"].checkpoint == checkpoint for t in traces[1])
    # HTPS's own record: its display, simulations, backups, visit counts on nodes and edges.
    searched = [t for t in every if t.counts.expansions > 1]
    assert searched
    for trace in searched:
        assert trace.search_trace[0].event == "display"
        assert any(e.event == "backup" for e in trace.search_trace)
        assert any("htps_n" in e.scores for e in trace.edges)
    # Iteration 1 valued goals with the trained critic: values differ between goals.
    critics = {n.scores.get("critic") for t in traces[1] for n in t.nodes if n.type == "internal"}
    assert len(critics - {None}) > 1
    report = verify_run(run_dir)
    assert report["failed"] == [] and report["checked"] == sum(t.proved for t in every)
