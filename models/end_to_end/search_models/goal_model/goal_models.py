"""The goal models' entry point: build whichever model a ``goal_model`` config names.

Configs live in ``configs/end_to_end/search_model/goal_model/``, one file per class, each with a
``_target_``; the config sits inside the search's (``search_model.goal_model``), so a loop's
``update_checkpoints`` points at ``search_model.goal_model.ckpt_path``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate

from data.jsonable import jsonable
from models.end_to_end.search_models.goal_model.base import GoalModel

DEVICES = ("cpu", "cuda")


def build_goal_model(cfg: Mapping[str, Any], device: str = "cpu") -> GoalModel:
    """Instantiate ``cfg``; a ValueError/TypeError naming what is wrong. A ``device`` key left
    null becomes ``device``, where the process building it runs."""
    if not isinstance(cfg, Mapping):
        raise TypeError(f"goal_model: expected a config mapping, got {type(cfg).__name__}")
    target = cfg.get("_target_")
    if not target:
        raise ValueError(
            "goal_model: the config has no _target_; name the model class, e.g. '_target_: "
            "models.end_to_end.search_models.goal_model.base.ConstantGoalModel'"
        )
    if device not in DEVICES:
        raise ValueError(f"goal_model: device must be one of {DEVICES}, got {device!r}")
    plain = jsonable(cfg, "goal_model")
    if "device" in plain and plain["device"] is None:
        plain["device"] = device
    try:
        model = instantiate(plain, _convert_="all")
    except InstantiationException as e:
        raise ValueError(f"goal_model: cannot build _target_ '{target}': {e}") from e
    if not isinstance(model, GoalModel):
        raise TypeError(
            f"goal_model: _target_ '{target}' built a {type(model).__name__}, not a GoalModel "
            "(see models/end_to_end/search_models/goal_model/base.py)"
        )
    return model
