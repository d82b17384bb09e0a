"""The exporter on the real Coq: the packaged records reproduced, what it records of a lemma,
load order, another project's _CoqProject, and the round trip on a sample of the library."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from data.coq.database import CoqDatabase
from data.proof_tree import Goal, Status
from data.splits import split_of
from environments.coq import sentences
from environments.coq.driver import Coq
from environments.coq.env import CoqEnv
from environments.coq.export import (
    DEFAULT_LIBRARY,
    ExportError,
    export,
    load_order,
    read_coq_project,
    required_modules,
    resolve,
    roundtrip,
)
from tests.environments.coq.conftest import Tricky


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.slow
def test_exporting_bool_reproduces_the_packaged_records(
    coqidetop: str, database: CoqDatabase, tmp_path: Path
) -> None:
    fresh = export(dirs=["Bool"], out=tmp_path / "bool")
    packaged = {r.name: r for r in database if r.file.startswith("Bool/")}
    assert sorted(r.name for r in fresh) == sorted(packaged)
    fields = ("file", "sentence", "statement", "hypotheses", "conclusion", "axioms", "proof")
    for r in fresh:
        assert [getattr(r, f) for f in fields] == [getattr(packaged[r.name], f) for f in fields]
        assert r.split == packaged[r.name].split == split_of(r.name)
    for path, source in fresh.files.items():
        assert source.sha256 == database.files[path].sha256
        assert source.definitions == database.files[path].definitions
        assert source.tactics == database.files[path].tactics
    assert fresh.prelude_tactics == database.prelude_tactics
    fresh.check_library()


def test_a_sentence_coq_refuses_stops_the_export_naming_file_and_line(
    coqidetop: str, tmp_path: Path
) -> None:
    library = write(
        tmp_path / "library",
        {
            "Bad/Bad.v": (
                "Lemma fine : True.\nProof. exact I. Qed.\n\n"
                "Lemma broken : 1 = 2.\nProof.\n  reflexivity.\nQed.\n"
            )
        },
    )
    with pytest.raises(ExportError, match=r"Bad/Bad\.v:6: Coq refused 'reflexivity\.'"):
        export(library, ["Bad"], tmp_path / "db", timeout=30.0, prefix="Tmp")
    assert not (tmp_path / "db").exists()
    with pytest.raises(ExportError, match="no .v files"):
        export(library, ["Nothing"], tmp_path / "db", prefix="Tmp")


def test_a_lemma_is_recorded_with_its_goal_its_traced_proof_and_its_axioms(tricky: Tricky) -> None:
    db = tricky.database
    prefix = "Tmp.Mine.Tricky."
    assert [r.name for r in db] == [
        prefix + n
        for n in ("twins", "shared_goal", "uses_magic", "by_term", "with_default", "selected")
    ] + [prefix + "M.inner"]  # not_counted ends in Admitted: left out
    magic = db[prefix + "uses_magic"]
    assert magic.axioms == ("magic",) and magic.short_name == "uses_magic"
    assert magic.statement == ": 1 = 0" and magic.conclusion == "1 = 0"
    assert [t.tactic for t in db[prefix + "by_term"].proof] == ["exact (I)"]
    assert [t.tactic for t in db[prefix + "with_default"].proof] == ["(split); (reflexivity)"]
    selected = [(t.tactic, t.conclusion) for t in db[prefix + "selected"].proof]
    assert selected == [("split", "True /\\ 0 = 0"), ("reflexivity", "0 = 0"), ("exact I", "True")]
    inner = db[prefix + "M.inner"]
    assert inner.short_name == "inner" and [t.tactic for t in inner.proof] == ["close_it"]
    source = db.files["Mine/Tricky.v"]
    assert source.tactics == (("close_it", 1),)
    assert [d[0] for d in source.definitions] == [prefix + "f", prefix + "magic"]
    assert db.logical_prefix == "Tmp" and db.library_root == tricky.library
    assert [r.position for r in db] == list(range(len(db)))


def test_load_order_puts_a_file_after_the_files_it_requires(tmp_path: Path) -> None:
    library = write(
        tmp_path,
        {
            "Dep/A.v": "Lemma a : True.\nProof. exact I. Qed.\n",
            "Dep/B.v": "Require Import A.\nLemma b : True.\nProof. exact a. Qed.\n",
            "Dep/C.v": "From Tmp Require Import B.\nRequire Import Coq.Lists.List.\n",
            "Other/D.v": "Require Import Tmp.Dep.C.\n",
        },
    )
    order, requires = load_order(library, ["Other/D.v", "Dep/C.v", "Dep/B.v", "Dep/A.v"], "Tmp")
    assert order == ["Dep/A.v", "Dep/B.v", "Dep/C.v", "Other/D.v"]
    # From Tmp Require B names Tmp.Dep.B; the standard library's List is not in the export.
    assert requires == {
        "Dep/A.v": [],
        "Dep/B.v": ["Dep/A.v"],
        "Dep/C.v": ["Dep/B.v"],
        "Other/D.v": ["Dep/C.v"],
    }
    # Only the chosen files count as requirements.
    assert load_order(library, ["Dep/C.v"], "Tmp") == (["Dep/C.v"], {"Dep/C.v": []})
    write(tmp_path, {"Dep/A.v": "Require Import C.\n"})
    with pytest.raises(ExportError, match="circular Require"):
        load_order(library, ["Dep/A.v", "Dep/B.v", "Dep/C.v"], "Tmp")


def test_require_sentences_name_modules_as_coq_resolves_them() -> None:
    (sentence,) = sentences.split_sentences("From Coq Require Import List Arith.")
    assert required_modules(sentence) == ["Coq.List", "Coq.Arith"]
    (plain,) = sentences.split_sentences("Require Export Le Lt.")
    assert required_modules(plain) == ["Le", "Lt"]
    by_logical = {"Coq.Lists.List": "Lists/List.v", "Coq.Arith.Arith": "Arith/Arith.v"}
    assert resolve("Coq.List", by_logical) == "Lists/List.v"
    assert resolve("List", by_logical) == "Lists/List.v"
    assert resolve("Coq.Lists.List", by_logical) == "Lists/List.v"
    assert resolve("Coq.Vector", by_logical) is None


def test_a_coq_project_file_gives_the_library_its_name_and_load_path(tmp_path: Path) -> None:
    project = tmp_path / "_CoqProject"
    project.write_text(
        "# a comment\n-R theories My.Lib\n-Q extra Extra\n-I plugins\n"
        "-arg -w -arg -notation-overridden\ntheories/A.v\n"
    )
    parsed = read_coq_project(project)
    assert parsed.root == (tmp_path / "theories").resolve() and parsed.prefix == "My.Lib"
    assert parsed.args == (
        "-R",
        str((tmp_path / "theories").resolve()),
        "My.Lib",
        "-Q",
        str((tmp_path / "extra").resolve()),
        "Extra",
        "-I",
        str((tmp_path / "plugins").resolve()),
        "-w",
        "-notation-overridden",
    )
    project.write_text("theories/A.v\n")
    with pytest.raises(ExportError, match="no -R or -Q line"):
        read_coq_project(project)


def test_another_project_exports_with_its_requires_premises_and_tactics(
    coqidetop: str, tmp_path: Path
) -> None:
    """A compiled file of the project, required by another, through the project's load path."""
    coqc = shutil.which("coqc")
    assert coqc, "coqc is part of Coq: apt-get install -y coq"
    theories = write(
        tmp_path / "theories",
        {
            "Base/A.v": "Ltac finish := reflexivity.\nLemma a0 : 0 = 0.\nProof. finish. Qed.\n",
            "Top/B.v": "From Proj Require Import A.\nLemma b0 : 1 = 1.\nProof. finish. Qed.\n",
        },
    )
    (tmp_path / "_CoqProject").write_text("-R theories Proj\n")
    project = read_coq_project(tmp_path / "_CoqProject")
    subprocess.run(
        [coqc, *project.args, str(theories / "Base/A.v")], check=True, capture_output=True
    )
    db = export(project.root, ["."], tmp_path / "db", 30.0, project.prefix, project.args)
    assert [r.name for r in db] == ["Proj.Base.A.a0", "Proj.Top.B.b0"]
    b0 = db["Proj.Top.B.b0"]
    assert db.files["Top/B.v"].requires == ("Base/A.v",)
    assert ("Proj.Base.A.a0", ": 0 = 0") in db.premises_for(b0)
    assert "finish" in db.tactics_for(b0)
    coq = Coq(args=db.coq_args)
    try:
        with CoqEnv(b0, 5.0, db, coq=coq) as (env, root):
            assert root.goal == Goal("1 = 1")
            assert env.run_tactic(root, ("finish", 0.0)).status == Status.PROVED
            assert env.check_proof(env.tree.extract_proof() or []) == ""
    finally:
        coq.close()


@pytest.mark.slow
def test_the_library_proofs_of_a_sample_replay_through_the_environment(
    coqidetop: str, database: CoqDatabase
) -> None:
    sample = database.records[::8]  # 103 lemmas of every file, fixed
    result = roundtrip(database, sample)
    print(
        f"round trip: {result.proved}/{result.total} ({result.rate:.1%}), {dict(result.failures)}"
    )
    assert result.total == len(sample) == 103
    assert result.rate >= 0.95, result.examples
    assert set(result.failures) <= {"rejected", "no_progress"}, result.examples


def test_the_packaged_export_is_of_the_installed_library(database: CoqDatabase) -> None:
    assert database.library_root == DEFAULT_LIBRARY
    database.check_library()
