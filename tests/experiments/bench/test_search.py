"""bench search: every search grows its tree through the prover's calls, and the figures add up."""

from __future__ import annotations

import argparse

import pytest

from experiments.bench import search as bench


@pytest.mark.parametrize("name", bench.SEARCHES)
def test_each_search_grows_the_tree_and_reports_its_rates(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "SIZES", (50, 200, 400))
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(
        ["--search", name, "--window", "40", "--repeats", "1", "--goals-per-step", "2"]
    )
    result = bench.run(args)
    assert result["search"] == name and result["target_per_s"] == bench.TARGET_PER_S[name]
    rates = result["expansions_per_s"]
    assert set(rates) == {"50", "200", "400"} and all(r > 0 for r in rates.values())
    assert result["scaling"] == pytest.approx(rates["400"] / rates["50"])
    sizes = result["tree_size_after_window"]
    assert sizes["50"] >= 50 + 40 and sizes["400"] >= 400 + 40  # the window grew the tree
    search = bench.build_search(name)
    assert search.uses_goal_model == (name in ("htps", "updown", "fringe"))
