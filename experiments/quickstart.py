"""Prove a handful of database theorems on the real HOL Light with a fixed list of tactics.

    python -m experiments.quickstart [--split valid] [--num-theorems 20] [--timeout 5]

The first step of the framework (what ``make run`` does until the full loop lands): every
theorem is attempted with each tactic of a fixed list, the ``ASM_MESON_TAC`` one citing the
theorems loaded just before it, and the tool prints what it proved and how.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time

from data.hol_light.database import TheoremDatabase, TheoremRecord
from environments.hol_light.env import HolLightEnv

FIXED_TACTICS = (
    "ARITH_TAC",
    "REWRITE_TAC[]",
    "SIMP_TAC[]",
    "MESON_TAC[]",
    "ITAUT_TAC",
    "REAL_ARITH_TAC",
    "INT_ARITH_TAC",
)


def tactics_for(db: TheoremDatabase, thm: TheoremRecord, num_premises: int) -> list[str]:
    """The fixed list, plus DeepHOL's baseline: ASM_MESON_TAC with the preceding theorems."""
    premises = [r.name for r in db.premises_for(thm)[-num_premises:]]
    return [*FIXED_TACTICS, f"ASM_MESON_TAC[{'; '.join(premises)}]"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.quickstart",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--split", default="valid", choices=("train", "valid", "test"))
    parser.add_argument("--num-theorems", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per tactic")
    parser.add_argument("--premises", type=int, default=20, help="premises for ASM_MESON_TAC")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.num_theorems <= 0 or args.timeout <= 0:
        parser.error("--num-theorems and --timeout must be positive")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")

    db = TheoremDatabase.load()
    pool = db.split(args.split)
    if args.num_theorems > len(pool):
        parser.error(f"--num-theorems {args.num_theorems} > {len(pool)} theorems in {args.split}")
    theorems = random.Random(args.seed).sample(pool, args.num_theorems)
    proved = 0
    started = time.monotonic()
    for i, thm in enumerate(theorems, 1):
        with HolLightEnv(thm, args.timeout, db) as (env, root):
            for tactic in tactics_for(db, thm, args.premises):
                edge = env.run_tactic(root, (tactic, 0.0))
                if root.status.value == "proved":
                    break
            proof = env.tree.extract_proof()
        if proof:
            proved += 1
            tactic = proof[0].tactic if len(proof[0].tactic) < 60 else proof[0].tactic[:57] + "..."
            print(f"[{i}/{len(theorems)}] PROVED {thm.name} by {tactic} ({edge.time_s:.3f} s)")
        else:
            print(f"[{i}/{len(theorems)}] failed {thm.name}: {thm.statement[:70]}")
    elapsed = time.monotonic() - started
    print(
        f"proved {proved}/{len(theorems)} {args.split} theorems with single tactics "
        f"in {elapsed:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
