"""Proof traces: the standard, versioned JSON record of one proof attempt (DESIGN section 4).

One gzip JSON file per attempt, ``<run_dir>/traces/<iteration>/<theorem_id>.json.gz``, written
atomically the moment the attempt ends. Resume, training data modules, reports and the visualiser
all read traces through this module; a trace loads without any of this code's classes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import gzip
import hashlib
import json
import logging
import math
import numbers
import os
import string
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote

from environments.base import Environment, Failure, Proved, Subgoals
from experiments.end_to_end.proof_tree import (
    Edge,
    ErrorKind,
    ErrorNode,
    Goal,
    InternalNode,
    Node,
    ProofFinishedNode,
    ProofStep,
    ProofTree,
    Status,
)

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
STATUSES = ("proved", "failed", "timeout", "error")
TRACES_DIR = "traces"
SUFFIX = ".json.gz"

_SAFE_CHARS = frozenset(string.ascii_letters + string.digits + "_.'-")
_MAX_STEM_BYTES = 200  # file systems allow 255 bytes per name; leave room for the suffix
_TMP_PREFIX = "."  # no trace file name starts with "." (a leading dot is encoded)
_TMP_SUFFIX = ".tmp"

EnvFactory = Callable[[dict[str, Any]], Environment]
RunEnvFactory = Callable[[dict[str, Any], dict[str, Any]], Environment]
OnError = Callable[[Path, str], None]


class TraceError(ValueError):
    """A trace file that cannot be used; the message says which file and what is wrong."""


@dataclass
class Timings:
    """Where the attempt's wall-clock time went, in seconds."""

    total_s: float = 0.0
    model_s: float = 0.0
    env_s: float = 0.0
    search_s: float = 0.0


# JSON kinds of every field, as checked on load. A field set that changes bumps SCHEMA_VERSION.
_TRACE_FIELDS = {
    "schema_version": "integer",
    "theorem_id": "string",
    "theorem": "object",
    "environment": "object",
    "status": "string",
    "iteration": "integer",
    "proof": "array",
    "nodes": "array",
    "edges": "array",
    "timings": "object",
    "counts": "object",
    "search_trace": "array",
    "models": "object",
    "error": "string",
    "created_unix": "number",
}
_OPTIONAL_TRACE_FIELDS = frozenset({"error", "created_unix"})
_ENVIRONMENT_FIELDS = {"name": "string", "config": "object"}
_TIMINGS_FIELDS = {f.name: "number" for f in dataclasses.fields(Timings)}
_COUNTS_FIELDS = {
    "expansions": "integer",
    "nodes": "integer",
    "edges": "integer",
    "errors": "object",
}
_STEP_FIELDS = {"goal": "object", "tactic": "string", "subgoals": "array", "edge": "integer"}
_NODE_COMMON = {"id": "integer", "type": "string", "status": "string"}
_NODE_FIELDS = {
    "internal": {
        **_NODE_COMMON,
        "goal": "object",
        "depth": "integer",
        "visit_count": "integer",
        "cumulative_logprob": "number|null",
        "distance_to_proof": "number|null",
        "is_explored": "boolean",
        "scores": "object",
    },
    "proof_finished": dict(_NODE_COMMON),
    "error": {**_NODE_COMMON, "kind": "string", "message": "string"},
}
_EDGE_FIELDS = {
    "id": "integer",
    "src": "integer",
    "dst": "array",
    "tactic": "string",
    "logprob": "number|null",
    "status": "string",
    "outcome": "string",
    "error": "string",
    "time_s": "number",
}
_NODE_STATUSES = frozenset(s.value for s in Status)
_ERROR_KINDS = frozenset(k.value for k in ErrorKind)
_OUTCOMES = frozenset({"proved", "subgoals"}) | _ERROR_KINDS


@dataclass
class ProofTrace:
    """Everything about one proof attempt, as plain JSON data (see docs/traces.md)."""

    schema_version: int
    theorem_id: str
    theorem: dict[str, Any]
    environment: dict[str, Any]
    status: str
    iteration: int
    proof: list[dict[str, Any]]
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    timings: Timings
    counts: dict[str, Any]
    search_trace: list[Any]
    models: dict[str, Any]
    error: str = ""
    created_unix: float = 0.0

    @classmethod
    def from_tree(
        cls,
        *,
        theorem_id: str,
        theorem: Mapping[str, Any],
        environment: Mapping[str, Any],
        tree: ProofTree,
        status: str,
        iteration: int,
        search_trace: Sequence[Any],
        timings: Timings,
        expansions: int,
        models: Mapping[str, Any],
        error: str = "",
    ) -> ProofTrace:
        """The trace of a finished attempt; `status` is "proved" exactly when the root is."""
        if status not in STATUSES:
            raise ValueError(f"ProofTrace.from_tree: status {status!r} is not one of {STATUSES}")
        if (status == "proved") != (tree.root.status == Status.PROVED):
            raise ValueError(
                f"ProofTrace.from_tree: status {status!r} but the tree's root is "
                f"{tree.root.status.value} (status must be 'proved' exactly when the root is)"
            )
        errors = Counter(n.kind.value for n in tree.nodes if isinstance(n, ErrorNode))
        return cls(
            schema_version=SCHEMA_VERSION,
            theorem_id=theorem_id,
            theorem=_jsonable(theorem, "theorem"),
            environment=_jsonable(environment, "environment"),
            status=status,
            iteration=iteration,
            proof=[_step_dict(s) for s in tree.extract_proof() or []],
            nodes=[_node_dict(n) for n in tree.nodes],
            edges=[_edge_dict(e) for e in tree.edges],
            timings=timings,
            counts={
                "expansions": expansions,
                "nodes": tree.size,
                "edges": len(tree.edges),
                "errors": dict(sorted(errors.items())),
            },
            search_trace=_jsonable(list(search_trace), "search_trace"),
            models=_jsonable(models, "models"),
            error=error,
            created_unix=time.time(),
        )

    @classmethod
    def error_trace(
        cls,
        *,
        theorem_id: str,
        theorem: Mapping[str, Any],
        environment: Mapping[str, Any],
        iteration: int,
        message: str,
        models: Mapping[str, Any] | None = None,
        timings: Timings | None = None,
    ) -> ProofTrace:
        """The trace of an attempt that itself failed (e.g. its worker died twice): no tree."""
        return cls(
            schema_version=SCHEMA_VERSION,
            theorem_id=theorem_id,
            theorem=_jsonable(theorem, "theorem"),
            environment=_jsonable(environment, "environment"),
            status="error",
            iteration=iteration,
            proof=[],
            nodes=[],
            edges=[],
            timings=timings if timings is not None else Timings(),
            counts={"expansions": 0, "nodes": 0, "edges": 0, "errors": {}},
            search_trace=[],
            models=_jsonable(models or {}, "models"),
            error=message,
            created_unix=time.time(),
        )

    @property
    def proved(self) -> bool:
        return self.status == "proved"

    def proof_steps(self) -> list[ProofStep]:
        """The extracted proof as `ProofStep`s, in script order (empty unless proved)."""
        return [
            ProofStep(
                goal=Goal.from_dict(s["goal"]),
                tactic=s["tactic"],
                subgoals=tuple(Goal.from_dict(g) for g in s["subgoals"]),
                edge_id=s["edge"],
            )
            for s in self.proof
        ]

    def to_dict(self) -> dict[str, Any]:
        """The on-disk form: strict JSON data (non-finite floats become null)."""
        data: dict[str, Any] = _jsonable(asdict(self), "trace")
        return data

    @classmethod
    def from_dict(cls, d: Any, source: str = "<dict>") -> ProofTrace:
        """Validate `d` (usually parsed from the file `source`) and build the trace."""
        _validate(d, source)
        timings = Timings(**{k: float(v) for k, v in d["timings"].items()})
        values = {k: d[k] for k in _TRACE_FIELDS if k in d and k != "timings"}
        return cls(timings=timings, **values)


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable short id of a config: sha256 of its sorted-key JSON dump, first 12 hex digits."""
    dump = json.dumps(_jsonable(config, "config"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(dump.encode()).hexdigest()[:12]


def trace_path(run_dir: Path, iteration: int, theorem_id: str) -> Path:
    """``<run_dir>/traces/<iteration>/<theorem_id>.json.gz``, the id made one safe file name.

    Anything but ``[A-Za-z0-9_.'-]`` is percent-encoded (so ``/`` and ``%`` are), and so is a
    leading ``.``, which keeps ``..`` from escaping and trace files apart from temp files.
    """
    return (
        Path(run_dir) / TRACES_DIR / _iteration_name(iteration) / (_file_stem(theorem_id) + SUFFIX)
    )


def write_trace(trace: ProofTrace, run_dir: Path) -> Path:
    """Write `trace` to its `trace_path` atomically (temp file, fsync, rename); return the path."""
    path = trace_path(run_dir, trace.iteration, trace.theorem_id)
    data = json.dumps(trace.to_dict(), allow_nan=False, separators=(",", ":")).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as raw:
            # filename="" and mtime=0 keep the temp name and the clock out of the gzip header.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                gz.write(data)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)
    return path


def load_trace(path: Path) -> ProofTrace:
    """Read and validate one trace file; every way it can be unusable is a `TraceError`."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except gzip.BadGzipFile as e:
        raise TraceError(f"{path}: not a valid gzip file ({e})") from e
    except (EOFError, zlib.error) as e:
        raise TraceError(f"{path}: truncated or damaged gzip data ({e})") from e
    except OSError as e:
        raise TraceError(f"{path}: cannot read the file ({e})") from e
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise TraceError(f"{path}: not UTF-8 text ({e})") from e
    except json.JSONDecodeError as e:
        raise TraceError(f"{path}: not valid JSON ({e})") from e
    return ProofTrace.from_dict(data, source=str(path))


def completed_theorem_ids(run_dir: Path, iteration: int) -> set[str]:
    """Theorem ids with a trace file in this iteration, from file names only (no file is read).

    A corrupt file counts as completed here; `validate_completed` finds those for re-running.
    """
    return {_theorem_id_of(p) for p in _trace_files(_iteration_dir(run_dir, iteration))}


def validate_completed(run_dir: Path, iteration: int) -> tuple[set[str], list[Path]]:
    """Load every trace file of an iteration: the ids of good ones and the paths of bad ones.

    A file is bad if it does not load, or holds another theorem or iteration than its name says;
    resume deletes or overwrites bad files by re-running their theorems.
    """
    good: set[str] = set()
    corrupt: list[Path] = []
    for path in _trace_files(_iteration_dir(run_dir, iteration)):
        try:
            trace = load_trace(path)
        except TraceError as e:
            logger.warning("corrupt trace, will be re-run: %s", e)
            corrupt.append(path)
            continue
        expected = trace_path(run_dir, iteration, trace.theorem_id)
        if trace.iteration != iteration or expected.name != path.name:
            logger.warning(
                "%s: holds theorem %r of iteration %d, not what its name says; will be re-run",
                path,
                trace.theorem_id,
                trace.iteration,
            )
            corrupt.append(path)
            continue
        good.add(trace.theorem_id)
    return good, corrupt


class TraceLoader:
    """The one loader of many traces: yields the good ones, records and skips corrupt files.

    `paths` is a directory (searched recursively, e.g. a run's ``traces/`` with all iterations)
    or trace files, or an iterable of either. A path that does not exist is a configuration
    error and raises `TraceError` at once; a file that exists but does not load is skipped,
    appended to `skipped` as ``(path, message)`` and passed to `on_error`.
    """

    def __init__(
        self, paths: Iterable[Path | str] | Path | str, *, on_error: OnError | None = None
    ) -> None:
        roots = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        self.files: list[Path] = []
        for root in map(Path, roots):
            if root.is_dir():
                self.files.extend(_trace_files(root, recursive=True))
            elif root.exists():
                self.files.append(root)
            else:
                raise TraceError(f"{root}: no such trace file or directory")
        self.on_error = on_error
        self.skipped: list[tuple[Path, str]] = []
        self.loaded = 0

    def __iter__(self) -> Iterator[ProofTrace]:
        for _, trace in self.with_paths():
            yield trace

    def with_paths(self) -> Iterator[tuple[Path, ProofTrace]]:
        """Like iterating, with each trace's file; each pass recounts `skipped` and `loaded`."""
        self.skipped, self.loaded = [], 0
        for path in self.files:
            try:
                trace = load_trace(path)
            except TraceError as e:
                logger.warning("skipping corrupt trace: %s", e)
                self.skipped.append((path, str(e)))
                if self.on_error is not None:
                    self.on_error(path, str(e))
                continue
            self.loaded += 1
            yield path, trace


def iter_traces(
    paths: Iterable[Path | str] | Path | str, *, on_error: OnError | None = None
) -> TraceLoader:
    """Iterate over good traces under `paths`; the returned loader's `skipped` lists bad files."""
    return TraceLoader(paths, on_error=on_error)


def replay(trace: ProofTrace, env_factory: EnvFactory) -> tuple[bool, str]:
    """Replay a proved trace's proof step by step in a fresh environment: (ok, reason).

    Each step's tactic must give exactly the recorded outcome (closed, or the same set of
    subgoals), every subgoal must be the goal of some step, and the script must not be circular.
    """
    if not trace.proved:
        return False, f"trace status is {trace.status!r}, not 'proved': nothing to replay"
    try:
        steps = trace.proof_steps()
    except (KeyError, TypeError, ValueError) as e:
        return False, f"malformed proof step: {e}"
    if not steps:
        return False, "trace is proved but its proof is empty"
    problem = _script_problem(steps)
    if problem:
        return False, problem
    env = env_factory(trace.theorem)
    with env as (live, root):
        if root.goal.key != steps[0].goal.key:
            return False, (
                f"the environment's root goal {root.goal} is not the proof's first goal "
                f"{steps[0].goal}"
            )
        for i, step in enumerate(steps):
            outcome = live.apply(step.goal, step.tactic)
            where = f"step {i} ({step.tactic!r} on {step.goal})"
            if isinstance(outcome, Failure):
                return False, f"{where}: {outcome.kind.value}: {outcome.message}"
            if isinstance(outcome, Proved):
                if step.subgoals:
                    return False, (
                        f"{where}: closed the goal, but the trace has {len(step.subgoals)} "
                        "subgoal(s)"
                    )
            elif isinstance(outcome, Subgoals):
                got = {g.key for g in outcome.goals}
                if not step.subgoals or got != {g.key for g in step.subgoals}:
                    return False, (
                        f"{where}: subgoals differ: got {[str(g) for g in outcome.goals]}, "
                        f"trace has {[str(g) for g in step.subgoals]}"
                    )
            else:
                return False, f"{where}: unexpected outcome {outcome!r}"
    return True, f"replayed {len(steps)} step(s)"


def verify_run(run_dir: Path, env_factory: RunEnvFactory | None = None) -> dict[str, Any]:
    """Replay every proved trace of every iteration of a run; what passed, failed and was corrupt.

    `env_factory(environment, theorem)` builds a fresh environment; by default
    `experiments.end_to_end.environments.make_env`.
    """
    loader = TraceLoader(Path(run_dir) / TRACES_DIR)
    report: dict[str, Any] = {"traces": 0, "checked": 0, "ok": 0, "failed": []}
    factory = env_factory
    for path, trace in loader.with_paths():
        report["traces"] += 1
        if not trace.proved:
            continue
        if factory is None:
            from experiments.end_to_end.environments import make_env

            factory = make_env
        report["checked"] += 1
        try:
            ok, reason = replay(trace, functools.partial(factory, trace.environment))
        except Exception as e:  # one environment that will not start must not hide the others
            ok, reason = False, f"replay raised {type(e).__name__}: {e}"
        if ok:
            report["ok"] += 1
        else:
            logger.warning("%s: proof does not replay: %s", path, reason)
            report["failed"].append({"file": str(path), "reason": reason})
    report["skipped_corrupt"] = [{"file": str(p), "reason": r} for p, r in loader.skipped]
    return report


def main(argv: Sequence[str] | None = None, env_factory: RunEnvFactory | None = None) -> int:
    """``verify <run_dir>`` (exit 1 unless every proved trace replays and none is corrupt) or
    ``show <file>``."""
    parser = argparse.ArgumentParser(prog="python -m experiments.end_to_end.traces")
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="replay every proved trace of a run")
    verify.add_argument("run_dir", type=Path)
    show = sub.add_parser("show", help="summarise one trace file")
    show.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        if args.command == "verify":
            report = verify_run(args.run_dir, env_factory)
            print(json.dumps(report, indent=2))
            return 0 if not report["failed"] and not report["skipped_corrupt"] else 1
        print(summary(load_trace(args.file)))
        return 0
    except TraceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def summary(trace: ProofTrace) -> str:
    """A short human-readable account: theorem, outcome, effort and the proof script."""
    counts = trace.counts
    t = trace.timings
    lines = [
        f"theorem    {trace.theorem_id}  (iteration {trace.iteration}, "
        f"{trace.environment.get('name', '?')})",
        f"status     {trace.status}" + (f": {trace.error}" if trace.error else ""),
        f"effort     {counts.get('expansions', 0)} expansions, {counts.get('nodes', 0)} nodes, "
        f"{counts.get('edges', 0)} edges, errors {counts.get('errors', {})}",
        f"time       {t.total_s:.2f}s total (model {t.model_s:.2f}s, env {t.env_s:.2f}s, "
        f"search {t.search_s:.2f}s)",
    ]
    if trace.proof:
        lines.append(f"proof      {len(trace.proof)} step(s):")
        depth: dict[Any, int] = {}
        for step in trace.proof_steps():
            d = depth.get(step.goal.key, 0)
            for g in step.subgoals:
                depth.setdefault(g.key, d + 1)
            lines.append(f"  {'  ' * d}{step.goal}  by  {step.tactic}")
    return "\n".join(lines)


# --- building the JSON form ---------------------------------------------------------------


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _node_dict(node: Node) -> dict[str, Any]:
    common = {"id": node.id, "status": node.status.value}
    if isinstance(node, InternalNode):
        return {
            "id": node.id,
            "type": "internal",
            "status": node.status.value,
            "goal": node.goal.to_dict(),
            "depth": node.depth,
            "visit_count": node.visit_count,
            "cumulative_logprob": _finite(node.cumulative_logprob),
            "distance_to_proof": _finite(node.distance_to_proof),
            "is_explored": node.is_explored,
            "scores": _jsonable(node.scores, f"nodes[{node.id}].scores"),
        }
    if isinstance(node, ErrorNode):
        return {**common, "type": "error", "kind": node.kind.value, "message": node.message}
    return {**common, "type": "proof_finished"}


def _edge_dict(edge: Edge) -> dict[str, Any]:
    first = edge.dst[0]
    if isinstance(first, ErrorNode):
        outcome, error = first.kind.value, first.message
    elif isinstance(first, ProofFinishedNode):
        outcome, error = "proved", ""
    else:
        outcome, error = "subgoals", ""
    return {
        "id": edge.id,
        "src": edge.src.id,
        "dst": [d.id for d in edge.dst],
        "tactic": edge.tactic,
        "logprob": _finite(edge.logprob),
        "status": edge.status.value,
        "outcome": outcome,
        "error": error,
        "time_s": edge.time_s,
    }


def _step_dict(step: ProofStep) -> dict[str, Any]:
    return {
        "goal": step.goal.to_dict(),
        "tactic": step.tactic,
        "subgoals": [g.to_dict() for g in step.subgoals],
        "edge": step.edge_id,
    }


def _jsonable(value: Any, where: str) -> Any:
    """`value` as strict JSON data: mappings become dicts, sequences lists, enums their values
    and non-finite floats null; anything else is refused, naming where it was found."""
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, numbers.Integral):  # e.g. numpy integers from a search model
        return int(value)
    if isinstance(value, numbers.Real):
        return _finite(float(value))
    if isinstance(value, Goal):
        return value.to_dict()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if isinstance(k, Enum):
                k = k.value
            if k is None or isinstance(k, (bool, int, float)):
                k = json.dumps(k)  # what JSON itself would do with the key
            if not isinstance(k, str):
                raise ValueError(f"{where}: key {k!r} is not a string (JSON keys must be)")
            out[k] = _jsonable(v, f"{where}.{k}")
        return out
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        # Any sequence, e.g. an OmegaConf ListConfig from the run's config.
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ValueError(
        f"{where}: an {type(value).__name__!r} value is not JSON data (convert it to dicts, lists, "
        "strings and numbers first)"
    )


# --- files ---------------------------------------------------------------------------------


def _iteration_name(iteration: int) -> str:
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise ValueError(f"iteration must be a non-negative integer, got {iteration!r}")
    return str(iteration)


def _iteration_dir(run_dir: Path, iteration: int) -> Path:
    return Path(run_dir) / TRACES_DIR / _iteration_name(iteration)


def _file_stem(theorem_id: str) -> str:
    if not isinstance(theorem_id, str) or not theorem_id:
        raise ValueError(f"theorem_id must be a non-empty string, got {theorem_id!r}")
    pieces = [
        c if c in _SAFE_CHARS else "".join(f"%{b:02X}" for b in c.encode()) for c in theorem_id
    ]
    if pieces[0] == ".":
        pieces[0] = "%2E"
    stem = "".join(pieces)
    if len(stem) <= _MAX_STEM_BYTES:
        return stem
    # Too long for one file name: a readable prefix of whole characters, then a hash of the id.
    # "~" never appears in an encoded id, so such names cannot collide with other ids' names.
    prefix, size = [], 0
    for piece in pieces:
        if size + len(piece) > _MAX_STEM_BYTES - 17:
            break
        prefix.append(piece)
        size += len(piece)
    return "".join(prefix) + "~" + hashlib.sha256(theorem_id.encode()).hexdigest()[:16]


def _theorem_id_of(path: Path) -> str:
    return unquote(path.name[: -len(SUFFIX)])


def _trace_files(directory: Path, recursive: bool = False) -> list[Path]:
    """Trace files in `directory`, sorted; temp files of unfinished writes are not traces."""
    if not directory.is_dir():
        return []
    candidates = directory.rglob("*" + SUFFIX) if recursive else directory.glob("*" + SUFFIX)
    return sorted(p for p in candidates if not p.name.startswith(_TMP_PREFIX) and p.is_file())


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; not every platform lets a directory be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- validation ----------------------------------------------------------------------------


def _fail(source: str, where: str, problem: str) -> NoReturn:
    raise TraceError(f"{source}: {where}: {problem}")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_kind(value: Any, kinds: str) -> bool:
    actual = _json_kind(value)
    return any(actual == k or (k == "number" and actual == "integer") for k in kinds.split("|"))


def _check_fields(
    obj: Any,
    spec: Mapping[str, str],
    where: str,
    source: str,
    optional: frozenset[str] = frozenset(),
) -> None:
    """`obj` is an object with exactly the fields of `spec`, each of its JSON kind."""
    if not isinstance(obj, dict):
        _fail(source, where, f"must be an object, got {_json_kind(obj)}")
    unknown = sorted(set(obj) - set(spec))
    if unknown:
        _fail(source, where, f"unknown field(s) {unknown} (expected {sorted(spec)})")
    for name, kinds in spec.items():
        if name not in obj:
            if name in optional:
                continue
            _fail(source, f"{where}.{name}" if where else name, "missing")
        if not _is_kind(obj[name], kinds):
            label = f"{where}.{name}" if where else name
            _fail(
                source, label, f"must be {kinds.replace('|', ' or ')}, got {_json_kind(obj[name])}"
            )


def _goal(d: Any, where: str, source: str) -> Goal:
    try:
        return Goal.from_dict(d)
    except ValueError as e:
        _fail(source, where, str(e))


def _validate(d: Any, source: str) -> None:
    """Every check `from_dict` promises; raises `TraceError` naming `source` and the field."""
    if not isinstance(d, dict):
        raise TraceError(f"{source}: a trace must be a JSON object, got {_json_kind(d)}")
    if "schema_version" not in d:
        raise TraceError(f"{source}: no 'schema_version' field (is this a proof trace?)")
    version = d["schema_version"]
    if _json_kind(version) != "integer":
        _fail(source, "schema_version", f"must be an integer, got {_json_kind(version)}")
    if version != SCHEMA_VERSION:
        fix = (
            "update the framework to read it"
            if version > SCHEMA_VERSION
            else "re-run the attempt to write it in the current format"
        )
        raise TraceError(
            f"{source}: trace schema_version {version} is not supported: this code reads "
            f"schema_version {SCHEMA_VERSION} only ({fix})"
        )
    _check_fields(d, _TRACE_FIELDS, "", source, _OPTIONAL_TRACE_FIELDS)
    if not d["theorem_id"]:
        _fail(source, "theorem_id", "must not be empty")
    if d["status"] not in STATUSES:
        _fail(source, "status", f"{d['status']!r} is not one of {list(STATUSES)}")
    if d["iteration"] < 0:
        _fail(source, "iteration", f"must be non-negative, got {d['iteration']}")
    _check_fields(d["environment"], _ENVIRONMENT_FIELDS, "environment", source)
    _check_fields(d["timings"], _TIMINGS_FIELDS, "timings", source)
    _check_fields(d["counts"], _COUNTS_FIELDS, "counts", source)
    for kind, n in d["counts"]["errors"].items():
        if _json_kind(n) != "integer":
            _fail(source, f"counts.errors.{kind}", f"must be an integer, got {_json_kind(n)}")

    types = [_validate_node(i, n, source) for i, n in enumerate(d["nodes"])]
    for i, e in enumerate(d["edges"]):
        _validate_edge(i, e, types, source)
    _validate_proof(d, types, source)


def _validate_node(i: int, node: Any, source: str) -> str:
    where = f"nodes[{i}]"
    if not isinstance(node, dict):
        _fail(source, where, f"must be an object, got {_json_kind(node)}")
    node_type = node.get("type")
    if node_type not in _NODE_FIELDS:
        _fail(source, f"{where}.type", f"{node_type!r} is not one of {sorted(_NODE_FIELDS)}")
    _check_fields(node, _NODE_FIELDS[node_type], where, source)
    if node["id"] != i:
        _fail(source, f"{where}.id", f"is {node['id']}, but node ids must equal their index {i}")
    if node["status"] not in _NODE_STATUSES:
        _fail(
            source, f"{where}.status", f"{node['status']!r} is not one of {sorted(_NODE_STATUSES)}"
        )
    if node_type == "internal":
        _goal(node["goal"], f"{where}.goal", source)
        for key, value in node["scores"].items():
            if not _is_kind(value, "number|null"):
                _fail(source, f"{where}.scores.{key}", f"must be a number, got {_json_kind(value)}")
    elif node_type == "error" and node["kind"] not in _ERROR_KINDS:
        _fail(source, f"{where}.kind", f"{node['kind']!r} is not one of {sorted(_ERROR_KINDS)}")
    if i == 0 and node_type != "internal":
        _fail(source, where, "the root node must be of type 'internal'")
    return str(node_type)


def _validate_edge(i: int, edge: Any, types: list[str], source: str) -> None:
    where = f"edges[{i}]"
    _check_fields(edge, _EDGE_FIELDS, where, source)
    if edge["id"] != i:
        _fail(source, f"{where}.id", f"is {edge['id']}, but edge ids must equal their index {i}")

    def node_type(node_id: Any, label: str) -> str:
        if _json_kind(node_id) != "integer" or not 0 <= node_id < len(types):
            _fail(source, label, f"node id {node_id!r} does not exist ({len(types)} nodes)")
        return types[int(node_id)]

    if node_type(edge["src"], f"{where}.src") != "internal":
        _fail(source, f"{where}.src", f"node {edge['src']} is not an internal node")
    dst = [node_type(n, f"{where}.dst[{j}]") for j, n in enumerate(edge["dst"])]
    if edge["status"] not in _NODE_STATUSES:
        _fail(
            source, f"{where}.status", f"{edge['status']!r} is not one of {sorted(_NODE_STATUSES)}"
        )
    outcome = edge["outcome"]
    if outcome not in _OUTCOMES:
        _fail(source, f"{where}.outcome", f"{outcome!r} is not one of {sorted(_OUTCOMES)}")
    expected = {"proved": "proof_finished", "subgoals": "internal"}.get(outcome, "error")
    if not dst or any(t != expected for t in dst) or (expected != "internal" and len(dst) != 1):
        _fail(source, f"{where}.dst", f"node types {dst} do not fit outcome {outcome!r}")


def _validate_proof(d: dict[str, Any], types: list[str], source: str) -> None:
    proof, edges = d["proof"], d["edges"]
    if d["status"] != "proved":
        if proof:
            _fail(source, "proof", f"must be empty when status is {d['status']!r}")
        return
    if not proof:
        _fail(source, "proof", "is empty but status is 'proved'")
    for i, step in enumerate(proof):
        where = f"proof[{i}]"
        _check_fields(step, _STEP_FIELDS, where, source)
        goal = _goal(step["goal"], f"{where}.goal", source)
        for j, g in enumerate(step["subgoals"]):
            _goal(g, f"{where}.subgoals[{j}]", source)
        edge_id = step["edge"]
        if not 0 <= edge_id < len(edges):
            _fail(source, f"{where}.edge", f"edge id {edge_id} does not exist ({len(edges)} edges)")
        if edges[edge_id]["tactic"] != step["tactic"]:
            _fail(source, f"{where}.tactic", f"differs from edge {edge_id}'s tactic")
        if i == 0 and (not types or goal.key != _goal(d["nodes"][0]["goal"], "", source).key):
            _fail(source, f"{where}.goal", "the proof's first goal must be the root's goal")


def _script_problem(steps: list[ProofStep]) -> str:
    """Why the steps are not a closed, well-founded script from their first goal, or ""."""
    by_key: dict[Any, ProofStep] = {}
    for step in steps:
        if step.goal.key in by_key:
            return f"goal {step.goal} has more than one step"
        by_key[step.goal.key] = step
    for step in steps:
        for g in step.subgoals:
            if g.key not in by_key:
                return f"subgoal {g} of {step.tactic!r} is never closed by a step of the proof"
    # Depth-first from the first goal: a goal met again while still open is a circular proof.
    state: dict[Any, int] = {}  # 1 = open, 2 = done
    stack: list[tuple[Any, bool]] = [(steps[0].goal.key, False)]
    while stack:
        key, leaving = stack.pop()
        if leaving:
            state[key] = 2
            continue
        if state.get(key) == 2:
            continue
        if state.get(key) == 1:
            return f"the proof is circular at goal {by_key[key].goal}"
        state[key] = 1
        stack.append((key, True))
        stack.extend((g.key, False) for g in by_key[key].subgoals)
    return ""


if __name__ == "__main__":
    sys.exit(main())
