"""Config checks without any prover: ranges, actor layouts, devices, theorems by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import ray
from hydra.errors import MissingConfigException

from experiments.end_to_end import end_to_end_experiment as experiment
from experiments.end_to_end.config import ConfigError, compose
from experiments.end_to_end.evaluation import Resources
from models.end_to_end.tactic_models.tac_models import build_tactic_model, resolve_devices


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("total_timeout=-1", "total_timeout"),
        ("env_timeout=0", "env_timeout"),
        ("num_theorems=100000", "num_theorems"),
        ("split=dev", "split"),
        ("num_sampled_tactics=0", "num_sampled_tactics"),
        ("tactic_server.max_restarts=-1", "tactic_server.max_restarts"),
        ("provers_per_gpu=3", "provers_per_gpu: 1 x 3 ProverWorkers .* need 3 CPUs"),
        ("gpu_per_prover=0.5", "gpu_per_prover: the actors need 1 GPUs but num_gpus is 0"),
        ("with_gpus=true num_gpus=3 logical_gpus=2", "num_gpus: 3 GPUs over 2 logical GPUs"),
        ("tac_model.components.learned.device=cuda", "learned.device: cuda needs a GPU"),
        ("theorems=[EQ_SYM] theorem_file=names.txt", "theorem_file: give the theorems inline"),
        ("theorems=[EQ_SYM,NO_SUCH_THM,ALSO_NOT]", r"theorems: 2 unknown .*'NO_SUCH_THM'"),
        ("theorems=[EQ_SYM,EQ_SYM]", r"theorems: named more than once: \['EQ_SYM'\]"),
        ("theorems=[]", "theorems: the list of theorem names is empty"),
        ("goals_per_step=0", "goals_per_step: must be >= 1"),
        (
            "search_model=htps search_model.exploration=-1",
            r"search_model\.exploration: must be >= 0",
        ),
        (
            "search_model=htps search_model.simulations_per_batch=0",
            r"search_model\.simulations_per_batch",
        ),
        (
            "search_model=fringe search_model.temperature=0",
            r"search_model\.temperature: must be > 0",
        ),
        (
            "search_model=updown ~search_model.goal_model",
            "UpDown values goals and needs a goal model",
        ),
        (
            "+search_model.goal_model._target_=x.Y",
            "search_model.goal_model: BestFS does not use a goal model",
        ),
        (
            "search_model=htps search_model/goal_model=trained",
            "search_model.goal_model: .*ckpt_path: is null",
        ),
        (
            "search_model=htps search_model.goal_model.logprob=0.5",
            r"search_model\.goal_model: .*logprob: must be a log-probability <= 0",
        ),
        (
            "env_config.environment.database=/tmp/db.jsonl",
            "env_config: FileNotFoundError: theorem database: no such file ./tmp/db.jsonl",
        ),
    ],
)
def test_bad_config_is_reported_before_ray_starts(
    tmp_path: Path, override: str, field: str
) -> None:
    cfg = compose(override.split(), str(tmp_path / "run"))
    with pytest.raises(ConfigError, match=field):
        experiment.run(cfg)
    assert not ray.is_initialized() and not (tmp_path / "run").exists()


def test_an_environment_and_a_theorem_list_on_different_databases_are_refused(
    tmp_path: Path,
) -> None:
    db = Path(__file__).resolve().parents[3] / "data" / "hol_light" / "theorems.jsonl"
    copy = tmp_path / "theorems.jsonl"
    copy.write_bytes(db.read_bytes())
    cfg = compose([f"env_config.theorems.path={copy}"], str(tmp_path / "run"))
    with pytest.raises(ConfigError, match="env_config: .*reads the theorem database .* same file"):
        experiment.run(cfg)
    cfg = compose(
        [f"env_config.theorems.path={copy}", f"env_config.environment.database={copy}"],
        str(tmp_path / "run"),
    )
    assert experiment.select_theorems(cfg)  # the same file on both sides is fine


def test_unknown_group_value_and_missing_theorem_file(tmp_path: Path) -> None:
    with pytest.raises(MissingConfigException, match="search_model"):
        compose(["search_model=nonesuch"])
    cfg = compose(["env_config.theorems.path=/nonexistent/theorems.jsonl"], str(tmp_path / "run"))
    with pytest.raises(ConfigError, match="env_config.theorems: .*/nonexistent/theorems.jsonl"):
        experiment.run(cfg)
    cfg = compose([f"theorem_file={tmp_path / 'none.txt'}"], str(tmp_path / "run"))
    with pytest.raises(ConfigError, match="theorem_file: cannot read"):
        experiment.run(cfg)


def test_theorems_by_name_are_evaluated_exactly_and_in_order(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("# two theorems\nEQ_SYM\n\nADD_SYM\n")
    for override in ("theorems=[EQ_SYM,ADD_SYM]", f"theorem_file={names}"):
        cfg = compose([override, "num_data_theorems=3"], str(tmp_path / "run"))
        tasks = experiment.select_theorems(cfg)
        assert [t.theorem_id for t in tasks[:2]] == ["EQ_SYM", "ADD_SYM"]
        assert [t.role for t in tasks] == ["eval", "eval", "data", "data", "data"]
        assert {"EQ_SYM", "ADD_SYM"}.isdisjoint(t.theorem_id for t in tasks[2:])


def test_with_gpus_needs_a_cuda_device_to_run_locally(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the refusal it tests cannot happen")
    cfg = compose(["with_gpus=true", "num_gpus=1"], str(tmp_path / "run"))
    with pytest.raises(ConfigError, match="with_gpus: true, but torch sees no CUDA device"):
        experiment.run(cfg)


def test_devices_follow_the_servers_resources() -> None:
    assert Resources(1, 2, 0.5, 0.0, 1.0, 16, 0.005).device == "cuda"
    assert Resources(1, 2, 0.0, 0.0, 1.0, 16, 0.005).device == "cpu"
    mixture = {
        "_target_": "m.Mixture",
        "components": {"learned": {"device": None}, "prior": {"templates": ["A"]}},
        "device": "cpu",  # said explicitly: kept
    }
    assert resolve_devices(mixture, "cuda") == {
        "_target_": "m.Mixture",
        "components": {"learned": {"device": "cuda"}, "prior": {"templates": ["A"]}},
        "device": "cpu",
    }
    assert resolve_devices(mixture, "cpu", override=True)["device"] == "cpu"
    assert resolve_devices([{"device": None}], "cpu") == [{"device": "cpu"}]


def test_the_default_models_resolve_to_the_cpu_without_gpus(tmp_path: Path) -> None:
    cfg = compose([], str(tmp_path / "run"))
    worker, resources = experiment.actor_configs(cfg, tmp_path)
    assert resources.device == "cpu" and resources.gpu_per_server == 0.0
    model = build_tactic_model(cfg.tac_model, device=resources.device)
    learned = model.components[0]  # type: ignore[attr-defined]
    assert str(next(learned.model.parameters()).device) == "cpu"
    cfg = compose(["with_gpus=true", "num_gpus=1"], str(tmp_path / "run"))
    assert experiment.actor_configs(cfg, tmp_path)[1].device == "cuda"
