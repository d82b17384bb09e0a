from __future__ import annotations

from pathlib import Path

import pytest

from data import files


def test_a_failed_write_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_bytes(b"old")

    def refuse(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        files.write_atomic(target, b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert target.read_bytes() == b"old"


def test_write_atomic_replaces_the_whole_file_and_shares_it(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out.json"
    files.write_atomic(target, "first")
    files.write_atomic(target, "second")
    assert target.read_text() == "second"
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]
