"""The report's five plots, drawn off-screen (Agg) from attempt records: no display, no pyplot.

Each plot is a `Figure` of the same size (800 x 450 pixels) that says "no data" when there is
no attempt to show; `PLOTS` lists them in page order with their file names and captions.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import get_args

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from data.proof_tree import ErrorKind
from data.traces.attempts import AttemptRecord
from data.traces.schema import Role
from experiments.end_to_end.report.run_data import per_iteration_metrics

ROLES: tuple[str, ...] = get_args(Role)
ERROR_KINDS = tuple(k.value for k in ErrorKind)
FIGSIZE = (8.0, 4.5)  # inches, at DPI: every plot is 800 x 450 pixels
DPI = 100

Draw = Callable[[Axes, Sequence[AttemptRecord], list[int]], None]


def error_kinds(seen: Iterable[str]) -> list[str]:
    """The six known kinds, always (a zero is news too), then any other kind a trace records."""
    return [*ERROR_KINDS, *sorted(set(seen) - set(ERROR_KINDS))]


def _plot(title: str, draw: Draw, attempts: Sequence[AttemptRecord]) -> Figure:
    """A figure of the report's fixed size with no pyplot state: `draw` fills it from the
    attempts and their sorted iterations, or it says "no data"."""
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


def plot_pass_at_1(attempts: Sequence[AttemptRecord]) -> Figure:
    """Pass@1 per iteration, evaluated and data-gathering theorems side by side, with counts."""
    return _plot("Pass@1 per iteration", _draw_pass_at_1, attempts)


def _draw_pass_at_1(ax: Axes, attempts: Sequence[AttemptRecord], iterations: list[int]) -> None:
    # The same numbers as the per-iteration table and summary.json: summary.py's metrics.
    metrics = per_iteration_metrics(attempts)
    roles = [r for r in ROLES if any(a.role == r for a in attempts)]
    width = 0.8 / len(roles)
    for j, role in enumerate(roles):
        xs, rates, labels = [], [], []
        for i, m in enumerate(metrics):
            part = m if role == "eval" else m.get("data")
            if part and part["attempted"]:
                xs.append(i + _offset(j, len(roles), width))
                rates.append(part["pass_at_1"])
                labels.append(f"{part['pass_at_1']:.3f}\n{part['proved']}/{part['attempted']}")
        label = "evaluated" if role == "eval" else "data gathering"
        bars = ax.bar(xs, rates, width, label=label)
        ax.bar_label(bars, labels, padding=2, fontsize=8)
    _iteration_axis(ax, iterations)
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("Pass@1 (proved / attempted)")
    ax.legend(loc="upper left")


def plot_attempt_times(attempts: Sequence[AttemptRecord]) -> Figure:
    """How wall-clock time per attempt is distributed, per iteration (box plus every attempt)."""
    return _plot("Attempt wall-clock time per iteration (all attempts)", _draw_times, attempts)


def _draw_times(ax: Axes, attempts: Sequence[AttemptRecord], iterations: list[int]) -> None:
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


def plot_model_vs_env_time(attempts: Sequence[AttemptRecord]) -> Figure:
    """Where the time goes: mean model, environment, search and other time, per iteration."""
    return _plot(
        "Mean time per attempt: model vs environment vs search (all attempts)",
        _draw_time_split,
        attempts,
    )


def _draw_time_split(ax: Axes, attempts: Sequence[AttemptRecord], iterations: list[int]) -> None:
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


def plot_error_kinds(attempts: Sequence[AttemptRecord]) -> Figure:
    """Error counts by kind per iteration: which failure modes grow or shrink as models train."""
    return _plot("Tactic errors by kind per iteration (all attempts)", _draw_errors, attempts)


def _draw_errors(ax: Axes, attempts: Sequence[AttemptRecord], iterations: list[int]) -> None:
    kinds = error_kinds(kind for a in attempts for kind in a.errors)
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


def _error_counts(attempts: Iterable[AttemptRecord]) -> Counter[str]:
    total: Counter[str] = Counter()
    for a in attempts:
        total.update(a.errors)
    return total


def plot_proof_length(attempts: Sequence[AttemptRecord]) -> Figure:
    """How long found proofs are (steps of the proof script), per iteration."""
    proved = [a for a in attempts if a.status == "proved"]
    return _plot("Proof length of proved attempts (steps in trace.proof)", _draw_lengths, proved)


def _draw_lengths(ax: Axes, proved: Sequence[AttemptRecord], iterations: list[int]) -> None:
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
PLOTS: tuple[tuple[str, str, Callable[[Sequence[AttemptRecord]], Figure]], ...] = (
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
