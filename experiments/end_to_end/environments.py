"""Build environments from their Hydra config: in workers, and to replay traces.

``env_config`` has three parts: ``name``, ``environment`` (a partial ``_target_`` taking
``thm``) and ``theorems`` (a ``_target_`` returning a TheoremSource).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, cast

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from environments.base import Environment, TheoremSource
from experiments.end_to_end.config import ConfigError


def plain_config(config: Mapping[str, Any] | DictConfig) -> dict[str, Any]:
    """A config node as plain, resolved data (what crosses to Ray actors and into traces)."""
    if isinstance(config, DictConfig):
        return OmegaConf.to_container(config, resolve=True)  # type: ignore[return-value]
    return dict(config)


def environment_factory(env_config: Mapping[str, Any] | DictConfig) -> functools.partial[Any]:
    """The partial constructor ``env_cls(thm=..., ...)`` configured by ``env_config``."""
    config = plain_config(env_config)
    factory = instantiate(config["environment"])
    if not isinstance(factory, functools.partial) or not (
        isinstance(factory.func, type) and issubclass(factory.func, Environment)
    ):
        raise TypeError(
            "env_config.environment must be a partial (_partial_: true) of an Environment "
            f"subclass, got {config['environment'].get('_target_')!r}"
        )
    return factory


def environment_class(env_config: Mapping[str, Any] | DictConfig) -> type[Environment]:
    return cast(type[Environment], environment_factory(env_config).func)


def theorem_source(env_config: Mapping[str, Any] | DictConfig) -> TheoremSource:
    try:
        return instantiate(plain_config(env_config)["theorems"])  # type: ignore[no-any-return]
    except InstantiationException as e:
        cause = e.__cause__ or e
        raise ConfigError(f"env_config.theorems: {cause}") from e


def make_env(environment: Mapping[str, Any], theorem: Mapping[str, Any]) -> Environment:
    """An environment for ``theorem`` (trace form) as recorded in a trace's ``environment``."""
    factory = environment_factory(environment["config"])
    thm = cast(type[Environment], factory.func).theorem_from_dict(dict(theorem))
    env: Environment = factory(thm=thm)
    return env
