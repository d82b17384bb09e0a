"""The trace schema: built from a proof tree, validated field by field, versioned, documented."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from data.jsonable import config_hash
from data.proof_tree import ErrorKind, Goal, Status
from data.traces.files import TraceError, parse_trace
from data.traces.schema import (
    SCHEMA_VERSION,
    ErrorNodeRecord,
    GoalRecord,
    InternalNodeRecord,
    ProofFinishedNodeRecord,
    ProofTrace,
    Timings,
)
from tests.data.traces.sample import (
    ENVIRONMENT,
    ROOT,
    THEOREM,
    A,
    B,
    C,
    build_tree,
    make_trace,
    trace_data,
)


def test_from_tree_records_nodes_edges_proof_and_counts() -> None:
    trace = make_trace()
    assert trace.schema_version == SCHEMA_VERSION == 3 and trace.proved and trace.role == "eval"
    assert [e.tactic for e in trace.edges] == [
        "BAD_TAC",
        "SLOW_TAC",
        "CONJ_TAC",
        "REWRITE_TAC[A_IMP_C]",
        "REWRITE_TAC[B_IMP_C]",
        "DISJ_TAC",
        "ARITH_TAC",
    ]
    bad, slow, conj = trace.edges[:3]
    assert (bad.outcome, bad.error, bad.status) == ("tactic_error", "boom", Status.FAILED)
    assert trace.nodes[bad.dst[0]] == ErrorNodeRecord(
        id=1, kind=ErrorKind.TACTIC_ERROR, message="boom"
    )
    assert slow.outcome == "tactic_timeout" and slow.time_s == 5.0
    assert conj.outcome == "subgoals" and conj.status == Status.PROVED and conj.error == ""
    assert trace.edges[-1].outcome == "proved"
    assert isinstance(trace.nodes[trace.edges[-1].dst[0]], ProofFinishedNodeRecord)
    # C is shared by the A and B branches: one node, two in-edges.
    assert trace.edges[3].dst == trace.edges[4].dst
    c = trace.nodes[trace.edges[3].dst[0]]
    assert isinstance(c, InternalNodeRecord)
    assert c.goal == GoalRecord.of(C) and c.visit_count == 3 and c.depth == 2
    assert c.scores == {"priority": None}  # -inf is not JSON
    d = trace.nodes[trace.edges[5].dst[0]]
    assert isinstance(d, InternalNodeRecord)
    assert d.status == Status.OPEN and d.distance_to_proof is None
    root = trace.nodes[0]
    assert isinstance(root, InternalNodeRecord) and root.distance_to_proof == 5.0  # C twice
    assert [s.tactic for s in trace.proof] == [
        "CONJ_TAC",
        "REWRITE_TAC[A_IMP_C]",
        "ARITH_TAC",
        "REWRITE_TAC[B_IMP_C]",
    ]
    assert trace.proof[0].subgoals == [GoalRecord.of(A), GoalRecord.of(B)]
    assert trace.proof[0].edge == 2
    assert trace.counts.model_dump() == {
        "expansions": 4,
        "nodes": len(trace.nodes),
        "edges": 7,
        "errors": {"tactic_error": 1, "tactic_timeout": 1},
    }
    assert trace.search_trace[1].model_extra == {"node": 3, "score": None}
    assert [s.goal for s in trace.proof_steps()] == [ROOT, A, C, B]


def test_goal_records_round_trip_and_name_the_bad_field() -> None:
    goal = Goal("x = y", ("y = x",), "(eq x y)", ("(eq y x)",))
    record = GoalRecord.of(goal)
    assert record.model_dump() == {
        "conclusion": "x = y",
        "hypotheses": ["y = x"],
        "conclusion_sexp": "(eq x y)",
        "hypothesis_sexps": ["(eq y x)"],
    }
    assert record.to_goal() == goal
    assert GoalRecord.model_validate({"conclusion": "p"}).to_goal() == Goal("p")
    for bad, field in (
        ({"hypotheses": []}, "conclusion"),
        ({"conclusion": "p", "hypotheses": "h"}, "hypotheses"),
        ({"conclusion": "p", "conclusion_sexp": 1}, "conclusion_sexp"),
        (
            {"conclusion": "p", "conclusion_sexp": "p", "hypothesis_sexps": ["h"]},
            "hypothesis_sexps",
        ),
        ({"conclusion": "p", "hypothesis": []}, "hypothesis"),
    ):
        with pytest.raises(ValidationError, match=field):
            GoalRecord.model_validate(bad)


def test_from_tree_refuses_a_status_that_contradicts_the_root() -> None:
    with pytest.raises(ValueError, match="root is proved"):
        ProofTrace.from_tree(
            theorem_id="t",
            theorem=THEOREM,
            environment=ENVIRONMENT,
            tree=build_tree(True),
            status="timeout",
            iteration=0,
            search_trace=[],
            timings=Timings(),
            expansions=0,
            models={},
        )
    with pytest.raises(ValueError, match="status"):
        make_trace(prove=False, status="gave_up")


def test_unproved_trace_has_no_proof_and_data_role_is_kept() -> None:
    trace = make_trace(prove=False, status="timeout", role="data")
    assert trace.status == "timeout" and not trace.proved and trace.proof == []
    assert trace.nodes[0].status == Status.OPEN and trace.role == "data"


def test_error_trace_has_no_nodes() -> None:
    trace = ProofTrace.error_trace(
        theorem_id="T", theorem=THEOREM, environment=ENVIRONMENT, iteration=1, message="died"
    )
    assert trace.status == "error" and trace.error == "died"
    assert trace.nodes == [] and trace.edges == [] and trace.proof == [] and trace.models == {}


def test_config_hash_is_stable_and_order_free() -> None:
    h = config_hash({"a": 1, "b": {"c": [1, 2], "d": None}})
    assert h == config_hash({"b": {"d": None, "c": (1, 2)}, "a": 1})
    assert len(h) == 12 and int(h, 16) >= 0
    assert h != config_hash({"a": 2, "b": {"c": [1, 2], "d": None}})


def test_non_json_data_is_refused_when_the_trace_is_built() -> None:
    with pytest.raises(ValueError, match=r"search_trace\[0\]\.node: an .object. value is not JSON"):
        ProofTrace.from_tree(
            theorem_id="t",
            theorem=THEOREM,
            environment=ENVIRONMENT,
            tree=build_tree(False),
            status="failed",
            iteration=0,
            search_trace=[{"step": 0, "event": "select", "node": object()}],
            timings=Timings(),
            expansions=0,
            models={},
        )


def with_change(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    d = trace_data()
    change(d)
    return d


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.update(status="maybe"), "status: Input should be 'proved'"),
        (lambda d: d.update(role="train"), "role: Input should be 'eval' or 'data'"),
        (lambda d: d.update(iteration="zero"), "iteration: Input should be a valid integer"),
        (lambda d: d.update(iteration=-1), "iteration: Input should be greater than or equal"),
        (lambda d: d.update(extra=1), "extra: Extra inputs are not permitted"),
        (lambda d: d.pop("edges"), "edges: Field required"),
        (lambda d: d["environment"].pop("config"), "environment.config: Field required"),
        (lambda d: d["timings"].update(total_s="1s"), "timings.total_s: Input should be a valid"),
        (lambda d: d["timings"].update(env_s=-1.0), "timings.env_s: Input should be greater"),
        (lambda d: d["counts"]["errors"].update(cycle=1.5), r"counts.errors.cycle: Input should"),
        (lambda d: d["nodes"][0].pop("depth"), r"nodes\[0\]\.depth: Field required"),
        (lambda d: d["nodes"][1].update(type="weird"), r"nodes\[1\]: Input tag 'weird'"),
        (lambda d: d["nodes"][1].update(kind="oops"), r"nodes\[1\]\.kind: Input should be"),
        (lambda d: d["nodes"][0].update(id=5), r"nodes\[0\]\.id: is 5, but node ids equal"),
        (lambda d: d["nodes"][0]["goal"].update(conclusion=3), r"nodes\[0\]\.goal\.conclusion"),
        (
            lambda d: d["nodes"][0]["goal"].update(hypothesis_sexps=["x"]),
            r"nodes\[0\]\.goal: hypothesis_sexps must have one entry per hypothesis",
        ),
        (lambda d: d["edges"][0].update(src=1), r"edges\[0\]\.src: node 1 is not an internal"),
        (lambda d: d["edges"][0].update(src=99), r"edges\[0\]\.src: node id 99 does not exist"),
        (lambda d: d["edges"][0].update(outcome="proved"), r"edges\[0\]\.dst: node types"),
        (lambda d: d["edges"][0].update(logprob=float("inf")), r"edges\[0\]\.logprob: Input"),
        (lambda d: d.update(proof=[]), "proof: is empty but status is 'proved'"),
        (lambda d: d.update(status="failed"), "proof: must be empty when status is 'failed'"),
        (lambda d: d["proof"][1].update(edge=99), r"proof\[1\]\.edge: edge id 99 does not exist"),
        (lambda d: d["proof"][1].update(tactic="X"), r"proof\[1\]\.tactic: differs from edge"),
        (lambda d: d["proof"][2]["subgoals"].append({"x": 1}), r"proof\[2\]\.subgoals\[0\]"),
        (lambda d: d["search_trace"][0].update(node=42), r"search_trace\[0\]\.node: node id 42"),
        (lambda d: d["search_trace"][0].pop("step"), r"search_trace\[0\]\.step: Field required"),
    ],
)
def test_validation_names_the_file_and_the_bad_field(
    change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    with pytest.raises(TraceError, match=problem) as info:
        parse_trace(with_change(change), "runs/x/traces/0/T.json.gz")
    assert str(info.value).startswith("runs/x/traces/0/T.json.gz: ")


def test_what_is_written_is_read_back_and_optional_fields_default() -> None:
    d = trace_data()
    assert parse_trace(d) == make_trace().model_copy(update={"created_unix": d["created_unix"]})
    d.pop("error")
    d.pop("created_unix")
    trace = parse_trace(d)
    assert trace.error == "" and trace.created_unix == 0.0


def test_schema_1_traces_load_as_evaluated_attempts() -> None:
    old = trace_data()
    old["schema_version"] = 1
    old.pop("role")
    for edge in old["edges"]:
        edge.pop("scores")
    trace = parse_trace(old, "old.json.gz")
    assert trace.schema_version == 3 and trace.role == "eval" and trace.proved


def test_schema_2_traces_load_with_edges_without_scores() -> None:
    old = trace_data()
    old["schema_version"] = 2
    for edge in old["edges"]:
        edge.pop("scores")
    trace = parse_trace(old, "old.json.gz")
    assert trace.schema_version == 3 and trace.edges and all(e.scores == {} for e in trace.edges)


def test_edge_scores_round_trip_and_non_finite_ones_become_null() -> None:
    tree = build_tree(True)
    tree.edges[0].scores.update(htps_n=2.0, htps_w=-math.inf)
    trace = parse_trace(
        ProofTrace.from_tree(
            theorem_id="T",
            theorem=THEOREM,
            environment=ENVIRONMENT,
            tree=tree,
            status="proved",
            iteration=0,
            search_trace=[],
            timings=Timings(),
            expansions=1,
            models={},
        ).model_dump(mode="json")
    )
    assert trace.edges[0].scores == {"htps_n": 2.0, "htps_w": None}


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        (4, r"schema_version: 4 is not supported.*\(update the framework"),
        (0, r"schema_version: 0 is not supported.*\(re-run the attempt"),
        ("2", r"schema_version: '2' is not supported"),
        (True, r"schema_version: True is not supported"),
    ],
)
def test_unknown_schema_versions_are_refused(version: Any, problem: str) -> None:
    with pytest.raises(TraceError, match=problem):
        parse_trace(with_change(lambda d: d.update(schema_version=version)), "t.json.gz")


def test_the_json_schema_accepts_a_trace_and_rejects_bad_ones() -> None:
    schema = ProofTrace.model_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    good = trace_data()
    assert list(validator.iter_errors(good)) == []
    error_trace = ProofTrace.error_trace(
        theorem_id="T", theorem=THEOREM, environment=ENVIRONMENT, iteration=1, message="died"
    )
    assert list(validator.iter_errors(error_trace.model_dump(mode="json"))) == []
    for bad in (
        with_change(lambda d: d.update(status="maybe")),
        with_change(lambda d: d["nodes"][1].update(type="weird")),
        with_change(lambda d: d["edges"][0].pop("tactic")),
        with_change(lambda d: d.update(schema_version=1)),
    ):
        assert list(validator.iter_errors(bad)), bad


def test_nan_scores_become_null_not_invalid_json() -> None:
    tree = build_tree(False)
    tree.root.scores["value"] = math.nan
    trace = ProofTrace.from_tree(
        theorem_id="t",
        theorem=THEOREM,
        environment=ENVIRONMENT,
        tree=tree,
        status="failed",
        iteration=0,
        search_trace=[],
        timings=Timings(),
        expansions=0,
        models={},
    )
    assert trace.nodes[0].scores == {"value": None}  # type: ignore[union-attr]
    assert "NaN" not in trace.model_dump_json()
