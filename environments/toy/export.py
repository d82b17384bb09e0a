"""Generate the toy theorem set and write it to ``data/toy/theorems.jsonl``.

    python -m environments.toy.export [--output PATH]

The set is a deterministic function of this file: the classic tautologies by name, instances
of them with subformulas put for their atoms, and random formulas that a truth table shows to
be tautologies, all drawn from one fixed seed. Each gets its position and its split by a hash
of its name (about 80/10/10). The file is written atomically; a test checks that the shipped
file is exactly what this produces.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Mapping
from pathlib import Path

from data.files import write_atomic
from data.splits import SPLITS, split_of
from data.toy.database import DEFAULT_PATH, ToyTheorem
from environments.toy.logic import (
    BINARY,
    IMP,
    Atom,
    Binary,
    Const,
    Formula,
    Not,
    atoms,
    children,
    is_tautology,
    parse,
    show,
    truth_table,
)

SEED = 0
NUM_INSTANCES = 120
NUM_RANDOM = 140
RANDOM_MIN, RANDOM_MAX = 6, 20  # binary connectives of a random tautology
_MAX_DRAWS = 200_000  # a bound on the random search, far above what the counts above need

CLASSICS: tuple[tuple[str, str], ...] = (
    ("truth", "T"),
    ("ex_falso", "F ==> p"),
    ("imp_refl", "p ==> p"),
    ("k_combinator", "p ==> q ==> p"),
    ("s_combinator", "(p ==> q ==> r) ==> (p ==> q) ==> p ==> r"),
    ("imp_trans", "(p ==> q) ==> (q ==> r) ==> p ==> r"),
    ("imp_swap", "(p ==> q ==> r) ==> q ==> p ==> r"),
    ("modus_ponens", "p /\\ (p ==> q) ==> q"),
    ("modus_tollens", "(p ==> q) /\\ ~q ==> ~p"),
    ("and_elim_left", "p /\\ q ==> p"),
    ("and_elim_right", "p /\\ q ==> q"),
    ("and_intro", "p ==> q ==> p /\\ q"),
    ("or_intro_left", "p ==> p \\/ q"),
    ("or_intro_right", "q ==> p \\/ q"),
    ("and_comm", "p /\\ q ==> q /\\ p"),
    ("or_comm", "p \\/ q ==> q \\/ p"),
    ("and_assoc", "(p /\\ q) /\\ r <=> p /\\ q /\\ r"),
    ("or_assoc", "(p \\/ q) \\/ r <=> p \\/ q \\/ r"),
    ("and_idem", "p /\\ p <=> p"),
    ("or_idem", "p \\/ p <=> p"),
    ("and_absorb", "p /\\ (p \\/ q) <=> p"),
    ("or_absorb", "p \\/ p /\\ q <=> p"),
    ("and_or_distrib", "p /\\ (q \\/ r) <=> p /\\ q \\/ p /\\ r"),
    ("or_and_distrib", "p \\/ q /\\ r <=> (p \\/ q) /\\ (p \\/ r)"),
    ("curry", "(p /\\ q ==> r) ==> p ==> q ==> r"),
    ("uncurry", "(p ==> q ==> r) ==> p /\\ q ==> r"),
    ("curry_iff", "(p /\\ q ==> r) <=> (p ==> q ==> r)"),
    ("imp_and", "(p ==> q /\\ r) <=> (p ==> q) /\\ (p ==> r)"),
    ("or_imp", "(p \\/ q ==> r) <=> (p ==> r) /\\ (q ==> r)"),
    ("case_analysis", "(p ==> r) ==> (q ==> r) ==> p \\/ q ==> r"),
    ("constructive_dilemma", "(p ==> q) /\\ (r ==> s) /\\ (p \\/ r) ==> q \\/ s"),
    ("double_negation_intro", "p ==> ~~p"),
    ("double_negation_elim", "~~p ==> p"),
    ("double_negation", "~~p <=> p"),
    ("triple_negation", "~~~p <=> ~p"),
    ("excluded_middle", "p \\/ ~p"),
    ("non_contradiction", "~(p /\\ ~p)"),
    ("contradiction", "p ==> ~p ==> q"),
    ("de_morgan_and", "~(p /\\ q) <=> ~p \\/ ~q"),
    ("de_morgan_or", "~(p \\/ q) <=> ~p /\\ ~q"),
    ("contraposition", "(p ==> q) ==> ~q ==> ~p"),
    ("contraposition_iff", "(p ==> q) <=> (~q ==> ~p)"),
    ("material_implication", "(p ==> q) <=> ~p \\/ q"),
    ("not_imp", "~(p ==> q) <=> p /\\ ~q"),
    ("imp_false", "(p ==> F) <=> ~p"),
    ("peirce", "((p ==> q) ==> p) ==> p"),
    ("consequentia_mirabilis", "(~p ==> p) ==> p"),
    ("reductio", "(~p ==> F) ==> p"),
    ("dilemma", "(p ==> q) ==> (~p ==> q) ==> q"),
    ("linearity", "(p ==> q) \\/ (q ==> p)"),
    ("iff_refl", "p <=> p"),
    ("iff_sym", "(p <=> q) ==> (q <=> p)"),
    ("iff_trans", "(p <=> q) ==> (q <=> r) ==> (p <=> r)"),
    ("iff_imp", "(p <=> q) <=> (p ==> q) /\\ (q ==> p)"),
    ("iff_negation", "(p <=> q) <=> (~p <=> ~q)"),
    ("not_iff", "~(p <=> q) <=> (p <=> ~q)"),
    ("and_true", "p /\\ T <=> p"),
    ("or_false", "p \\/ F <=> p"),
    ("and_false", "p /\\ F <=> F"),
    ("or_true", "p \\/ T"),
    ("not_true", "~T <=> F"),
    ("not_false", "~F"),
    ("imp_true", "p ==> T"),
    ("true_imp", "(T ==> p) <=> p"),
    ("export_or", "(p ==> q) \\/ (p ==> ~q)"),
    ("resolution", "(p \\/ q) /\\ (~p \\/ r) ==> q \\/ r"),
    ("hypothetical_or", "(p \\/ q) /\\ ~p ==> q"),
)
"""The classics, by name. Their atoms are p, q, r and s."""

_ATOMS = ("p", "q", "r", "s")


def _random_formula(rng: random.Random, connectives: int, atoms: tuple[str, ...]) -> Formula:
    """A random formula with ``connectives`` binary connectives, some of them negated."""
    formula: Formula
    if connectives == 0:
        constant = rng.random() < 0.04
        formula = Const(rng.random() < 0.5) if constant else Atom(rng.choice(atoms))
    else:
        left = rng.randrange(connectives)
        op = rng.choice((*BINARY, IMP, IMP))  # implications make tautologies likelier
        formula = Binary(
            op,
            _random_formula(rng, left, atoms),
            _random_formula(rng, connectives - 1 - left, atoms),
        )
    return Not(formula) if rng.random() < 0.15 else formula


def substitute(formula: Formula, substitution: Mapping[str, Formula]) -> Formula:
    """``formula`` with each atom named in ``substitution`` replaced by its formula."""
    if isinstance(formula, Atom):
        return substitution.get(formula.name, formula)
    if isinstance(formula, Not):
        return Not(substitute(formula.arg, substitution))
    if isinstance(formula, Binary):
        return Binary(
            formula.op,
            substitute(formula.left, substitution),
            substitute(formula.right, substitution),
        )
    return formula


def _instances(rng: random.Random, taken: set[str]) -> list[tuple[str, str]]:
    """Classics with small formulas put for their atoms: the same proof shape, longer goals."""
    schemas = [(name, parse(text)) for name, text in CLASSICS if atoms(parse(text))]
    counts: dict[str, int] = {}
    found: list[tuple[str, str]] = []
    for _ in range(_MAX_DRAWS):
        if len(found) == NUM_INSTANCES:
            return found
        name, schema = rng.choice(schemas)
        substitution = {
            a: _random_formula(rng, rng.choice((0, 1, 2, 3, 4)), _ATOMS) for a in _ATOMS
        }
        text = show(substitute(schema, substitution))
        if text in taken:
            continue
        taken.add(text)
        counts[name] = counts.get(name, 0) + 1
        found.append((f"{name}_{counts[name]}", text))
    raise RuntimeError(f"found only {len(found)} of {NUM_INSTANCES} instances")


def _is_constant(formula: Formula) -> bool:
    """Whether ``formula`` has the same truth value under every valuation."""
    names = tuple(sorted(atoms(formula)))
    return truth_table(formula, names) in (0, (1 << (1 << len(names))) - 1)


def _has_constant_part(formula: Formula) -> bool:
    """Whether a proper subformula is constant, e.g. ``p ==> p`` or ``F`` inside it."""
    stack = list(children(formula))
    while stack:
        part = stack.pop()
        if _is_constant(part):
            return True
        stack.extend(children(part))
    return False


def _random_tautologies(rng: random.Random, taken: set[str]) -> list[tuple[str, str]]:
    """Random tautologies over p, q, r, s, true by their whole shape: no part of one is a
    tautology or a contradiction by itself (``q \\/ (p ==> p)`` would prove in two steps)."""
    found: list[tuple[str, str]] = []
    for _ in range(_MAX_DRAWS):
        if len(found) == NUM_RANDOM:
            return found
        formula = _random_formula(rng, rng.randrange(RANDOM_MIN, RANDOM_MAX + 1), _ATOMS)
        if not is_tautology(formula) or _has_constant_part(formula):
            continue
        text = show(formula)
        if text in taken:
            continue
        taken.add(text)
        found.append((f"taut_{len(found) + 1:03d}", text))
    raise RuntimeError(f"found only {len(found)} of {NUM_RANDOM} random tautologies")


def generate() -> list[ToyTheorem]:
    """The theorem set: classics, then instances, then random tautologies."""
    rng = random.Random(SEED)
    classics = [(name, show(parse(text))) for name, text in CLASSICS]
    taken = {text for _, text in classics}
    named = classics + _instances(rng, taken) + _random_tautologies(rng, taken)
    for name, text in named:
        if not is_tautology(parse(text)):
            raise ValueError(f"toy theorem {name!r}: {text} is not a tautology")
    return [
        ToyTheorem(name=name, statement=text, position=i, split=split_of(name))
        for i, (name, text) in enumerate(named)
    ]


def render(records: list[ToyTheorem]) -> str:
    """The file's text: one JSON record a line."""
    return "".join(record.to_json() + "\n" for record in records)


def export(output: Path = DEFAULT_PATH) -> list[ToyTheorem]:
    """Generate the set and write it to ``output`` atomically; return the records."""
    records = generate()
    write_atomic(output, render(records))
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m environments.toy.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    records = export(args.output)
    counts = {s: sum(r.split == s for r in records) for s in SPLITS}
    print(f"wrote {len(records)} theorems to {args.output} {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
