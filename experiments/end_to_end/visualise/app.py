"""The Dash app: list a run's attempts, show one as its proof tree, replay its search.

Layout: filters and the attempt table on the left; on the right the attempt's summary, the
graph (dash-cytoscape, laid out by dagre), the replay slider with the step's details, the
details of the clicked node or tactic, and the extracted proof. Views are built on the server
from the trace (``view.py``) and cached; the browser holds only the selected attempt's key.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, cast

import dash_cytoscape as cyto
from dash import Dash, Input, Output, State, ctx, dcc, html
from dash.dash_table.DataTable import DataTable
from dash.development.base_component import Component

from data.traces.files import TraceError
from data.traces.schema import STATUSES
from experiments.end_to_end.visualise.overlays import Row
from experiments.end_to_end.visualise.runs import SORT_KEYS, RunIndex, attempt_row, read_trace
from experiments.end_to_end.visualise.view import attempt_view, replay_position

ASSETS = Path(__file__).parent / "assets"
COLUMNS = [
    ("iteration", "iter"),
    ("theorem_id", "theorem"),
    ("status", "status"),
    ("total_s", "time (s)"),
    ("nodes", "nodes"),
    ("expansions", "expansions"),
    ("proof_steps", "proof steps"),
]
HINT = "Click a goal or a tactic in the tree to see its details."

cyto.load_extra_layouts()  # dagre: a layered layout for the DAG


def rows_table(rows: list[Row], table_id: str | None = None) -> html.Table:
    """Label/value rows as a table; values keep their line breaks (hypotheses, goals)."""
    body = [html.Tr([html.Th(label), html.Td(html.Pre(value))]) for label, value in rows]
    props: dict[str, Any] = {"className": "rows"}
    if table_id:
        props["id"] = table_id
    return html.Table(html.Tbody(body), **props)


def _filters(index: RunIndex) -> html.Div:
    return html.Div(
        [
            html.Label("status"),
            dcc.Checklist(
                id="filter-status",
                options=list(STATUSES),
                value=[],
                inline=True,
            ),
            html.Label("iteration"),
            dcc.Dropdown(
                id="filter-iteration",
                options=index.iterations,
                value=[],
                multi=True,
                placeholder="all",
            ),
            html.Label("theorem name"),
            dcc.Input(id="filter-name", type="text", placeholder="contains…", debounce=False),
            html.Label("sort by"),
            dcc.RadioItems(id="sort", options=list(SORT_KEYS), value="iteration", inline=True),
        ],
        className="filters",
    )


def _layout(index: RunIndex) -> html.Div:
    rows = [attempt_row(e) for e in index.entries]
    return html.Div(
        [
            html.H2(f"Proof attempts: {index.source}"),
            html.Div(
                [html.Div(note, className="notice") for note in index.notices()],
                id="notices",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            _filters(index),
                            DataTable(
                                id="attempts",
                                columns=[{"id": c, "name": n} for c, n in COLUMNS],
                                data=cast(Any, rows),  # dash's typing
                                page_size=20,
                                cell_selectable=True,
                                style_cell={"fontSize": 12, "textAlign": "left"},
                                style_data_conditional=[
                                    {
                                        "if": {"filter_query": "{status} = proved"},
                                        "backgroundColor": "#e6ffec",
                                    }
                                ],
                            ),
                        ],
                        className="sidebar",
                    ),
                    html.Div(
                        [
                            html.Div(id="attempt-summary", children="Select an attempt."),
                            cyto.Cytoscape(
                                id="tree",
                                elements=[],
                                layout={"name": "dagre"},
                                style={"width": "100%", "height": "560px"},
                                className="tree",
                            ),
                            html.Div(
                                [
                                    html.Div(id="replay-title", className="replay-title"),
                                    dcc.Slider(
                                        id="replay", min=0, max=0, step=1, value=0, marks=None
                                    ),
                                    html.Div(id="replay-rows"),
                                ],
                                className="replay",
                            ),
                            html.H4("Details"),
                            html.Div(HINT, id="details"),
                            html.H4("Proof"),
                            html.Div(id="proof"),
                        ],
                        className="main",
                    ),
                ],
                className="columns",
            ),
            dcc.Store(id="current"),
        ]
    )


def proof_list(view: dict[str, Any]) -> Component:
    if not view["proof"]:
        return html.Div(f"No proof ({view['status']}).")
    return html.Ol(
        [
            html.Li([html.Pre(step["goal"]), html.Span("by "), html.Code(step["tactic"])])
            for step in view["proof"]
        ],
        className="proof-steps",
    )


def make_app(source: Path | str, index: RunIndex | None = None) -> Dash:
    """The app over one run directory (or traces directory, or trace file)."""
    index = index or RunIndex.load(source)
    app = Dash(__name__, assets_folder=str(ASSETS), title="ITP proof attempts")
    app.layout = _layout(index)

    @functools.lru_cache(maxsize=32)
    def view_of(key: str) -> dict[str, Any]:
        return attempt_view(read_trace(index.find(key)))

    @app.callback(
        Output("attempts", "data"),
        Input("filter-status", "value"),
        Input("filter-iteration", "value"),
        Input("filter-name", "value"),
        Input("sort", "value"),
    )
    def filter_attempts(statuses, iterations, name, sort):
        chosen = index.select(statuses or [], iterations or [], name or "", sort or "iteration")
        return [attempt_row(e) for e in chosen]

    @app.callback(
        Output("current", "data"),
        Input("attempts", "active_cell"),
        State("current", "data"),
    )
    def choose_attempt(active_cell, current):
        if not active_cell or "row_id" not in active_cell:
            return current
        return active_cell["row_id"]

    @app.callback(
        Output("tree", "elements"),
        Output("tree", "layout"),
        Output("attempt-summary", "children"),
        Output("proof", "children"),
        Output("replay", "max"),
        Output("replay", "value"),
        Output("replay", "marks"),
        Input("current", "data"),
    )
    def show_attempt(key):
        if not key:
            return [], {"name": "dagre"}, "Select an attempt.", "", 0, 0, None
        try:
            view = view_of(key)
        except (KeyError, TraceError) as e:
            return [], {"name": "dagre"}, html.Div(str(e), className="notice"), "", 0, 0, None
        last = len(view["replay"]) - 1
        marks = {0: "root", last: str(last)} if last else None
        return (
            view["elements"],
            {**view["layout"], "key": key},  # a new layout object re-runs the layout
            rows_table(view["summary"], "summary-table"),
            proof_list(view),
            last,
            last,
            marks,
        )

    @app.callback(
        Output("tree", "stylesheet"),
        Output("replay-title", "children"),
        Output("replay-rows", "children"),
        Input("replay", "value"),
        Input("current", "data"),
    )
    def replay(position, key):
        if not key:
            return [], "", ""
        try:
            view = view_of(key)
        except (KeyError, TraceError):
            return [], "", ""
        at = replay_position(view, position or 0)
        styles = view["stylesheet"] + at["styles"]
        return styles, at["title"], rows_table(at["rows"], "replay-table")

    @app.callback(
        Output("details", "children"),
        Input("tree", "tapNodeData"),
        Input("tree", "tapEdgeData"),
        Input("current", "data"),
    )
    def details(node_data, edge_data, key):
        if not key or ctx.triggered_id == "current":
            return HINT
        clicked = (
            edge_data
            if ctx.triggered and "tapEdgeData" in ctx.triggered[0]["prop_id"]
            else node_data
        )
        if not clicked:
            return HINT
        element = clicked.get("edge", clicked.get("id"))  # a connector shows its tactic
        try:
            rows = view_of(key)["details"].get(element)
        except (KeyError, TraceError) as e:
            return str(e)
        return rows_table(rows, "details-table") if rows else HINT

    return app
