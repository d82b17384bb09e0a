"""Training after evaluation: commands, hand-offs, checkpoint updates and resume."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest
from omegaconf import DictConfig, OmegaConf

from experiments.end_to_end import training
from experiments.end_to_end.config import compose
from experiments.end_to_end.training import (
    TrainingError,
    apply_checkpoint_updates,
    handoff_path,
    run_training_commands,
    train_after_eval,
    training_done,
)

REPO = Path(__file__).resolve().parents[3]

# A stand-in runner: writes a checkpoint and a hand-off recording what it was given.
FAKE_RUNNER = """
import json, os, sys
args = sys.argv[1:]
handoff = next(a.split("=", 1)[1] for a in args if a.lstrip("+").startswith("handoff="))
out = next((a.split("=", 1)[1] for a in args if a.lstrip("+").startswith("output_dir=")), None)
ckpt = os.path.join(out or os.path.dirname(handoff), "model.ckpt")
open(ckpt, "w").write("weights")
env = {k: os.environ.get(k) for k in ("WANDB_MODE", "HF_HUB_OFFLINE")}
json.dump({"checkpoint": ckpt, "metrics": {"loss": 0.5}, "args": args, "env": env},
          open(handoff, "w"))
print("trained")
"""


def fake_runner(*args: str) -> list[str]:
    return [sys.executable, "-c", FAKE_RUNNER, *args]


def write_handoff(run_dir: Path, iteration: int, index: int, checkpoint: str = "x.ckpt") -> Path:
    path = handoff_path(run_dir, iteration, index)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = path.parent / checkpoint
    ckpt.write_text("weights")
    path.write_text(json.dumps({"checkpoint": str(ckpt), "metrics": {}}))
    return path


def test_failing_command_names_exit_code_and_log(tmp_path: Path) -> None:
    command = "python -c \"import sys; print('loss exploded'); sys.exit(3)\""
    log_path = tmp_path / "training" / "0" / "0" / "train.log"
    with pytest.raises(TrainingError) as e:
        run_training_commands([command], tmp_path, 0)
    assert "exited with code 3" in str(e.value)
    assert str(log_path) in str(e.value)
    assert "loss exploded" in log_path.read_text()


def test_exit_zero_without_handoff_names_the_handoff(tmp_path: Path) -> None:
    stale = write_handoff(tmp_path, 2, 0)  # from an earlier attempt: must not count
    with pytest.raises(TrainingError, match=f"wrote no hand-off {stale}"):
        run_training_commands([[sys.executable, "-c", "pass"]], tmp_path, 2)
    assert not stale.exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"checkpoint": "/no/such/model.ckpt"}', "checkpoint /no/such/model.ckpt does not exist"),
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"metrics": {}}', "no 'checkpoint' path"),
    ],
)
def test_unusable_handoff_names_the_handoff(tmp_path: Path, content: str, problem: str) -> None:
    script = f"import sys; open(sys.argv[1], 'w').write({content!r})"
    with pytest.raises(TrainingError) as e:
        run_training_commands([[sys.executable, "-c", script, "{handoff}"]], tmp_path, 0)
    assert str(handoff_path(tmp_path, 0, 0)) in str(e.value)
    assert problem in str(e.value)


def test_placeholders_are_substituted(tmp_path: Path) -> None:
    command = fake_runner(
        "{run_dir}", "{traces}", "{iteration}", "{output_dir}", "handoff={handoff}"
    )
    (handoff,) = run_training_commands([command], tmp_path, 4)
    out = tmp_path / "training" / "4" / "0"
    assert handoff["args"] == [
        str(tmp_path),
        str(tmp_path / "traces"),
        "4",
        str(out),
        f"handoff={out / 'handoff.json'}",
    ]  # it named handoff=: nothing appended
    assert handoff["checkpoint"] == str(out / "model.ckpt")
    assert "trained" in (out / "train.log").read_text()


def test_handoff_and_output_dir_are_appended_and_env_is_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("WANDB_MODE", "disabled")  # set by the user: kept
    command = shlex.join(fake_runner("data_module.trace_files={traces}"))
    first, second = run_training_commands([command, fake_runner()], tmp_path, 1)
    out = tmp_path / "training" / "1"
    assert first["args"] == [
        f"data_module.trace_files={tmp_path / 'traces'}",
        f"++handoff={out / '0' / 'handoff.json'}",
        f"++output_dir={out / '0'}",
    ]
    assert second["args"] == [
        f"++handoff={out / '1' / 'handoff.json'}",
        f"++output_dir={out / '1'}",
    ]
    assert first["env"] == {"WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1"}


def test_python_means_this_interpreter(tmp_path: Path) -> None:
    argv = training.command_argv("python -m experiments.lightning_runner", tmp_path, 0, 0)
    assert argv[0] == sys.executable
    assert argv[-2:] == [
        f"++handoff={tmp_path / 'training/0/0/handoff.json'}",
        f"++output_dir={tmp_path / 'training/0/0'}",
    ]


def test_the_real_runner_from_the_loop(tmp_path: Path) -> None:
    command = (
        f"python -m experiments.lightning_runner --config-path={REPO / 'tests' / 'configs'} "
        "--config-name=train/toy/run data_module.trace_files={traces}"
    )
    cfg = OmegaConf.create(
        {
            "tac_model": {"ckpt_path": None},
            "train_after_eval": [command],
            "update_checkpoints": [["tac_model", "ckpt_path"]],
        }
    )
    updated = train_after_eval(cfg, tmp_path, 0)
    checkpoint = Path(updated.tac_model.ckpt_path)
    assert checkpoint == tmp_path / "training" / "0" / "0" / "checkpoints" / "last.ckpt"
    assert checkpoint.is_file()
    (handoff,) = training_done(tmp_path, 0, 1) or []
    assert handoff["config"]["data_module"]["trace_files"] == str(tmp_path / "traces")
    assert (tmp_path / "training" / "0" / "0" / "train.log").read_text().count("==> ") == 1
    # Done before: a resumed loop reuses the hand-off instead of training again.
    assert train_after_eval(cfg, tmp_path, 0) == updated
    assert (tmp_path / "training" / "0" / "0" / "train.log").read_text().count("==> ") == 1


def config() -> DictConfig:
    cfg = OmegaConf.create(
        {
            "tac_model": {"_target_": "m.Tactic", "ckpt_path": None},
            "goal_model": {"ckpt_path": "???", "lr": 0.1},
        }
    )
    OmegaConf.set_struct(cfg, True)
    return cfg


HANDOFF_A = {"checkpoint": "/ckpt/a.ckpt", "metrics": {"val_loss": 0.25}}
HANDOFF_B = {"checkpoint": "/ckpt/b.ckpt", "metrics": {}}


def test_updates_set_nested_keys_and_leave_the_input_alone() -> None:
    cfg = config()
    before = OmegaConf.to_yaml(cfg)
    out = apply_checkpoint_updates(
        cfg,
        [["tac_model.ckpt_path", "checkpoint"], ["goal_model", "ckpt_path"]],
        [HANDOFF_A],
    )
    assert out.tac_model.ckpt_path == "/ckpt/a.ckpt"
    assert out.goal_model.ckpt_path == "/ckpt/a.ckpt"  # short form: from `checkpoint`
    assert OmegaConf.to_yaml(cfg) == before
    assert OmegaConf.is_struct(out)
    out = apply_checkpoint_updates(cfg, [["goal_model.lr", "metrics.val_loss"]], [HANDOFF_A])
    assert out.goal_model.lr == 0.25


def test_several_handoffs_match_pairs_by_index() -> None:
    pairs = [["tac_model", "ckpt_path"], ["goal_model", "ckpt_path"]]
    out = apply_checkpoint_updates(config(), pairs, [HANDOFF_A, HANDOFF_B])
    assert (out.tac_model.ckpt_path, out.goal_model.ckpt_path) == ("/ckpt/a.ckpt", "/ckpt/b.ckpt")
    out = apply_checkpoint_updates(
        config(), [["goal_model.ckpt_path", "checkpoint", 1]], [HANDOFF_A, HANDOFF_B]
    )
    assert out.goal_model.ckpt_path == "/ckpt/b.ckpt"
    with pytest.raises(ValueError, match="2 hand-offs for 1 pairs"):
        apply_checkpoint_updates(config(), pairs[:1], [HANDOFF_A, HANDOFF_B])
    with pytest.raises(ValueError, match="no training command 5"):
        apply_checkpoint_updates(config(), [["tac_model", "ckpt_path", 5]], [HANDOFF_A])
    with pytest.raises(ValueError, match="no hand-off"):
        apply_checkpoint_updates(config(), pairs, [])
    assert apply_checkpoint_updates(config(), [], []) == config()


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        (["tac_model.checkpoint_path", "checkpoint"], "no key 'tac_model.checkpoint_path'"),
        (["search_model", "ckpt_path"], "no key 'search_model.ckpt_path'"),
        (["tac_model", "checkpoint"], "'tac_model' is a config group"),
        (["tac_model.ckpt_path"], r"expected \[config_key, handoff_key\]"),
        ("tac_model.ckpt_path", r"expected \[config_key, handoff_key\]"),
    ],
)
def test_updates_name_a_bad_key(pair: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_checkpoint_updates(config(), [pair], [HANDOFF_A])


def test_a_model_without_weights_has_no_checkpoint_to_update() -> None:
    cfg = compose(["tac_model=fixed"])
    with pytest.raises(ValueError, match="no key 'tac_model.ckpt_path'"):
        apply_checkpoint_updates(cfg, [["tac_model", "ckpt_path"]], [HANDOFF_A])


def test_training_done_only_when_every_handoff_is_valid(tmp_path: Path) -> None:
    assert training_done(tmp_path, 0, 2) is None
    write_handoff(tmp_path, 0, 0)
    assert training_done(tmp_path, 0, 2) is None
    broken = write_handoff(tmp_path, 0, 1)
    broken.write_text("{")
    assert training_done(tmp_path, 0, 2) is None
    write_handoff(tmp_path, 0, 1)
    done = training_done(tmp_path, 0, 2)
    assert done is not None and [Path(h["checkpoint"]).name for h in done] == ["x.ckpt"] * 2
    assert training_done(tmp_path, 1, 2) is None
    assert training_done(tmp_path, 0, 0) == []
