"""The self-contained HTML export: one file that opens without a server or network.

It holds the same views the Dash app draws (``view.py``), as JSON, and the same graph
component: React and dash-cytoscape's bundle, taken from the installed ``dash`` and
``dash_cytoscape`` packages and inlined as data URIs, driven by ``static/standalone.js``.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dash
import dash_cytoscape

from data.files import write_atomic
from data.traces.loader import TraceLoader
from experiments.end_to_end.visualise.runs import RunIndex, attempt_row
from experiments.end_to_end.visualise.view import attempt_view

ASSETS = Path(__file__).parent / "assets"  # what the Dash app serves too: the styles
STATIC = Path(__file__).parent / "static"  # the export's own viewer script


def _newest(directory: Path, name: str) -> Path:
    """The highest version of ``<name>@<version>.min.js`` that dash ships."""
    found = list(directory.glob(f"{name}@*.min.js"))
    if not found:
        raise FileNotFoundError(f"{directory}: no {name}@<version>.min.js in this dash install")

    def version(path: Path) -> tuple[int, ...]:
        match = re.search(r"@([\d.]+)\.min\.js$", path.name)
        return tuple(int(x) for x in match.group(1).split(".") if x) if match else ()

    return max(found, key=version)


def library_scripts() -> list[Path]:
    """React, ReactDOM, prop-types and dash-cytoscape (with the dagre layout), in load order."""
    deps = Path(dash.__file__).parent / "deps"
    react = _newest(deps, "react")
    react_dom = deps / react.name.replace("react@", "react-dom@")
    if not react_dom.exists():
        raise FileNotFoundError(f"{react_dom}: dash ships no ReactDOM matching {react.name}")
    bundle = Path(dash_cytoscape.__file__).parent / "dash_cytoscape_extra.min.js"
    return [react, react_dom, _newest(deps, "prop-types"), bundle]


def _script(source: str) -> str:
    # A data URI sidesteps every "</script>" and "<!--" inside minified code.
    encoded = base64.b64encode(source.encode("utf-8")).decode("ascii")
    return f'<script src="data:text/javascript;charset=utf-8;base64,{encoded}"></script>'


def _json_block(data: Any) -> str:
    # "<" escaped as \u003c: no trace text (a theorem name, an error message) can end the block.
    text = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    return f'<script type="application/json" id="itp-data">{text}</script>'


def render(data: dict[str, Any], title: str) -> str:
    """The whole page: styles, the data block, the libraries and the viewer script."""
    scripts = [_script(p.read_text(encoding="utf-8")) for p in library_scripts()]
    scripts.append(_script((STATIC / "standalone.js").read_text(encoding="utf-8")))
    css = (ASSETS / "viewer.css").read_text(encoding="utf-8")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{css}</style></head><body>",
            '<div id="app"></div>',
            _json_block(data),
            *scripts,
            "</body></html>",
        ]
    )


def export_html(index: RunIndex, out: Path, keys: Sequence[str] | None = None) -> int:
    """Write the attempts of `index` (or only `keys`) to `out`; returns how many it holds.

    A trace that no longer loads is left out and named in the page's notices.
    """
    entries = [index.find(k) for k in keys] if keys else list(index.entries)
    notices = index.notices() if not keys else []
    views: dict[str, Any] = {}
    rows = []
    by_path = {str(entry.path): entry for entry in entries}
    gone = [path for path in by_path if not Path(path).is_file()]  # deleted since indexing
    notices += [f"Skipped {path}: the trace file no longer exists" for path in gone]
    loader = TraceLoader([p for p in by_path if p not in gone], progress="building views")
    for path, trace in loader.with_paths():
        entry = by_path[str(path)]
        views[entry.key] = attempt_view(trace)
        rows.append({k: v for k, v in attempt_row(entry).items() if k != "path"})  # no local paths
    notices += [f"Skipped {reason}" for _, reason in loader.skipped]  # reasons name the file
    data = {
        "source": str(index.source),
        "notices": notices,
        "entries": rows,
        "views": views,
    }
    page = render(data, f"Proof attempts: {index.source}")
    write_atomic(Path(out), page)
    return len(views)
