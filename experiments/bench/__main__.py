"""Run a benchmark: ``python -m experiments.bench <name> [options]``.

Benchmarks print figures (ratios measured in one run), never pass/fail: tests check correctness.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from experiments.bench import (
    batching,
    capacity,
    env,
    generator,
    learning,
    scaling,
    search,
    strength,
)

BENCHMARKS = {
    "env": env,
    "search": search,
    "batching": batching,
    "scaling": scaling,
    "learning": learning,
    "capacity": capacity,
    "strength": strength,
    "generator": generator,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.bench", description=__doc__)
    sub = parser.add_subparsers(dest="name", required=True)
    for name, module in BENCHMARKS.items():
        module.add_arguments(sub.add_parser(name, help=(module.__doc__ or name).splitlines()[0]))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    result = BENCHMARKS[args.name].run(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
