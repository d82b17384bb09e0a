"""Fringe: the known answer, greedy and sampled selection (softmax frequencies), proved and
failed goals, stale fringes, deduplication, virtual expansion of a shared goal, each goal
choice, critic batching, the trace, parameters, and seeded random runs through the prover."""

from __future__ import annotations

import json
import math
import random
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from data.proof_tree import Goal, ProofTree, Status
from data.traces.files import load_trace, write_trace
from data.traces.schema import ProofTrace, Timings
from environments.base import Premise, Suggestion
from experiments.end_to_end.prover import AttemptInfo, Prover
from models.end_to_end.search_models.base import is_expandable
from models.end_to_end.search_models.fringe import Fringe, FringeView
from tests.data.traces.sample import ENVIRONMENT, PROOF_TABLE, THEOREM, FakeEnv
from tests.models.end_to_end.search_models.test_updown import (
    CONFIGS,
    LOG,
    Critic,
    events,
    expand,
    goals,
    node,
    random_expansion,
    reachable,
    selected_conclusions,
    start,
)


def chi_squared_p(observed: list[int], expected: list[float]) -> float:
    """P(X >= the statistic) for X chi-squared with len - 1 degrees of freedom, an even number
    here, where the survival function is exp(-x/2) * sum_{i < dof/2} (x/2)^i / i! (exact)."""
    dof = len(observed) - 1
    assert dof % 2 == 0, "use an odd number of categories"
    x = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    return math.exp(-x / 2) * sum((x / 2) ** i / math.factorial(i) for i in range(dof // 2))


def live(search: Fringe) -> dict[frozenset[int], float]:
    return {frozenset(f.goals): f.score for f in search.fringes() if f.state == "live"}


def ids(tree: ProofTree, *conclusions: str) -> frozenset[int]:
    return frozenset(node(tree, c).id for c in conclusions)


def ids_in_order(tree: ProofTree, *conclusions: str) -> tuple[int, ...]:
    return tuple(node(tree, c).id for c in conclusions)


# Known answers.


def test_known_answer_fringes_r_then_ab_and_c() -> None:
    search = Fringe()
    tree, _ = start(search, {"a": 0.9, "b": 0.5, "c": 0.4})
    r = tree.root
    assert search.get_goals(1) == [(r, LOG(0.5))]
    assert [f.goals for f in search.fringes()] == [(r.id,)]
    expand(tree, search, r, [["a", "b"], ["c"], None])
    a, b, c = node(tree, "a"), node(tree, "b"), node(tree, "c")
    assert goals(search) == [a]  # {a, b}: log 0.45 beats {c}: log 0.4; its first goal
    views = search.fringes()
    assert [(f.goals, f.state) for f in views] == [
        ((r.id,), "used"),
        ((a.id, b.id), "used"),
        ((c.id,), "live"),
    ]
    assert views[1].score == pytest.approx(LOG(0.45)) and views[2].score == pytest.approx(LOG(0.4))
    entry = events(search, "select")[-1]
    assert entry["fringe"] == [a.id, b.id] and entry["fringe_size"] == 2
    assert entry["score"] == pytest.approx(LOG(0.45))


def test_greedy_takes_the_highest_sum_of_scores() -> None:
    rng = random.Random(5)
    for _ in range(20):
        search = Fringe()
        tree, _ = start(search, rng=random.Random(rng.randrange(10**6)))
        goals(search)
        expand(
            tree, search, tree.root, [[f"g{rng.randrange(9)}" for _ in range(2)] for _ in "xyzw"]
        )
        while len(events(search, "select")) < 8 and (selected := search.get_goals(1)):
            chosen, score = selected[0]
            assert score >= max(live(search).values(), default=-math.inf)
            expand(tree, search, chosen, random_expansion(tree, chosen, rng, pool=12))


@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
def test_sampling_matches_softmax_frequencies(temperature: float) -> None:
    search = Fringe(selection="sample", temperature=temperature, seed=11)
    values = {"a": 0.9, "b": 0.5, "c": 0.3, "d": 0.7, "e": 0.05, "f": 0.6}
    tree, _ = start(search, values)
    goals(search)
    expand(tree, search, tree.root, [["a"], ["b", "c"], ["d", "e"], ["f"], ["a", "d"], ["c"]])
    goals(search)  # takes one fringe: the other five stay live
    fringes = [f for f in search.fringes() if f.state == "live"]
    assert len(fringes) == 5
    draws = Counter(search.draw() for _ in range(10_000))
    assert set(draws) <= {f.id for f in fringes}
    weights = [math.exp(f.score / temperature) for f in fringes]
    expected = [10_000 * w / sum(weights) for w in weights]
    observed = [draws[f.id] for f in fringes]
    assert chi_squared_p(observed, expected) > 0.01


def test_sampling_is_seeded_and_survives_very_low_scores() -> None:
    def run(seed: int) -> list[int]:
        search = Fringe(selection="sample", temperature=0.01, seed=seed)
        tree, _ = start(search, {"a": 1e-9, "b": 1e-8, "c": 1e-9})  # exp(score / 0.01) = 0
        goals(search)
        expand(tree, search, tree.root, [["a"], ["b"], ["c"]])
        return [search.draw() or -1 for _ in range(50)]

    assert run(1) == run(1)
    draws = Counter(run(2))
    assert draws.most_common(1)[0][0] == 2  # {b}: by far the best
    assert -1 not in draws


def test_sampling_survives_a_score_far_above_the_others() -> None:
    search = Fringe(selection="sample", temperature=0.01, seed=4)
    tree, _ = start(search, {"a": 1e-9, "b": 1e-9, "d": 1.0})
    goals(search)
    expand(tree, search, tree.root, [["a"], ["b"]])
    (chosen,) = goals(search)  # weights measured from about -20.7 now
    expand(tree, search, chosen, [["d"]])  # {d} scores 0: 2,072 temperatures above
    draws = Counter(search.draw() for _ in range(50))
    (d_fringe,) = [f.id for f in search.fringes() if f.goals == (node(tree, "d").id,)]
    assert draws == {d_fringe: 50}


def test_a_greedy_draw_is_the_next_choice_and_uses_nothing_up() -> None:
    search = Fringe()
    tree, _ = start(search, {"a": 0.9, "b": 0.5, "c": 0.4})
    goals(search)
    expand(tree, search, tree.root, [["c"], ["a", "b"]])
    best = search.draw()
    assert best is not None and search.draw() == best
    assert search.fringes()[best].goals == ids_in_order(tree, "a", "b")
    assert goals(search) == [node(tree, "a")]


# Proved, failed and stale goals; deduplication.


def test_a_proved_goal_leaves_its_fringes_and_their_scores_rise() -> None:
    search = Fringe()
    tree, _ = start(search, {"a": 0.9, "b": 0.5, "c": 0.4})
    goals(search)
    expand(tree, search, tree.root, [["a", "b"], ["a", "c"]])
    a, b, c = node(tree, "a"), node(tree, "b"), node(tree, "c")
    assert goals(search) == [a]
    expand(tree, search, a, [[]])  # closes a
    assert a.status == Status.PROVED
    assert goals(search) == [b]  # {b}: made by a's closing tactic; {c} rose to log 0.4
    assert live(search) == {frozenset({c.id}): pytest.approx(LOG(0.4))}


def test_a_fringe_with_a_failed_goal_is_never_chosen() -> None:
    search = Fringe()
    tree, _ = start(search, {"a": 0.9, "b": 0.8, "c": 0.1, "d": 0.3})
    goals(search)
    expand(tree, search, tree.root, [["a", "b"], ["a", "d"], ["c"]])
    a, c = node(tree, "a"), node(tree, "c")
    assert goals(search) == [a]
    expand(tree, search, a, [None, None])
    assert a.status == Status.FAILED
    assert goals(search) == [c]  # {a, d} died with a
    states = {f.goals: f.state for f in search.fringes()}
    assert states[tuple(sorted(ids(tree, "a", "d")))] == "dead"


def test_an_empty_fringe_means_the_root_is_proved() -> None:
    search = Fringe()
    tree, _ = start(search)
    goals(search)
    expand(tree, search, tree.root, [["a"]])
    a = node(tree, "a")
    assert goals(search) == [a]
    expand(tree, search, a, [[]])
    assert tree.root.status == Status.PROVED and search.get_goals(1) == []
    assert FringeView(2, (), 0.0, "live") in search.fringes()


def test_a_fringe_built_on_a_tactic_no_longer_needed_is_dropped() -> None:
    search = Fringe(goal_choice="best")
    tree, _ = start(search, {"a": 0.99, "b": 0.2, "x": 0.9, "y": 0.8})
    goals(search)
    expand(tree, search, tree.root, [["a", "b"]])
    a = node(tree, "a")
    assert goals(search) == [a]
    expand(tree, search, a, [["x"], ["y"]])
    x = node(tree, "x")
    assert goals(search) == [x]  # {b, x} beats {b, y}
    expand(tree, search, x, [[]])  # proves x, hence a through its first tactic
    assert a.status == Status.PROVED
    states = {frozenset(f.goals): f.state for f in search.fringes()}
    assert states[ids(tree, "b", "y")] == "dead"  # y was only needed for a
    assert live(search) == {ids(tree, "b"): pytest.approx(LOG(0.2))}
    assert goals(search) == [node(tree, "b")]


def test_goal_sets_are_made_once() -> None:
    search = Fringe()
    tree, _ = start(search)
    goals(search)
    edges = expand(tree, search, tree.root, [["a", "b"], ["b", "a"], ["c"], None, ["c"]])
    successful = sum(e.status != Status.FAILED for e in edges)
    made = search.fringes()
    assert len(made) == 3 <= successful + 1
    assert len({frozenset(f.goals) for f in made}) == len(made)


def test_a_goal_already_expanded_from_another_fringe_is_expanded_virtually() -> None:
    search = Fringe()
    tree, critic = start(search, {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6})
    goals(search)
    expand(tree, search, tree.root, [["a", "b"], ["a", "c"]])
    a, b, c = node(tree, "a"), node(tree, "b"), node(tree, "c")
    assert goals(search) == [a]  # from {a, b}
    expand(tree, search, a, [["d"]])
    d = node(tree, "d")
    # {a, c} (log 0.63) beats {b, d} (log 0.48), but a is expanded already: {c, d} (log 0.42)
    # is made from a's tactic without the prover, and the best fringe, {b, d}, is chosen.
    assert goals(search) == [b]
    assert search.virtual_expansions == 1 and a.visit_count == 1
    assert critic.calls[-1] == ["d"]  # valued once, with a's expansion, not again
    assert live(search) == {frozenset({c.id, d.id}): pytest.approx(LOG(0.42))}
    assert events(search, "select")[-1]["virtual"] == 1
    assert all(f.score > -math.inf for f in search.fringes())


def test_a_goal_chosen_twice_in_one_step_waits_for_its_expansion() -> None:
    search = Fringe()
    tree, _ = start(search, {"a": 0.9, "b": 0.8, "c": 0.7})
    goals(search)
    expand(tree, search, tree.root, [["a", "b"], ["a", "c"]])
    a = node(tree, "a")
    assert goals(search, 2) == [a]  # {a, c} waits for a, handed out for {a, b}
    expand(tree, search, a, [["d"]])
    search.get_goals(0)
    sets = {frozenset(f.goals) for f in search.fringes()}
    assert ids(tree, "b", "d") in sets and ids(tree, "c", "d") in sets


# Goal choice.


def test_goal_choice_first_takes_the_oldest_goal() -> None:
    search = Fringe(goal_choice="first")
    tree, _ = start(search, {"a": 0.2, "b": 0.9})
    goals(search)
    expand(tree, search, tree.root, [["a", "b"]])
    assert goals(search) == [node(tree, "a")]
    expand(tree, search, node(tree, "a"), [["c"]])
    assert goals(search) == [node(tree, "b")]  # {b, c}: b is older than c


def test_goal_choice_best_takes_the_highest_value() -> None:
    search = Fringe(goal_choice="best")
    tree, _ = start(search, {"a": 0.2, "b": 0.9, "c": 0.5})
    goals(search)
    expand(tree, search, tree.root, [["a", "b", "c"]])
    assert goals(search) == [node(tree, "b")]


def test_goal_choice_random_is_seeded() -> None:
    def chosen(seed: int) -> str:
        search = Fringe(goal_choice="random", seed=seed)
        tree, _ = start(search)
        goals(search)
        expand(tree, search, tree.root, [["a", "b", "c", "d"]])
        return goals(search)[0].goal.conclusion

    assert chosen(3) == chosen(3)
    assert {chosen(s) for s in range(30)} == {"a", "b", "c", "d"}


# Random runs.


@pytest.mark.parametrize("selection", ["greedy", "sample"])
@pytest.mark.parametrize("choice", ["first", "best", "random"])
@pytest.mark.parametrize("per_step", [1, 3])
@pytest.mark.parametrize("seed", range(12))
def test_random_runs_return_only_expandable_goals_and_end(
    seed: int, per_step: int, choice: str, selection: str
) -> None:
    rng = random.Random(seed)
    search = Fringe(selection=selection, goal_choice=choice, seed=seed)
    tree, critic = start(search, rng=random.Random(seed))
    handed: set[int] = set()
    for _ in range(5_000):
        selected = goals(search, per_step)
        fringes = search.fringes()
        for f in fringes:
            if f.state == "live":
                statuses = {tree.nodes[g].status for g in f.goals}
                assert statuses <= {Status.OPEN}, f
                assert f.goals or tree.root.status == Status.PROVED
        live_sets = [frozenset(f.goals) for f in fringes if f.state == "live"]
        assert len(live_sets) == len(set(live_sets))
        if not selected:
            break
        assert len(selected) <= per_step and len({n.id for n in selected}) == len(selected)
        for chosen in selected:
            assert is_expandable(chosen) and chosen.id not in handed
            handed.add(chosen.id)
        for chosen in selected:
            if chosen.status == Status.OPEN:
                expand(tree, search, chosen, random_expansion(tree, chosen, rng, pool=60))
            else:
                search.expansion_done(chosen)
    else:
        pytest.fail("search did not terminate")
    assert tree.root.status != Status.OPEN or not any(
        is_expandable(n) for n in reachable(tree.root)
    )
    assert len(critic.calls) <= len(events(search, "select")) + 1
    valued = [g for call in critic.calls for g in call]
    assert len(valued) == len(set(valued))
    json.dumps(search.search_trace, allow_nan=True)


# Parameters, config, trace, prover.


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("temperature", 0, "search_model.temperature: must be > 0, got 0"),
        ("temperature", "hot", "search_model.temperature: must be a finite number, got 'hot'"),
        ("temperature", math.inf, "search_model.temperature: must be a finite number, got inf"),
        ("selection", "best", "search_model.selection: must be one of"),
        ("goal_choice", "last", "search_model.goal_choice: must be one of"),
        ("seed", 1.5, "search_model.seed: must be an integer, got 1.5"),
    ],
)
def test_bad_parameters_name_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        Fringe(**{field: value})  # type: ignore[arg-type]


def test_the_config_instantiates_the_class_with_its_defaults() -> None:
    config = OmegaConf.to_container(OmegaConf.load(CONFIGS / "fringe.yaml"))
    assert isinstance(config, dict)
    assert config.pop("defaults") == [{"goal_model": "constant"}]
    search = instantiate(config)
    assert isinstance(search, Fringe) and search.uses_goal_model
    defaults = Fringe()
    for field in ("selection", "temperature", "goal_choice", "seed"):
        assert getattr(search, field) == getattr(defaults, field)


def test_get_goals_before_reset_names_the_fix() -> None:
    with pytest.raises(RuntimeError, match=r"reset\(root\)"):
        Fringe().get_goals(1)


def test_the_trace_declares_its_scores_and_round_trips(tmp_path: Path) -> None:
    search = Fringe(selection="sample")
    tree, _ = start(search, rng=random.Random(4))
    rng = random.Random(4)
    while selected := goals(search, 2):
        for chosen in selected:
            expand(tree, search, chosen, random_expansion(tree, chosen, rng, pool=30))
    first = search.search_trace[0]
    assert first["event"] == "display" and set(first["node_scores"]) == {"critic"}
    assert first["step_nodes"] == {"fringe": Fringe.display.step_nodes["fringe"]}
    selects = events(search, "select")
    for entry in selects:
        assert {"node", "score", "frontier", "fringe", "fringe_size", "virtual"} <= set(entry)
        assert entry["node"] in entry["fringe"] and len(entry["fringe"]) <= 32
    trace = ProofTrace.from_tree(
        theorem_id="t",
        theorem={"name": "t"},
        environment={"name": "fake", "config": {}},
        tree=tree,
        status="proved" if tree.root.status == Status.PROVED else "failed",
        iteration=0,
        search_trace=search.search_trace,
        timings=Timings(),
        expansions=len(selects),
        models={},
    )
    assert load_trace(write_trace(trace, tmp_path)) == trace


def test_the_prover_drives_fringe_to_a_proof() -> None:
    def get_tactics(goals: list[Goal], premises: list[Sequence[Premise]]) -> list[list[Suggestion]]:
        return [[(t, LOG(0.5)) for t in tactics.get(g.conclusion, [])] for g in goals]

    tactics = {
        THEOREM["statement"]: ["BAD_TAC", "CONJ_TAC"],
        "a": ["REWRITE_TAC[A_IMP_C]"],
        "b": ["REWRITE_TAC[B_IMP_C]"],
        "c": ["ARITH_TAC"],
    }
    for selection in ("greedy", "sample"):
        search = Fringe(selection=selection)
        prover = Prover(search, get_tactics, 8, 30.0, 30.0, get_values=Critic(), goals_per_step=2)
        info = AttemptInfo("CONJ_AB", THEOREM, ENVIRONMENT, 0, {})
        trace = prover.prove(FakeEnv(THEOREM, PROOF_TABLE), info)
        assert trace.status == "proved"
        conclusions = selected_conclusions(trace)
        assert conclusions[0] == THEOREM["statement"] and sorted(conclusions[1:]) == [
            "a",
            "b",
            "c",
        ]


def test_a_chain_deeper_than_the_recursion_limit() -> None:
    search = Fringe()
    tree, _ = start(search)
    for depth in range(sys.getrecursionlimit() + 20):
        (chosen,) = goals(search)
        assert chosen.depth == depth
        expand(tree, search, chosen, [[f"g{depth}"]])
    expand(tree, search, goals(search)[0], [[]])
    assert tree.root.status == Status.PROVED and search.get_goals(1) == []
