"""Paired statistics for Pass@1: Wilson intervals and the exact McNemar test.

Pass@1 figures of a few hundred theorems move by several points between runs, so a benchmark
that compares two provers on the same theorems reports how sure the difference is: the exact
(binomial) McNemar test looks only at the theorems one prover proved and the other did not.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable


def wilson_interval(
    successes: int, trials: int, z: float = 1.959963984540054
) -> tuple[float, float]:
    """The 95% (by default) Wilson score interval of a proportion; (0, 1) for no trials."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    scale = 1 + z * z / trials
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (1.0 when there are none)."""
    n = only_first + only_second
    if n == 0:
        return 1.0
    k = min(only_first, only_second)
    tail = math.fsum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def paired_comparison(
    first: Collection[str], second: Collection[str], theorems: Iterable[str]
) -> dict[str, float | int]:
    """How two provers' proved sets differ on the same theorems, and the McNemar p-value."""
    names = set(theorems)
    a, b = set(first) & names, set(second) & names
    only_first, only_second = len(a - b), len(b - a)
    return {
        "only_first": only_first,
        "only_second": only_second,
        "both": len(a & b),
        "difference": (len(a) - len(b)) / len(names) if names else 0.0,
        "p_value": mcnemar_exact(only_first, only_second),
    }
