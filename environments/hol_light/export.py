"""Export HOL Light's named theorems to ``data/hol_light/theorems.jsonl``.

    python -m environments.hol_light.export [--output PATH] [--hol-dir /usr/share/hol-light]

Asks a loaded HOL Light for every theorem in ``!theorems`` (statement and typed
s-expression), rebuilds the load order from the sources ``hol.ml`` loads, assigns each theorem
its deterministic split, and writes one JSON line per theorem, atomically.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from data.files import write_atomic
from data.hol_light.database import DEFAULT_PATH, TheoremRecord
from data.proof_tree import Goal
from data.splits import split_of
from environments.hol_light.driver import shared_prover
from environments.hol_light.load_order import load_order, source_files
from environments.hol_light.process import DEFAULT_HOL_DIR

log = logging.getLogger(__name__)


def export(output: Path, hol_dir: Path = DEFAULT_HOL_DIR) -> list[TheoremRecord]:
    theorems = shared_prover().theorems()
    names = {t["name"] for t in theorems}
    order = load_order(hol_dir, names)
    files = source_files(hol_dir, names)
    missing = sorted(names - set(order))
    if missing:
        # Not bound in any file hol.ml loads: put them last, in name order, and say so.
        log.warning(
            "%d theorems not found in the sources; placed last: %s", len(missing), missing[:10]
        )
        for name in missing:
            order[name] = len(order)
    ranked = sorted(theorems, key=lambda t: order[t["name"]])
    records = []
    for position, theorem in enumerate(ranked):
        goal = theorem["goal"]
        records.append(
            TheoremRecord(
                name=theorem["name"],
                statement=goal.conclusion,
                sexp=goal.conclusion_sexp,
                position=position,
                split=split_of(theorem["name"]),
                file=files.get(theorem["name"], ""),
                hypotheses=goal.hypotheses,
                hypothesis_sexps=goal.hypothesis_sexps,
            )
        )
    write_atomic(output, "".join(record.to_json() + "\n" for record in records))
    # A check of the export, not a filter: printed terms drop type annotations, so some
    # statements parse back with other (invented) types; models see both forms.
    exact = sum(
        shared_prover().same_goal(Goal(r.statement, conclusion_sexp=r.sexp), Goal(r.statement))
        for r in records
    )
    log.info(
        "%d of %d printed statements parse back to exactly the exported term", exact, len(records)
    )
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m environments.hol_light.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--hol-dir", type=Path, default=DEFAULT_HOL_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    records = export(args.output, args.hol_dir)
    counts = {s: sum(r.split == s for r in records) for s in ("train", "valid", "test")}
    print(f"wrote {len(records)} theorems to {args.output} {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
