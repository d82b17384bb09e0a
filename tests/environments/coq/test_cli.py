"""``python -m environments.coq`` as a subprocess: apply, --batch, roundtrip and export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
NEGB = "Coq.Bool.Bool.negb_involutive"  # forall b : bool, negb (negb b) = b


def cli(
    *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "environments.coq", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


def answers(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize(
    ("tactic", "status"),
    [
        ("destr_bool", "proved"),
        ("intros b; destruct b", "subgoals"),
        ("discriminate", "error"),
        ("auto. Drop.", "rejected"),
        ("repeat (assert True by trivial)", "timeout"),
    ],
)
def test_apply_prints_one_json_object_for_each_outcome(
    coqidetop: str, tactic: str, status: str
) -> None:
    out = cli("apply", "--theorem", NEGB, "--tactic", tactic, "--timeout", "1")
    (answer,) = answers(out.stdout)
    assert answer["status"] == status, answer
    assert set(answer) >= {"status", "subgoals", "error", "time_s"}
    if status == "subgoals":
        assert answer["subgoals"] == [
            {"hypotheses": [], "conclusion": "negb (negb true) = true"},
            {"hypotheses": [], "conclusion": "negb (negb false) = false"},
        ]
    else:
        assert answer["subgoals"] == []
        assert bool(answer["error"]) == (status != "proved")


def test_batch_answers_every_line_and_names_what_is_wrong_with_a_bad_one(coqidetop: str) -> None:
    requests = [
        json.dumps({"theorem": NEGB, "tactic": "destr_bool"}),
        json.dumps({"theorem": NEGB, "tactic": "intros b; destruct b", "timeout": 2}),
        "not json",
        "",
        json.dumps([NEGB, "auto"]),
        json.dumps({"theorem": "Coq.Nowhere.nothing", "tactic": "auto"}),
        json.dumps({"theorem": NEGB, "tactic": 3}),
        json.dumps({"theorem": NEGB, "tactic": "auto", "timeout": -1}),
        json.dumps({"theorem": "Coq.Bool.Bool.diff_true_false", "tactic": "idtac. Drop."}),
        json.dumps({"theorem": "Coq.Bool.Bool.diff_true_false", "tactic": "discriminate"}),
    ]
    out = cli("apply", "--batch", stdin="\n".join(requests) + "\n")
    got = answers(out.stdout)
    assert [a["status"] for a in got] == [
        "proved",
        "subgoals",
        "error",
        "error",
        "error",
        "error",
        "error",
        "rejected",
        "proved",
    ]
    assert got[2]["error"].startswith("bad request")
    assert "JSON object" in got[3]["error"]
    assert "'theorem' must name a lemma" in got[4]["error"] and "Coq.Nowhere" in got[4]["error"]
    assert "'tactic' must be a string" in got[5]["error"]
    assert "'timeout'" in got[6]["error"]


def test_apply_without_a_theorem_is_a_usage_error(coqidetop: str) -> None:
    out = cli("apply", "--tactic", "auto", check=False)
    assert out.returncode == 2 and "--theorem" in out.stderr and out.stdout == ""


def test_roundtrip_reports_the_lemmas_proved_by_their_own_proofs(coqidetop: str) -> None:
    out = cli("roundtrip", "--limit", "4")
    report = json.loads(out.stdout)
    assert (report["proved"], report["total"], report["rate"]) == (4, 4, 1.0)
    assert report["failures"] == {}


def test_export_of_another_project_is_applied_with_its_load_path(
    coqidetop: str, tmp_path: Path
) -> None:
    library = tmp_path / "theories"
    library.mkdir()
    (library / "Small.v").write_text("Lemma two : 1 + 1 = 2.\nProof.\n  reflexivity.\nQed.\n")
    (tmp_path / "_CoqProject").write_text("-R theories Small\ntheories/Small.v\n")
    out_dir = tmp_path / "db"
    out = cli("export", "--coq-project", str(tmp_path / "_CoqProject"), "--out", str(out_dir))
    assert json.loads(out.stdout.splitlines()[-1]) == {
        "theorems": 1,
        "files": 1,
        "out": str(out_dir),
    }
    header = json.loads((out_dir / "files.json").read_text())
    assert header["coq_args"] == ["-R", str(library), "Small"]
    out = cli(
        "apply", "--database", str(out_dir), "--theorem", "Small.Small.two", "--tactic", "auto"
    )
    assert answers(out.stdout)[0]["status"] == "proved"
