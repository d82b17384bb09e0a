"""Build the run's components from their Hydra config, and check them all before Ray starts.

``env_config`` has three parts: ``name``, ``environment`` (a partial ``_target_`` taking
``thm``) and ``theorems`` (a ``_target_`` returning a TheoremSource). Workers build their
environment here, ``traces verify`` rebuilds one from a trace, and `check_components` builds
every model and environment once in the driver, so a bad ``_target_`` or a missing checkpoint
stops the run with one error naming the config key, before any actor is placed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, cast

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from data.jsonable import jsonable
from environments.base import Environment, TheoremSource
from experiments.end_to_end.config import ConfigError
from models.end_to_end.search_models.base import SearchModel
from models.end_to_end.search_models.goal_model.goal_models import build_goal_model
from models.end_to_end.tactic_models.tac_models import build_tactic_model, resolve_devices


def plain_config(config: Mapping[str, Any] | DictConfig, where: str = "config") -> dict[str, Any]:
    """A config node as plain, resolved JSON data (what crosses to Ray actors and into traces)."""
    data: dict[str, Any] = jsonable(config, where)
    return data


def environment_factory(env_config: Mapping[str, Any] | DictConfig) -> functools.partial[Any]:
    """The partial constructor ``env_cls(thm=..., ...)`` configured by ``env_config``."""
    config = plain_config(env_config, "env_config")
    try:
        factory = instantiate(config["environment"])
    except InstantiationException as e:
        raise ConfigError(f"env_config.environment: {_cause(e)}") from e
    if not isinstance(factory, functools.partial) or not (
        isinstance(factory.func, type) and issubclass(factory.func, Environment)
    ):
        raise ConfigError(
            "env_config.environment: must be a partial (_partial_: true) of an Environment "
            f"subclass, got {config['environment'].get('_target_')!r}"
        )
    return factory


def environment_class(env_config: Mapping[str, Any] | DictConfig) -> type[Environment]:
    return cast(type[Environment], environment_factory(env_config).func)


def theorem_source(env_config: Mapping[str, Any] | DictConfig) -> TheoremSource:
    try:
        return instantiate(plain_config(env_config, "env_config")["theorems"])  # type: ignore[no-any-return]
    except InstantiationException as e:
        raise ConfigError(f"env_config.theorems: {_cause(e)}") from e


def make_env(environment: Mapping[str, Any], theorem: Mapping[str, Any]) -> Environment:
    """An environment for ``theorem`` (trace form) as recorded in a trace's ``environment``."""
    factory = environment_factory(environment["config"])
    thm = cast(type[Environment], factory.func).theorem_from_dict(dict(theorem))
    env: Environment = factory(thm=thm)
    return env


def split_search_config(cfg: DictConfig) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The search's own config, and its goal model's (``search_model.goal_model``) or None.

    The goal model's config lives inside the search's, where the search's config group puts
    it, but it is built apart (in GoalServers): searches never see models.
    """
    search = plain_config(cfg.search_model, "search_model")
    goal_model = search.pop("goal_model", None)
    return search, goal_model


def check_components(cfg: DictConfig, first_theorem: Mapping[str, Any]) -> None:
    """Build the models, the search and an environment once; ConfigError if not.

    Models are built on the CPU whatever their ``device`` (this checks that their config and
    checkpoint load, not where they will run). A search that values goals needs a goal model
    and one that does not must not be given one. The environment is made for the run's first
    theorem, without starting its prover, and must use the run's theorem source.
    """
    if cfg.with_gpus and not cfg.ray_address:
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(
                "with_gpus: true, but torch sees no CUDA device on this machine (set "
                "with_gpus=false to run the models on the CPU, or join a cluster with GPUs "
                "through ray_address)"
            )
    tac_model = resolve_devices(plain_config(cfg.tac_model, "tac_model"), "cpu", override=True)
    try:
        build_tactic_model(tac_model)
    except Exception as e:  # whatever the model's constructor raises, name it and stop
        raise ConfigError(f"tac_model: {_cause(e)}") from e
    search_config, goal_model = split_search_config(cfg)
    try:
        search = instantiate(search_config)
    except InstantiationException as e:
        raise ConfigError(f"search_model: {_cause(e)}") from e
    if not isinstance(search, SearchModel):
        raise ConfigError(
            f"search_model: _target_ {cfg.search_model.get('_target_')!r} built a "
            f"{type(search).__name__}, not a SearchModel"
        )
    name = type(search).__name__
    if search.uses_goal_model and goal_model is None:
        raise ConfigError(
            f"search_model.goal_model: {name} values goals and needs a goal model "
            "(search_model/goal_model=constant, or a trained one)"
        )
    if goal_model is not None and not search.uses_goal_model:
        raise ConfigError(f"search_model.goal_model: {name} does not use a goal model")
    if goal_model is not None:
        try:
            build_goal_model(resolve_devices(goal_model, "cpu", override=True))
        except Exception as e:  # whatever the model's constructor raises, name it and stop
            raise ConfigError(f"search_model.goal_model: {_cause(e)}") from e
    factory = environment_factory(cfg.env_config)
    env_cls = cast(type[Environment], factory.func)
    try:
        env = factory(thm=env_cls.theorem_from_dict(dict(first_theorem)))
        env.check_theorem_source(theorem_source(cfg.env_config))
    except (ValueError, TypeError, OSError) as e:
        raise ConfigError(f"env_config: {_cause(e)}") from e


def _cause(error: BaseException) -> str:
    """The innermost cause of a (Hydra-wrapped) error, as ``Type: message``."""
    while error.__cause__ is not None:
        error = error.__cause__
    return f"{type(error).__name__}: {error}"
