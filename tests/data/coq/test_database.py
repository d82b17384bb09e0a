"""The Coq theorem database: the packaged export loads whole, checks its library, refuses what
is malformed, and gives each lemma the premises and tactics of its context (no Coq process)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from data.coq.database import (
    DEFAULT_DIR,
    FILES,
    THEOREMS,
    CoqDatabase,
    CoqTheorem,
    SourceFile,
    TracedTactic,
)
from data.splits import SPLITS, split_of

LIST = "Coq.Lists.List."
SETOID = "Coq.Lists.SetoidList."


@pytest.fixture(scope="module")
def database() -> CoqDatabase:
    return CoqDatabase.load()


def copy_of(tmp_path: Path) -> Path:
    """A copy of the packaged database directory, to spoil."""
    out = tmp_path / "db"
    shutil.copytree(DEFAULT_DIR, out)
    return out


def lemma(name: str, file: str, sentence: int, position: int) -> CoqTheorem:
    return CoqTheorem(
        name,
        name.rsplit(".", 1)[-1],
        file,
        sentence,
        ": True",
        (),
        "True",
        position,
        split_of(name),
    )


def test_the_packaged_database_loads_every_lemma_in_load_order(database: CoqDatabase) -> None:
    assert len(database) == 823 and len(database.files) == 40
    assert [r.position for r in database] == list(range(len(database)))
    assert database.records[0].name == "Coq.Arith.PeanoNat.Nat.bi_induction"
    counts = {s: len(database.split(s)) for s in SPLITS}
    assert counts == {"train": 664, "valid": 68, "test": 91}
    assert all(r.split == split_of(r.name) for r in database)
    assert all(r.proof and r.conclusion for r in database)
    assert database.path == DEFAULT_DIR.resolve() and database.coq_args == ()
    files = list(database.files)
    assert all(files.index(d) < files.index(f) for f in files for d in database.files[f].requires)
    with pytest.raises(ValueError, match="split must be one of"):
        database.split("dev")
    with pytest.raises(KeyError, match="no theorem 'Coq.Nope'"):
        database["Coq.Nope"]


def test_the_packaged_database_matches_the_installed_library(database: CoqDatabase) -> None:
    database.check_library()


def test_a_library_file_that_changed_fails_the_check_naming_it(tmp_path: Path) -> None:
    out = copy_of(tmp_path)
    header = json.loads((out / FILES).read_text())
    bool_v = next(f for f in header["files"] if f["path"] == "Bool/Bool.v")
    bool_v["sha256"] = "0" * 64
    (out / FILES).write_text(json.dumps(header))
    with pytest.raises(
        ValueError, match=r"Bool/Bool\.v differs .* python -m environments.coq export"
    ):
        CoqDatabase.load(out).check_library()


def test_a_library_that_is_missing_fails_the_check_naming_the_file(tmp_path: Path) -> None:
    out = copy_of(tmp_path)
    header = json.loads((out / FILES).read_text())
    header["library_root"] = str(tmp_path / "nowhere")
    (out / FILES).write_text(json.dumps(header))
    with pytest.raises(ValueError, match=r"nowhere/Arith/PeanoNat\.v is missing"):
        CoqDatabase.load(out).check_library()


def test_a_missing_database_names_the_export_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="python -m environments.coq export"):
        CoqDatabase.load(tmp_path / "nothing")


def test_a_malformed_record_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    out = copy_of(tmp_path)
    lines = (out / THEOREMS).read_text().splitlines()
    record = json.loads(lines[2])
    del record["conclusion"]
    lines[2] = json.dumps(record)
    (out / THEOREMS).write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"{out / THEOREMS}:3: not a Coq theorem record"):
        CoqDatabase.load(out)
    record.update(conclusion="True", split="dev")
    lines[2] = json.dumps(record)
    (out / THEOREMS).write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r":3: split must be one of"):
        CoqDatabase.load(out)


def test_a_relative_path_finds_the_packaged_database_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert len(CoqDatabase.load("data/coq/stdlib")) == 823
    assert CoqDatabase.cached() is CoqDatabase.cached()


def test_a_database_saves_and_loads_back_the_same(database: CoqDatabase, tmp_path: Path) -> None:
    database.save(tmp_path / "copy")
    again = CoqDatabase.load(tmp_path / "copy")
    assert again.records == database.records
    assert list(again.files.values()) == list(database.files.values())
    assert (again.library_root, again.logical_prefix, again.prelude_tactics, again.coq_args) == (
        database.library_root,
        database.logical_prefix,
        database.prelude_tactics,
        database.coq_args,
    )
    thm = database[LIST + "app_nil_r"]
    assert CoqTheorem.from_dict(thm.to_dict()) == thm
    assert all(isinstance(t, TracedTactic) for t in thm.proof)


def test_inconsistent_records_are_refused() -> None:
    a = SourceFile("A.v", "0" * 64, (), ())
    with pytest.raises(ValueError, match="duplicate names"):
        CoqDatabase([lemma("T.A.x", "A.v", 1, 0), lemma("T.A.x", "A.v", 3, 1)], [a], Path("/"))
    with pytest.raises(ValueError, match="unlisted files"):
        CoqDatabase([lemma("T.B.x", "B.v", 1, 0)], [a], Path("/"))


def test_premises_are_earlier_lemmas_of_the_file_and_everything_it_requires(
    database: CoqDatabase,
) -> None:
    thm = database[SETOID + "InA_nil"]  # the third lemma of SetoidList.v, which requires List.v
    premises = dict(database.premises_for(thm))
    own = [r for r in database if r.file == thm.file]
    assert "InA_altdef" in premises and "InA_cons" in premises  # earlier: named as in the file
    assert premises["InA_cons"] == database[SETOID + "InA_cons"].statement
    assert "InA_nil" not in premises and SETOID + "InA_nil" not in premises
    assert not {r.short_name for r in own if r.position > thm.position} & set(premises)
    assert LIST + "app_nil_r" in premises  # List.v, required
    assert "Coq.Arith.PeanoNat.Nat.add_0_l" in premises  # PeanoNat.v, required by List.v
    assert not any(name.startswith("Coq.Bool.") for name in premises)  # not required
    # Definitions too, those before the lemma only.
    assert "InA" in premises and "NoDupA" not in premises  # NoDupA is defined after InA_nil
    later = database[SETOID + "NoDupA_altdef"]
    assert "NoDupA" in dict(database.premises_for(later))


def test_the_first_lemma_of_a_file_requiring_nothing_has_only_its_files_definitions(
    database: CoqDatabase,
) -> None:
    first = database.records[0]  # bi_induction, PeanoNat.v
    names = [n for n, _ in database.premises_for(first)]
    defined = [d[0] for d in database.files[first.file].definitions if d[2] < first.sentence]
    assert len(names) == len(defined) and first.short_name not in names


def test_tactics_are_the_preludes_and_those_defined_before_in_the_context(
    database: CoqDatabase,
) -> None:
    negb = database["Coq.Bool.Bool.negb_involutive"]
    assert {"destr_bool", "now", "easy", "intuition"} <= database.tactics_for(negb)
    assert "destr_bool" not in database.tactics_for(database.records[0])  # PeanoNat.v
    # SetoidList.v defines `inv` at sentence 62; List.v (required) defines `invlist`.
    early, late = database[SETOID + "InA_altdef"], database[SETOID + "InA_eqA"]
    assert early.sentence < 62 < late.sentence
    assert "inv" not in database.tactics_for(early) and "invlist" in database.tactics_for(early)
    assert {"inv", "invlist"} <= database.tactics_for(late)


def test_dependencies_are_transitive_and_include_the_file() -> None:
    files = [
        SourceFile("A.v", "0" * 64, (), (), (("ta", 2),)),
        SourceFile("B.v", "0" * 64, ("A.v",), (("T.B.d", "Definition d := 0.", 4),), (("tb", 5),)),
        SourceFile("C.v", "0" * 64, ("B.v",), ()),
    ]
    records = [
        lemma("T.A.a", "A.v", 3, 0),
        lemma("T.B.b", "B.v", 6, 1),
        lemma("T.C.c", "C.v", 1, 2),
    ]
    db = CoqDatabase(records, files, Path("/lib"), "T", prelude_tactics=("now",))
    assert db.dependencies("C.v") == {"A.v", "B.v", "C.v"}
    assert db.tactics_for(db["T.C.c"]) == {"now", "ta", "tb"}
    assert db.tactics_for(db["T.B.b"]) == {"now", "ta", "tb"}  # tb at 5, b at 6
    assert db.tactics_for(db["T.A.a"]) == {"now", "ta"}
    # Definitions (of each file, in order) first, then the lemmas in load order.
    assert db.premises_for(db["T.C.c"]) == [
        ("T.B.d", "Definition d := 0."),
        ("T.A.a", ": True"),
        ("T.B.b", ": True"),
    ]
    assert db.premises_for(db["T.B.b"]) == [("d", "Definition d := 0."), ("T.A.a", ": True")]
    assert db.premises_for(db["T.A.a"]) == []
    assert db.module_of("Sub/X.v") == "T.Sub.X"
