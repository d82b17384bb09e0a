"""The tactic models' entry point: build whichever model the ``tac_model`` config names.

Configs live in ``configs/end_to_end/tac_model/``, one file per model, each with a ``_target_``
naming the class; adding a model means adding a class and a config, never editing this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from models.end_to_end.tactic_models.base import TacticModel


def build_tactic_model(cfg: DictConfig | Mapping[str, Any]) -> TacticModel:
    """Instantiate the ``tac_model`` config; raise a ValueError/TypeError naming what is wrong."""
    if not isinstance(cfg, DictConfig | Mapping):
        raise TypeError(f"tac_model: expected a config mapping, got {type(cfg).__name__}")
    target = cfg.get("_target_")
    if not target:
        raise ValueError(
            "tac_model: the config has no _target_; name the model class, e.g. "
            "'_target_: models.end_to_end.tactic_models.fixed.FixedTacticModel'"
        )
    # Models are plain Python: hand them lists and dicts, not OmegaConf containers.
    options: dict[str, Any] = {} if "_convert_" in cfg else {"_convert_": "all"}
    try:
        model = instantiate(cfg, **options)
    except InstantiationException as e:
        raise ValueError(f"tac_model: cannot build _target_ '{target}': {e}") from e
    if not isinstance(model, TacticModel):
        raise TypeError(
            f"tac_model: _target_ '{target}' built a {type(model).__name__}, not a TacticModel "
            "(see models/end_to_end/tactic_models/base.py)"
        )
    return model
