"""Proof traces: building from a tree, atomic gzip files, validation, loaders, resume and replay."""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from data.hol_light.database import TheoremRecord
from data.proof_tree import ErrorKind, Goal, ProofTree
from environments.base import (
    Environment,
    Failure,
    Premise,
    Proved,
    Subgoals,
    TacticOutcome,
)
from experiments.end_to_end import traces
from experiments.end_to_end.traces import (
    SCHEMA_VERSION,
    ProofTrace,
    Timings,
    TraceError,
    completed_theorem_ids,
    config_hash,
    iter_traces,
    load_trace,
    replay,
    trace_path,
    validate_completed,
    verify_run,
    write_trace,
)

REPO = Path(__file__).resolve().parents[3]

ROOT = Goal("a /\\ b", conclusion_sexp="(a (a (c /\\) a) b)")
A = Goal("a", ("h",), "(v bool a)", ("(v bool h)",))
B = Goal("b", conclusion_sexp="(v bool b)")
C = Goal("c", conclusion_sexp="(v bool c)")
D = Goal("d", conclusion_sexp="(v bool d)")
E = Goal("e", conclusion_sexp="(v bool e)")

THEOREM = {"name": "CONJ_AB", "statement": ROOT.conclusion, "sexp": ROOT.conclusion_sexp}
ENVIRONMENT = {"name": "fake", "config": {"timeout": 5.0, "tactics": ["CONJ_TAC", "ARITH_TAC"]}}
MODELS = {"tac_model": {"checkpoint": None, "config_hash": config_hash({"lr": 1e-3})}}

# The tactic table the fake prover answers from: what the hand-built tree below records.
PROOF_TABLE: dict[tuple[Any, str], TacticOutcome] = {
    (ROOT.key, "CONJ_TAC"): Subgoals((A, B), 0.01),
    (A.key, "REWRITE_TAC[A_IMP_C]"): Subgoals((C,), 0.01),
    (B.key, "REWRITE_TAC[B_IMP_C]"): Subgoals((C,), 0.01),
    (C.key, "ARITH_TAC"): Proved(0.01),
}


def build_tree(prove: bool = True) -> ProofTree:
    """A tree with an error branch, a timeout, a proved AND branch sharing C, and an open node."""
    tree = ProofTree(ROOT)
    root = tree.root
    tree.add_edge(root, "BAD_TAC", -2.0, error=(ErrorKind.TACTIC_ERROR, "boom"), time_s=0.1)
    tree.add_edge(root, "SLOW_TAC", -3.0, error=(ErrorKind.TACTIC_TIMEOUT, "5s"), time_s=5.0)
    conj = tree.add_edge(root, "CONJ_TAC", -0.5, subgoals=[A, B], time_s=0.2)
    a, b = conj.dst
    assert a.id != b.id
    to_c = tree.add_edge(a, "REWRITE_TAC[A_IMP_C]", -0.1, subgoals=[C])  # type: ignore[arg-type]
    tree.add_edge(b, "REWRITE_TAC[B_IMP_C]", -0.2, subgoals=[C])  # type: ignore[arg-type]
    tree.add_edge(root, "DISJ_TAC", -1.5, subgoals=[D])
    c = to_c.dst[0]
    c.visit_count = 3  # type: ignore[union-attr]
    c.scores["priority"] = -math.inf  # type: ignore[union-attr]
    if prove:
        tree.add_edge(c, "ARITH_TAC", -0.05, subgoals=[])  # type: ignore[arg-type]
    return tree


def make_trace(
    prove: bool = True, theorem_id: str = "CONJ_AB", iteration: int = 0, **kw: Any
) -> ProofTrace:
    return ProofTrace.from_tree(
        theorem_id=theorem_id,
        theorem=kw.pop("theorem", THEOREM),
        environment=ENVIRONMENT,
        tree=build_tree(prove),
        status="proved" if prove else kw.pop("status", "failed"),
        iteration=iteration,
        search_trace=[
            {"step": 0, "node": 0, "score": 0.0},
            {"step": 1, "node": 3, "score": -math.inf},
        ],
        timings=Timings(total_s=6.5, model_s=1.0, env_s=5.3, search_s=0.2),
        expansions=4,
        models=MODELS,
    )


class FakeEnv(Environment):
    """A prover answering from a table: (goal key, tactic) -> outcome; anything else fails."""

    name = "fake"

    def __init__(self, thm: dict[str, Any], table: dict[tuple[Any, str], TacticOutcome]) -> None:
        super().__init__(thm, timeout=1.0)
        self.table = table
        self.started = self.stopped = 0

    @classmethod
    def theorem_id(cls, thm: Any) -> str:
        return str(thm["name"])

    @classmethod
    def theorem_to_dict(cls, thm: Any) -> dict[str, Any]:
        return dict(thm)

    @classmethod
    def theorem_from_dict(cls, data: dict[str, Any]) -> Any:
        return dict(data)

    def start(self) -> Goal:
        self.started += 1
        return Goal(self.thm["statement"], conclusion_sexp=self.thm["sexp"])

    def stop(self) -> None:
        self.stopped += 1

    def retrieve_premises(self) -> list[Premise]:
        return []

    def apply(self, goal: Goal, tactic: str) -> TacticOutcome:
        return self.table.get(
            (goal.key, tactic), Failure(ErrorKind.TACTIC_ERROR, f"no such tactic {tactic}", 0.0)
        )


def factory(table: dict[tuple[Any, str], TacticOutcome]) -> Callable[[dict[str, Any]], FakeEnv]:
    return lambda thm: FakeEnv(thm, table)


def gz_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    return path


# --- building -----------------------------------------------------------------------------


def test_from_tree_records_nodes_edges_proof_and_counts() -> None:
    trace = make_trace()
    assert trace.schema_version == SCHEMA_VERSION and trace.proved
    assert [e["tactic"] for e in trace.edges] == [
        "BAD_TAC",
        "SLOW_TAC",
        "CONJ_TAC",
        "REWRITE_TAC[A_IMP_C]",
        "REWRITE_TAC[B_IMP_C]",
        "DISJ_TAC",
        "ARITH_TAC",
    ]
    bad, slow, conj = trace.edges[:3]
    assert (bad["outcome"], bad["error"], bad["status"]) == ("tactic_error", "boom", "failed")
    assert trace.nodes[bad["dst"][0]] == {
        "id": 1,
        "type": "error",
        "status": "failed",
        "kind": "tactic_error",
        "message": "boom",
    }
    assert slow["outcome"] == "tactic_timeout" and slow["time_s"] == 5.0
    assert conj["outcome"] == "subgoals" and conj["status"] == "proved" and conj["error"] == ""
    assert trace.edges[-1]["outcome"] == "proved"
    assert trace.nodes[trace.edges[-1]["dst"][0]]["type"] == "proof_finished"
    # C is shared by the A and B branches: one node, two in-edges.
    assert trace.edges[3]["dst"] == trace.edges[4]["dst"]
    c = trace.nodes[trace.edges[3]["dst"][0]]
    assert c["goal"] == C.to_dict() and c["visit_count"] == 3 and c["depth"] == 2
    assert c["scores"] == {"priority": None}  # -inf is not JSON
    d = trace.nodes[trace.edges[5]["dst"][0]]
    assert d["status"] == "open" and d["distance_to_proof"] is None
    root = trace.nodes[0]
    assert (
        root["type"] == "internal" and root["distance_to_proof"] == 5.0
    )  # C counted on both branches
    assert [s["tactic"] for s in trace.proof] == [
        "CONJ_TAC",
        "REWRITE_TAC[A_IMP_C]",
        "ARITH_TAC",
        "REWRITE_TAC[B_IMP_C]",
    ]
    assert trace.proof[0]["subgoals"] == [A.to_dict(), B.to_dict()] and trace.proof[0]["edge"] == 2
    assert trace.counts == {
        "expansions": 4,
        "nodes": len(trace.nodes),
        "edges": 7,
        "errors": {"tactic_error": 1, "tactic_timeout": 1},
    }
    assert trace.search_trace[1]["score"] is None
    assert [s.goal for s in trace.proof_steps()] == [ROOT, A, C, B]


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
    with pytest.raises(ValueError, match="not one of"):
        make_trace(prove=False, status="gave_up")


def test_unproved_trace_has_no_proof() -> None:
    trace = make_trace(prove=False, status="timeout")
    assert trace.status == "timeout" and not trace.proved and trace.proof == []
    assert trace.nodes[0]["status"] == "open"


def test_error_trace_has_no_nodes_and_round_trips(tmp_path: Path) -> None:
    trace = ProofTrace.error_trace(
        theorem_id="T",
        theorem=THEOREM,
        environment=ENVIRONMENT,
        iteration=1,
        message="worker died twice",
    )
    assert trace.status == "error" and trace.error == "worker died twice"
    assert trace.nodes == [] and trace.edges == [] and trace.proof == [] and trace.models == {}
    assert load_trace(write_trace(trace, tmp_path)) == trace


# --- files --------------------------------------------------------------------------------


def test_write_load_round_trip_is_equal_and_gzip(tmp_path: Path) -> None:
    record = TheoremRecord("ADD_SYM", "!m n. m + n = n + m", "(sexp)", 7, "train", "arith.ml")
    trace = make_trace(theorem=dataclasses.asdict(record), theorem_id=record.name, iteration=2)
    path = write_trace(trace, tmp_path)
    assert path == tmp_path / "traces" / "2" / "ADD_SYM.json.gz"
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    data = json.loads(gzip.decompress(path.read_bytes()))
    assert set(data) == {f.name for f in dataclasses.fields(ProofTrace)}
    assert data["theorem"]["hypotheses"] == []  # the record's tuple, as JSON
    loaded = load_trace(path)
    assert loaded == trace
    assert loaded.to_dict() == trace.to_dict() == data
    assert os.listdir(path.parent) == ["ADD_SYM.json.gz"]  # no temp file left behind


def test_a_crash_before_the_rename_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = make_trace()

    def crash(*args: Any) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(traces.os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        write_trace(trace, tmp_path)
    target = trace_path(tmp_path, 0, "CONJ_AB")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # the temp file was removed too
    assert completed_theorem_ids(tmp_path, 0) == set()


def test_a_crash_while_overwriting_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = make_trace(prove=False)
    path = write_trace(old, tmp_path)

    def crash(fd: int) -> None:
        raise OSError("fsync failed")

    monkeypatch.setattr(traces.os, "fsync", crash)
    with pytest.raises(OSError, match="fsync failed"):
        write_trace(make_trace(prove=True), tmp_path)
    assert load_trace(path) == old
    assert os.listdir(path.parent) == [path.name]


@pytest.mark.parametrize(
    ("theorem_id", "name"),
    [
        ("Hashek.hashek_eq", "Hashek.hashek_eq.json.gz"),
        ("WF_REC_TAIL_GENERAL'", "WF_REC_TAIL_GENERAL'.json.gz"),
        ("../etc", "%2E.%2Fetc.json.gz"),
        ("..", "%2E..json.gz"),
        ("a/b", "a%2Fb.json.gz"),
        ("a%2Fb", "a%252Fb.json.gz"),
        ("α ∧ β", "%CE%B1%20%E2%88%A7%20%CE%B2.json.gz"),
    ],
)
def test_trace_path_makes_one_safe_file_per_id(tmp_path: Path, theorem_id: str, name: str) -> None:
    path = trace_path(tmp_path, 3, theorem_id)
    assert path.parent == tmp_path / "traces" / "3"
    assert path.name == name
    assert path.resolve().parent == (tmp_path / "traces" / "3").resolve()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    assert completed_theorem_ids(tmp_path, 3) == {theorem_id}


def test_trace_path_refuses_bad_ids_and_shortens_long_ones(tmp_path: Path) -> None:
    for bad in ("", None):
        with pytest.raises(ValueError, match="theorem_id"):
            trace_path(tmp_path, 0, bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="iteration"):
        trace_path(tmp_path, -1, "x")
    long_a, long_b = "é" * 300 + "a", "é" * 300 + "b"
    name_a, name_b = trace_path(tmp_path, 0, long_a).name, trace_path(tmp_path, 0, long_b).name
    assert name_a != name_b and len(name_a.encode()) < 255 and "~" in name_a


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
            search_trace=[{"node": object()}],
            timings=Timings(),
            expansions=0,
            models={},
        )


# --- validation ---------------------------------------------------------------------------


def good_dict() -> dict[str, Any]:
    return make_trace().to_dict()


def with_change(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    d = good_dict()
    change(d)
    return d


CORRUPT_FILES: dict[str, tuple[Callable[[], bytes], str]] = {
    "not_gzip": (lambda: b"hello, not gzip", "not a valid gzip file"),
    "truncated": (
        lambda: gzip.compress(json.dumps(good_dict()).encode())[:200],
        "truncated or damaged gzip",
    ),
    "not_json": (lambda: gzip.compress(b'{"schema_version": 1, '), "not valid JSON"),
    "not_utf8": (lambda: gzip.compress(b"\xff\xfe"), "not UTF-8"),
    "not_object": (lambda: gzip.compress(b"[1, 2]"), "must be a JSON object, got array"),
    "missing_field": (
        lambda: gzip.compress(json.dumps(with_change(lambda d: d.pop("edges"))).encode()),
        "edges: missing",
    ),
    "no_version": (
        lambda: gzip.compress(json.dumps(with_change(lambda d: d.pop("schema_version"))).encode()),
        "no 'schema_version' field",
    ),
    "newer_version": (
        lambda: gzip.compress(
            json.dumps(with_change(lambda d: d.update(schema_version=2))).encode()
        ),
        "schema_version 2 is not supported: this code reads schema_version 1 only "
        r"\(update the framework",
    ),
    "older_version": (
        lambda: gzip.compress(
            json.dumps(with_change(lambda d: d.update(schema_version=0))).encode()
        ),
        r"schema_version 0 is not supported.*\(re-run the attempt",
    ),
    "dangling_edge": (
        lambda: gzip.compress(
            json.dumps(with_change(lambda d: d["edges"][2]["dst"].append(999))).encode()
        ),
        r"edges\[2\]\.dst\[2\]: node id 999 does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPT_FILES))
def test_corrupt_files_raise_trace_error_naming_file_and_problem(tmp_path: Path, case: str) -> None:
    content, problem = CORRUPT_FILES[case]
    path = trace_path(tmp_path, 0, case)
    path.parent.mkdir(parents=True)
    path.write_bytes(content())
    with pytest.raises(TraceError, match=problem) as info:
        load_trace(path)
    assert str(info.value).startswith(f"{path}: ")


def test_a_missing_file_is_a_trace_error(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read the file"):
        load_trace(tmp_path / "nope.json.gz")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.update(status="maybe"), "status: 'maybe' is not one of"),
        (lambda d: d.update(iteration="0"), "iteration: must be integer, got string"),
        (lambda d: d.update(iteration=True), "iteration: must be integer, got boolean"),
        (lambda d: d.update(extra=1), r"unknown field\(s\) \['extra'\]"),
        (lambda d: d["environment"].pop("config"), "environment.config: missing"),
        (lambda d: d["timings"].update(total_s="1s"), "timings.total_s: must be number"),
        (lambda d: d["counts"]["errors"].update(cycle=1.5), "counts.errors.cycle: must be an int"),
        (lambda d: d["nodes"][0].pop("depth"), r"nodes\[0\]\.depth: missing"),
        (lambda d: d["nodes"][1].update(type="weird"), r"nodes\[1\]\.type: 'weird' is not one"),
        (lambda d: d["nodes"][1].update(kind="oops"), r"nodes\[1\]\.kind: 'oops' is not one"),
        (lambda d: d["nodes"][0].update(id=5), r"nodes\[0\]\.id: is 5, but node ids must"),
        (lambda d: d["nodes"][0]["goal"].update(conclusion=3), r"nodes\[0\]\.goal: Goal"),
        (lambda d: d["edges"][0].update(src=1), r"edges\[0\]\.src: node 1 is not an internal"),
        (lambda d: d["edges"][0].update(src=-1), r"edges\[0\]\.src: node id -1 does not exist"),
        (lambda d: d["edges"][0].update(outcome="proved"), r"edges\[0\]\.dst: node types"),
        (lambda d: d.update(proof=[]), "proof: is empty but status is 'proved'"),
        (lambda d: d.update(status="failed"), "proof: must be empty when status is 'failed'"),
        (lambda d: d["proof"][1].update(edge=99), r"proof\[1\]\.edge: edge id 99 does not exist"),
        (lambda d: d["proof"][1].update(tactic="X"), r"proof\[1\]\.tactic: differs from edge"),
        (lambda d: d["proof"][2]["subgoals"].append({"x": 1}), r"proof\[2\]\.subgoals\[0\]"),
    ],
)
def test_from_dict_names_the_bad_field(
    change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    with pytest.raises(TraceError, match=problem) as info:
        ProofTrace.from_dict(with_change(change), source="runs/x/traces/0/T.json.gz")
    assert str(info.value).startswith("runs/x/traces/0/T.json.gz: ")


def test_from_dict_accepts_what_to_dict_gives_and_defaults_optional_fields() -> None:
    d = good_dict()
    assert ProofTrace.from_dict(d) == ProofTrace(**{**d, "timings": Timings(**d["timings"])})
    d.pop("error")
    d.pop("created_unix")
    trace = ProofTrace.from_dict(d)
    assert trace.error == "" and trace.created_unix == 0.0


# --- loaders and resume -------------------------------------------------------------------


def populate_iteration(run_dir: Path, iteration: int) -> dict[str, Path]:
    """Two good traces, three corrupt ones and a leftover temp file."""
    good = [make_trace(theorem_id=t, iteration=iteration) for t in ("A_THM", "B_THM'")]
    paths = {t.theorem_id: write_trace(t, run_dir) for t in good}
    folder = run_dir / "traces" / str(iteration)
    (folder / "BROKEN.json.gz").write_bytes(b"garbage")
    gz_json(folder / "OLD.json.gz", with_change(lambda d: d.update(schema_version=0)))
    gz_json(
        folder / "WRONG_NAME.json.gz", make_trace(theorem_id="OTHER", iteration=iteration).to_dict()
    )
    (folder / ".tmp123.tmp").write_bytes(b"half a write")
    (folder / ".hidden.json.gz").write_bytes(b"never a trace: encoded names never start with '.'")
    return paths


def test_completed_theorem_ids_reads_names_only(tmp_path: Path) -> None:
    populate_iteration(tmp_path, 0)
    assert completed_theorem_ids(tmp_path, 0) == {
        "A_THM",
        "B_THM'",
        "BROKEN",
        "OLD",
        "WRONG_NAME",
    }
    assert completed_theorem_ids(tmp_path, 1) == set()  # no such iteration yet


def test_validate_completed_finds_the_files_to_rerun(tmp_path: Path) -> None:
    populate_iteration(tmp_path, 0)
    good, corrupt = validate_completed(tmp_path, 0)
    assert good == {"A_THM", "B_THM'"}
    folder = tmp_path / "traces" / "0"
    assert corrupt == [folder / n for n in ("BROKEN.json.gz", "OLD.json.gz", "WRONG_NAME.json.gz")]


def test_iter_traces_skips_and_counts_corrupt_files(tmp_path: Path) -> None:
    populate_iteration(tmp_path, 0)
    populate_iteration(tmp_path, 1)
    seen: list[tuple[Path, str]] = []
    loader = iter_traces(tmp_path / "traces", on_error=lambda p, e: seen.append((p, e)))
    loaded = list(loader)
    # WRONG_NAME loads fine on its own: only resume cares that names match.
    assert sorted((t.iteration, t.theorem_id) for t in loaded) == [
        (0, "A_THM"),
        (0, "B_THM'"),
        (0, "OTHER"),
        (1, "A_THM"),
        (1, "B_THM'"),
        (1, "OTHER"),
    ]
    assert loader.loaded == 6 and len(loader.skipped) == 4 and seen == loader.skipped
    assert {p.name for p, _ in loader.skipped} == {"BROKEN.json.gz", "OLD.json.gz"}
    assert all(str(p) in msg for p, msg in loader.skipped)
    assert len(list(loader)) == 6 and len(loader.skipped) == 4  # a second pass recounts


def test_iter_traces_takes_explicit_files_and_refuses_missing_paths(tmp_path: Path) -> None:
    paths = populate_iteration(tmp_path, 0)
    loader = iter_traces([paths["A_THM"], str(tmp_path / "traces" / "0" / "BROKEN.json.gz")])
    assert [t.theorem_id for t in loader] == ["A_THM"] and len(loader.skipped) == 1
    with pytest.raises(TraceError, match="no such trace file or directory"):
        iter_traces(tmp_path / "nowhere")


# --- replay and verification --------------------------------------------------------------


def test_replay_succeeds_in_a_fresh_environment() -> None:
    envs: list[FakeEnv] = []

    def make(thm: dict[str, Any]) -> FakeEnv:
        envs.append(FakeEnv(thm, PROOF_TABLE))
        return envs[-1]

    ok, reason = replay(make_trace(), make)
    assert ok, reason
    assert "4 step" in reason
    assert len(envs) == 1 and envs[0].started == 1 and envs[0].stopped == 1


def test_replay_compares_subgoals_as_a_set() -> None:
    table = {**PROOF_TABLE, (ROOT.key, "CONJ_TAC"): Subgoals((B, A, B), 0.0)}
    assert replay(make_trace(), factory(table)) == (True, "replayed 4 step(s)")


def test_replay_fails_when_a_tactic_now_fails() -> None:
    table = {k: v for k, v in PROOF_TABLE.items() if k != (C.key, "ARITH_TAC")}
    ok, reason = replay(make_trace(), factory(table))
    assert not ok
    assert reason == "step 2 ('ARITH_TAC' on |- c): tactic_error: no such tactic ARITH_TAC"


def test_replay_fails_when_subgoals_differ() -> None:
    table = {**PROOF_TABLE, (ROOT.key, "CONJ_TAC"): Subgoals((A, E), 0.0)}
    ok, reason = replay(make_trace(), factory(table))
    assert not ok and "step 0" in reason and "subgoals differ" in reason and "e" in reason


def test_replay_fails_when_a_goal_closes_that_should_leave_subgoals() -> None:
    table = {**PROOF_TABLE, (B.key, "REWRITE_TAC[B_IMP_C]"): Proved(0.0)}
    ok, reason = replay(make_trace(), factory(table))
    assert not ok and "closed the goal, but the trace has 1 subgoal" in reason


def test_replay_fails_when_a_subgoal_is_never_closed() -> None:
    trace = make_trace()
    trace.proof = [s for s in trace.proof if s["tactic"] != "ARITH_TAC"]
    ok, reason = replay(trace, factory(PROOF_TABLE))
    assert not ok and reason.startswith("subgoal |- c of 'REWRITE_TAC[A_IMP_C]' is never closed")


def test_replay_refuses_circular_proofs_and_wrong_roots() -> None:
    trace = make_trace()
    # C "proved" by going back to A: every subgoal has a step, but nothing bottoms out.
    trace.proof[2] = {**trace.proof[2], "subgoals": [A.to_dict()]}
    ok, reason = replay(trace, factory(PROOF_TABLE))
    assert not ok and "circular" in reason

    trace = make_trace()
    trace.proof.append(trace.proof[2])
    ok, reason = replay(trace, factory(PROOF_TABLE))
    assert not ok and reason == "goal |- c has more than one step"

    other = {**THEOREM, "statement": "b /\\ a", "sexp": "(other)"}
    ok, reason = replay(make_trace(theorem=other), factory(PROOF_TABLE))
    assert not ok and "root goal" in reason

    ok, reason = replay(make_trace(prove=False), factory(PROOF_TABLE))
    assert not ok and "'failed'" in reason


def run_env_factory(
    table: dict[tuple[Any, str], TacticOutcome],
) -> Callable[[dict[str, Any], dict[str, Any]], FakeEnv]:
    def make(environment: dict[str, Any], theorem: dict[str, Any]) -> FakeEnv:
        assert environment == ENVIRONMENT
        return FakeEnv(theorem, table)

    return make


def test_verify_run_replays_every_iteration(tmp_path: Path) -> None:
    write_trace(make_trace(theorem_id="GOOD", iteration=0), tmp_path)
    write_trace(make_trace(prove=False, theorem_id="UNPROVED", iteration=0), tmp_path)
    other = {**THEOREM, "statement": "c", "sexp": C.conclusion_sexp}  # root C: not this proof
    bad = write_trace(make_trace(theorem_id="BAD", iteration=1, theorem=other), tmp_path)
    write_trace(make_trace(theorem_id="GOOD", iteration=1), tmp_path)
    corrupt = tmp_path / "traces" / "1" / "CORRUPT.json.gz"
    corrupt.write_bytes(b"\x1f\x8b garbage")

    report = verify_run(tmp_path, run_env_factory(PROOF_TABLE))
    assert report["traces"] == 4 and report["checked"] == 3 and report["ok"] == 2
    assert [f["file"] for f in report["failed"]] == [str(bad)]
    assert "root goal" in report["failed"][0]["reason"]
    assert [s["file"] for s in report["skipped_corrupt"]] == [str(corrupt)]

    # The CLI: exit 1 on a failure or a corrupt file, 0 once the run is clean.
    assert traces.main(["verify", str(tmp_path)], run_env_factory(PROOF_TABLE)) == 1
    bad.unlink()
    corrupt.unlink()
    assert traces.main(["verify", str(tmp_path)], run_env_factory(PROOF_TABLE)) == 0


def test_verify_run_counts_an_environment_that_raises_as_a_failure(tmp_path: Path) -> None:
    write_trace(make_trace(theorem_id="GOOD"), tmp_path)

    def broken(environment: dict[str, Any], theorem: dict[str, Any]) -> FakeEnv:
        raise RuntimeError("prover not installed")

    report = verify_run(tmp_path, broken)
    assert report["checked"] == 1 and report["ok"] == 0
    assert report["failed"][0]["reason"] == "replay raised RuntimeError: prover not installed"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "experiments.end_to_end.traces", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_show_and_verify(tmp_path: Path) -> None:
    path = write_trace(make_trace(theorem_id="CONJ_AB"), tmp_path)
    shown = run_cli("show", str(path))
    assert shown.returncode == 0, shown.stderr
    assert "theorem    CONJ_AB" in shown.stdout and "status     proved" in shown.stdout
    assert "  |- a /\\ b  by  CONJ_TAC" in shown.stdout
    assert "    h |- a  by  REWRITE_TAC[A_IMP_C]" in shown.stdout
    assert "      |- c  by  ARITH_TAC" in shown.stdout

    path.write_bytes(b"garbage")
    broken = run_cli("show", str(path))
    assert broken.returncode == 1 and "not a valid gzip file" in broken.stderr

    # Nothing proved to replay, so no environment is needed; the corrupt file still fails it.
    write_trace(make_trace(prove=False, theorem_id="OPEN"), tmp_path)
    verified = run_cli("verify", str(tmp_path))
    assert verified.returncode == 1
    report = json.loads(verified.stdout)
    assert report["checked"] == 0 and len(report["skipped_corrupt"]) == 1
    path.unlink()
    assert run_cli("verify", str(tmp_path)).returncode == 0
