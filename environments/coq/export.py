"""Export a Coq library (by default slices of the standard library) as a theorem database.

    python -m environments.coq export [--dirs Arith Bool Lists] [--out data/coq/stdlib]
    python -m environments.coq roundtrip [--database DIR] [--limit N]

``export`` walks each file through coqidetop one sentence at a time, in load order (files
sorted so that a file comes after the files it requires). For every lemma it records its
statement, the root goal Coq prints, the library's own proof split into tactics with the
goal each acts on, and the axioms that proof assumes (``Print Assumptions`` after its
``Qed``). Definitions and lemmas before a lemma are its premises.

``roundtrip`` replays every lemma's traced tactics through ``CoqEnv``, goal by goal, and ends
each at ``Qed``: the check that the database and the environment agree.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from data.coq.database import (
    DEFAULT_DIR,
    CoqDatabase,
    CoqTheorem,
    SourceFile,
    TracedTactic,
    file_sha256,
)
from data.proof_tree import ErrorNode, Goal, Status
from data.splits import split_of
from environments.coq import sentences as sent
from environments.coq.driver import Coq, assumptions
from environments.coq.env import CoqEnv
from environments.coq.process import CoqError, Goals, SentenceFailed

log = logging.getLogger(__name__)

DEFAULT_LIBRARY = Path("/usr/lib/ocaml/coq/theories")
DEFAULT_DIRS = ("Arith", "Bool", "Lists")
LOGICAL_PREFIX = "Coq"
_SELECTOR = re.compile(r"^(\d+)\s*:\s*(.*)$", re.DOTALL)
_REQUIRE = re.compile(r"\bRequire\s+(?:Import\s+|Export\s+)?(.*)\.$", re.DOTALL)
_FROM = re.compile(r"^From\s+(\S+)\s+Require", re.DOTALL)
_PROOF_WITH = re.compile(r"^Proof\s+with\s+(.*?)(?:\s+using\s+.*)?\.$", re.DOTALL)


class ExportError(RuntimeError):
    """A library sentence Coq refused, or a lemma whose shape the exporter cannot read."""


def logical_name(file: str, prefix: str = LOGICAL_PREFIX) -> str:
    """The module a library file is loaded as: Arith/PeanoNat.v is Coq.Arith.PeanoNat."""
    return ".".join([prefix, *file[: -len(".v")].split("/")])


@dataclass(frozen=True)
class CoqProject:
    """A Coq project as its ``_CoqProject`` file states it: where, under which name, how."""

    root: Path  # the directory bound by the first -R/-Q line
    prefix: str  # its logical name
    args: tuple[str, ...]  # every -R/-Q/-I line and -arg, for coqidetop


def read_coq_project(path: Path) -> CoqProject:
    """Parse a ``_CoqProject``: ``-R dir Name`` / ``-Q dir Name`` / ``-I dir`` / ``-arg X``."""
    words = [w for line in path.read_text().splitlines() for w in line.split("#")[0].split()]
    args: list[str] = []
    bound: list[tuple[Path, str]] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-R", "-Q") and i + 2 < len(words):
            directory = (path.parent / words[i + 1]).resolve()
            bound.append((directory, words[i + 2]))
            args += [word, str(directory), words[i + 2]]
            i += 3
        elif word == "-I" and i + 1 < len(words):
            args += ["-I", str((path.parent / words[i + 1]).resolve())]
            i += 2
        elif word == "-arg" and i + 1 < len(words):
            args.append(words[i + 1])
            i += 2
        else:
            i += 1  # a file name: the exporter takes every .v file under the bound directory
    if not bound:
        raise ExportError(f"{path}: no -R or -Q line binds a directory to a logical name")
    return CoqProject(bound[0][0], bound[0][1], tuple(args))


def required_modules(sentence: sent.Sentence) -> list[str]:
    """The module references of a ``Require`` sentence, qualified by its ``From`` prefix."""
    text = " ".join(sentence.text.split())
    match = _REQUIRE.search(text)
    if match is None:
        return []
    names = [n for n in match.group(1).split() if n not in ("Import", "Export")]
    source = _FROM.match(text)
    return [f"{source.group(1)}.{n}" if source else n for n in names]


def resolve(reference: str, by_logical: dict[str, str]) -> str | None:
    """The library file a module reference names (``Arith_base``, ``Coq.Lists.List``).

    ``From Coq Require List`` (the reference ``Coq.List``) names a module under ``Coq`` whose
    name ends in ``List``, as Coq reads it: ``Coq.Lists.List``.
    """
    if reference in by_logical:
        return by_logical[reference]
    matches = [f for name, f in by_logical.items() if name.endswith("." + reference)]
    parts = reference.split(".")
    for k in range(1, len(parts)):
        if matches:
            break
        root, rest = ".".join(parts[:k]) + ".", "." + ".".join(parts[k:])
        matches = [
            f for name, f in by_logical.items() if name.startswith(root) and name.endswith(rest)
        ]
    return min(matches) if matches else None


def load_order(
    library: Path, files: Sequence[str], prefix: str = LOGICAL_PREFIX
) -> tuple[list[str], dict[str, list[str]]]:
    """``files`` sorted so that each comes after those it requires; and each file's requires."""
    every = sorted(str(p.relative_to(library)) for p in library.rglob("*.v"))
    by_logical = {logical_name(f, prefix): f for f in every}
    chosen = set(files)
    requires: dict[str, list[str]] = {}
    for f in files:
        refs = []
        for s in sent.split_sentences((library / f).read_text()):
            refs.extend(required_modules(s))
        deps = {resolve(r, by_logical) for r in refs}
        requires[f] = sorted(d for d in deps if d in chosen and d != f)
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(f: str) -> None:
        if state.get(f) == 2:
            return
        if state.get(f) == 1:
            raise ExportError(f"circular Require through {f}")
        state[f] = 1
        for d in requires[f]:
            visit(d)
        state[f] = 2
        order.append(f)

    for f in sorted(files):
        visit(f)
    return order, requires


def prelude_tactics(stdlib: Path = DEFAULT_LIBRARY) -> tuple[str, ...]:
    """The tactics Coq's prelude (``Init/*.v``, loaded in every context) defines."""
    names: set[str] = set()
    for path in sorted((stdlib / "Init").glob("*.v")):
        for s in sent.split_sentences(path.read_text()):
            names.update(sent.defined_tactics(s))
    return tuple(sorted(names))


@dataclass
class _Lemma:
    """A lemma being walked: its statement sentence and the traced proof so far."""

    short_name: str
    qualified: str
    sentence: int
    statement: str
    root: Goals
    proof: list[TracedTactic] = field(default_factory=list)
    default_tactic: str | None = None


class FileExporter:
    """Walks one file through a fresh coqidetop, sentence by sentence."""

    def __init__(
        self,
        library: Path,
        file: str,
        timeout: float,
        prefix: str = LOGICAL_PREFIX,
        coq_args: Sequence[str] = (),
    ) -> None:
        self.library, self.file, self.timeout = library, file, timeout
        self.prefix, self.coq_args = prefix, tuple(coq_args)
        self.theorems: list[dict[str, Any]] = []
        self.definitions: list[tuple[str, str, int]] = []
        self.tactics: list[tuple[str, int]] = []
        self.skipped: Counter[str] = Counter()

    def run(self) -> None:
        sentences = sent.split_sentences((self.library / self.file).read_text())
        module = logical_name(self.file, self.prefix)
        scopes: list[tuple[str, str]] = []
        coq = Coq(restart_every=1, args=self.coq_args)
        lemma: _Lemma | None = None
        texts: list[str] = []
        try:
            for index, s in enumerate(sentences):
                goals_before = coq.goto(texts, self.timeout) if lemma is not None else None
                texts.append(s.text)
                try:
                    goals = coq.goto(texts, self.timeout)
                except SentenceFailed as e:
                    raise ExportError(f"{self.file}:{s.line}: Coq refused {s.text!r}: {e}") from e
                k = sent.kind(s)
                if k == "theorem" and goals is not None and len(goals.foreground) == 1:
                    name = sent.theorem_name(s) or ""
                    path = [n for kind, n in scopes if kind == "module"]
                    lemma = _Lemma(
                        name, ".".join([module, *path, name]), index, sent.statement(s), goals
                    )
                    continue
                if lemma is not None:
                    self._step(lemma, s, k, goals_before, coq)
                    if k == "proof_end":
                        lemma = None
                    continue
                change = sent.scope_change(s)
                if change is not None:
                    if change[0] == "end":
                        if scopes:
                            scopes.pop()
                    else:
                        scopes.append(change)
                path = [n for kind, n in scopes if kind == "module"]
                self.tactics.extend((name, index) for name in sent.defined_tactics(s))
                for name in sent.declared_names(s):
                    self.definitions.append((".".join([module, *path, name]), s.text, index))
        except CoqError as e:
            raise ExportError(f"{self.file}: {e}") from e
        finally:
            coq.close()

    def _step(
        self, lemma: _Lemma, s: sent.Sentence, k: str, before: Goals | None, coq: Coq
    ) -> None:
        if k == "proof_start":
            match = _PROOF_WITH.match(" ".join(s.text.split()))
            lemma.default_tactic = match.group(1) if match else None
            return
        if k == "bullet":
            return
        if k == "proof_end":
            end = sent.proof_end(s)
            if end == "Proof" and before is not None and len(before.foreground) == 1:
                # `Proof term.` closes the proof at once, as `exact (term). Qed.` would.
                term = " ".join(s.text.split())[len("Proof") : -1].strip()
                goal = before.foreground[0]
                lemma.proof.append(
                    TracedTactic(f"exact ({term})", goal.hypotheses, goal.conclusion)
                )
            elif end not in ("Qed", "Defined"):
                self.skipped[f"ends with {end}"] += 1
                return
            axioms = assumptions(coq.query(f"Print Assumptions {lemma.short_name}.", 60.0))
            root = lemma.root.foreground[0]
            self.theorems.append(
                {
                    "name": lemma.qualified,
                    "short_name": lemma.short_name,
                    "file": self.file,
                    "sentence": lemma.sentence,
                    "statement": lemma.statement,
                    "hypotheses": root.hypotheses,
                    "conclusion": root.conclusion,
                    "axioms": tuple(axioms),
                    "proof": tuple(lemma.proof),
                }
            )
            return
        if before is None or not before.foreground:
            return  # e.g. a vernacular command inside the proof; nothing to trace
        text = " ".join(s.text.split())[:-1].rstrip(".")  # drop the terminator(s)
        goal = before.foreground[0]
        selector = _SELECTOR.match(text)
        if selector is not None:
            number = int(selector.group(1))
            if 1 <= number <= len(before.foreground):
                goal, text = before.foreground[number - 1], selector.group(2)
        if s.text.rstrip().endswith("...") and lemma.default_tactic:
            text = f"({text}); ({lemma.default_tactic})"
        lemma.proof.append(TracedTactic(text, goal.hypotheses, goal.conclusion))


def export(
    library: Path = DEFAULT_LIBRARY,
    dirs: Sequence[str] = DEFAULT_DIRS,
    out: Path = DEFAULT_DIR,
    timeout: float = 120.0,
    prefix: str = LOGICAL_PREFIX,
    coq_args: Sequence[str] = (),
) -> CoqDatabase:
    """Export every lemma of ``dirs`` (library subdirectories) into the database at ``out``.

    ``prefix`` is the library's logical name and ``coq_args`` what coqidetop needs to load it
    (``-R dir Name``; none for the standard library): see ``read_coq_project``.
    """
    files = sorted(str(p.relative_to(library)) for d in dirs for p in (library / d).rglob("*.v"))
    if not files:
        raise ExportError(f"no .v files under {[str(library / d) for d in dirs]}")
    order, requires = load_order(library, files, prefix)
    records: list[CoqTheorem] = []
    sources: list[SourceFile] = []
    seen: set[str] = set()
    skipped: Counter[str] = Counter()
    for f in tqdm(order, desc="exporting Coq files", unit="file"):
        walker = FileExporter(library, f, timeout, prefix, coq_args)
        walker.run()
        skipped.update(walker.skipped)
        for t in walker.theorems:
            if t["name"] in seen:
                skipped["duplicate name"] += 1
                continue
            seen.add(t["name"])
            records.append(
                CoqTheorem(**t, position=len(records), split=split_of(t["name"]))  # type: ignore[arg-type]
            )
        sources.append(
            SourceFile(
                f,
                file_sha256(library / f),
                tuple(requires[f]),
                tuple(walker.definitions),
                tuple(walker.tactics),
            )
        )
    if skipped:
        log.info("skipped lemmas: %s", dict(skipped))
    database = CoqDatabase(
        records,
        sources,
        library,
        prefix,
        prelude_tactics=prelude_tactics(),
        coq_args=tuple(coq_args),
    )
    database.save(out)
    return CoqDatabase.load(out)


@dataclass
class RoundTrip:
    """How many lemmas the library's own proofs prove through the environment, and why not."""

    proved: int = 0
    total: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.proved / self.total if self.total else 0.0


def replay_library_proof(thm: CoqTheorem, env: CoqEnv) -> str:
    """Apply the lemma's traced tactics, each to its goal; "" if it ends proved at ``Qed``."""
    with env as (live, root):
        for i, step in enumerate(thm.proof):
            node = live.tree.find(Goal(step.conclusion, step.hypotheses))
            if node is None:
                return f"goal_not_reached: step {i} ({step.tactic!r})"
            edge = live.run_tactic(node, (step.tactic, 0.0))
            error = next((d for d in edge.dst if isinstance(d, ErrorNode)), None)
            if error is not None and root.status != Status.PROVED:
                return f"{error.kind.value}: step {i} ({step.tactic!r}): {error.message}"
        if root.status != Status.PROVED:
            return "unproved: the traced tactics leave goals open"
        problem = live.check_proof(live.tree.extract_proof() or [])
        return f"qed_refused: {problem}" if problem else ""


def roundtrip(
    database: CoqDatabase, theorems: Iterable[CoqTheorem], timeout: float = 10.0
) -> RoundTrip:
    result = RoundTrip()
    coq = Coq(restart_every=100, args=database.coq_args)
    try:
        items = list(theorems)
        for thm in tqdm(items, desc="replaying library proofs", unit="lemma"):
            result.total += 1
            started = time.perf_counter()
            try:
                problem = replay_library_proof(thm, CoqEnv(thm, timeout, database, coq=coq))
            except (ValueError, CoqError) as e:
                problem = f"start_failed: {e}"
            log.debug("%s: %.2fs %s", thm.name, time.perf_counter() - started, problem)
            if not problem:
                result.proved += 1
                continue
            kind = problem.split(":", 1)[0]
            result.failures[kind] += 1
            result.examples.setdefault(kind, f"{thm.name}: {problem[:300]}")
    finally:
        coq.close()
    return result
