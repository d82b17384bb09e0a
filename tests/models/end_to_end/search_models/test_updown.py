"""UpDown: the known answer, the best sketch against exhaustive enumeration, incremental values
against a recomputation, statuses, retain_initial, the depth penalty, both commit_fringe modes,
critic batching, the trace, parameters, and seeded random runs through the prover."""

from __future__ import annotations

import json
import math
import random
import sys
from collections.abc import Sequence
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from data.proof_tree import Edge, ErrorKind, Goal, InternalNode, ProofTree, Status
from data.traces.files import load_trace, write_trace
from data.traces.schema import InternalNodeRecord, ProofTrace, Timings
from environments.base import Premise, Suggestion
from experiments.end_to_end.prover import AttemptInfo, Prover
from models.end_to_end.search_models.base import SearchModel, is_expandable
from models.end_to_end.search_models.updown import UpDown
from tests.data.traces.sample import ENVIRONMENT, PROOF_TABLE, THEOREM, FakeEnv

CONFIGS = Path(__file__).resolve().parents[4] / "configs" / "end_to_end" / "search_model"
LOG = math.log
NEG_INF = -math.inf


class Critic:
    """A fake goal model: a probability per goal conclusion (``default`` for the rest, or a
    seeded random one when ``rng`` is given), as log-probabilities; records every call."""

    def __init__(
        self,
        values: dict[str, float] | None = None,
        default: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        self.values = {k: LOG(v) if v > 0 else NEG_INF for k, v in (values or {}).items()}
        self.default = LOG(default)
        self.rng = rng
        self.calls: list[list[str]] = []

    def __call__(self, goals: list[Goal]) -> list[float]:
        self.calls.append([g.conclusion for g in goals])
        if self.rng is not None:
            for g in goals:
                self.values.setdefault(g.conclusion, LOG(self.rng.uniform(0.05, 1.0)))
        return [self.values.get(g.conclusion, self.default) for g in goals]


def start(
    search: SearchModel, values: dict[str, float] | None = None, **critic: Any
) -> tuple[ProofTree, Critic]:
    tree = ProofTree(Goal("root"))
    fake = Critic(values, **critic)
    search.bind(fake)
    search.reset(tree.root)
    return tree, fake


def goals(search: SearchModel, n: int = 1) -> list[InternalNode]:
    return [node for node, _ in search.get_goals(n)]


def expand(
    tree: ProofTree,
    search: SearchModel,
    node: InternalNode,
    results: Sequence[list[str] | None],
) -> list[Edge]:
    """What the prover does with a goal: one edge per result (subgoals; None: an error, []:
    closes it), process_response each, mark_explored, expansion_done."""
    edges = []
    for i, subgoals in enumerate(results):
        if subgoals is None:
            edge = tree.add_edge(node, f"t{i}", -1.0, error=(ErrorKind.TACTIC_ERROR, "no"))
        else:
            edge = tree.add_edge(node, f"t{i}", -1.0, subgoals=[Goal(g) for g in subgoals])
        search.process_response(edge)
        edges.append(edge)
    tree.mark_explored(node)
    search.expansion_done(node)
    return edges


def node(tree: ProofTree, conclusion: str) -> InternalNode:
    found = tree.find(Goal(conclusion))
    assert found is not None
    return found


def events(search: SearchModel, kind: str) -> list[dict[str, Any]]:
    return [t for t in search.search_trace if t["event"] == kind]


def random_expansion(
    tree: ProofTree, node: InternalNode, rng: random.Random, pool: int
) -> list[list[str] | None]:
    """Up to four tactics over a pool of goals, so goals repeat (diamonds, cycles)."""
    results: list[list[str] | None] = []
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.3:
            results.append(None)
        elif roll < 0.34:
            results.append([])
        else:
            results.append([f"g{rng.randrange(pool)}" for _ in range(rng.randint(1, 2))])
    return results


def reachable(root: InternalNode) -> list[InternalNode]:
    """Goals reachable from the root through open tactics."""
    seen, stack, out = {root.id}, [root], []
    while stack:
        n = stack.pop()
        out.append(n)
        for e in n.out_edges:
            if e.status == Status.OPEN:
                for d in e.dst:
                    if isinstance(d, InternalNode) and d.id not in seen:
                        seen.add(d.id)
                        stack.append(d)
    return out


def selected_conclusions(trace: ProofTrace) -> list[str]:
    """The goals a trace's select entries name, in order."""
    out = []
    for event in trace.search_trace:
        if event.event == "select":
            record = trace.nodes[(event.model_extra or {})["node"]]
            assert isinstance(record, InternalNodeRecord)
            out.append(record.goal.conclusion)
    return out


# From scratch: U by its definition, and every sketch by enumeration.


def initial(n: InternalNode) -> float:
    return n.scores["updown_i"]


def up_from_scratch(nodes: list[InternalNode], retain_initial: bool) -> dict[int, float]:
    """U(g) = 0 if proved, -inf if failed, else the max of I(g) (unexpanded, or retained) and,
    over open tactics, the sum of the subgoals' U."""
    memo: dict[int, float] = {}

    def u(n: InternalNode) -> float:
        if n.id in memo:
            return memo[n.id]
        if n.status == Status.PROVED:
            value = 0.0
        elif n.status == Status.FAILED:
            value = NEG_INF
        else:
            alternatives = [initial(n)] if (not n.is_explored or retain_initial) else []
            for e in n.out_edges:
                if e.status == Status.OPEN:
                    alternatives.append(sum(u(d) for d in e.dst if isinstance(d, InternalNode)))
            value = max(alternatives, default=NEG_INF)
        memo[n.id] = value
        return value

    for n in nodes:
        u(n)
    return memo


def sketches(root: InternalNode) -> list[tuple[float, frozenset[int]]]:
    """Every sketch of the root as (value, leaf ids): each expanded goal takes one open
    tactic (each occurrence its own), leaves are unexpanded goals worth I, proved goals 0."""
    memo: dict[int, list[tuple[float, frozenset[int]]]] = {}

    def of(n: InternalNode) -> list[tuple[float, frozenset[int]]]:
        if n.id in memo:
            return memo[n.id]
        if n.status == Status.PROVED:
            found = [(0.0, frozenset[int]())]
        elif n.status == Status.FAILED:
            found = []
        elif not n.is_explored:
            found = [(initial(n), frozenset({n.id}))]
        else:
            found = []
            for e in n.out_edges:
                if e.status != Status.OPEN:
                    continue
                parts = [of(d) for d in e.dst if isinstance(d, InternalNode)]
                for combo in product(*parts):
                    found.append(
                        (sum(v for v, _ in combo), frozenset().union(*(s for _, s in combo)))
                    )
        memo[n.id] = found
        assert len(found) < 100_000, "enumeration too large for a unit test"
        return found

    return of(root)


# Known answers.


def test_known_answer_the_fringe_moves_to_c_when_a_disappoints() -> None:
    """r: e1 -> [a, b] (0.9, 0.5), e2 -> [c] (0.4): the sketch {a, b}; expanding a into d (0.1)
    makes U(a) = log 0.1, and the next sketch is {c}."""
    search = UpDown(depth_penalty=1.0)
    tree, _ = start(search, {"a": 0.9, "b": 0.5, "c": 0.4, "d": 0.1})
    r = tree.root
    assert search.get_goals(1) == [(r, LOG(0.5))]
    e1, e2 = expand(tree, search, r, [["a", "b"], ["c"]])
    a, b, c = node(tree, "a"), node(tree, "b"), node(tree, "c")
    selected = search.get_goals(1)
    assert selected == [(a, pytest.approx(LOG(0.45)))]
    assert events(search, "select")[-1]["sketch"] == [a.id, b.id]  # highest I first
    assert search.best_edge(r) is e1
    expand(tree, search, a, [["d"]])
    assert goals(search) == [c]
    assert search.up(a) == pytest.approx(LOG(0.1))
    assert search.up(r) == pytest.approx(LOG(0.4)) and search.best_edge(r) is e2
    assert events(search, "select")[-1]["sketch"] == [c.id]
    assert a.scores["updown_u"] == pytest.approx(LOG(0.1))
    assert a.scores["updown_i"] == a.scores["critic"] == pytest.approx(LOG(0.9))


def test_get_goals_hands_out_the_whole_sketch_best_first() -> None:
    search = UpDown(depth_penalty=1.0)
    tree, _ = start(search, {"a": 0.5, "b": 0.9, "c": 0.4})
    goals(search)
    expand(tree, search, tree.root, [["a", "b"], ["c"]])
    a, b = node(tree, "a"), node(tree, "b")
    assert goals(search, 5) == [b, a]
    selects = events(search, "select")[-2:]
    assert [s["frontier"] for s in selects] == [0, 0]
    assert all(s["sketch"] == [b.id, a.id] and s["sketch_size"] == 2 for s in selects)


def test_commit_fringe_hands_out_the_rest_of_the_sketch_first() -> None:
    search = UpDown(depth_penalty=1.0, commit_fringe=True)
    tree, _ = start(search, {"a": 0.9, "b": 0.5, "c": 0.4, "d": 0.1})
    goals(search)
    expand(tree, search, tree.root, [["a", "b"], ["c"]])
    a, b, c = node(tree, "a"), node(tree, "b"), node(tree, "c")
    assert goals(search) == [a]
    assert events(search, "select")[-1]["frontier"] == 1
    expand(tree, search, a, [["d"]])
    assert goals(search) == [b]  # committed, although U(root) now comes from c
    expand(tree, search, b, [["e"]])
    assert goals(search) == [c]


def test_commit_fringe_selects_again_when_a_goal_of_the_sketch_fails() -> None:
    search = UpDown(depth_penalty=1.0, commit_fringe=True)
    tree, _ = start(search, {"a": 0.9, "b": 0.5, "c": 0.4})
    goals(search)
    expand(tree, search, tree.root, [["a", "b"], ["c"]])
    a, c = node(tree, "a"), node(tree, "c")
    assert goals(search) == [a]
    expand(tree, search, a, [None])  # a fails: b is no longer worth expanding
    assert a.status == Status.FAILED
    assert goals(search) == [c]


# Statuses, retain_initial, depth penalty.


def test_a_proved_goal_contributes_zero_and_a_failed_one_minus_infinity() -> None:
    search = UpDown(depth_penalty=1.0)
    tree, _ = start(search, {"a": 0.9, "b": 0.5, "c": 0.3})
    goals(search)
    expand(tree, search, tree.root, [["a", "b"], ["c"]])
    a, b, c = node(tree, "a"), node(tree, "b"), node(tree, "c")
    assert goals(search) == [a]
    expand(tree, search, a, [[]])  # closes a
    assert goals(search) == [b]
    assert search.up(a) == 0.0 and search.up(tree.root) == pytest.approx(LOG(0.5))
    expand(tree, search, b, [None, None])
    assert b.status == Status.FAILED and search.get_goals(1)[0][0] is c
    assert search.up(b) == NEG_INF
    assert search.up(tree.root) == pytest.approx(LOG(0.3))


def test_a_goal_failing_with_minus_infinity_from_the_critic_still_gets_expanded() -> None:
    search = UpDown(depth_penalty=1.0)
    tree, _ = start(search, {"a": 0.0})
    goals(search)
    expand(tree, search, tree.root, [["a"]])
    selected = search.get_goals(1)
    assert selected == [(node(tree, "a"), NEG_INF)]


def test_a_failed_tactic_never_carries_the_sketch_even_when_all_is_worth_minus_infinity() -> None:
    search = UpDown(depth_penalty=1.0)
    tree, _ = start(search, {"a": 0.9, "b": 0.5, "c": 0.0})
    goals(search)
    expand(tree, search, tree.root, [["a", "b"], ["c"]])
    a = node(tree, "a")
    assert goals(search) == [a]
    expand(tree, search, a, [None])  # a fails, so does [a, b]; c is worth -inf but open
    assert goals(search) == [node(tree, "c")]


@pytest.mark.parametrize("retain", [False, True])
def test_retain_initial_keeps_an_expanded_goals_own_value(retain: bool) -> None:
    search = UpDown(depth_penalty=1.0, retain_initial=retain)
    tree, _ = start(search, {"a": 0.9, "d": 0.1})
    goals(search)
    expand(tree, search, tree.root, [["a"]])
    a = node(tree, "a")
    assert goals(search) == [a]
    expand(tree, search, a, [["d"]])
    d = node(tree, "d")
    selected = search.get_goals(1)
    assert [n for n, _ in selected] == [d]  # a cannot be expanded again either way
    expected = LOG(0.9) if retain else LOG(0.1)
    assert search.up(a) == pytest.approx(expected)
    assert selected[0][1] == pytest.approx(expected)


def test_the_depth_penalty_is_depth_times_log_gamma() -> None:
    search = UpDown(depth_penalty=0.5)
    tree, _ = start(search, {"root": 0.8, "a": 0.9, "b": 0.6})
    goals(search)
    assert tree.root.scores["updown_i"] == pytest.approx(LOG(0.8))  # the root: no penalty
    expand(tree, search, tree.root, [["a"]])
    a = node(tree, "a")
    goals(search)
    expand(tree, search, a, [["b"]])
    b = node(tree, "b")
    assert goals(search) == [b]
    assert a.scores["updown_i"] == pytest.approx(LOG(0.9) + LOG(0.5))
    assert b.scores["updown_i"] == pytest.approx(LOG(0.6) + 2 * LOG(0.5))
    assert b.scores["critic"] == pytest.approx(LOG(0.6))
    assert search.up(tree.root) == pytest.approx(LOG(0.6) + 2 * LOG(0.5))


def test_ties_go_to_the_smaller_sketch() -> None:
    search = UpDown(depth_penalty=1.0)
    tree, _ = start(search, {"a": 0.5, "b": 1.0, "c": 0.5})
    goals(search)
    expand(tree, search, tree.root, [["a", "b"], ["c"]])  # both worth log 0.5
    assert goals(search) == [node(tree, "c")]


# Exhaustive and incremental checks on random trees.


@pytest.mark.parametrize("seed", range(40))
def test_the_sketch_is_the_best_one_found_by_enumeration(seed: int) -> None:
    rng = random.Random(seed)
    search = UpDown(depth_penalty=rng.choice([1.0, 0.9]))
    tree, _ = start(search, rng=random.Random(seed + 1000))
    steps = 0
    while sum(isinstance(n, InternalNode) for n in tree.nodes) <= 12:
        selected = search.get_goals(1)
        if not selected:
            break
        chosen, score = selected[0]
        found = sketches(tree.root)
        best = max(v for v, _ in found)
        assert score == pytest.approx(best, abs=1e-9)
        assert search.up(tree.root) == pytest.approx(best, abs=1e-9)
        entry = events(search, "select")[-1]
        leaves = frozenset(entry["sketch"])
        assert chosen.id in leaves and entry["sketch_size"] == len(leaves)
        ours = [v for v, s in found if s == leaves]
        assert ours and max(ours) == pytest.approx(best, abs=1e-9)  # leaves of a best sketch
        rivals = sorted({round(v, 9) for v, s in found if s != leaves}, reverse=True)
        if not rivals or rivals[0] < best - 1e-6:  # unique best: exactly its leaves
            assert leaves == max(found, key=lambda x: x[0])[1]
        expand(tree, search, chosen, random_expansion(tree, chosen, rng, pool=8))
        steps += 1
    assert steps > 0


@pytest.mark.parametrize("retain", [False, True])
@pytest.mark.parametrize("gamma", [1.0, 0.9])
@pytest.mark.parametrize("commit", [False, True])
@pytest.mark.parametrize("seed", range(10))
def test_incremental_values_equal_a_recomputation_after_every_step(
    seed: int, commit: bool, gamma: float, retain: bool
) -> None:
    rng = random.Random(seed)
    search = UpDown(depth_penalty=gamma, retain_initial=retain, commit_fringe=commit)
    tree, _ = start(search, rng=random.Random(seed + 7))
    for _ in range(300):
        selected = goals(search, rng.choice([1, 1, 3]))
        nodes = reachable(tree.root)
        scratch = up_from_scratch(nodes, retain)
        for n in nodes:
            assert search.up(n) == pytest.approx(scratch[n.id], abs=1e-9), n.id
            assert n.scores["updown_u"] == search.up(n)
        if not selected:
            break
        for chosen in selected:
            expand(tree, search, chosen, random_expansion(tree, chosen, rng, pool=100))
    else:
        pytest.fail("did not terminate")


@pytest.mark.parametrize("commit", [False, True])
@pytest.mark.parametrize("per_step", [1, 3])
@pytest.mark.parametrize("seed", range(25))
def test_random_runs_return_only_expandable_goals_and_end(
    seed: int, per_step: int, commit: bool
) -> None:
    rng = random.Random(seed)
    search = UpDown(commit_fringe=commit, retain_initial=seed % 2 == 1)
    tree, critic = start(search, rng=random.Random(seed))
    handed: set[int] = set()
    expansions = 0
    for _ in range(5_000):
        selected = goals(search, per_step)
        if not selected:
            break
        assert len(selected) <= per_step and len({n.id for n in selected}) == len(selected)
        for chosen in selected:
            assert is_expandable(chosen) and chosen.id not in handed
            handed.add(chosen.id)
        for chosen in selected:
            if chosen.status == Status.OPEN:
                expand(tree, search, chosen, random_expansion(tree, chosen, rng, pool=60))
                expansions += 1
            else:
                search.expansion_done(chosen)
    else:
        pytest.fail("search did not terminate")
    assert tree.root.status != Status.OPEN or not any(
        is_expandable(n) for n in reachable(tree.root)
    )
    # One batched critic call per step at most (the first values the root), no goal twice.
    assert len(critic.calls) <= len(events(search, "select")) + 1
    valued = [g for call in critic.calls for g in call]
    assert len(valued) == len(set(valued))
    json.dumps(search.search_trace, allow_nan=True)


def test_one_critic_call_per_expansion_for_all_new_subgoals() -> None:
    search = UpDown()
    tree, critic = start(search)
    goals(search)
    assert critic.calls == [["root"]]
    expand(tree, search, tree.root, [["a", "b"], ["c"], None, ["a"]])
    goals(search)
    assert critic.calls == [["root"], ["a", "b", "c"]]
    goals(search)
    assert len(critic.calls) == 2  # nothing new met: no call


# Parameters, config, trace, prover.


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("depth_penalty", 0, "search_model.depth_penalty: must be in (0, 1], got 0"),
        ("depth_penalty", 1.5, "search_model.depth_penalty: must be in (0, 1], got 1.5"),
        ("depth_penalty", "x", "search_model.depth_penalty: must be a finite number, got 'x'"),
        ("depth_penalty", math.nan, "search_model.depth_penalty: must be a finite number, got nan"),
        ("retain_initial", "yes", "search_model.retain_initial: must be true or false"),
        ("commit_fringe", 1, "search_model.commit_fringe: must be true or false, got 1"),
    ],
)
def test_bad_parameters_name_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        UpDown(**{field: value})  # type: ignore[arg-type]


def test_the_config_instantiates_the_class_with_its_defaults() -> None:
    config = OmegaConf.to_container(OmegaConf.load(CONFIGS / "updown.yaml"))
    assert isinstance(config, dict)
    assert config.pop("defaults") == [{"goal_model": "constant"}]
    search = instantiate(config)
    assert isinstance(search, UpDown) and search.uses_goal_model
    defaults = UpDown()
    for field in ("depth_penalty", "retain_initial", "commit_fringe"):
        assert getattr(search, field) == getattr(defaults, field)


def test_get_goals_before_reset_names_the_fix() -> None:
    with pytest.raises(RuntimeError, match=r"reset\(root\)"):
        UpDown().get_goals(1)


def test_a_search_without_a_goal_model_names_the_fix() -> None:
    search = UpDown()
    search.reset(ProofTree(Goal("root")).root)
    with pytest.raises(RuntimeError, match="search_model.goal_model"):
        search.get_goals(1)


def test_the_trace_declares_its_scores_and_round_trips(tmp_path: Path) -> None:
    search = UpDown()
    tree, _ = start(search, rng=random.Random(3))
    rng = random.Random(3)
    while selected := goals(search, 2):
        for chosen in selected:
            expand(tree, search, chosen, random_expansion(tree, chosen, rng, pool=20))
    first = search.search_trace[0]
    assert first["event"] == "display" and set(first["node_scores"]) == {
        "critic",
        "updown_i",
        "updown_u",
    }
    assert first["step_nodes"] == {"sketch": UpDown.display.step_nodes["sketch"]}
    for entry in events(search, "select"):
        assert {"node", "score", "frontier", "sketch", "sketch_size"} <= set(entry)
        assert len(entry["sketch"]) <= 32
    trace = ProofTrace.from_tree(
        theorem_id="t",
        theorem={"name": "t"},
        environment={"name": "fake", "config": {}},
        tree=tree,
        status="proved" if tree.root.status == Status.PROVED else "failed",
        iteration=0,
        search_trace=search.search_trace,
        timings=Timings(),
        expansions=len(events(search, "select")),
        models={},
    )
    assert load_trace(write_trace(trace, tmp_path)) == trace


def test_the_prover_drives_updown_to_a_proof() -> None:
    def get_tactics(goals: list[Goal], premises: list[Sequence[Premise]]) -> list[list[Suggestion]]:
        return [[(t, LOG(0.5)) for t in tactics.get(g.conclusion, [])] for g in goals]

    tactics = {
        THEOREM["statement"]: ["BAD_TAC", "CONJ_TAC"],
        "a": ["REWRITE_TAC[A_IMP_C]"],
        "b": ["REWRITE_TAC[B_IMP_C]"],
        "c": ["ARITH_TAC"],
    }
    for commit in (False, True):
        search = UpDown(commit_fringe=commit)
        prover = Prover(search, get_tactics, 8, 30.0, 30.0, get_values=Critic(), goals_per_step=2)
        info = AttemptInfo("CONJ_AB", THEOREM, ENVIRONMENT, 0, {})
        trace = prover.prove(FakeEnv(THEOREM, PROOF_TABLE), info)
        assert trace.status == "proved"
        conclusions = selected_conclusions(trace)
        assert conclusions == [THEOREM["statement"], "a", "b", "c"]  # c, shared, once


def test_a_chain_deeper_than_the_recursion_limit() -> None:
    search = UpDown()
    tree, _ = start(search)
    for depth in range(sys.getrecursionlimit() + 20):
        (chosen,) = goals(search)
        assert chosen.depth == depth
        expand(tree, search, chosen, [[f"g{depth}"]])
    assert search.up(tree.root) == pytest.approx(LOG(0.5) + depth * LOG(0.99))  # last update
