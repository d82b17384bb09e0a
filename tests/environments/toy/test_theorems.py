"""The toy theorem set: the shipped file is what the generator writes, every theorem is a
tautology, the splits, the loader, and the export command."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from data.splits import split_of
from data.toy.database import DEFAULT_PATH, ToyTheorems
from environments.toy import export
from environments.toy.logic import is_tautology, parse, show
from tests.environments.toy.proving import prove


def test_the_shipped_file_is_what_the_generator_writes() -> None:
    assert DEFAULT_PATH.read_text() == export.render(export.generate()), (
        "data/toy/theorems.jsonl is stale: run python -m environments.toy.export"
    )


def test_every_theorem_is_a_canonical_tautology_with_a_unique_name() -> None:
    theorems = ToyTheorems.cached()
    assert len(theorems) == len(export.CLASSICS) + export.NUM_INSTANCES + export.NUM_RANDOM
    statements = [r.statement for r in theorems]
    assert len(set(statements)) == len(statements)
    for record in theorems:
        formula = parse(record.statement)
        assert is_tautology(formula), record.name
        assert show(formula) == record.statement
        assert record.split == split_of(record.name)
    assert [r.name for r in theorems][: len(export.CLASSICS)] == [n for n, _ in export.CLASSICS]


def test_the_splits_are_about_80_10_10() -> None:
    theorems = ToyTheorems.cached()
    counts = Counter(r.split for r in theorems)
    assert counts == {s: len(theorems.split(s)) for s in ("train", "valid", "test")}
    assert 0.7 < counts["train"] / len(theorems) < 0.9
    assert min(counts["valid"], counts["test"]) >= 20


def test_the_classics_prove_quickly_with_the_fixed_model_some_in_many_steps() -> None:
    source = ToyTheorems.cached()
    traces = prove([source[name] for name, _ in export.CLASSICS], timeout=1.0)
    lengths = {t.theorem_id: len(t.proof) if t.proved else None for t in traces}
    assert [name for name, n in lengths.items() if n is None] == []
    assert lengths["truth"] == 1 and lengths["imp_refl"] == 2
    assert sum((n or 0) >= 8 for n in lengths.values()) >= 10, lengths


def test_export_writes_the_file_atomically(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    output = tmp_path / "toy" / "theorems.jsonl"
    assert export.main(["--output", str(output)]) == 0
    assert output.read_text() == DEFAULT_PATH.read_text()
    assert sorted(p.name for p in output.parent.iterdir()) == ["theorems.jsonl"]  # no temp file
    assert f"wrote {len(ToyTheorems.cached())} theorems" in capsys.readouterr().out


def test_the_loader(tmp_path: Path) -> None:
    theorems = ToyTheorems.cached()
    assert ToyTheorems.cached() is theorems and theorems.path == DEFAULT_PATH.resolve()
    assert theorems["peirce"].statement == "((p ==> q) ==> p) ==> p"
    with pytest.raises(KeyError, match="no theorem named 'nope'"):
        theorems["nope"]
    with pytest.raises(ValueError, match="split must be one of"):
        theorems.split("dev")
    with pytest.raises(FileNotFoundError, match="environments.toy.export"):
        ToyTheorems.load(tmp_path / "missing.jsonl")
    lines = DEFAULT_PATH.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(lines[0] + "\n{not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not JSON"):
        ToyTheorems.load(bad)
    bad.write_text(lines[0] + "\n" + lines[0] + "\n")
    with pytest.raises(ValueError, match="same name"):
        ToyTheorems.load(bad)
    bad.write_text(lines[1] + "\n")
    with pytest.raises(ValueError, match="positions"):
        ToyTheorems.load(bad)
