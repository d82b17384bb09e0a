"""Values as strict JSON data: what traces, hand-offs and actor configs hold.

One conversion for every place that turns config nodes, enums or numbers from a model into
JSON: mappings become dicts (OmegaConf's DictConfig included, resolved), sequences lists,
enums their values and non-finite floats ``null``. Anything else is refused with the path
where it was found, so a bad value is named where it enters, not where a file is read.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any


def finite(x: float) -> float | None:
    """``x``, or None when it is infinite or NaN (JSON has neither)."""
    return x if math.isfinite(x) else None


def jsonable(value: Any, where: str = "value") -> Any:
    """``value`` as strict JSON data; ValueError naming ``where`` for what JSON cannot hold."""
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, numbers.Integral):  # e.g. numpy integers from a search model
        return int(value)
    if isinstance(value, numbers.Real):
        return finite(float(value))
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if isinstance(k, Enum):
                k = k.value
            if k is None or isinstance(k, (bool, int, float)):
                k = json.dumps(k)  # what JSON itself would do with the key
            if not isinstance(k, str):
                raise ValueError(f"{where}: key {k!r} is not a string (JSON keys must be)")
            out[k] = jsonable(v, f"{where}.{k}")
        return out
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        # Any sequence, e.g. an OmegaConf ListConfig from the run's config.
        return [jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ValueError(
        f"{where}: an {type(value).__name__!r} value is not JSON data (convert it to dicts, lists, "
        "strings and numbers first)"
    )


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable short id of a config: sha256 of its sorted-key JSON dump, first 12 hex digits."""
    dump = json.dumps(jsonable(config, "config"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(dump.encode()).hexdigest()[:12]


def keyword_arguments(config: Any, where: str) -> dict[str, Any]:
    """A config mapping as plain keyword arguments: JSON data, without Hydra's ``_`` keys
    (``_target_``, ``_convert_``, ...); ValueError naming ``where`` as `jsonable` does."""
    return {k: v for k, v in jsonable(config or {}, where).items() if not k.startswith("_")}
