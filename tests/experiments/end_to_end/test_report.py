"""The run report: figures from traces, valid PNGs, one escaped self-contained HTML, bad input."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest

from data.proof_tree import ErrorKind, Goal, ProofTree
from data.traces.attempts import AttemptRecord
from data.traces.files import load_trace, trace_path, write_trace
from data.traces.schema import READABLE_VERSIONS, ProofTrace, Timings
from experiments.end_to_end import summary
from experiments.end_to_end.report import plots, run_data
from experiments.end_to_end.report.__main__ import main

REPO = Path(__file__).resolve().parents[3]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOT_FILES = [name for name, _, _ in plots.PLOTS]
EVIL = "<script>alert(1)</script>"
EVIL_MESSAGE = "worker died: <img src=x onerror=alert(2)>"

ROOT = Goal("a /\\ b", conclusion_sexp="(root)")
A = Goal("a", conclusion_sexp="(a)")
ENVIRONMENT = {"name": "fake", "config": {"timeout": 2.0}}


def proved_trace(theorem_id: str, iteration: int, total_s: float, role: str = "eval") -> ProofTrace:
    """Root -> A by STRIP_TAC, A closed by ARITH_TAC: a 2-step proof, after one tactic error."""
    tree = ProofTree(ROOT)
    tree.add_edge(tree.root, "BAD_TAC", -2.0, error=(ErrorKind.TACTIC_ERROR, "boom"), time_s=0.1)
    strip = tree.add_edge(tree.root, "STRIP_TAC", -0.5, subgoals=[A], time_s=0.2)
    tree.add_edge(strip.dst[0], "ARITH_TAC", -0.1, subgoals=[], time_s=0.3)  # type: ignore[arg-type]
    return from_tree(theorem_id, iteration, tree, "proved", total_s, role)


def failed_trace(
    theorem_id: str,
    iteration: int,
    kinds: list[ErrorKind],
    status: str = "failed",
    role: str = "eval",
) -> ProofTrace:
    """Only errors out of the root, one of each kind given."""
    tree = ProofTree(ROOT)
    for i, kind in enumerate(kinds):
        tree.add_edge(tree.root, f"TAC_{i}", -1.0, error=(kind, f"{kind.value} here"), time_s=0.5)
    return from_tree(theorem_id, iteration, tree, status, 4.0, role)


def from_tree(
    theorem_id: str, iteration: int, tree: ProofTree, status: str, total_s: float, role: str
) -> ProofTrace:
    return ProofTrace.from_tree(
        theorem_id=theorem_id,
        theorem={"name": theorem_id, "statement": ROOT.conclusion},
        environment=ENVIRONMENT,
        tree=tree,
        status=status,
        iteration=iteration,
        search_trace=[],
        timings=Timings(total_s=total_s, model_s=total_s / 4, env_s=total_s / 2, search_s=0.01),
        expansions=len(tree.edges),
        models={},
        role=role,
    )


def make_run(run_dir: Path) -> Path:
    """Two iterations of eval and data attempts; each trace says its own role.

    Iteration 0: eval P0 proved, F0 failed (tactic_error x2, tactic_timeout), EVIL an error
    trace; data D0 proved. Iteration 1: eval P0 and P1 proved, F0 failed (process_crash,
    rejected, no_progress, cycle); data D0 timed out.
    """
    k = ErrorKind
    errored = ProofTrace.error_trace(
        theorem_id=EVIL,
        theorem={"name": EVIL},
        environment=ENVIRONMENT,
        iteration=0,
        message=EVIL_MESSAGE,
    )
    traces = [
        proved_trace("P0", 0, 2.0),
        failed_trace("F0", 0, [k.TACTIC_ERROR, k.TACTIC_ERROR, k.TACTIC_TIMEOUT]),
        errored.model_copy(update={"timings": Timings(total_s=30.0)}),
        proved_trace("D0", 0, 1.0, role="data"),
        proved_trace("P0", 1, 1.5),
        proved_trace("P1", 1, 3.0),
        failed_trace("F0", 1, [k.PROCESS_CRASH, k.REJECTED, k.NO_PROGRESS, k.CYCLE]),
        failed_trace("D0", 1, [k.TACTIC_TIMEOUT], status="timeout", role="data"),
    ]
    for trace in traces:
        write_trace(trace, run_dir)
    return run_dir


def table_row(page: str, iteration: int, role: str) -> dict[str, str]:
    """The cells of the per-iteration table's row for (iteration, role), by column key."""
    match = re.search(rf'<tr data-iteration="{iteration}" data-role="{role}">(.*?)</tr>', page)
    assert match, f"no row for iteration {iteration}, role {role}"
    return dict(re.findall(r'<td data-col="([^"]+)"[^>]*>([^<]*)</td>', match.group(1)))


def section(page: str, heading: str) -> str:
    """The HTML from an <h2> heading to the next one."""
    start = page.index(heading)
    end = page.find("<h2", start + 1)
    return page[start : end if end >= 0 else len(page)]


def assert_valid_pngs(out: Path) -> None:
    for name in PLOT_FILES:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000, name
        image = matplotlib.image.imread(out / name)
        assert image.shape[:2] == (450, 800), name


def snapshot(run_dir: Path, but: Path) -> dict[str, str]:
    """Every file under run_dir except those under `but`, with a hash of its content."""
    return {
        str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and but not in p.parents
    }


# --- a synthetic run ---------------------------------------------------------------------


def test_report_of_a_synthetic_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = make_run(tmp_path / "run")
    before = snapshot(run_dir, run_dir / "report")

    assert main([str(run_dir)]) == 0

    out = run_dir / "report"
    assert_valid_pngs(out)
    page = (out / "report.html").read_text()
    stdout = capsys.readouterr().out
    assert f"report written to {out / 'report.html'}" in stdout
    assert "Pass@1 iteration 0 0.333 (1/3, 1 errored), iteration 1 0.667 (2/3)" in stdout

    it0, data0 = table_row(page, 0, "eval"), table_row(page, 0, "data")
    it1, data1 = table_row(page, 1, "eval"), table_row(page, 1, "data")
    assert (it0["attempted"], it0["proved"], it0["pass_at_1"]) == (
        "3",
        "1",
        "0.333 (1/3, 1 errored)",
    )
    assert (data0["attempted"], data0["proved"], data0["pass_at_1"]) == ("1", "1", "1.000 (1/1)")
    assert (it1["attempted"], it1["proved"], it1["pass_at_1"]) == ("3", "2", "0.667 (2/3)")
    assert (data1["attempted"], data1["proved"], data1["pass_at_1"]) == ("1", "0", "0.000 (0/1)")
    # The error trace is errored, apart from failed and timeout.
    assert (it0["failed"], it0["timeout"], it0["errored"]) == ("1", "0", "1")
    assert (data1["failed"], data1["timeout"], data1["errored"]) == ("0", "1", "0")
    # Error nodes by kind: P0's one tactic_error plus F0's.
    assert (it0["tactic_error"], it0["tactic_timeout"], it0["cycle"]) == ("3", "1", "0")
    assert [it1[k] for k in ("process_crash", "rejected", "no_progress", "cycle")] == ["1"] * 4
    # Mean and p95 time are summary.py's: eval of iteration 0 took 2, 4 and 30 s.
    assert (it0["mean_time_s"], it0["p95_time_s"]) == ("12.00", "30.00")

    # The plots are embedded, byte for byte the PNG files next to the page.
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == len(PLOT_FILES)
    for name, data in zip(PLOT_FILES, embedded, strict=True):
        assert base64.b64decode(data) == (out / name).read_bytes()
    assert 'src="' not in page.replace('src="data:image/png;base64,', "")  # nothing external

    # Untrusted strings from traces are escaped, wherever they appear.
    assert EVIL not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section(page, "Slowest attempts")
    assert "&lt;img src=x onerror=alert(2)&gt;" in section(page, "Attempts that did not run")
    assert "None: every trace file loaded." in section(page, "Skipped files")

    assert snapshot(run_dir, run_dir / "report") == before  # only report/ was written
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


def test_attempts_and_roles_come_from_the_traces(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    # An attempt log that contradicts the traces is not read: the traces say the role.
    p0 = AttemptRecord.of(load_trace(trace_path(run_dir, 0, "P0")))
    summary.append_attempt(run_dir, p0.model_copy(update={"role": "data"}))

    run = run_data.read_run(run_dir, progress=False)
    assert run.skipped == [] and run.iterations == [0, 1]
    by_key = {a.key: a for a in run.attempts}
    assert len(by_key) == 8
    assert by_key["0/P0"].proof_length == 2 and by_key["0/P0"].status == "proved"
    assert by_key["0/P0"].role == "eval" and by_key["0/D0"].role == "data"
    assert by_key["0/F0"].errors == {"tactic_error": 2, "tactic_timeout": 1}
    assert by_key[f"0/{EVIL}"].error == EVIL_MESSAGE and by_key[f"0/{EVIL}"].total_s == 30.0
    assert by_key["1/P1"].path == str(trace_path(run_dir, 1, "P1"))
    # The per-iteration numbers are summary.py's, computed from these records.
    assert run.metrics() == [
        summary.iteration_metrics(k, [a for a in run.attempts if a.iteration == k]) for k in (0, 1)
    ]
    assert run.metrics()[0]["errored"] == 1 and run.metrics()[1]["data"]["timeout"] == 1


def test_out_option_writes_only_there(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    out = tmp_path / "elsewhere" / "report"
    assert main([str(run_dir), "--out", str(out)]) == 0
    assert (out / "report.html").is_file()
    assert_valid_pngs(out)
    assert not (run_dir / "report").exists()


def config_row(page: str, label: str) -> dict[str, str]:
    """The config table's cells for one setting, by iteration (a YAML error spans lines)."""
    row = rf'<tr><td data-col="setting"[^>]*>{re.escape(label)}</td>(.*?)</tr>'
    match = re.search(row, page, re.S)
    assert match, f"no config row {label!r}"
    return dict(re.findall(r'<td data-col="([^"]+)"[^>]*>([^<]*)</td>', match.group(1)))


def test_config_summary_from_the_runs_configs(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    (run_dir / "configs").mkdir()
    (run_dir / "configs" / "0.yaml").write_text(
        "tac_model:\n  _target_: models.T<b>M\n  ckpt_path: null\n"
        "search_model:\n  _target_: models.end_to_end.search_models.bestfs.BestFS\n"
        "total_timeout: 10.0\nenv_timeout: 8.0\n"
        "env_config:\n  environment:\n    timeout: 2.0\n"
    )
    (run_dir / "configs" / "1.yaml").write_text("tac_model: [unclosed\n")
    (run_dir / "configs" / "2.yaml").write_text("- a list\n")
    (run_dir / "configs" / "3.yaml").write_text("total_timeout: ${nowhere}\n")
    assert main([str(run_dir)]) == 0
    config = section((run_dir / "report" / "report.html").read_text(), "Configuration")
    assert config_row(config, "tac_model")["0"] == "models.T&lt;b&gt;M"
    assert config_row(config, "search_model")["0"].endswith("BestFS")
    assert config_row(config, "tac_model checkpoint")["0"] == "-"  # null: not set
    assert config_row(config, "experiment")["0"] == "-"  # absent
    timeouts = [config_row(config, k)["0"] for k in ("total_timeout (s)", "env_timeout (s)")]
    assert timeouts + [config_row(config, "tactic timeout (s)")["0"]] == ["10.0", "8.0", "2.0"]
    problems = config_row(config, "problem")
    assert problems["0"] == "-" and problems["1"].startswith("1.yaml: unreadable")
    assert problems["2"] == "2.yaml: not a mapping"
    assert "nowhere" in config_row(config, "total_timeout (s)")["3"]


# --- bad input ---------------------------------------------------------------------------


def test_empty_run_dir_still_gives_a_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = tmp_path / "empty"
    run_dir.mkdir()
    assert main([str(run_dir)]) == 0
    out = run_dir / "report"
    assert_valid_pngs(out)
    page = (out / "report.html").read_text()
    assert 'id="no-traces"' in page and "No traces" in page
    assert "No attempts." in section(page, "Per iteration")
    assert "No configs/&lt;k&gt;.yaml in the run." in section(page, "Configuration")
    assert page.count("data:image/png;base64,") == len(PLOT_FILES)
    assert "no traces" in capsys.readouterr().out
    assert sorted(p.name for p in run_dir.iterdir()) == ["report"]


@pytest.mark.parametrize("plot", [plot for _, _, plot in plots.PLOTS])
def test_every_plot_says_no_data_without_attempts(plot: Any) -> None:
    figure = plot([])
    assert [t.get_text() for t in figure.axes[0].texts] == ["no data"]


def test_corrupt_and_old_schema_traces_are_skipped_and_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = make_run(tmp_path / "run")
    broken = run_dir / "traces" / "0" / "BROKEN.json.gz"
    broken.write_bytes(b"not gzip at all")
    old = trace_path(run_dir, 1, "P1")
    data = json.loads(gzip.decompress(old.read_bytes()))
    data["schema_version"] = 0
    old.write_bytes(gzip.compress(json.dumps(data).encode()))

    assert main([str(run_dir)]) == 0

    page = (run_dir / "report" / "report.html").read_text()
    skipped = section(page, "Skipped files")
    assert "2 trace file(s) did not load" in skipped
    assert "traces/0/BROKEN.json.gz" in skipped and "not a valid gzip file" in skipped
    assert "traces/1/P1.json.gz" in skipped
    readable = ", ".join(map(str, READABLE_VERSIONS))
    assert f"schema_version: 0 is not supported: this code reads schema_version {readable}" in (
        skipped
    )
    # P1 is left out of iteration 1's figures.
    it1 = table_row(page, 1, "eval")
    assert (it1["attempted"], it1["proved"], it1["pass_at_1"]) == ("2", "1", "0.500 (1/2)")
    assert_valid_pngs(run_dir / "report")
    captured = capsys.readouterr()
    assert "skipped 2 trace file(s)" in captured.err
    assert "7 trace(s), 2 skipped" in captured.out


def test_missing_run_dir_is_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "no-such-run"
    assert main([str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"run directory {missing} does not exist" in err
    assert not missing.exists()

    a_file = tmp_path / "file"
    a_file.write_text("")
    assert main([str(a_file)]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_unwritable_output_is_exit_code_1(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = make_run(tmp_path / "run")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main([str(run_dir), "--out", str(blocker / "report")]) == 1
    assert f"cannot write the report into {blocker / 'report'}" in capsys.readouterr().err


# --- the CLI and a real run --------------------------------------------------------------


def test_cli_as_a_subprocess(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    (run_dir / "traces" / "1" / "BROKEN.json.gz").write_bytes(b"garbage")
    done = subprocess.run(
        [sys.executable, "-m", "experiments.end_to_end.report", str(run_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"report written to {run_dir / 'report' / 'report.html'}" in done.stdout
    assert "Pass@1 iteration 0 0.333 (1/3, 1 errored), iteration 1 0.667 (2/3)" in done.stdout
    assert "reading traces" in done.stderr  # the progress bar
    assert "BROKEN.json.gz: not a valid gzip file" in done.stderr
    assert "skipped 1 trace file(s)" in done.stderr
    assert_valid_pngs(run_dir / "report")

    missing = subprocess.run(
        [sys.executable, "-m", "experiments.end_to_end.report", str(tmp_path / "nope")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_the_report_does_not_need_torch() -> None:
    code = "import sys, experiments.end_to_end.report.__main__; print('torch' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.hol_light
@pytest.mark.slow
def test_report_of_a_real_run_matches_its_summary(real_run: Path) -> None:
    assert main([str(real_run)]) == 0
    out = real_run / "report"
    assert_valid_pngs(out)
    page = (out / "report.html").read_text()
    iterations = json.loads((real_run / "summary.json").read_text())["iterations"]
    assert [it["iteration"] for it in iterations] == [0, 1]
    for it in iterations:
        row = table_row(page, it["iteration"], "eval")
        assert row["pass_at_1"] == summary.pass_at_1_text(it)
        for key in ("attempted", "proved", "failed", "timeout", "errored"):
            assert row[key] == str(it[key]), key
    assert "None: every trace file loaded." in section(page, "Skipped files")
