"""The report's HTML page, rendered by Jinja2 from ``templates/report.html.j2``, and its files.

Every value that reaches the page (theorem names, error messages, config values, file names) is
untrusted; the template escapes it (autoescape is on), so nothing here builds markup. The plots
are embedded as ``data:`` URIs, so the one page can be shared without the PNGs next to it.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from jinja2 import Environment, PackageLoader, StrictUndefined

from data.files import write_atomic
from data.traces.attempts import AttemptRecord
from data.traces.files import TRACES_DIR
from experiments.end_to_end.report.plots import PLOTS, error_kinds, png_bytes
from experiments.end_to_end.report.run_data import CONFIG_KEYS, PROBLEM, RunData
from experiments.end_to_end.summary import pass_at_1_text

TOP_N = 10  # rows in the "slowest" and "hardest" tables

_TEMPLATES = Environment(
    loader=PackageLoader("experiments.end_to_end.report"),
    autoescape=True,
    undefined=StrictUndefined,  # a misspelt name in the template is an error, not a blank
    trim_blocks=True,
    lstrip_blocks=True,
)


class Column(NamedTuple):
    key: str
    header: str
    text: bool = False  # left-aligned text rather than a right-aligned number


@dataclass(frozen=True)
class Row:
    """One table row: cells by column key, and attributes of its ``<tr>`` (for tests, styling)."""

    cells: Mapping[str, Any]
    attrs: Mapping[str, Any] = field(default_factory=dict)


_METRIC_COLUMNS = (
    Column("iteration", "iteration"),
    Column("role", "role", text=True),
    Column("attempted", "attempted"),
    Column("proved", "proved"),
    Column("failed", "failed"),
    Column("timeout", "timeout"),
    Column("errored", "errored"),
    Column("pass_at_1", "Pass@1", text=True),
    Column("mean_time_s", "mean time (s)"),
    Column("p95_time_s", "p95 time (s)"),
    Column("mean_model_s", "mean model (s)"),
    Column("mean_env_s", "mean env (s)"),
    Column("mean_search_s", "mean search (s)"),
    Column("mean_expansions", "mean expansions"),
)

_ATTEMPT_COLUMNS = (
    Column("theorem", "theorem", text=True),
    Column("iteration", "iteration"),
    Column("role", "role", text=True),
    Column("status", "status", text=True),
    Column("total_s", "time (s)"),
    Column("model_s", "model (s)"),
    Column("env_s", "env (s)"),
    Column("expansions", "expansions"),
    Column("nodes", "nodes"),
    Column("errors", "errors", text=True),
)
_DID_NOT_RUN_COLUMNS = (*_ATTEMPT_COLUMNS[:3], Column("message", "message", text=True))
_SKIPPED_COLUMNS = (Column("file", "file", text=True), Column("reason", "reason", text=True))


def _metric_rows(metrics: Sequence[dict[str, Any]]) -> tuple[list[Column], list[Row]]:
    """The per-iteration table: one row per (iteration, role) with attempts."""
    kinds = error_kinds(
        k for m in metrics for part in (m, m.get("data") or {}) for k in part.get("errors", {})
    )
    rows = []
    for m in metrics:
        for role, part in (("eval", m), ("data", m.get("data"))):
            if not part or not part["attempted"]:
                continue
            cells: dict[str, Any] = {
                "iteration": m["iteration"],
                "role": role,
                **{k: part[k] for k in ("attempted", "proved", "failed", "timeout", "errored")},
                "pass_at_1": pass_at_1_text(part),
                "mean_search_s": f"{part['mean_search_s']:.4f}",
                "mean_expansions": f"{part['mean_expansions']:.1f}",
                **{k: part["errors"].get(k, 0) for k in kinds},
            }
            for key in ("mean_time_s", "p95_time_s", "mean_model_s", "mean_env_s"):
                cells[key] = f"{part[key]:.2f}"
            rows.append(Row(cells, {"data-iteration": m["iteration"], "data-role": role}))
    return [*_METRIC_COLUMNS, *(Column(k, k) for k in kinds)], rows


def _config_rows(configs: Mapping[int, Mapping[str, str]]) -> tuple[list[Column], list[Row]]:
    """The settings that shaped the run, one column per iteration (checkpoints change)."""
    if not configs:
        return [], []
    iterations = sorted(configs)
    labels = [label for label, _ in CONFIG_KEYS]
    if any(PROBLEM in c for c in configs.values()):
        labels.append(PROBLEM)
    columns = [
        Column("setting", "setting", text=True),
        *(Column(str(k), f"iteration {k}", text=True) for k in iterations),
    ]
    rows = [
        Row({"setting": label, **{str(k): configs[k].get(label, "-") for k in iterations}})
        for label in labels
    ]
    return columns, rows


def _attempt_row(a: AttemptRecord) -> Row:
    return Row(
        {
            "theorem": a.theorem_id,
            "iteration": a.iteration,
            "role": a.role,
            "status": a.status,
            "total_s": f"{a.total_s:.2f}",
            "model_s": f"{a.model_s:.2f}",
            "env_s": f"{a.env_s:.2f}",
            "expansions": a.expansions,
            "nodes": a.nodes,
            "errors": ", ".join(f"{k} {n}" for k, n in sorted(a.errors.items())),
            "message": a.error,
        }
    )


def render_html(run: RunData, images: Mapping[str, bytes], generated: str) -> str:
    """The whole report as one HTML page; `images` maps each PLOTS file name to its PNG."""
    attempts = run.attempts
    slowest = sorted(attempts, key=lambda a: -a.total_s)[:TOP_N]
    hardest = sorted(
        (a for a in attempts if a.status != "proved"), key=lambda a: (-a.expansions, -a.nodes)
    )[:TOP_N]
    metric_columns, metric_rows = _metric_rows(run.metrics())
    config_columns, config_rows = _config_rows(run.configs)
    return _TEMPLATES.get_template("report.html.j2").render(
        run_dir=run.run_dir,
        traces_dir=run.run_dir / TRACES_DIR,
        generated=generated,
        attempts=len(attempts),
        iterations=len(run.iterations),
        skipped=len(run.skipped),
        metric_columns=metric_columns,
        metric_rows=metric_rows,
        plots=[
            {
                "name": name,
                "caption": caption,
                "data": base64.b64encode(images[name]).decode("ascii"),
            }
            for name, caption, _ in PLOTS
        ],
        config_columns=config_columns,
        config_rows=config_rows,
        top_n=TOP_N,
        attempt_columns=_ATTEMPT_COLUMNS,
        slowest=[_attempt_row(a) for a in slowest],
        hardest=[_attempt_row(a) for a in hardest],
        did_not_run_columns=_DID_NOT_RUN_COLUMNS,
        did_not_run=[_attempt_row(a) for a in attempts if a.status == "error"],
        skipped_columns=_SKIPPED_COLUMNS,
        skipped_rows=[
            Row(
                {
                    "file": p.relative_to(run.run_dir) if p.is_relative_to(run.run_dir) else p,
                    "reason": reason,
                }
            )
            for p, reason in run.skipped
        ],
    )


def write_report(run: RunData, out_dir: Path) -> Path:
    """Write the PNGs, then report.html (last, so a complete page means complete plots)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images = {}
    for name, _, plot in PLOTS:
        images[name] = png_bytes(plot(run.attempts))
        write_atomic(out_dir / name, images[name])
    page = out_dir / "report.html"
    write_atomic(page, render_html(run, images, time.strftime("%Y-%m-%d %H:%M:%S")))
    return page
