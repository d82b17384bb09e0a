"""Search-specific overlays on the generic replay of a `search_trace`.

The replay in ``view.py`` reads only what every search records (``select`` and ``response``
entries, see ``models/end_to_end/search_models/base.py``). What one search knows beyond that it
declares itself: the first entry of its trace (event ``display``) names its node scores, edge
scores and per-step node sets, each with a description. The overlay built from that entry
shows them: labelled rows in the node, edge and step details, the node sets of a step (HTPS's
hypertree, UpDown's sketch, a Fringe's goals) highlighted while that step is replayed, and the
first node score as the outline width. Traces with no declaration get the generic overlay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from data.traces.schema import EdgeRecord, InternalNodeRecord, ProofTrace, SearchEvent

Row = tuple[str, str]
SET_STYLE = {"border-color": "#d4a72c", "border-width": 4, "border-style": "dashed"}
"""How a step's declared node set (a sketch, a fringe) is drawn while the step is replayed."""


def fmt(value: Any) -> str:
    """Numbers short and readable; None (a non-finite value in the trace) as an infinity."""
    if value is None:
        return "-inf / unknown"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def extra(entry: SearchEvent) -> dict[str, Any]:
    """A search-trace entry's own keys beyond ``step`` and ``event`` (``node``, ``score``...)."""
    return entry.model_extra or {}


def _ids(value: Any) -> list[int]:
    return [v for v in value if isinstance(v, int)] if isinstance(value, list) else []


class SearchOverlay:
    """The generic overlay: what every search's trace entries say."""

    name = "generic"
    step_nodes: Mapping[str, str] = {}

    def step_rows(self, select: SearchEvent, responses: list[SearchEvent]) -> list[Row]:
        """Rows describing one step: the selection and what came back."""
        pushed = [n for r in responses for n in extra(r).get("pushed", [])]
        statuses: dict[str, int] = {}
        for r in responses:
            status = str(extra(r).get("status"))
            statuses[status] = statuses.get(status, 0) + 1
        chosen = extra(select)
        rows = [("score", fmt(chosen.get("score")))]
        if "frontier" in chosen:
            rows.append(("frontier after pop", fmt(chosen["frontier"])))
        rows.append(("tactics applied", str(len(responses))))
        rows.append(
            ("edge statuses", ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) or "-")
        )
        rows.append(("goals pushed", ", ".join(f"n{n}" for n in pushed) or "none"))
        known = {"node", "score", "frontier", *self.step_nodes}
        rows += [(k, fmt(v)) for k, v in sorted(chosen.items()) if k not in known]
        for key, description in self.step_nodes.items():
            ids = _ids(chosen.get(key))
            rows.append((f"{description} ({key})", ", ".join(f"n{i}" for i in ids) or "-"))
        return rows

    def step_styles(self, select: SearchEvent) -> list[dict[str, Any]]:
        """Style rules for one step of the replay: its declared node sets, highlighted."""
        ids = {i for key in self.step_nodes for i in _ids(extra(select).get(key))}
        if not ids:
            return []
        return [{"selector": ", ".join(f"#n{i}" for i in sorted(ids)), "style": SET_STYLE}]

    def node_rows(self, node: InternalNodeRecord) -> list[Row]:
        """Rows for a goal's search-specific scores."""
        return [(f"score: {k}", fmt(v)) for k, v in sorted(node.scores.items())]

    def edge_rows(self, edge: EdgeRecord) -> list[Row]:
        """Rows for a tactic's search-specific scores."""
        return [(f"score: {k}", fmt(v)) for k, v in sorted(edge.scores.items())]

    def node_data(self, node: InternalNodeRecord) -> dict[str, Any]:
        """Extra data on a goal's graph element, for `stylesheet` rules."""
        return {}

    def stylesheet(self) -> list[dict[str, Any]]:
        """Extra Cytoscape style rules drawn on top of the generic ones."""
        return []


class DeclaredOverlay(SearchOverlay):
    """The overlay a search declared in its trace's ``display`` entry."""

    def __init__(self, name: str, display: Mapping[str, Any], nodes: Sequence[Any]) -> None:
        self.name = name
        self.node_scores: dict[str, str] = dict(display.get("node_scores") or {})
        self.edge_scores: dict[str, str] = dict(display.get("edge_scores") or {})
        self.step_nodes = dict(display.get("step_nodes") or {})
        # The first declared node score sets the outline width, over this trace's range.
        self.outline = next(iter(self.node_scores), None)
        values = [
            value
            for n in nodes
            if isinstance(n, InternalNodeRecord)
            and (value := n.scores.get(self.outline or "")) is not None
        ]
        self.range = (min(values), max(values)) if values else None

    def _labelled(self, scores: Mapping[str, Any], declared: Mapping[str, str]) -> list[Row]:
        rows = [(f"{text} ({k})", fmt(scores[k])) for k, text in declared.items() if k in scores]
        return rows + [
            (f"score: {k}", fmt(v)) for k, v in sorted(scores.items()) if k not in declared
        ]

    def node_rows(self, node: InternalNodeRecord) -> list[Row]:
        return self._labelled(node.scores, self.node_scores)

    def edge_rows(self, edge: EdgeRecord) -> list[Row]:
        return self._labelled(edge.scores, self.edge_scores)

    def node_data(self, node: InternalNodeRecord) -> dict[str, Any]:
        value = node.scores.get(self.outline) if self.outline else None
        return {"outline": value} if value is not None else {}

    def stylesheet(self) -> list[dict[str, Any]]:
        if self.range is None:
            return []
        low, high = self.range
        if high <= low:
            high = low + 1.0
        width = f"mapData(outline, {low:g}, {high:g}, 1, 5)"
        return [{"selector": "node[outline]", "style": {"border-width": width}}]


GENERIC = SearchOverlay()


def overlay_for(trace: ProofTrace) -> SearchOverlay:
    """The overlay the trace's search declared (named after its class); generic if none."""
    first = trace.search_trace[0] if trace.search_trace else None
    if first is None or first.event != "display":
        return GENERIC
    search = trace.models.get("search_model")
    target = search.target if search is not None and search.target else "search"
    return DeclaredOverlay(target.rsplit(".", 1)[-1].lower(), extra(first), trace.nodes)
