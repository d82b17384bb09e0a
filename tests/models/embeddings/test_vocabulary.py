"""The s-expression vocabulary: built from the real theorem database, stable, serialisable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data.hol_light.database import TheoremDatabase
from models.embeddings.vocabulary import SPECIAL_TOKENS, UNK, VAR, Vocabulary, sexp_keys

ADD_0 = TheoremDatabase.cached()["ADD_0"].sexp  # !m. m + 0 = m


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary.from_database(num_variable_names=16)


def test_keys_say_what_each_atom_is() -> None:
    keys = sexp_keys("(a (c (fun (tyvar A) (bool)) P) (v (tyvar A) x))")
    assert keys == [
        "(", "a",
        "(", "c", "(", "ty:fun", "(", "tyvar", "tyvar:A", ")", "(", "ty:bool", ")", ")", "c:P", ")",
        "(", "v", "(", "tyvar", "tyvar:A", ")", "v:x", ")",
        ")",
    ]  # fmt: skip
    assert sexp_keys("(a (c (fun (num) (bool)) P) (v (num) x))", types=False) == [
        "(", "a", "(", "c", "c:P", ")", "(", "v", "v:x", ")", ")",
    ]  # fmt: skip


def test_malformed_text_never_raises() -> None:
    assert sexp_keys("plain words") == [UNK, UNK]
    assert sexp_keys(") (a (c") == [")", "(", "a", "(", "c"]


def test_database_vocabulary_tokenises_a_theorem(vocabulary: Vocabulary) -> None:
    assert tuple(vocabulary.tokens[:4]) == SPECIAL_TOKENS
    for token in ("(", ")", "a", "c", "v", "l", "tyvar", "c:+", "c:NUMERAL", "ty:num", "v:m"):
        assert token in vocabulary.index
    ids = vocabulary.tokenize(ADD_0)
    words = [vocabulary.tokens[i] for i in ids]
    assert words == sexp_keys(ADD_0)  # every atom of a database theorem is known
    assert words[:4] == ["(", "a", "(", "c"]
    assert {"c:!", "c:=", "c:+", "c:_0", "v:m"} <= set(words)
    assert len(vocabulary.tokenize(ADD_0, max_len=10)) == 10
    short = [vocabulary.tokens[i] for i in vocabulary.tokenize(ADD_0, types=False)]
    assert not any(w.startswith("ty:") for w in short) and len(short) < len(words) / 2
    # Rare variable names share <var>; constants nobody defined are <unk>.
    unknown = vocabulary.tokenize("(a (v (num) zz_rare_name) (c (num) NO_SUCH_CONSTANT))")
    assert [vocabulary.tokens[i] for i in unknown][7:9] == [VAR, ")"]
    assert vocabulary.unk_id in unknown


def test_only_the_most_frequent_variable_names_are_kept(vocabulary: Vocabulary) -> None:
    names = [t for t in vocabulary.tokens if t.startswith("v:")]
    assert len(names) == 16 and names[0] == "v:x"
    assert Vocabulary.from_database(num_variable_names=16) == vocabulary  # deterministic


def test_round_trips_through_json(vocabulary: Vocabulary, tmp_path: Path) -> None:
    path = tmp_path / "vocabulary.json"
    vocabulary.save(path)
    loaded = Vocabulary.load(path)
    assert loaded == vocabulary
    assert loaded.tokenize(ADD_0) == vocabulary.tokenize(ADD_0)
    data = json.loads(json.dumps(vocabulary.to_dict()))  # plain JSON, as in hyperparameters
    assert Vocabulary.from_dict(data) == vocabulary
    with pytest.raises(ValueError, match="format_version"):
        Vocabulary.from_dict({"tokens": vocabulary.tokens})
