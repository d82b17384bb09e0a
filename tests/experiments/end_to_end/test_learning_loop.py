"""The learning half of the loop on the real HOL Light: train, hand off, reload, resume."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import ray
import yaml

from data.traces.files import load_trace
from data.traces.loader import TraceLoader
from experiments.end_to_end import end_to_end_experiment as experiment
from experiments.end_to_end.config import compose
from experiments.end_to_end.training import TrainingError

pytestmark = [pytest.mark.hol_light, pytest.mark.slow]

# The first theorems in load order are easy (bool and first-order facts), so the untrained
# model mixed with the prior proves some of the training split's and training has data.
TINY = [
    "tac_model=holist_fixed",
    "num_iterations=2",
    "shuffle=false",
    "num_theorems=4",
    "num_data_theorems=4",
    "total_timeout=6",
    "env_timeout=4",
    "num_sampled_tactics=4",
    "env_config.environment.timeout=2",
    "tac_model.components.learned.model.encoder.dim=32",
]
TRAIN = (
    "python -m experiments.lightning_runner --config-name=end_to_end/train/holist/run "
    "data_module.trace_files={traces} trainer.max_epochs=2 model.encoder.dim=32"
)


def test_failed_training_leaves_a_resumable_run_and_the_loop_hands_off_the_checkpoint(
    zygote, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    failing = f"{sys.executable} -c 'import sys; print(\"boom\"); sys.exit(3)'"
    with pytest.raises(TrainingError, match="exited with code 3") as failure:
        experiment.run(compose([*TINY, f"train_after_eval=[{failing!r}]"], str(run_dir)))
    assert "train.log" in str(failure.value)
    assert not ray.is_initialized()
    first = sorted((run_dir / "traces" / "0").glob("*.json.gz"))
    assert len(first) == 8
    data_proofs = [t for t in map(load_trace, first) if t.proved and t.theorem["split"] == "train"]
    assert data_proofs, "the easy training theorems give training data"

    result = experiment.run(
        compose([*TINY, f"train_after_eval=[{TRAIN!r}]", "exp_config.resume=true"], str(run_dir))
    )
    assert [it["iteration"] for it in result["iterations"]] == [0, 1]
    assert {p.name for p in (run_dir / "traces" / "0").glob("*.json.gz")} == {
        p.name for p in first
    }  # iteration 0 was not attempted again
    handoff = yaml.safe_load((run_dir / "training" / "0" / "0" / "handoff.json").read_text())
    checkpoint = handoff["checkpoint"]
    assert Path(checkpoint).exists()
    config_1 = yaml.safe_load((run_dir / "configs" / "1.yaml").read_text())
    assert config_1["tac_model"]["ckpt_path"] == checkpoint
    config_0 = yaml.safe_load((run_dir / "configs" / "0.yaml").read_text())
    assert config_0["tac_model"]["ckpt_path"] is None
    second = [load_trace(p) for p in sorted((run_dir / "traces" / "1").glob("*.json.gz"))]
    assert len(second) == 8
    assert all(t.models["tac_model"].checkpoint == checkpoint for t in second)

    # The DataModule reads this run's real traces: one example per proved goal.
    from models.end_to_end.tactic_models.holist_model.datamodule import HOListDataModule

    data = HOListDataModule(str(run_dir / "traces"), seed=0)
    data.setup("fit")
    expected = {
        (t.theorem_id, edge.tactic.split("[")[0].split()[0])
        for t in TraceLoader(run_dir / "traces")
        if t.theorem["split"] == "train"  # evaluation theorems stay held out
        for edge in t.edges
        if edge.status == "proved"
    }
    assert {(e.theorem, e.tactic) for e in data.examples} <= expected
    assert data.examples
    for example in data.examples:
        assert not set(example.positives) & set(example.negatives)


def test_the_generator_loop_trains_hands_off_and_reloads(zygote, tmp_path: Path) -> None:
    run_dir = tmp_path / "generator"
    train = (
        "python -m experiments.lightning_runner --config-name=end_to_end/train/generator/run "
        "data_module.trace_files={traces} data_module.num_retrieved=2 trainer.max_epochs=2 "
        "model.t5={d_model:32,d_ff:64,num_heads:2,d_kv:16}"
    )
    overrides = [
        *[o for o in TINY if not o.startswith("tac_model")],
        f"train_after_eval=[{train!r}]",
        "tac_model.components.learned.num_retrieved=2",
        "tac_model.components.learned.num_sampled_tactics=2",
        "tac_model.components.learned.model.max_output_bytes=32",
    ]
    result = experiment.run(compose(overrides, str(run_dir), config_name="hol_light_generator"))
    assert [it["iteration"] for it in result["iterations"]] == [0, 1]
    handoff = yaml.safe_load((run_dir / "training" / "0" / "0" / "handoff.json").read_text())
    checkpoint = handoff["checkpoint"]
    assert handoff["model_class"].endswith("generator.model.GeneratorModel")
    config_1 = yaml.safe_load((run_dir / "configs" / "1.yaml").read_text())
    assert config_1["tac_model"]["ckpt_path"] == checkpoint
    second = [load_trace(p) for p in sorted((run_dir / "traces" / "1").glob("*.json.gz"))]
    assert len(second) == 8
    assert all(t.models["tac_model"].checkpoint == checkpoint for t in second)


def test_reloaded_tactic_server_serves_the_new_weights(tmp_path: Path) -> None:
    import json
    import subprocess

    from data.traces.files import write_trace
    from experiments.end_to_end.distributed import TacticServerActor
    from tests.models.end_to_end.tactic_models.holist_model.helpers import goal, trace

    add_sym, add_0 = goal("ADD_SYM"), goal("ADD_0")
    proof = [(add_sym, "REWRITE_TAC[ADD_CLAUSES]", add_0), (add_0, "ARITH_TAC", None)]
    write_trace(trace("ADD_SYM", 0, proof), tmp_path)
    handoff = tmp_path / "training" / "handoff.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.lightning_runner",
            "--config-name=end_to_end/train/holist/run",
            f"data_module.trace_files={tmp_path / 'traces'}",
            f"++handoff={handoff}",
            "data_module.val_fraction=0.0",
            "data_module.batch_size=1",
            "model.encoder.dim=32",
            "model.lr=0.05",
            "trainer.max_epochs=3",
        ],
        check=True,
        timeout=600,
        capture_output=True,
    )
    checkpoint = json.loads(handoff.read_text())["checkpoint"]
    config = {
        "_target_": "models.end_to_end.tactic_models.holist_model.model.HOListTacticModel",
        "_recursive_": False,
        "model": {"encoder": {"_target_": "models.embeddings.gnn.TermGraphEncoder", "dim": 32}},
    }
    ray.init(num_cpus=1, include_dashboard=False)
    try:
        server = TacticServerActor.options(num_cpus=0).remote(config, 4, 0.001, 1)
        before = ray.get(server.get_tactics.remote([add_sym], [[]]))
        ray.get(server.reload.remote(checkpoint))
        after = ray.get(server.get_tactics.remote([add_sym], [[]]))
        assert ray.get(server.checkpoint.remote()) == checkpoint
    finally:
        ray.shutdown()
    assert before != after
