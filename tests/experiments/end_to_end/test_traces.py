"""The trace command line: the JSON Schema, replaying a run's proofs, showing one attempt."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema

from data.traces.files import write_trace
from environments.base import TacticOutcome
from experiments.end_to_end import traces
from experiments.end_to_end.traces import verify_run
from tests.data.traces.sample import (
    ENVIRONMENT,
    PROOF_TABLE,
    THEOREM,
    C,
    FakeEnv,
    make_trace,
    trace_data,
)

REPO = Path(__file__).resolve().parents[3]


def run_env_factory(
    table: dict[tuple[Any, str], TacticOutcome],
) -> Callable[[Mapping[str, Any], Mapping[str, Any]], FakeEnv]:
    def make(environment: Mapping[str, Any], theorem: Mapping[str, Any]) -> FakeEnv:
        assert environment == ENVIRONMENT
        return FakeEnv(dict(theorem), table)

    return make


def test_verify_run_replays_every_iteration(tmp_path: Path) -> None:
    write_trace(make_trace(theorem_id="GOOD", iteration=0), tmp_path)
    write_trace(make_trace(prove=False, theorem_id="UNPROVED", iteration=0), tmp_path)
    other = {**THEOREM, "statement": "c", "sexp": C.conclusion_sexp}  # root C: not this proof
    bad = write_trace(make_trace(theorem_id="BAD", iteration=1, theorem=other), tmp_path)
    write_trace(make_trace(theorem_id="GOOD", iteration=1), tmp_path)
    corrupt = tmp_path / "traces" / "1" / "CORRUPT.json.gz"
    corrupt.write_bytes(b"\x1f\x8b garbage")

    report = verify_run(tmp_path, run_env_factory(PROOF_TABLE))
    assert report["traces"] == 4 and report["checked"] == 3 and report["ok"] == 2
    assert [f["file"] for f in report["failed"]] == [str(bad)]
    assert "root goal" in report["failed"][0]["reason"]
    assert [s["file"] for s in report["skipped_corrupt"]] == [str(corrupt)]

    # The CLI: exit 1 on a failure or a corrupt file, 0 once the run is clean.
    assert traces.main(["verify", str(tmp_path)], run_env_factory(PROOF_TABLE)) == 1
    bad.unlink()
    corrupt.unlink()
    assert traces.main(["verify", str(tmp_path)], run_env_factory(PROOF_TABLE)) == 0


def test_verify_run_counts_an_environment_that_raises_as_a_failure(tmp_path: Path) -> None:
    write_trace(make_trace(theorem_id="GOOD"), tmp_path)

    def broken(environment: Mapping[str, Any], theorem: Mapping[str, Any]) -> FakeEnv:
        raise RuntimeError("prover not installed")

    report = verify_run(tmp_path, broken)
    assert report["checked"] == 1 and report["ok"] == 0
    assert report["failed"][0]["reason"] == "replay raised RuntimeError: prover not installed"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "experiments.end_to_end.traces", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_schema_show_and_verify(tmp_path: Path) -> None:
    schema = run_cli("schema")
    assert schema.returncode == 0, schema.stderr
    document = json.loads(schema.stdout)
    assert document["$schema"].startswith("https://json-schema.org/draft/2020-12")
    jsonschema.validate(trace_data(), document)

    path = write_trace(make_trace(theorem_id="CONJ_AB"), tmp_path)
    shown = run_cli("show", str(path))
    assert shown.returncode == 0, shown.stderr
    assert "theorem    CONJ_AB" in shown.stdout and "status     proved" in shown.stdout
    assert "  |- a /\\ b  by  CONJ_TAC" in shown.stdout
    assert "    h |- a  by  REWRITE_TAC[A_IMP_C]" in shown.stdout
    assert "      |- c  by  ARITH_TAC" in shown.stdout

    path.write_bytes(b"garbage")
    broken = run_cli("show", str(path))
    assert broken.returncode == 1 and "not a valid gzip file" in broken.stderr

    # Nothing proved to replay, so no environment is needed; the corrupt file still fails it.
    write_trace(make_trace(prove=False, theorem_id="OPEN"), tmp_path)
    verified = run_cli("verify", str(tmp_path))
    assert verified.returncode == 1
    report = json.loads(verified.stdout)
    assert report["checked"] == 0 and len(report["skipped_corrupt"]) == 1
    path.unlink()
    assert run_cli("verify", str(tmp_path)).returncode == 0
