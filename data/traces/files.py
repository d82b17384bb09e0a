"""Trace files: where a trace lives, how it is written (atomically) and read (validated).

One gzip JSON file per attempt, ``<run_dir>/traces/<iteration>/<theorem_id>.json.gz``, written
the moment the attempt ends. Every way a file can be unusable (not gzip, truncated, not JSON,
an unknown schema version, a field that does not fit) is one `TraceError` naming the file and
the field.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import string
import zlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from data.files import write_atomic
from data.traces.attempts import AttemptRecord
from data.traces.schema import READABLE_VERSIONS, SCHEMA_VERSION, ProofTrace, upgrade

logger = logging.getLogger(__name__)

TRACES_DIR = "traces"
SUFFIX = ".json.gz"

_SAFE_CHARS = frozenset(string.ascii_letters + string.digits + "_.'-")
_MAX_STEM_BYTES = 200  # file systems allow 255 bytes per name; leave room for the suffix


_NODE_TAGS = frozenset({"internal", "proof_finished", "error"})


class TraceError(ValueError):
    """A trace file that cannot be used; the message says which file and what is wrong."""


def trace_path(run_dir: Path | str, iteration: int, theorem_id: str) -> Path:
    """``<run_dir>/traces/<iteration>/<theorem_id>.json.gz``, the id made one safe file name.

    Anything but ``[A-Za-z0-9_.'-]`` is percent-encoded (so ``/`` and ``%`` are), and so is a
    leading ``.``, which keeps ``..`` from escaping and trace files apart from temp files.
    """
    return iteration_dir(run_dir, iteration) / (_file_stem(theorem_id) + SUFFIX)


def iteration_dir(run_dir: Path | str, iteration: int) -> Path:
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise ValueError(f"iteration must be a non-negative integer, got {iteration!r}")
    return Path(run_dir) / TRACES_DIR / str(iteration)


def write_trace(trace: ProofTrace, run_dir: Path | str) -> Path:
    """Write `trace` to its `trace_path` atomically and durably; return the path."""
    path = trace_path(run_dir, trace.iteration, trace.theorem_id)
    # mtime=0 keeps the clock out of the gzip header: the same trace gives the same bytes.
    write_atomic(path, gzip.compress(trace.model_dump_json().encode(), mtime=0))
    return path


def load_trace(path: Path | str) -> ProofTrace:
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
    return parse_trace(data, str(path))


def parse_trace(data: Any, source: str = "<data>") -> ProofTrace:
    """Validate parsed JSON as a trace (upgrading older schemas); TraceError naming `source`."""
    if not isinstance(data, dict):
        raise TraceError(f"{source}: a trace must be a JSON object, got {type(data).__name__}")
    if "schema_version" not in data:
        raise TraceError(f"{source}: no 'schema_version' field (is this a proof trace?)")
    version = data["schema_version"]
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        fix = (
            "update the framework to read it"
            if isinstance(version, int) and version > SCHEMA_VERSION
            else "re-run the attempt to write it in the current format"
        )
        raise TraceError(
            f"{source}: schema_version: {version!r} is not supported: this code reads "
            f"schema_version {', '.join(map(str, READABLE_VERSIONS))} ({fix})"
        )
    try:
        return ProofTrace.model_validate(upgrade(data))
    except ValidationError as e:
        raise TraceError(f"{source}: {_first_problem(e)}") from e


def _first_problem(error: ValidationError) -> str:
    """The first validation problem as ``field.path: message`` (and how many more there are)."""
    problems = error.errors()
    first = problems[0]
    loc = [p for p in first["loc"] if p not in _NODE_TAGS]  # the union's tag is not a field
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return f"{where}: {message}{more}" if where else f"{message}{more}"


def trace_files(directory: Path, recursive: bool = False) -> list[Path]:
    """Trace files in `directory`, sorted; temp files of unfinished writes are not traces."""
    if not directory.is_dir():
        return []
    candidates = directory.rglob("*" + SUFFIX) if recursive else directory.glob("*" + SUFFIX)
    return sorted(p for p in candidates if not p.name.startswith(".") and p.is_file())


def validate_completed(
    run_dir: Path, iteration: int
) -> tuple[dict[str, AttemptRecord], list[Path]]:
    """Load every trace file of an iteration: the good attempts by theorem id, and bad files.

    A file is bad if it does not load, or holds another theorem or iteration than its name says;
    resume re-runs the theorems of bad files.
    """
    good: dict[str, AttemptRecord] = {}
    bad: list[Path] = []
    for path in trace_files(iteration_dir(run_dir, iteration)):
        try:
            trace = load_trace(path)
        except TraceError as e:
            logger.warning("corrupt trace, will be re-run: %s", e)
            bad.append(path)
            continue
        expected = trace_path(run_dir, iteration, trace.theorem_id)
        if trace.iteration != iteration or expected.name != path.name:
            logger.warning(
                "%s: holds theorem %r of iteration %d, not what its name says; will be re-run",
                path,
                trace.theorem_id,
                trace.iteration,
            )
            bad.append(path)
            continue
        good[trace.theorem_id] = AttemptRecord.of(trace, path)
    return good, bad


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
