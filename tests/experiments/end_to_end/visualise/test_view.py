from __future__ import annotations

from data.traces.schema import ProofTrace
from experiments.end_to_end.visualise import view as view_module
from experiments.end_to_end.visualise.overlays import SET_STYLE
from experiments.end_to_end.visualise.view import attempt_view, replay_position

from .conftest import search_trace_of


def by_id(view: dict) -> dict[str, dict]:
    return {e["data"]["id"]: e for e in view["elements"]}


def goal_id(view: dict, conclusion: str) -> str:
    for element_id, rows in view["details"].items():
        if ("conclusion", conclusion) in [tuple(r) for r in rows]:
            return element_id
    raise AssertionError(f"no goal {conclusion!r}")


def test_tree_becomes_goals_tactics_and_connectors() -> None:
    trace = search_trace_of()
    view = attempt_view(trace)
    elements = by_id(view)
    for node in trace.nodes:
        assert f"n{node.id}" in elements
    for edge in trace.edges:
        tactic = elements[f"e{edge.id}"]
        assert "tactic" in tactic["classes"]
        links = [e for e in view["elements"] if e["data"].get("edge") == f"e{edge.id}"]
        assert {(e["data"]["source"], e["data"]["target"]) for e in links} == {
            (f"n{edge.src}", f"e{edge.id}"),
            *((f"e{edge.id}", f"n{d}") for d in edge.dst),
        }
    classes = [e.get("classes", "").split() for e in view["elements"]]
    error_kinds = {c[1] for c in classes if c and c[0] == "error"}
    assert error_kinds == {"tactic_error", "tactic_timeout"}


def test_proof_is_highlighted_and_listed() -> None:
    trace = search_trace_of()
    view = attempt_view(trace)
    proof_edges = {f"e{s.edge}" for s in trace.proof}
    highlighted = {
        i for i, e in by_id(view).items() if "tactic" in e["classes"] and "proof" in e["classes"]
    }
    assert highlighted == proof_edges
    assert [s["tactic"] for s in view["proof"]] == [s.tactic for s in trace.proof]
    assert "BAD_TAC" not in {s["tactic"] for s in view["proof"]}
    assert "proof" not in by_id(view)[goal_id(view, "a /\\ b")]["classes"].split()[:1]
    assert "proof" in by_id(view)[goal_id(view, "a /\\ b")]["classes"]


def test_replay_births_follow_the_search_trace() -> None:
    trace = search_trace_of()
    view = attempt_view(trace)
    elements = by_id(view)
    selects = [e for e in trace.search_trace if e.event == "select"]
    assert len(view["replay"]) - 1 == len(selects) == trace.counts.expansions
    root, a, c = (goal_id(view, x) for x in ("a /\\ b", "a", "c"))
    assert elements[root]["data"]["born"] == 0
    assert elements[a]["data"]["born"] == 1  # produced by the first expansion
    assert elements[c]["data"]["born"] >= 2
    for position, step in enumerate(view["replay"][1:], start=1):
        assert elements[step["node"]]["data"]["born"] < position  # chosen only once visible
        for edge in step["edges"]:
            assert elements[edge]["data"]["born"] == position


def test_replay_positions_hide_the_future_and_mark_the_chosen_goal() -> None:
    view = attempt_view(search_trace_of())
    steps = len(view["replay"]) - 1
    at_root = replay_position(view, 0)
    assert at_root["styles"] == [{"selector": "[born > 0]", "style": {"display": "none"}}]
    assert at_root["title"] == f"step 0 of {steps}: the root goal, before any expansion"
    first = replay_position(view, 1)
    selectors = [r["selector"] for r in first["styles"]]
    assert selectors == ["[born > 1]", f"#{first['node']}", *(f"#{e}" for e in first["edges"])]
    assert first["title"] == f"step 1 of {steps}: expanded {first['node']}"
    assert dict(first["rows"])["goal"] == "⊢ a /\\ b"
    assert replay_position(view, 99) is view["replay"][-1]
    assert replay_position(view, -3) is at_root


def test_details_of_goals_tactics_and_errors() -> None:
    trace = search_trace_of()
    view = attempt_view(trace)
    a = dict(view["details"][goal_id(view, "a")])
    assert a["hypotheses"] == "h" and a["status"] == "proved" and a["visit count"] == "1"
    bad = next(e for e in trace.edges if e.tactic == "BAD_TAC")
    rows = dict(view["details"][f"e{bad.id}"])
    assert rows["tactic"] == "BAD_TAC" and rows["log-probability"] == "-2"
    assert rows["outcome"] == "tactic_error" and rows["error message"] == "it broke"
    assert rows["time in environment"] == "0.1000 s"
    error_node = dict(view["details"][f"n{bad.dst[0]}"])
    assert error_node["error kind"] == "tactic_error" and error_node["message"] == "it broke"


def test_the_overlay_shows_what_the_search_declared_and_falls_back_to_generic() -> None:
    bestfs = attempt_view(search_trace_of())
    assert dict(bestfs["summary"])["search overlay"] == "bestfs"
    root_rows = dict(bestfs["details"]["n0"])
    assert "the cumulative log-probability the goal was queued with (priority)" in root_rows
    assert any(r["selector"] == "node[outline]" for r in bestfs["stylesheet"])
    assert any("outline" in e["data"] for e in bestfs["elements"])
    undeclared = search_trace_of().model_dump(mode="json")
    undeclared["search_trace"] = undeclared["search_trace"][1:]  # no display entry
    generic = attempt_view(ProofTrace.model_validate(undeclared))
    assert dict(generic["summary"])["search overlay"] == "generic"
    assert "score" in dict(generic["replay"][1]["rows"])
    assert "score: priority" in dict(generic["details"]["n0"])
    assert not any(r["selector"] == "node[outline]" for r in generic["stylesheet"])


def test_declared_edge_scores_and_step_node_sets_are_shown() -> None:
    data = search_trace_of().model_dump(mode="json")
    data["search_trace"][0] = {
        "step": -1,
        "event": "display",
        "node_scores": {"critic": "goal model value"},
        "edge_scores": {"htps_n": "visits"},
        "step_nodes": {"sketch": "the best sketch's leaves"},
    }
    data["edges"][0]["scores"] = {"htps_n": 3.0, "other": None}
    first = next(i for i, e in enumerate(data["search_trace"]) if e["event"] == "select")
    data["search_trace"][first]["sketch"] = [0]
    view = attempt_view(ProofTrace.model_validate(data))
    edge_rows = dict(view["details"]["e0"])
    assert edge_rows["visits (htps_n)"] == "3" and edge_rows["score: other"] == "-inf / unknown"
    step = view["replay"][1]
    assert dict(step["rows"])["the best sketch's leaves (sketch)"] == "n0"
    assert {"selector": "#n0", "style": SET_STYLE} in step["styles"]
    assert not any(r["selector"].startswith("#n0,") for r in view["replay"][2]["styles"])


def test_unknown_search_trace_entries_leave_everything_visible() -> None:
    data = search_trace_of().model_dump(mode="json")
    data["search_trace"] = [{"step": 0, "event": "htps_backup", "values": [0.1]}]
    view = attempt_view(ProofTrace.model_validate(data))
    assert len(view["replay"]) == 1
    assert {e["data"]["born"] for e in view["elements"]} == {0}
    assert replay_position(view, 5)["title"] == "no search steps recorded"


def test_large_trees_get_the_faster_layout(monkeypatch) -> None:
    trace = search_trace_of()
    assert attempt_view(trace)["layout"]["name"] == "dagre"
    monkeypatch.setattr(view_module, "LAYERED_LIMIT", len(trace.nodes) + len(trace.edges) - 1)
    assert attempt_view(trace)["layout"]["name"] == "breadthfirst"
