"""Explore proof attempts in the browser, or export them as one self-contained HTML file.

    python -m experiments.end_to_end.visualise <run_dir> [--host 127.0.0.1] [--port 8050]
    python -m experiments.end_to_end.visualise <run_dir> --html out.html [--attempt 0/EQ_SYM]

`<run_dir>` may also be a traces directory or a single trace file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from experiments.end_to_end.visualise.runs import RunIndex


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.end_to_end.visualise")
    parser.add_argument("source", type=Path, help="run directory, traces directory or trace file")
    parser.add_argument("--host", default="127.0.0.1", help="interface to serve on")
    parser.add_argument("--port", type=int, default=8050, help="port of the web app")
    parser.add_argument("--html", type=Path, help="write a self-contained HTML file instead")
    parser.add_argument(
        "--attempt", action="append", default=[], help="with --html: only this <iteration>/<id>"
    )
    parser.add_argument(
        "--debug", action="store_true", help="Dash debug mode (reloads, tracebacks)"
    )
    args = parser.parse_args(argv)
    try:
        index = RunIndex.load(args.source)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for note in index.notices():
        print(note, file=sys.stderr)
    if args.attempt and not args.html:
        parser.error("--attempt needs --html (the web app lists every attempt)")
    if args.html:
        from experiments.end_to_end.visualise.export import export_html

        try:
            written = export_html(index, args.html, keys=args.attempt or None)
        except KeyError as e:
            print(f"error: {e.args[0]}", file=sys.stderr)
            return 2
        print(f"wrote {args.html} ({written} attempt(s))")
        return 0
    from experiments.end_to_end.visualise.app import make_app

    print(f"serving {len(index.entries)} attempt(s) at http://{args.host}:{args.port}/", flush=True)
    make_app(args.source, index).run(host=args.host, port=args.port, debug=args.debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
