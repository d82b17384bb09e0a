"""One proof attempt as the visualiser draws it: graph elements, details, replay steps, proof.

Both front ends (the Dash app and the HTML export) draw exactly this JSON-ready dict, so what
they show cannot drift apart. The AND/OR tree becomes a graph with one node per goal and one
node per tactic application (the hyperedge), joined by plain edges: goal -> tactic -> each
subgoal. Every element carries ``born``, the replay position from which it is visible:
position 0 shows the root alone, position k the tree after k expansions (see `replay_position`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from data.traces.attempts import AttemptRecord
from data.traces.schema import (
    EdgeRecord,
    ErrorNodeRecord,
    GoalRecord,
    InternalNodeRecord,
    NodeRecord,
    ProofTrace,
    SearchEvent,
)
from experiments.end_to_end.visualise.overlays import Row, SearchOverlay, extra, fmt, overlay_for

ERROR_COLOURS = {
    "tactic_error": "#d73a49",
    "tactic_timeout": "#f66a0a",
    "process_crash": "#6f42c1",
    "cycle": "#6a737d",
    "no_progress": "#b08800",
    "rejected": "#24292e",
}
STATUS_COLOURS = {"proved": "#c6f6c6", "failed": "#f9d0d0", "open": "#eeeeee"}
PROOF_COLOUR = "#1a7f37"
CHOSEN_COLOUR = "#1f6feb"

BASE_STYLESHEET: list[dict[str, Any]] = [
    {
        "selector": "node",
        "style": {
            "label": "data(label)",
            "font-size": 9,
            "text-wrap": "wrap",
            "text-max-width": "180px",
            "text-valign": "center",
            "width": "data(w)",
            "height": "data(h)",
            "border-width": 1,
            "border-color": "#999",
        },
    },
    {"selector": ".goal", "style": {"shape": "round-rectangle"}},
    *(
        {"selector": f".goal.{status}", "style": {"background-color": colour}}
        for status, colour in STATUS_COLOURS.items()
    ),
    {
        "selector": ".tactic",
        "style": {"shape": "tag", "background-color": "#fff5b1", "font-size": 8},
    },
    {"selector": ".tactic.failed", "style": {"background-color": "#fbe3e3", "color": "#666"}},
    *(
        {
            "selector": f".error.{kind}",
            "style": {"background-color": colour, "color": "#fff", "shape": "octagon"},
        }
        for kind, colour in ERROR_COLOURS.items()
    ),
    {"selector": ".finished", "style": {"shape": "star", "background-color": PROOF_COLOUR}},
    {
        "selector": "edge",
        "style": {
            "curve-style": "bezier",
            "target-arrow-shape": "triangle",
            "width": 1.5,
            "line-color": "#bbb",
            "target-arrow-color": "#bbb",
        },
    },
    {"selector": "node.proof", "style": {"border-width": 4, "border-color": PROOF_COLOUR}},
    {
        "selector": "edge.proof",
        "style": {"width": 4, "line-color": PROOF_COLOUR, "target-arrow-color": PROOF_COLOUR},
    },
]
# Replay highlights: the goal chosen at the current step, and what its expansion produced.
CHOSEN_STYLE = {"border-width": 6, "border-color": CHOSEN_COLOUR, "border-style": "double"}
FRESH_STYLE = {"underlay-color": CHOSEN_COLOUR, "underlay-opacity": 0.25, "underlay-padding": 6}

LAYOUT = {"name": "dagre", "rankDir": "TB", "nodeSep": 20, "rankSep": 40, "animate": False}
# dagre takes ~5 s in Chromium for 8,600 graph nodes (500 expansions); Cytoscape's own
# breadth-first layout takes ~1.5 s, so large trees get it instead.
LAYERED_LIMIT = 2000
LARGE_LAYOUT = {"name": "breadthfirst", "directed": True, "roots": "#n0", "animate": False}


def _box(label: str, font_px: float, extra_w: float = 14) -> dict[str, float]:
    """Node size that fits its wrapped label, so the layout knows it before drawing."""
    char_w = 0.62 * font_px
    per_line = max(1, int(170 // char_w))
    lines = -(-len(label) // per_line)
    width = min(len(label), per_line) * char_w + extra_w
    return {"w": round(width), "h": round(lines * 1.3 * font_px + 12)}


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def goal_text(goal: GoalRecord) -> str:
    """A goal as a person reads it: hypotheses, then the turnstile and the conclusion."""
    return "\n".join([*goal.hypotheses, "⊢ " + goal.conclusion])


def _goal_label(goal: GoalRecord) -> str:
    hyps = len(goal.hypotheses)
    prefix = f"[{hyps} hyp{'s' if hyps != 1 else ''}] " if hyps else ""
    return prefix + _short(goal.conclusion, 70)


@dataclass
class _Step:
    """One expansion of the replay: the ``select`` entry, its goal and the responses after it."""

    select: SearchEvent
    node: int
    responses: list[SearchEvent] = field(default_factory=list)


def _replay_births(trace: ProofTrace) -> tuple[list[_Step], dict[int, int], dict[int, int]]:
    """Group `search_trace` into steps and find when each edge and node first appears.

    Only the generic ``select``/``response`` entries are read; other events are ignored. An edge
    with no ``response`` entry appears when its goal was first expanded (or with its goal).
    """
    steps: list[_Step] = []
    edge_born: dict[int, int] = {}
    for entry in trace.search_trace:
        keys = extra(entry)
        if entry.event == "select" and isinstance(keys.get("node"), int):
            steps.append(_Step(entry, keys["node"]))
        elif entry.event == "response" and steps and isinstance(keys.get("edge"), int):
            steps[-1].responses.append(entry)
            edge_born.setdefault(keys["edge"], len(steps))
    first_expanded: dict[int, int] = {}
    for position, step in enumerate(steps, start=1):
        first_expanded.setdefault(step.node, position)
    node_born: dict[int, int] = {0: 0}
    for edge in trace.edges:  # execution order: a source is born before its edges
        src_born = node_born.get(edge.src, 0)
        born = edge_born.get(edge.id, first_expanded.get(edge.src, src_born))
        edge_born[edge.id] = born = max(born, src_born)
        for dst in edge.dst:
            node_born[dst] = min(node_born.get(dst, born), born)
    return steps, edge_born, node_born


def _proof_parts(trace: ProofTrace) -> tuple[set[int], set[int]]:
    """The edge ids of the extracted proof and the node ids it passes through."""
    edges = {step.edge for step in trace.proof}
    nodes: set[int] = set()
    for edge in trace.edges:
        if edge.id in edges:
            nodes.add(edge.src)
            nodes.update(d for d in edge.dst if trace.nodes[d].type == "proof_finished")
    return edges, nodes


def _node_element(
    node: NodeRecord, born: int, in_proof: bool, overlay: SearchOverlay
) -> tuple[dict[str, Any], list[Row]]:
    node_id = f"n{node.id}"
    classes = [node.status.value]
    rows: list[Row] = []
    data: dict[str, Any] = {"id": node_id, "born": born}
    if isinstance(node, InternalNodeRecord):
        classes.insert(0, "goal")
        data["label"] = _goal_label(node.goal)
        data.update(overlay.node_data(node))
        rows = [
            ("node", f"{node_id} (goal)"),
            ("hypotheses", "\n".join(node.goal.hypotheses) or "none"),
            ("conclusion", node.goal.conclusion),
            ("status", node.status.value),
            ("depth", str(node.depth)),
            ("visit count", str(node.visit_count)),
            ("cumulative log-probability", fmt(node.cumulative_logprob)),
            ("distance to proof", fmt(node.distance_to_proof)),
            ("explored", "yes" if node.is_explored else "no"),
            *overlay.node_rows(node),
        ]
    elif isinstance(node, ErrorNodeRecord):
        classes[:0] = ["error", node.kind.value]
        data["label"] = node.kind.value
        rows = [
            ("node", f"{node_id} (error)"),
            ("error kind", node.kind.value),
            ("message", node.message or "-"),
        ]
    else:
        classes.insert(0, "finished")
        data["label"] = "QED"
        rows = [("node", f"{node_id} (goal closed)")]
    if in_proof:
        classes.append("proof")
    rows.append(("in proof", "yes" if in_proof else "no"))
    data.update(_box(data["label"], 9))
    return {"data": data, "classes": " ".join(classes)}, rows


def _edge_elements(
    edge: EdgeRecord, born: int, in_proof: bool, overlay: SearchOverlay
) -> tuple[list[dict[str, Any]], list[Row]]:
    """The tactic node of one edge and the connectors from its goal and to its subgoals."""
    tactic_id = f"e{edge.id}"
    classes = ["tactic", edge.status.value, edge.outcome] + (["proof"] if in_proof else [])
    link = " proof" if in_proof else ""
    label = _short(edge.tactic, 48)
    elements = [
        {
            "data": {"id": tactic_id, "label": label, "born": born, **_box(label, 8, extra_w=30)},
            "classes": " ".join(classes),
        },
        {
            "data": {
                "id": f"{tactic_id}-in",
                "source": f"n{edge.src}",
                "target": tactic_id,
                "edge": tactic_id,
                "born": born,
            },
            "classes": "link" + link,
        },
    ]
    for i, dst in enumerate(edge.dst):
        elements.append(
            {
                "data": {
                    "id": f"{tactic_id}-out{i}",
                    "source": tactic_id,
                    "target": f"n{dst}",
                    "edge": tactic_id,
                    "born": born,
                },
                "classes": "link" + link,
            }
        )
    rows: list[Row] = [
        ("edge", f"{tactic_id} (tactic application)"),
        ("tactic", edge.tactic),
        ("log-probability", fmt(edge.logprob)),
        ("outcome", edge.outcome),
        ("status", edge.status.value),
        ("error message", edge.error or "-"),
        ("time in environment", f"{edge.time_s:.4f} s"),
        ("goal", f"n{edge.src}"),
        ("leads to", ", ".join(f"n{d}" for d in edge.dst) or "-"),
        *overlay.edge_rows(edge),
        ("in proof", "yes" if in_proof else "no"),
    ]
    return elements, rows


def attempt_view(trace: ProofTrace) -> dict[str, Any]:
    """Everything the front ends draw for one attempt, as plain JSON data."""
    overlay = overlay_for(trace)
    steps, edge_born, node_born = _replay_births(trace)
    proof_edges, proof_nodes = _proof_parts(trace)
    elements: list[dict[str, Any]] = []
    details: dict[str, list[Row]] = {}
    chosen_at: dict[int, list[int]] = {}
    for position, step in enumerate(steps, start=1):
        chosen_at.setdefault(step.node, []).append(position)
    for node in trace.nodes:
        element, rows = _node_element(
            node, node_born.get(node.id, 0), node.id in proof_nodes, overlay
        )
        if node.id in chosen_at:
            rows.append(("chosen at steps", ", ".join(map(str, chosen_at[node.id]))))
        elements.append(element)
        details[element["data"]["id"]] = rows
    for edge in trace.edges:
        edge_elements, rows = _edge_elements(
            edge, edge_born[edge.id], edge.id in proof_edges, overlay
        )
        elements += edge_elements
        details[f"e{edge.id}"] = rows
    replay = [_replay_start(len(steps))]
    for position, step in enumerate(steps, start=1):
        chosen = trace.nodes[step.node]  # the schema checks that a select names a node
        goal = goal_text(chosen.goal) if isinstance(chosen, InternalNodeRecord) else "?"
        edges = [f"e{extra(r)['edge']}" for r in step.responses]
        replay.append(
            {
                "node": f"n{step.node}",
                "edges": edges,
                "title": f"step {position} of {len(steps)}: expanded n{step.node}",
                "rows": [("goal", goal), *overlay.step_rows(step.select, step.responses)],
                "styles": [
                    {"selector": f"[born > {position}]", "style": {"display": "none"}},
                    *overlay.step_styles(step.select),
                    {"selector": f"#n{step.node}", "style": CHOSEN_STYLE},
                    *({"selector": f"#{e}", "style": FRESH_STYLE} for e in edges),
                ],
            }
        )
    t, counts = trace.timings, trace.counts
    return {
        "key": AttemptRecord.of(trace).key,
        "theorem_id": trace.theorem_id,
        "status": trace.status,
        "summary": [
            ("theorem", trace.theorem_id),
            ("iteration", str(trace.iteration)),
            ("status", trace.status + (f": {trace.error}" if trace.error else "")),
            ("search overlay", overlay.name),
            (
                "time",
                f"{t.total_s:.2f} s (model {t.model_s:.2f}, env {t.env_s:.2f}, "
                f"search {t.search_s:.2f})",
            ),
            (
                "effort",
                f"{counts.expansions} expansions, {counts.nodes} nodes, {counts.edges} edges",
            ),
            ("errors", ", ".join(f"{k} {v}" for k, v in counts.errors.items()) or "-"),
        ],
        "elements": elements,
        "details": details,
        "replay": replay,
        "proof": [
            {"goal": goal_text(s.goal), "tactic": s.tactic, "edge": f"e{s.edge}"}
            for s in trace.proof
        ],
        "stylesheet": BASE_STYLESHEET + overlay.stylesheet(),
        "layout": LAYOUT if len(trace.nodes) + len(trace.edges) <= LAYERED_LIMIT else LARGE_LAYOUT,
    }


def _replay_start(steps: int) -> dict[str, Any]:
    title = f"step 0 of {steps}: the root goal, before any expansion" if steps else ""
    hide = {"selector": "[born > 0]", "style": {"display": "none"}}
    return {"title": title or "no search steps recorded", "rows": [], "styles": [hide]}


def replay_position(view: Mapping[str, Any], position: int) -> dict[str, Any]:
    """Replay position `position` (clamped): its title, rows and the style rules to add."""
    replay: list[dict[str, Any]] = view["replay"]
    return replay[max(0, min(position, len(replay) - 1))]
