"""The report's command line: write a run's plots and HTML page, print where and a summary.

    python -m experiments.end_to_end.report <run_dir> [--out DIR]

Reads every trace under ``<run_dir>/traces`` (a file that does not load is skipped and listed)
and ``configs/<k>.yaml``, and writes ``report.html`` plus the plots as PNG files into DIR
(default ``<run_dir>/report``). Nothing else in the run directory is written. Exit code 2: the
run directory does not exist; 1: the report cannot be written. See docs/report.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from experiments.end_to_end.report.page import write_report
from experiments.end_to_end.report.run_data import RunData, read_run
from experiments.end_to_end.summary import pass_at_1_text


def one_line_summary(run: RunData) -> str:
    """Pass@1 of the evaluated theorems per iteration, as the loop's own log prints it."""
    if not run.attempts:
        return f"no traces ({len(run.skipped)} file(s) skipped)"
    per_iteration = ", ".join(
        f"iteration {m['iteration']} {pass_at_1_text(m)}" for m in run.metrics()
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
