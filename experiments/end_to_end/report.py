"""A run's report: plots and one self-contained HTML page, computed from its traces.

    python -m experiments.end_to_end.report <run_dir> [--out DIR]

Reads every trace under ``<run_dir>/traces`` through the one trace loader (a file that does not
load is skipped and listed), takes each attempt's role (eval/data) from ``attempts/<k>.jsonl``
and the run's settings from ``configs/<k>.yaml``, and writes ``report.html`` (plots embedded as
``data:`` URIs, so the one file can be shared) plus the plots as PNG files into DIR (default
``<run_dir>/report``). Nothing else in the run directory is written. See docs/report.md.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from data.files import write_atomic
from data.proof_tree import ErrorKind
from experiments.end_to_end import summary as summaries
from experiments.end_to_end.traces import TRACES_DIR, iter_traces

ROLES = ("eval", "data")
ERROR_KINDS = tuple(k.value for k in ErrorKind)
TOP_N = 10  # rows in the "slowest" and "hardest" tables
FIGSIZE = (8.0, 4.5)  # inches, at DPI: every plot is 800 x 450 pixels
DPI = 100

# (label, dotted key into configs/<k>.yaml) of the settings the report shows.
CONFIG_KEYS = (
    ("experiment", "exp_config.name"),
    ("tac_model", "tac_model._target_"),
    ("tac_model checkpoint", "tac_model.ckpt_path"),
    ("search_model", "search_model._target_"),
    ("total_timeout (s)", "total_timeout"),
    ("env_timeout (s)", "env_timeout"),
    ("tactic timeout (s)", "env_config.environment.timeout"),
    ("num_sampled_tactics", "num_sampled_tactics"),
    ("evaluated", "num_theorems"),
    ("evaluated split", "split"),
    ("data theorems", "num_data_theorems"),
    ("data split", "data_split"),
)


@dataclass(frozen=True)
class Attempt:
    """The figures of one attempt the report uses: plots and tables read these, not traces."""

    path: Path
    iteration: int
    theorem_id: str
    role: str
    status: str
    total_s: float
    model_s: float
    env_s: float
    search_s: float
    expansions: int
    nodes: int
    proof_length: int
    errors: Mapping[str, int]
    error: str  # why an attempt with status "error" did not run; "" otherwise

    def summary_line(self) -> dict[str, Any]:
        """The attempt as an ``attempts/<k>.jsonl`` line, so metrics are summary.py's own."""
        return {
            "theorem_id": self.theorem_id,
            "role": self.role,
            "status": self.status,
            "total_s": self.total_s,
            "model_s": self.model_s,
            "env_s": self.env_s,
            "search_s": self.search_s,
            "expansions": self.expansions,
            "nodes": self.nodes,
            "errors": dict(self.errors),
        }


@dataclass
class RunData:
    """Everything read from a run directory: attempts, files that did not load, configs."""

    run_dir: Path
    attempts: list[Attempt]
    skipped: list[tuple[Path, str]]
    configs: dict[int, dict[str, str]]

    @property
    def iterations(self) -> list[int]:
        return sorted({a.iteration for a in self.attempts})

    def metrics(self) -> list[dict[str, Any]]:
        """Per-iteration metrics exactly as summary.json computes them (eval; ``data`` inside)."""
        return [
            summaries.iteration_metrics(
                k, (a.summary_line() for a in self.attempts if a.iteration == k)
            )
            for k in self.iterations
        ]


# --- reading -------------------------------------------------------------------------------


def collect_attempts(
    run_dir: Path, *, progress: bool = True
) -> tuple[list[Attempt], list[tuple[Path, str]]]:
    """One `Attempt` per trace that loads, and ``(path, reason)`` for each file that does not."""
    traces_dir = run_dir / TRACES_DIR
    if not traces_dir.is_dir():
        return [], []
    loader = iter_traces(traces_dir)
    roles: dict[int, dict[str, str]] = {}
    attempts = []
    with (
        logging_redirect_tqdm(),
        tqdm(
            loader.with_paths(),
            total=len(loader.files),
            desc="reading traces",
            unit="trace",
            file=sys.stderr,
            disable=not progress,
        ) as bar,
    ):
        for path, trace in bar:
            if trace.iteration not in roles:
                lines = summaries.read_attempts(run_dir, trace.iteration)
                roles[trace.iteration] = {k: str(v.get("role", "eval")) for k, v in lines.items()}
            t = trace.timings
            attempts.append(
                Attempt(
                    path=path,
                    iteration=trace.iteration,
                    theorem_id=trace.theorem_id,
                    role=roles[trace.iteration].get(trace.theorem_id, "eval"),
                    status=trace.status,
                    total_s=t.total_s,
                    model_s=t.model_s,
                    env_s=t.env_s,
                    search_s=t.search_s,
                    expansions=int(trace.counts["expansions"]),
                    nodes=int(trace.counts["nodes"]),
                    proof_length=len(trace.proof),
                    errors=dict(trace.counts["errors"]),
                    error=trace.error,
                )
            )
    return attempts, list(loader.skipped)


def read_configs(run_dir: Path) -> dict[int, dict[str, str]]:
    """The settings of CONFIG_KEYS per iteration, from ``configs/<k>.yaml`` (where present)."""
    configs: dict[int, dict[str, str]] = {}
    config_dir = run_dir / "configs"
    if not config_dir.is_dir():
        return configs
    for path in sorted(config_dir.glob("*.yaml")):
        if not (path.stem.isascii() and path.stem.isdigit()):
            continue
        try:
            cfg = yaml.safe_load(path.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            configs[int(path.stem)] = {"problem": f"{path.name}: unreadable ({e})"}
            continue
        if not isinstance(cfg, dict):
            configs[int(path.stem)] = {"problem": f"{path.name}: not a mapping"}
            continue
        configs[int(path.stem)] = {label: _dig(cfg, key) for label, key in CONFIG_KEYS}
    return configs


def _dig(cfg: Mapping[str, Any], dotted: str) -> str:
    value: Any = cfg
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return "-"
        value = value[part]
    return "-" if value is None else str(value)


def read_run(run_dir: Path, *, progress: bool = True) -> RunData:
    """All the report needs from a run directory; reads it, writes nothing."""
    attempts, skipped = collect_attempts(run_dir, progress=progress)
    return RunData(run_dir, attempts, skipped, read_configs(run_dir))


# --- plots ---------------------------------------------------------------------------------

Draw = Callable[[Axes, Sequence[Attempt], list[int]], None]


def _plot(title: str, draw: Draw, attempts: Sequence[Attempt]) -> Figure:
    """An off-screen (Agg) figure of the report's fixed size, no display and no pyplot state:
    `draw` fills it from the attempts and their sorted iterations, or it says "no data"."""
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_title(title)
    iterations = sorted({a.iteration for a in attempts})
    if iterations:
        draw(ax, attempts, iterations)
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", fontsize=16, color="grey")
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def _iteration_axis(ax: Axes, iterations: Sequence[int]) -> None:
    ax.set_xticks(range(len(iterations)), [f"iteration {k}" for k in iterations])


def _offset(j: int, groups: int, width: float) -> float:
    """Where bar `j` of `groups` side-by-side bars of `width` sits, relative to its tick."""
    return (j - (groups - 1) / 2) * width


def plot_pass_at_1(attempts: Sequence[Attempt]) -> Figure:
    """Pass@1 per iteration, evaluated and data-gathering theorems side by side, with counts."""
    return _plot("Pass@1 per iteration", _draw_pass_at_1, attempts)


def _draw_pass_at_1(ax: Axes, attempts: Sequence[Attempt], iterations: list[int]) -> None:
    roles = [r for r in ROLES if any(a.role == r for a in attempts)]
    width = 0.8 / len(roles)
    for j, role in enumerate(roles):
        xs, rates, labels = [], [], []
        for i, k in enumerate(iterations):
            rows = [a for a in attempts if a.iteration == k and a.role == role]
            if rows:
                proved = sum(a.status == "proved" for a in rows)
                xs.append(i + _offset(j, len(roles), width))
                rates.append(proved / len(rows))
                labels.append(f"{proved / len(rows):.3f}\n{proved}/{len(rows)}")
        label = "evaluated" if role == "eval" else "data gathering"
        bars = ax.bar(xs, rates, width, label=label)
        ax.bar_label(bars, labels, padding=2, fontsize=8)
    _iteration_axis(ax, iterations)
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("Pass@1 (proved / attempted)")
    ax.legend(loc="upper left")


def plot_attempt_times(attempts: Sequence[Attempt]) -> Figure:
    """How wall-clock time per attempt is distributed, per iteration (box plus every attempt)."""
    return _plot("Attempt wall-clock time per iteration (all attempts)", _draw_times, attempts)


def _draw_times(ax: Axes, attempts: Sequence[Attempt], iterations: list[int]) -> None:
    times = [[a.total_s for a in attempts if a.iteration == k] for k in iterations]
    ax.boxplot(
        times,
        positions=range(len(iterations)),
        widths=0.5,
        showfliers=False,  # every attempt is drawn as a point below
        medianprops={"color": "black"},
    )
    jitter = np.random.default_rng(0)  # fixed: the same run gives the same picture
    for role, colour in zip(ROLES, ("tab:blue", "tab:orange"), strict=True):
        xs: list[float] = []
        ys: list[float] = []
        for i, k in enumerate(iterations):
            rows = [a.total_s for a in attempts if a.iteration == k and a.role == role]
            xs.extend(i + jitter.uniform(-0.15, 0.15, len(rows)))
            ys.extend(rows)
        if ys:
            ax.scatter(xs, ys, s=12, alpha=0.6, color=colour, label=role)
    _iteration_axis(ax, iterations)
    ax.set_ylabel("timings.total_s (s)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right")


def plot_model_vs_env_time(attempts: Sequence[Attempt]) -> Figure:
    """Where the time goes: mean model, environment, search and other time, per iteration."""
    return _plot(
        "Mean time per attempt: model vs environment vs search (all attempts)",
        _draw_time_split,
        attempts,
    )


def _draw_time_split(ax: Axes, attempts: Sequence[Attempt], iterations: list[int]) -> None:
    means: dict[str, list[float]] = {"model": [], "environment": [], "search": [], "other": []}
    for k in iterations:
        rows = [a for a in attempts if a.iteration == k]
        model, env, search, total = (
            float(np.mean([getattr(a, f) for a in rows]))
            for f in ("model_s", "env_s", "search_s", "total_s")
        )
        means["model"].append(model)
        means["environment"].append(env)
        means["search"].append(search)
        means["other"].append(max(0.0, total - model - env - search))
    bottom = np.zeros(len(iterations))
    tallest = max(1e-9, *(sum(parts) for parts in zip(*means.values(), strict=True)))
    for name, values in means.items():
        bars = ax.bar(range(len(iterations)), values, 0.5, bottom=bottom, label=name)
        # Only segments tall enough to hold their number are labelled; the legend names them all.
        labels = [f"{v:.2f}" if v >= 0.06 * tallest else "" for v in values]
        ax.bar_label(bars, labels, label_type="center", fontsize=8)
        bottom += values
    for i, total in enumerate(bottom):
        ax.text(i, total, f"total {total:.2f} s", ha="center", va="bottom", fontsize=8)
    _iteration_axis(ax, iterations)
    ax.set_ylim(0, tallest * 1.3)
    ax.set_ylabel("mean seconds per attempt")
    ax.legend(loc="upper right", ncols=4, fontsize=8)


def plot_error_kinds(attempts: Sequence[Attempt]) -> Figure:
    """Error counts by kind per iteration: which failure modes grow or shrink as models train."""
    return _plot("Tactic errors by kind per iteration (all attempts)", _draw_errors, attempts)


def _draw_errors(ax: Axes, attempts: Sequence[Attempt], iterations: list[int]) -> None:
    kinds = _error_kinds(kind for a in attempts for kind in a.errors)
    counts = {k: _error_counts(a for a in attempts if a.iteration == k) for k in iterations}
    width = 0.8 / len(kinds)
    for j, kind in enumerate(kinds):
        values = [counts[k][kind] for k in iterations]
        xs = [i + _offset(j, len(kinds), width) for i in range(len(iterations))]
        bars = ax.bar(xs, values, width, label=kind)
        ax.bar_label(bars, [str(v) if v else "" for v in values], padding=1, fontsize=7)
    _iteration_axis(ax, iterations)
    ax.set_ylabel("error nodes")
    ax.legend(fontsize=8, ncols=2)


def plot_proof_length(attempts: Sequence[Attempt]) -> Figure:
    """How long found proofs are (steps of the proof script), per iteration."""
    proved = [a for a in attempts if a.status == "proved"]
    return _plot("Proof length of proved attempts (steps in trace.proof)", _draw_lengths, proved)


def _draw_lengths(ax: Axes, proved: Sequence[Attempt], iterations: list[int]) -> None:
    longest = max(a.proof_length for a in proved)
    lengths = np.arange(1, longest + 1)
    width = 0.8 / len(iterations)
    for j, k in enumerate(iterations):
        steps = [a.proof_length for a in proved if a.iteration == k]
        counts = np.bincount(steps, minlength=longest + 1)[1:]
        xs = lengths + _offset(j, len(iterations), width)
        bars = ax.bar(xs, counts, width, label=f"iteration {k}")
        ax.bar_label(bars, [str(c) if c else "" for c in counts], padding=1, fontsize=8)
    ax.set_xticks(lengths)
    ax.set_xlabel("proof steps")
    ax.set_ylabel("proved attempts")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()


# (file name, caption, plot function): the report's plots, in page order.
PLOTS: tuple[tuple[str, str, Callable[[Sequence[Attempt]], Figure]], ...] = (
    ("pass_at_1.png", "Pass@1 per iteration, with proved/attempted counts", plot_pass_at_1),
    ("attempt_times.png", "Distribution of attempt wall-clock time", plot_attempt_times),
    ("model_vs_env_time.png", "Mean model, environment and search time", plot_model_vs_env_time),
    ("error_kinds.png", "Error counts by kind", plot_error_kinds),
    ("proof_length.png", "Proof length of proved attempts", plot_proof_length),
)


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _error_kinds(seen: Iterable[str]) -> list[str]:
    """The six known kinds, always (a zero is news too), then any other kind a trace records."""
    return [*ERROR_KINDS, *sorted(set(seen) - set(ERROR_KINDS))]


def _error_counts(attempts: Iterable[Attempt]) -> Counter[str]:
    total: Counter[str] = Counter()
    for a in attempts:
        total.update(a.errors)
    return total


# --- HTML ----------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222 }
table { border-collapse: collapse; margin: 0.5em 0 1.5em }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right }
th { background: #f3f3f3 }
td.text, th.text { text-align: left }
figure { margin: 1em 0 }
img { max-width: 100%; border: 1px solid #ddd }
.note { color: #666 }
code { background: #f5f5f5 }
"""

# (key, header, is text) of the per-iteration table's columns.
_METRIC_COLUMNS = (
    ("iteration", "iteration", False),
    ("role", "role", True),
    ("attempted", "attempted", False),
    ("proved", "proved", False),
    ("pass_at_1", "Pass@1", False),
    ("statuses", "statuses", True),
    ("mean_time_s", "mean time (s)", False),
    ("p95_time_s", "p95 time (s)", False),
    ("mean_model_s", "mean model (s)", False),
    ("mean_env_s", "mean env (s)", False),
    ("mean_search_s", "mean search (s)", False),
    ("mean_expansions", "mean expansions", False),
)

_ATTEMPT_COLUMNS = (
    ("theorem", "theorem", True),
    ("iteration", "iteration", False),
    ("role", "role", True),
    ("status", "status", True),
    ("total_s", "time (s)", False),
    ("model_s", "model (s)", False),
    ("env_s", "env (s)", False),
    ("expansions", "expansions", False),
    ("nodes", "nodes", False),
    ("errors", "errors", True),
)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(
    columns: Sequence[tuple[str, str, bool]],
    rows: Sequence[Mapping[str, Any]],
    row_attrs: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """An HTML table; every header, cell and attribute is escaped here, once."""
    head = "".join(f'<th class="{"text" if t else "num"}">{_e(h)}</th>' for _, h, t in columns)
    body = []
    for i, row in enumerate(rows):
        attrs = "".join(
            f' {_e(k)}="{_e(v)}"' for k, v in (row_attrs[i] if row_attrs else {}).items()
        )
        cells = "".join(
            f'<td data-col="{_e(key)}" class="{"text" if t else "num"}">{_e(row.get(key, ""))}</td>'
            for key, _, t in columns
        )
        body.append(f"<tr{attrs}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def pass_at_1_text(metrics: Mapping[str, Any]) -> str:
    """How the report (and the loop's log) prints Pass@1: three decimals."""
    return f"{metrics['pass_at_1']:.3f}"


def _metrics_section(metrics: Sequence[Mapping[str, Any]]) -> str:
    """The per-iteration table: one row per (iteration, role) with attempts."""
    kinds = _error_kinds(
        k for m in metrics for part in (m, m.get("data") or {}) for k in part.get("errors", {})
    )
    rows, attrs = [], []
    for m in metrics:
        for role, part in (("eval", m), ("data", m.get("data"))):
            if not part or not part["attempted"]:
                continue
            row: dict[str, Any] = {
                "iteration": m["iteration"],
                "role": role,
                "attempted": part["attempted"],
                "proved": part["proved"],
                "pass_at_1": pass_at_1_text(part),
                "statuses": ", ".join(f"{s} {n}" for s, n in sorted(part["statuses"].items())),
                "mean_search_s": f"{part['mean_search_s']:.4f}",
                "mean_expansions": f"{part['mean_expansions']:.1f}",
            }
            for key in ("mean_time_s", "p95_time_s", "mean_model_s", "mean_env_s"):
                row[key] = f"{part[key]:.2f}"
            row.update({kind: part["errors"].get(kind, 0) for kind in kinds})
            rows.append(row)
            attrs.append({"data-iteration": m["iteration"], "data-role": role})
    if not rows:
        return '<h2>Per iteration</h2><p class="note">No attempts.</p>'
    columns = [*_METRIC_COLUMNS, *((k, k, False) for k in kinds)]
    return (
        '<h2>Per iteration</h2><p class="note">Pass@1 = proved / attempted. "eval" rows are the '
        'evaluated theorems (the run\'s Pass@1, as in summary.json), "data" rows the '
        "data-gathering ones. Error columns count error nodes of that kind.</p>"
        + _table(columns, rows, attrs)
    )


def _plots_section(images: Mapping[str, bytes]) -> str:
    """Every plot inline as a data: URI, so the page needs no file next to it."""
    figures = []
    for name, caption, _ in PLOTS:
        data = base64.b64encode(images[name]).decode("ascii")
        figures.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)} (<code>{_e(name)}</code>)</figcaption></figure>"
        )
    return "<h2>Plots</h2>" + "\n".join(figures)


def _config_section(configs: Mapping[int, Mapping[str, str]]) -> str:
    """The settings that shaped the run, one column per iteration (checkpoints change)."""
    if not configs:
        return '<h2>Configuration</h2><p class="note">No configs/&lt;k&gt;.yaml in the run.</p>'
    iterations = sorted(configs)
    labels = [label for label, _ in CONFIG_KEYS]
    if any("problem" in c for c in configs.values()):
        labels.append("problem")
    columns = [
        ("setting", "setting", True),
        *((str(k), f"iteration {k}", True) for k in iterations),
    ]
    rows = [
        {"setting": label, **{str(k): configs[k].get(label, "-") for k in iterations}}
        for label in labels
    ]
    return "<h2>Configuration</h2>" + _table(columns, rows)


def _attempts_section(attempts: Sequence[Attempt]) -> str:
    """The attempts worth a look: the slowest, the hardest unproved, those that did not run."""
    slowest = sorted(attempts, key=lambda a: -a.total_s)[:TOP_N]
    hardest = sorted(
        (a for a in attempts if a.status != "proved"), key=lambda a: (-a.expansions, -a.nodes)
    )[:TOP_N]
    parts = [
        f'<h2>Slowest attempts</h2><p class="note">The {TOP_N} longest by wall clock.</p>',
        _table(_ATTEMPT_COLUMNS, [_attempt_row(a) for a in slowest]),
        f'<h2>Hardest attempts</h2><p class="note">The {TOP_N} unproved attempts with the most '
        "expansions (then nodes).</p>",
        _table(_ATTEMPT_COLUMNS, [_attempt_row(a) for a in hardest]),
    ]
    did_not_run = [a for a in attempts if a.status == "error"]
    if did_not_run:
        parts.append(
            '<h2>Attempts that did not run</h2><p class="note">Status <code>error</code>: the '
            "attempt itself failed (e.g. its worker died twice).</p>"
        )
        columns = [*_ATTEMPT_COLUMNS[:3], ("message", "message", True)]
        parts.append(_table(columns, [_attempt_row(a) for a in did_not_run]))
    return "\n".join(parts)


def _skipped_section(run: RunData) -> str:
    """Every trace file that did not load, with the loader's reason: no silent gaps."""
    if not run.skipped:
        return (
            '<h2 id="skipped">Skipped files</h2><p class="note">None: every trace file loaded.</p>'
        )
    rows = [{"file": _relative(p, run.run_dir), "reason": reason} for p, reason in run.skipped]
    return (
        f'<h2 id="skipped">Skipped files</h2><p>{len(run.skipped)} trace file(s) did not load '
        "and are left out of every figure:</p>"
        + _table([("file", "file", True), ("reason", "reason", True)], rows)
    )


def _attempt_row(a: Attempt) -> dict[str, Any]:
    return {
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


def render_html(run: RunData, images: Mapping[str, bytes], generated: str) -> str:
    """The whole report as one HTML page; `images` maps each PLOTS file name to its PNG."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Run report: {_e(run.run_dir.name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Run report</h1>",
        f"<p>Run directory <code>{_e(run.run_dir)}</code>, report made {_e(generated)}: "
        f"{len(run.attempts)} trace(s) read in {len(run.iterations)} iteration(s), "
        f"{len(run.skipped)} file(s) skipped.</p>",
    ]
    if not run.attempts:
        parts.append(
            f'<p class="note" id="no-traces">No traces: nothing loaded from '
            f"<code>{_e(run.run_dir / TRACES_DIR)}</code>, so every plot shows no data.</p>"
        )
    parts += [
        _metrics_section(run.metrics()),
        _plots_section(images),
        _config_section(run.configs),
        _attempts_section(run.attempts),
        _skipped_section(run),
        "</body></html>\n",
    ]
    return "\n".join(parts)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# --- writing and the CLI -------------------------------------------------------------------


def write_report(run: RunData, out_dir: Path) -> Path:
    """Write the PNGs, then report.html (last, so a complete page means complete plots)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images = {}
    for name, _, plot in PLOTS:
        images[name] = png_bytes(plot(run.attempts))
        write_atomic(out_dir / name, images[name])
    page = out_dir / "report.html"
    generated = time.strftime("%Y-%m-%d %H:%M:%S")
    write_atomic(page, render_html(run, images, generated).encode("utf-8"))
    return page


def one_line_summary(run: RunData) -> str:
    """Pass@1 of the evaluated theorems per iteration, as the loop's own log prints it."""
    if not run.attempts:
        return f"no traces ({len(run.skipped)} file(s) skipped)"
    per_iteration = ", ".join(
        f"iteration {m['iteration']} {pass_at_1_text(m)} ({m['proved']}/{m['attempted']})"
        for m in run.metrics()
    )
    return f"{len(run.attempts)} trace(s), {len(run.skipped)} skipped; Pass@1 {per_iteration}"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the report of ``<run_dir>``; exit 2 when the run directory does not exist."""
    parser = argparse.ArgumentParser(
        prog="python -m experiments.end_to_end.report",
        description="Plots and a self-contained HTML report of a run, from its traces.",
    )
    parser.add_argument("run_dir", type=Path, help="a run directory (it holds traces/)")
    parser.add_argument(
        "--out", type=Path, default=None, help="output directory (default: <run_dir>/report)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    run_dir: Path = args.run_dir
    if not run_dir.is_dir():
        what = "is not a directory" if run_dir.exists() else "does not exist"
        print(
            f"error: run directory {run_dir} {what} (pass the directory a run wrote, the one "
            "holding traces/ and summary.json)",
            file=sys.stderr,
        )
        return 2
    out_dir = args.out if args.out is not None else run_dir / "report"
    run = read_run(run_dir)
    try:
        page = write_report(run, out_dir)
    except OSError as e:
        print(f"error: cannot write the report into {out_dir}: {e}", file=sys.stderr)
        return 1
    if run.skipped:
        # The loader has already logged each file and its reason as it skipped it.
        print(
            f"skipped {len(run.skipped)} trace file(s) that did not load (listed under "
            "'Skipped files' in the report)",
            file=sys.stderr,
        )
    print(f"report written to {page}")
    print(one_line_summary(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
