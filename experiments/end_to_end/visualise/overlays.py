"""Search-specific overlays on the generic replay of a `search_trace`.

The replay in ``view.py`` reads only what every search records (``select`` and ``response``
entries, see ``models/end_to_end/search_models/base.py``). An overlay adds what one search
knows: rows in the step and node details, data on the graph's nodes and style rules keyed on
that data (BestFS: the priority; later HTPS values or Fringe fringes). Overlays are chosen by
the search model's class, which a trace records in ``models.search_model.target``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from data.traces.schema import InternalNodeRecord, ModelRecord, SearchEvent

Row = tuple[str, str]


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


class SearchOverlay:
    """The generic overlay: what every search's trace entries say. Subclass for more."""

    name = "generic"

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
        known = {"node", "score", "frontier"}
        rows += [(k, fmt(v)) for k, v in sorted(chosen.items()) if k not in known]
        return rows

    def node_rows(self, node: InternalNodeRecord) -> list[Row]:
        """Rows for a goal's search-specific scores."""
        return [(f"score: {k}", fmt(v)) for k, v in sorted(node.scores.items())]

    def node_data(self, node: InternalNodeRecord) -> dict[str, Any]:
        """Extra data on a goal's graph element, for `stylesheet` rules."""
        return {}

    def stylesheet(self) -> list[dict[str, Any]]:
        """Extra Cytoscape style rules drawn on top of the generic ones."""
        return []


class BestFSOverlay(SearchOverlay):
    """BestFS: the frontier is ordered by priority (cumulative log-probability); show it."""

    name = "bestfs"

    def step_rows(self, select: SearchEvent, responses: list[SearchEvent]) -> list[Row]:
        rows = super().step_rows(select, responses)
        return [("priority (BestFS)", fmt(extra(select).get("score"))), *rows[1:]]

    def node_data(self, node: InternalNodeRecord) -> dict[str, Any]:
        priority = node.scores.get("priority")
        return {"priority": priority} if priority is not None else {}

    def stylesheet(self) -> list[dict[str, Any]]:
        # Higher priority, thicker outline: where BestFS wanted to go next.
        return [
            {
                "selector": "node[priority]",
                "style": {"border-width": "mapData(priority, -20, 0, 1, 5)"},
            }
        ]


OVERLAYS: dict[str, SearchOverlay] = {
    "models.end_to_end.search_models.bestfs.BestFS": BestFSOverlay(),
}
GENERIC = SearchOverlay()


def overlay_for(models: Mapping[str, ModelRecord]) -> SearchOverlay:
    """The overlay of the search model a trace names (its `models` record); generic if unknown."""
    search = models.get("search_model")
    target = search.target if search is not None else None
    return OVERLAYS.get(target, GENERIC) if target is not None else GENERIC
