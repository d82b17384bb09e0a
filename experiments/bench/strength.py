"""Strength: single tactics, their union and the proving configurations on the same theorems.

``--env`` chooses the prover (HOL Light, the default, or Coq): its theorem database, its
one-shot tactics and its proving configuration (``prove``, ``coq_prove``). The sample
(``sample_theorems``) is drawn from the test split only, so nothing tuned on the
training or validation theorems is measured on itself: the test theorems are grouped by the
library file that binds them, each file's list is shuffled with ``--seed``, and the files are
taken round-robin (in the order the files load) until ``--size`` theorems are drawn. Small
files come in whole; the big ones (sets, int, real, iterate) share the rest.

Each single tactic is tried once on each theorem at ``--tactic-timeout`` seconds (an
attempt of the loop with that tactic as its only template and ``max_expansions=1``); the
union proves a theorem if any single tactic does. Each configuration in ``--configs`` runs
as it is (its own budget per theorem) on the same theorems, and once more with each search of
``--searches`` in place of its own (``<config>/<search>``: the same tactic model and budget,
another search). ``--arm LABEL CONFIG [OVERRIDE ...]`` adds an arm of its own (a trained
model: ``--arm trained coq_prove tac_model=coq_generator tac_model.ckpt_path=...``). Every arm
is an ordinary run
directory under ``--out``, so an interrupted bench resumes where it stopped: finished
attempts are not repeated. The result (per library file and in total) is printed as a table
and written to ``<out>/strength.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any, Protocol

from data.coq.database import CoqDatabase
from data.files import write_atomic
from data.hol_light.database import TheoremDatabase
from data.jsonable import jsonable
from environments.hol_light.driver import shared_zygote
from experiments.end_to_end.config import compose
from experiments.end_to_end.end_to_end_experiment import run as run_experiment
from experiments.end_to_end.report.run_data import collect_attempts

log = logging.getLogger(__name__)

SINGLE_TACTICS = (
    "ARITH_TAC",
    "REAL_ARITH_TAC",
    "INT_ARITH_TAC",
    "MESON_TAC[]",
    "ASM_MESON_TAC[{premises}]",
    "TAUT_TAC",
    "ITAUT_TAC",
    "SIMP_TAC[]",
    "REWRITE_TAC[]",
    "SET_TAC[]",
)
"""HOL Light's one-shot provers; ASM_MESON_TAC cites the goal's 20 best-ranked premises."""
COQ_SINGLE_TACTICS = (
    "auto",
    "auto with arith",
    "eauto using {premises}",
    "intuition",
    "tauto",
    "firstorder",
    "congruence",
    "lia",
    "easy",
    "simpl; reflexivity",
)
"""Coq's one-shot provers; ``eauto using`` cites the goal's best-ranked premises."""
UNION = "union"


class Record(Protocol):
    """What the sample needs of a theorem record (HOL Light's and Coq's both have it)."""

    name: str
    file: str
    position: int


@dataclass(frozen=True)
class Prover:
    """What the bench needs of a prover: its theorems, configs and one-shot tactics."""

    database: Callable[[], Any]  # the packaged theorem database (with .split)
    base_config: str  # the config the single-tactic arms run under
    fixed_model: str  # the tac_model config the single tactics are templates of
    tactics: Sequence[str]
    configs: Sequence[str]  # the default proving configurations
    warm_up: Callable[[], Any] | None = None  # started once for the whole bench


PROVERS = {
    # A lease on the machine's HOL Light zygote for the whole bench: every arm's workers fork
    # from it, instead of each run loading HOL Light again (minutes).
    "hol_light": Prover(
        TheoremDatabase.cached, "hol_light", "fixed", SINGLE_TACTICS, ("prove",), shared_zygote
    ),
    "coq": Prover(CoqDatabase.cached, "coq", "coq_fixed", COQ_SINGLE_TACTICS, ("coq_prove",)),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/bench_strength"),
        help="bench directory (reused to resume)",
    )
    parser.add_argument(
        "--env", choices=sorted(PROVERS), default="hol_light", help="the prover measured"
    )
    parser.add_argument("--size", type=int, default=200, help="theorems in the sample")
    parser.add_argument("--seed", type=int, default=0, help="seed of the per-file shuffles")
    parser.add_argument("--split", default="test", help="split the sample is drawn from")
    parser.add_argument(
        "--tactic-timeout", type=float, default=5.0, help="seconds per single tactic"
    )
    parser.add_argument(
        "--tactics", nargs="*", default=None, help="the single tactics (default: the env's)"
    )
    parser.add_argument(
        "--configs",
        nargs="*",
        default=None,
        help="proving configurations (config names), run at their own budget (default: the "
        "env's: prove, coq_prove)",
    )
    parser.add_argument(
        "--arm",
        nargs="+",
        action="append",
        default=[],
        metavar="ITEM",
        help="an arm of its own: LABEL CONFIG [OVERRIDE ...] (repeatable)",
    )
    parser.add_argument(
        "--searches",
        nargs="*",
        default=[],
        help="also run each configuration with these searches (search_model=<name>)",
    )
    parser.add_argument("overrides", nargs="*", help="config overrides for every arm")


def defaults(args: argparse.Namespace) -> argparse.Namespace:
    """The env's single tactics and configurations where the command line gave none."""
    prover = PROVERS[args.env]
    if args.tactics is None:
        args.tactics = list(prover.tactics)
    if args.configs is None:
        args.configs = list(prover.configs)
    return args


def sample_theorems(records: Sequence[Record], size: int, seed: int = 0) -> list[Any]:
    """``size`` theorems spread over their files: per-file shuffles, taken round-robin."""
    by_file: dict[str, list[Record]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r.position):
        by_file[record.file].append(record)
    queues = []
    for file, group in by_file.items():  # files in load order (dicts keep insertion order)
        group = list(group)
        Random(f"{seed}:{file}").shuffle(group)
        queues.append(group)
    chosen: list[Record] = []
    while len(chosen) < size and any(queues):
        for queue in queues:
            if queue and len(chosen) < size:
                chosen.append(queue.pop(0))
    if len(chosen) < size:
        raise ValueError(f"the split has {len(chosen)} theorems, fewer than --size {size}")
    return chosen


def _arms(args: argparse.Namespace, theorem_file: Path) -> list[tuple[str, str, list[str]]]:
    """(label, config name, overrides) of every arm, single tactics first."""
    common = [
        *args.overrides,
        f"theorem_file={theorem_file}",
        f"split={args.split}",
        "num_iterations=1",
        "num_data_theorems=0",
        "train_after_eval=[]",
        "update_checkpoints=[]",
    ]
    arms = []
    prover = PROVERS[args.env]
    budget = args.tactic_timeout + 3.0  # the tactic, the prover's grace and the bookkeeping
    for tactic in args.tactics:
        arms.append(
            (
                tactic,
                prover.base_config,
                [
                    *common,
                    f"tac_model={prover.fixed_model}",
                    f"tac_model.templates=[{_quoted(tactic)}]",
                    "tac_model.log_priors=null",
                    "num_sampled_tactics=1",
                    "max_expansions=1",
                    f"root_tactic_timeout={args.tactic_timeout}",
                    f"total_timeout={budget}",
                    f"env_timeout={budget}",
                ],
            )
        )
    for label, name, overrides in config_arms(args):
        arms.append((label, name, [*common, *overrides]))
    return arms


def config_arms(args: argparse.Namespace) -> list[tuple[str, str, list[str]]]:
    """(label, config name, overrides) of each configuration, alone and with each search."""
    arms = []
    for name in args.configs:
        arms.append((name, name, []))
        arms += [(f"{name}/{s}", name, [f"search_model={s}"]) for s in args.searches]
    for arm in args.arm:
        if len(arm) < 2:
            raise ValueError(f"--arm needs a label and a config name, got {arm}")
        arms.append((arm[0], arm[1], list(arm[2:])))
    return arms


def _quoted(tactic: str) -> str:
    """A tactic as a Hydra override string (its brackets and commas are not syntax)."""
    return "'" + tactic.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _directory(out: Path, label: str) -> Path:
    safe = "".join(c if c.isalnum() else "_" for c in label).strip("_")
    return out / "arms" / safe


def _run_arm(config_name: str, overrides: list[str], run_dir: Path) -> dict[str, str]:
    """The arm's status per theorem id, running (or resuming) its attempts first."""
    resume = run_dir.exists() and any(run_dir.iterdir())
    cfg = compose(
        [*overrides, f"exp_config.resume={str(resume).lower()}"],
        str(run_dir),
        config_name=config_name,
    )
    run_experiment(cfg)
    attempts, _ = collect_attempts(run_dir, progress=False)
    return {a.theorem_id: a.status for a in attempts}


def tabulate(
    sample: Sequence[Record], results: dict[str, dict[str, str]], singles: list[str]
) -> dict[str, Any]:
    """Proved counts per arm, per file and in total, with the union of the single tactics."""
    proved = {
        label: {t for t, s in statuses.items() if s == "proved"}
        for label, statuses in results.items()
    }
    proved[UNION] = set().union(*(proved[t] for t in singles)) if singles else set()
    files = list(dict.fromkeys(r.file for r in sample))
    sizes = Counter(r.file for r in sample)
    file_of = {r.name: r.file for r in sample}
    table: dict[str, Any] = {}
    for label, names in proved.items():
        per_file = Counter(file_of[n] for n in names if n in file_of)
        table[label] = {"total": sum(per_file.values()), "by_file": {f: per_file[f] for f in files}}
    best_single = max(singles, key=lambda t: table[t]["total"]) if singles else None
    return {
        "theorems": len(sample),
        "files": {f: sizes[f] for f in files},
        "arms": table,
        "best_single": best_single,
        "proved": {label: sorted(names) for label, names in proved.items()},
    }


def format_table(result: dict[str, Any], columns: list[str]) -> str:
    """Rows: library files and the total; columns: the theorems, then each arm's proofs."""
    head = ["file", "theorems", *columns]
    rows = [
        [f, str(n), *(str(result["arms"][c]["by_file"][f]) for c in columns)]
        for f, n in result["files"].items()
    ]
    rows.append(
        ["total", str(result["theorems"]), *(str(result["arms"][c]["total"]) for c in columns)]
    )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = [
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [head, *rows]
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    args = defaults(args)
    prover = PROVERS[args.env]
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    sample = sample_theorems(prover.database().split(args.split), args.size, args.seed)
    theorem_file = out / "sample.txt"
    lines = [f"# bench strength: {len(sample)} {args.split} {args.env} theorems, seed {args.seed}"]
    write_atomic(theorem_file, "\n".join([*lines, *(r.name for r in sample)]) + "\n")
    if prover.warm_up is not None:
        prover.warm_up()
    results: dict[str, dict[str, str]] = {}
    arms = _arms(args, theorem_file)
    for i, (label, config_name, overrides) in enumerate(arms):
        log.info("bench strength: arm %d/%d: %s", i + 1, len(arms), label)
        results[label] = _run_arm(config_name, overrides, _directory(out, label))
    result = {
        "benchmark": "strength",
        "env": args.env,
        "split": args.split,
        "seed": args.seed,
        "tactic_timeout": args.tactic_timeout,
        "configs": {
            label: _budget(name, [*args.overrides, *extra])
            for label, name, extra in config_arms(args)
        },
        **tabulate(sample, results, list(args.tactics)),
    }
    labels = [label for label, _, _ in config_arms(args)]
    if result["arms"][UNION]["total"]:
        result["ratio_to_union"] = {
            label: result["arms"][label]["total"] / result["arms"][UNION]["total"]
            for label in labels
        }
    columns = [*args.tactics, UNION, *labels]
    print(format_table(result, columns), file=sys.stderr)
    write_atomic(out / "strength.json", json.dumps(jsonable(result), indent=1) + "\n")
    return {k: v for k, v in result.items() if k != "proved"}


def _budget(config_name: str, overrides: list[str]) -> dict[str, Any]:
    """The per-theorem budget a configuration states."""
    cfg = compose(list(overrides), None, config_name=config_name)
    return {
        "total_timeout": cfg.total_timeout,
        "root_tactic_timeout": cfg.root_tactic_timeout,
        "tactic_timeout": cfg.env_config.environment.get("timeout"),
        "num_sampled_tactics": cfg.num_sampled_tactics,
        "search_model": cfg.search_model.get("_target_"),
    }
