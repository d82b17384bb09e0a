"""The Pass@1 statistics against values computed by hand (and by R's mcnemar.exact)."""

from __future__ import annotations

import math

import pytest

from experiments.bench.stats import mcnemar_exact, paired_comparison, wilson_interval


def test_wilson_interval_matches_the_textbook_values() -> None:
    low, high = wilson_interval(20, 100)  # p = 0.2, n = 100: (0.1333, 0.2888)
    assert low == pytest.approx(0.1333, abs=1e-4) and high == pytest.approx(0.2888, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and 0.0 < wilson_interval(0, 10)[1] < 0.35
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_exact_mcnemar_is_the_two_sided_binomial_test_on_discordant_pairs() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)  # 2 * 0.5**6
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)  # 2 * (1 + 10) / 2**10
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    big = mcnemar_exact(10, 40)
    assert 0 < big < 1e-4 and math.isfinite(big)


def test_paired_comparison_counts_only_the_shared_theorems() -> None:
    result = paired_comparison({"a", "b", "c", "x"}, {"b", "d"}, ["a", "b", "c", "d"])
    assert result["only_first"] == 2 and result["only_second"] == 1 and result["both"] == 1
    assert result["difference"] == pytest.approx(0.25)
    assert result["p_value"] == pytest.approx(1.0)
