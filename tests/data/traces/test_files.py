"""Trace files: one safe name per theorem, atomic gzip writes, every unusable file a TraceError."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from data import files
from data.hol_light.database import TheoremRecord
from data.traces.files import (
    TraceError,
    load_trace,
    trace_files,
    trace_path,
    validate_completed,
    write_trace,
)
from tests.data.traces.sample import gz_json, make_trace, trace_data


def test_write_load_round_trip_is_equal_and_gzip(tmp_path: Path) -> None:
    record = TheoremRecord("ADD_SYM", "!m n. m + n = n + m", "(sexp)", 7, "train", "arith.ml")
    trace = make_trace(theorem=dataclasses.asdict(record), theorem_id=record.name, iteration=2)
    path = write_trace(trace, tmp_path)
    assert path == tmp_path / "traces" / "2" / "ADD_SYM.json.gz"
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    data = json.loads(gzip.decompress(path.read_bytes()))
    assert set(data) == set(type(trace).model_fields)
    assert data["theorem"]["hypotheses"] == []  # the record's tuple, as JSON
    assert load_trace(path) == trace
    assert os.listdir(path.parent) == ["ADD_SYM.json.gz"]  # no temp file left behind
    assert write_trace(trace, tmp_path).read_bytes() == path.read_bytes()  # same trace, same bytes


def test_a_crash_before_the_rename_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = make_trace()

    def crash(*args: Any) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(files.os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        write_trace(trace, tmp_path)
    target = trace_path(tmp_path, 0, "CONJ_AB")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # the temp file was removed too


def test_a_crash_while_overwriting_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = make_trace(prove=False)
    path = write_trace(old, tmp_path)

    def crash(fd: int) -> None:
        raise OSError("fsync failed")

    monkeypatch.setattr(files.os, "fsync", crash)
    with pytest.raises(OSError, match="fsync failed"):
        write_trace(make_trace(prove=True), tmp_path)
    assert load_trace(path) == old
    assert os.listdir(path.parent) == [path.name]


@pytest.mark.parametrize(
    ("theorem_id", "name"),
    [
        ("Hashek.hashek_eq", "Hashek.hashek_eq.json.gz"),
        ("WF_REC_TAIL_GENERAL'", "WF_REC_TAIL_GENERAL'.json.gz"),
        ("../etc", "%2E.%2Fetc.json.gz"),
        ("..", "%2E..json.gz"),
        ("a/b", "a%2Fb.json.gz"),
        ("a%2Fb", "a%252Fb.json.gz"),
        ("α ∧ β", "%CE%B1%20%E2%88%A7%20%CE%B2.json.gz"),
    ],
)
def test_trace_path_makes_one_safe_file_per_id(tmp_path: Path, theorem_id: str, name: str) -> None:
    path = write_trace(make_trace(theorem_id=theorem_id, iteration=3), tmp_path)
    assert path == trace_path(tmp_path, 3, theorem_id)
    assert path.parent == tmp_path / "traces" / "3" and path.name == name
    assert path.resolve().parent == (tmp_path / "traces" / "3").resolve()
    assert trace_files(path.parent) == [path]


def test_trace_path_refuses_bad_ids_and_shortens_long_ones(tmp_path: Path) -> None:
    for bad in ("", None):
        with pytest.raises(ValueError, match="theorem_id"):
            trace_path(tmp_path, 0, bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="iteration"):
        trace_path(tmp_path, -1, "x")
    long_a, long_b = "é" * 300 + "a", "é" * 300 + "b"
    name_a, name_b = trace_path(tmp_path, 0, long_a).name, trace_path(tmp_path, 0, long_b).name
    assert name_a != name_b and len(name_a.encode()) < 255 and "~" in name_a


def with_change(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    d = trace_data()
    change(d)
    return d


CORRUPT_FILES: dict[str, tuple[Callable[[], bytes], str]] = {
    "not_gzip": (lambda: b"hello, not gzip", "not a valid gzip file"),
    "truncated": (
        lambda: gzip.compress(json.dumps(trace_data()).encode())[:200],
        "truncated or damaged gzip",
    ),
    "not_json": (lambda: gzip.compress(b'{"schema_version": 3, '), "not valid JSON"),
    "not_utf8": (lambda: gzip.compress(b"\xff\xfe"), "not UTF-8"),
    "not_object": (lambda: gzip.compress(b"[1, 2]"), "must be a JSON object, got list"),
    "no_version": (
        lambda: gzip.compress(json.dumps(with_change(lambda d: d.pop("schema_version"))).encode()),
        "no 'schema_version' field",
    ),
    "unknown_version": (
        lambda: gzip.compress(
            json.dumps(with_change(lambda d: d.update(schema_version=9))).encode()
        ),
        r"schema_version: 9 is not supported: this code reads schema_version 1, 2, 3",
    ),
    "dangling_edge": (
        lambda: gzip.compress(
            json.dumps(with_change(lambda d: d["edges"][2]["dst"].append(999))).encode()
        ),
        r"edges\[2\]\.dst\[2\]: node id 999 does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPT_FILES))
def test_unusable_files_raise_trace_error_naming_file_and_problem(
    tmp_path: Path, case: str
) -> None:
    content, problem = CORRUPT_FILES[case]
    path = trace_path(tmp_path, 0, case)
    path.parent.mkdir(parents=True)
    path.write_bytes(content())
    with pytest.raises(TraceError, match=problem) as info:
        load_trace(path)
    assert str(info.value).startswith(f"{path}: ")


def test_a_missing_file_is_a_trace_error(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read the file"):
        load_trace(tmp_path / "nope.json.gz")


def populate_iteration(run_dir: Path, iteration: int) -> dict[str, Path]:
    """Two good traces, three unusable ones and two files that are not traces."""
    good = [make_trace(theorem_id=t, iteration=iteration) for t in ("A_THM", "B_THM'")]
    paths = {t.theorem_id: write_trace(t, run_dir) for t in good}
    folder = run_dir / "traces" / str(iteration)
    (folder / "BROKEN.json.gz").write_bytes(b"garbage")
    gz_json(folder / "OLD.json.gz", with_change(lambda d: d.update(schema_version=0)))
    gz_json(
        folder / "WRONG_NAME.json.gz",
        json.loads(make_trace(theorem_id="OTHER", iteration=iteration).model_dump_json()),
    )
    (folder / ".tmp123.tmp").write_bytes(b"half a write")
    (folder / ".hidden.json.gz").write_bytes(b"never a trace: encoded names never start with '.'")
    return paths


def test_validate_completed_finds_the_files_to_rerun(tmp_path: Path) -> None:
    paths = populate_iteration(tmp_path, 0)
    good, bad = validate_completed(tmp_path, 0)
    assert sorted(good) == ["A_THM", "B_THM'"]
    assert good["A_THM"].path == str(paths["A_THM"]) and good["A_THM"].status == "proved"
    folder = tmp_path / "traces" / "0"
    assert bad == [folder / n for n in ("BROKEN.json.gz", "OLD.json.gz", "WRONG_NAME.json.gz")]
    assert validate_completed(tmp_path, 1) == ({}, [])  # no such iteration yet
