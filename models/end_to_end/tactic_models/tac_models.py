"""The tactic models' entry point: build whichever model the ``tac_model`` config names.

Configs live in ``configs/end_to_end/tac_model/``, one file per model, each with a ``_target_``
naming the class; adding a model means adding a class and a config, never editing this file.
Where a model runs is decided here too: a ``device: null`` anywhere in its config (a mixture's
components included) becomes the device of the process that builds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from data.jsonable import jsonable
from models.end_to_end.tactic_models.base import TacticModel

DEVICES = ("cpu", "cuda")


def resolve_devices(config: Any, device: str, *, override: bool = False) -> Any:
    """``config`` with every ``device: null`` (or, with ``override``, every device) set to
    ``device``; a device the config names explicitly is kept otherwise."""
    if isinstance(config, Mapping):
        return {
            key: (
                device
                if key == "device" and (value is None or override)
                else resolve_devices(value, device, override=override)
            )
            for key, value in config.items()
        }
    if isinstance(config, list):
        return [resolve_devices(value, device, override=override) for value in config]
    return config


def build_tactic_model(cfg: DictConfig | Mapping[str, Any], device: str = "cpu") -> TacticModel:
    """Instantiate the ``tac_model`` config; raise a ValueError/TypeError naming what is wrong."""
    if not isinstance(cfg, DictConfig | Mapping):
        raise TypeError(f"tac_model: expected a config mapping, got {type(cfg).__name__}")
    target = cfg.get("_target_")
    if not target:
        raise ValueError(
            "tac_model: the config has no _target_; name the model class, e.g. "
            "'_target_: models.end_to_end.tactic_models.fixed.FixedTacticModel'"
        )
    if device not in DEVICES:
        raise ValueError(f"tac_model: device must be one of {DEVICES}, got {device!r}")
    # Models are plain Python: hand them lists and dicts, not OmegaConf containers.
    plain = resolve_devices(jsonable(cfg, "tac_model"), device)
    options: dict[str, Any] = {} if "_convert_" in plain else {"_convert_": "all"}
    try:
        model = instantiate(plain, **options)
    except InstantiationException as e:
        raise ValueError(f"tac_model: cannot build _target_ '{target}': {e}") from e
    if not isinstance(model, TacticModel):
        raise TypeError(
            f"tac_model: _target_ '{target}' built a {type(model).__name__}, not a TacticModel "
            "(see models/end_to_end/tactic_models/base.py)"
        )
    return model
