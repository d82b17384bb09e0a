from __future__ import annotations

import json
import re
from pathlib import Path

from data.traces.files import write_trace
from experiments.end_to_end.visualise.__main__ import main
from experiments.end_to_end.visualise.export import export_html, library_scripts
from experiments.end_to_end.visualise.runs import RunIndex

from .conftest import export_with_cli, search_trace_of


def embedded_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="itp-data">(.*?)</script>', page, re.S)
    assert match, "the page embeds its data"
    return json.loads(match.group(1))


def test_export_is_self_contained_and_holds_every_view(messy_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "run.html"
    assert export_html(RunIndex.load(messy_run, progress=False), out) == 3
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "no network fetch"
    assert page.count("data:text/javascript;charset=utf-8;base64,") == len(library_scripts()) + 1
    data = embedded_data(page)
    assert sorted(data["views"]) == ["0/CONJ_AB", "0/OPEN_ONE", "1/CONJ_AB"]
    assert [e["id"] for e in data["entries"]] == ["0/CONJ_AB", "0/OPEN_ONE", "1/CONJ_AB"]
    assert all("path" not in e for e in data["entries"]), "no local paths in a shared file"
    assert len(data["notices"]) == 2 and "schema_version: 0" in " ".join(data["notices"])
    proof = data["views"]["0/CONJ_AB"]["proof"]
    assert [s["tactic"] for s in proof][:1] == ["CONJ_TAC"]
    assert not list(out.parent.glob(".*.tmp")), "written through a temp file"


def test_trace_text_cannot_break_out_of_the_page(tmp_path: Path) -> None:
    evil = "</script><script>alert(1)</script>"
    write_trace(search_trace_of(evil), tmp_path / "run")
    out = tmp_path / "evil.html"
    export_html(RunIndex.load(tmp_path / "run", progress=False), out)
    page = out.read_text(encoding="utf-8")
    assert evil not in page and "<script>alert" not in page
    assert embedded_data(page)["entries"][0]["theorem_id"] == evil


def test_cli_exports_one_attempt_and_reports_bad_input(messy_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "one.html"
    assert main([str(messy_run), "--html", str(out), "--attempt", "1/CONJ_AB"]) == 0
    assert list(embedded_data(out.read_text(encoding="utf-8"))["views"]) == ["1/CONJ_AB"]
    assert main([str(messy_run), "--html", str(out), "--attempt", "9/NOPE"]) == 2
    assert main([str(tmp_path / "missing"), "--html", str(out)]) == 2
    done = export_with_cli(messy_run, out)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "(3 attempt(s))" in done.stdout
    assert "Skipped" in done.stderr and "ANCIENT" in done.stderr and "BROKEN" in done.stderr


def test_cli_on_a_run_without_traces(tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    assert main([str(tmp_path), "--html", str(out)]) == 0
    data = embedded_data(out.read_text(encoding="utf-8"))
    assert data["views"] == {} and data["notices"] == [f"No readable traces in {tmp_path}."]
