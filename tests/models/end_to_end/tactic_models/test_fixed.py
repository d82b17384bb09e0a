"""FixedTacticModel and build_tactic_model: normalised, sorted, parseable suggestions."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf

from data.hol_light.database import TheoremDatabase
from data.proof_tree import Goal
from environments.base import Premise, Suggestion
from environments.hol_light.tactics import (
    MAX_INPUT_CHARS,
    Tactic,
    TacticExpr,
    ThmListArg,
    parse_tactic,
)
from models.end_to_end.tactic_models.base import Premises, TacticModel
from models.end_to_end.tactic_models.fixed import FixedTacticModel, symbols
from models.end_to_end.tactic_models.tac_models import build_tactic_model

CONFIGS = Path(__file__).resolve().parents[4] / "configs" / "end_to_end" / "tac_model"

ADD_0 = Premise("ADD_0", "!m. m + 0 = m")
NOT_IN_EMPTY = Premise("NOT_IN_EMPTY", "!x. ~(x IN {})")
ARITH_PREMISES = [
    Premise("NOT_IN_EMPTY", "!x. ~(x IN {})"),
    Premise("ADD_0", "!m. m + 0 = m"),
    Premise("ADD_SUC", "!m n. m + SUC n = SUC (m + n)"),
    Premise("MULT_0", "!m. m * 0 = 0"),
    Premise("ADD_SYM", "!m n. m + n = n + m"),
    Premise("SUBSET_REFL", "!s. s SUBSET s"),
]
TEMPLATES = ["ASM_MESON_TAC[{premises}]", "ARITH_TAC", "REWRITE_TAC[{premises}]", "STRIP_TAC"]


def _theorem_names(tactic: str) -> list[str]:
    """The theorem names a tactic cites, in order, through THEN and ORELSE."""
    names: list[str] = []
    stack: list[TacticExpr] = [parse_tactic(tactic)]
    while stack:
        expr = stack.pop()
        if isinstance(expr, Tactic):
            names += [n for arg in expr.args if isinstance(arg, ThmListArg) for n in arg.names]
        else:
            stack += [expr.second, expr.first]
    return names


def _load(name: str) -> DictConfig:
    cfg = OmegaConf.load(CONFIGS / name)
    assert isinstance(cfg, DictConfig)
    return cfg


def _check_distribution(suggestions: list[Suggestion]) -> None:
    logprobs = [lp for _, lp in suggestions]
    assert logprobs == sorted(logprobs, reverse=True)
    assert math.fsum(math.exp(lp) for lp in logprobs) == pytest.approx(1.0, abs=1e-6)


def test_symbols_drop_variables_and_punctuation() -> None:
    assert symbols("!n. n + 0 = n") == {"!", "+", "0", "="}
    expected = {"!", "/\\", "IN", "==>", "=", "SUC"}
    assert symbols("!x y'. P x /\\ x1 IN s ==> f x = SUC y'") == expected


def test_suggestions_sorted_and_normalised() -> None:
    model = FixedTacticModel(TEMPLATES, log_priors=[0.0, -1.0, 2.0, -3.0], num_premises=3)
    [suggestions] = model.get_tactics([Goal("!n. n + 0 = n")], [ARITH_PREMISES])
    assert len(suggestions) == len(TEMPLATES)
    _check_distribution(suggestions)
    assert suggestions[0][0].startswith("REWRITE_TAC[")  # the largest prior
    assert suggestions[-1][0] == "STRIP_TAC"
    # Priors are normalised over the templates: 2 - logsumexp(0, -1, 2, -3).
    expected = 2.0 - math.log(sum(math.exp(p) for p in (0.0, -1.0, 2.0, -3.0)))
    assert suggestions[0][1] == pytest.approx(expected)


def test_uniform_priors_by_default() -> None:
    [suggestions] = FixedTacticModel(TEMPLATES).get_tactics([Goal("T")], [[]])
    assert [lp for _, lp in suggestions] == pytest.approx([-math.log(len(TEMPLATES))] * 4)
    # Ties keep the template order, and an empty premise list gives an empty theorem list.
    assert [t for t, _ in suggestions] == [
        "ASM_MESON_TAC[]",
        "ARITH_TAC",
        "REWRITE_TAC[]",
        "STRIP_TAC",
    ]


def test_coinciding_tactics_are_merged() -> None:
    model = FixedTacticModel(["REWRITE_TAC[{premises}]", "REWRITE_TAC[]", "ARITH_TAC"])
    [suggestions] = model.get_tactics([Goal("T")], [[]])
    assert dict(suggestions) == pytest.approx(
        {"REWRITE_TAC[]": math.log(2 / 3), "ARITH_TAC": math.log(1 / 3)}
    )
    _check_distribution(suggestions)


@pytest.mark.parametrize("score", ["overlap", "idf"])
def test_overlap_ranks_the_premise_sharing_symbols(score: str) -> None:
    model = FixedTacticModel(["ASM_MESON_TAC[{premises}]"], num_premises=2, score=score)
    goal = Goal("!n. n + 0 = n")
    # NOT_IN_EMPTY comes later in the list, so it would win any tie.
    assert model.select_premises(goal, [ADD_0, NOT_IN_EMPTY])[0] == "ADD_0"
    [[(tactic, logprob)]] = model.get_tactics([goal], [[ADD_0, NOT_IN_EMPTY]])
    assert _theorem_names(tactic)[0] == "ADD_0"
    assert logprob == pytest.approx(0.0)


def test_hypotheses_count_too() -> None:
    model = FixedTacticModel(["ASM_MESON_TAC[{premises}]"], num_premises=1)
    premises = [NOT_IN_EMPTY, ADD_0]
    assert model.select_premises(Goal("s SUBSET t"), premises) == []
    with_hypothesis = Goal("s SUBSET t", hypotheses=("x IN s",))
    assert model.select_premises(with_hypothesis, premises) == ["NOT_IN_EMPTY"]


def test_ties_go_to_the_later_premise() -> None:
    model = FixedTacticModel(["MESON_TAC[{premises}]"], num_premises=3)
    premises = [Premise(f"P{i}", "!m. m + 0 = m") for i in range(5)]
    assert model.select_premises(Goal("n + 0 = n"), premises) == ["P4", "P3", "P2"]


def test_top_k_respected() -> None:
    premises = [Premise(f"ADD_{i}", f"!m. m + {i} = {i} + m") for i in range(30)]
    for k in (0, 1, 5, 20):
        model = FixedTacticModel(["ASM_MESON_TAC[{premises}]"], num_premises=k)
        [[(tactic, _)]] = model.get_tactics([Goal("!n. n + 1 = 1 + n")], [premises])
        names = _theorem_names(tactic)
        assert len(names) == k
        assert len(set(names)) == k
        if k:
            assert names[0] == "ADD_1"


def test_batched_goals_draw_only_on_their_own_premises() -> None:
    lists: list[Premises] = [
        [Premise(f"NAT_{i}", f"!m. m + {i} = m") for i in range(10)],
        [Premise(f"SET_{i}", "!x s. x IN s ==> ~(s = {})") for i in range(10)],
        [Premise(f"REAL_{i}", "!x. &0 <= abs x") for i in range(10)],
    ]
    goals = [Goal("n + 0 = n"), Goal("~({a} = {})"), Goal("&0 <= abs y")]
    model = FixedTacticModel(TEMPLATES, num_premises=4)
    results = model.get_tactics(goals, lists)
    assert len(results) == 3
    for suggestions, premises in zip(results, lists, strict=True):
        own = {p.name for p in premises}
        _check_distribution(suggestions)
        cited = [n for tactic, _ in suggestions for n in _theorem_names(tactic)]
        assert cited
        assert set(cited) <= own


def test_long_premise_lists_are_cut_to_the_grammar_limit() -> None:
    premises = [Premise(f"ADD_{i}_" + "X" * 500, f"!m. m + {i} = m") for i in range(100)]
    model = FixedTacticModel(
        ["REWRITE_TAC[{premises}] THEN ASM_MESON_TAC[{premises}]"], num_premises=100
    )
    [[(tactic, _)]] = model.get_tactics([Goal("n + 1 = n")], [premises])
    assert len(tactic) <= MAX_INPUT_CHARS
    names = _theorem_names(tactic)
    assert names[0] == premises[1].name
    assert 5 < len(names) < 200  # each of the two lists was cut
    assert names[: len(names) // 2] == names[len(names) // 2 :]


def test_mismatched_batch_raises() -> None:
    with pytest.raises(ValueError, match="one list per goal"):
        FixedTacticModel(TEMPLATES).get_tactics([Goal("T"), Goal("F")], [[]])


def test_invalid_premise_names_are_skipped() -> None:
    premises = [
        Premise("Hashek.hashek_def", "!n. n + 0 = n"),
        Premise("let", "!n. n + 0 = n"),
        Premise("ADD_0", "!m. m + 0 = m"),
    ]
    model = FixedTacticModel(["ASM_MESON_TAC[{premises}]"], num_premises=5)
    [[(tactic, _)]] = model.get_tactics([Goal("n + 0 = n")], [premises])
    assert tactic == "ASM_MESON_TAC[ADD_0]"


def test_changed_statement_under_a_cached_name_is_rescored() -> None:
    model = FixedTacticModel(["ASM_MESON_TAC[{premises}]"], num_premises=1)
    goal = Goal("n + 0 = n")
    assert model.select_premises(goal, [Premise("THM", "!m. m + 0 = m")]) == ["THM"]
    assert model.select_premises(goal, [Premise("THM", "!x. ~(x IN {})")]) == []


@pytest.mark.parametrize(
    "template",
    [
        "NOT_A_TAC",
        "REWRITE_TAC[{premises}",
        "MATCH_MP_TAC {premises}",
        "ARITH_TAC;; print_string",
        "EXISTS_TAC `{premises}`",
    ],
)
def test_bad_template_raises_naming_it(template: str) -> None:
    with pytest.raises(ValueError, match="template") as info:
        FixedTacticModel(["ARITH_TAC", template])
    assert repr(template) in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"templates": []}, "templates is empty"),
        ({"templates": "ARITH_TAC"}, "must be a list"),
        ({"templates": TEMPLATES, "log_priors": [0.0]}, "one per template"),
        ({"templates": TEMPLATES, "log_priors": [0.0, 1.0, math.nan, 2.0]}, "finite"),
        ({"templates": TEMPLATES, "num_premises": -1}, "num_premises"),
        ({"templates": TEMPLATES, "score": "bm25"}, "unknown score 'bm25'"),
    ],
)
def test_bad_knobs_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FixedTacticModel(**kwargs)


@pytest.mark.parametrize("name", ["fixed.yaml", "asm_meson.yaml"])
def test_configs_build_models_whose_tactics_parse(name: str) -> None:
    model = build_tactic_model(_load(name))
    assert isinstance(model, FixedTacticModel)
    assert isinstance(model.templates, list)  # plain containers, not OmegaConf ones
    assert model.checkpoint is None
    goals = [Goal("!n. n + 0 = n"), Goal("x IN s", hypotheses=("s = {}",)), Goal("T")]
    results = model.get_tactics(goals, [ARITH_PREMISES, ARITH_PREMISES, []])
    assert len(results) == 3
    for suggestions in results:
        _check_distribution(suggestions)
        assert len(suggestions) == len({t for t, _ in suggestions})
        for tactic, _ in suggestions:
            parse_tactic(tactic, theorem_names={p.name for p in ARITH_PREMISES})
    assert results[0][0][0].startswith("ASM_MESON_TAC[")


def test_asm_meson_config_is_the_deephol_baseline() -> None:
    model = build_tactic_model(_load("asm_meson.yaml"))
    [[(tactic, logprob)]] = model.get_tactics([Goal("!n. n + 0 = n")], [ARITH_PREMISES])
    assert tactic.startswith("ASM_MESON_TAC[ADD_0")
    assert logprob == pytest.approx(0.0)


def test_build_from_a_plain_dict() -> None:
    model = build_tactic_model(
        {
            "_target_": "models.end_to_end.tactic_models.fixed.FixedTacticModel",
            "templates": ["ARITH_TAC"],
        }
    )
    assert model.get_tactics([Goal("1 + 1 = 2")], [[]]) == [[("ARITH_TAC", 0.0)]]


def test_build_rejects_a_non_tactic_model() -> None:
    with pytest.raises(TypeError, match=r"tac_model: _target_ 'collections\.OrderedDict'"):
        build_tactic_model({"_target_": "collections.OrderedDict"})


def test_build_reports_config_errors() -> None:
    with pytest.raises(ValueError, match="tac_model: the config has no _target_"):
        build_tactic_model({"templates": ["ARITH_TAC"]})
    with pytest.raises(ValueError, match=r"tac_model: cannot build _target_ 'no_such\.Model'"):
        build_tactic_model({"_target_": "no_such.Model"})
    target = "models.end_to_end.tactic_models.fixed.FixedTacticModel"
    with pytest.raises(ValueError, match="NOT_A_TAC"):
        build_tactic_model({"_target_": target, "templates": ["NOT_A_TAC"]})


def test_reload_is_refused_without_weights() -> None:
    model: TacticModel = FixedTacticModel(["ARITH_TAC"])
    with pytest.raises(NotImplementedError, match="FixedTacticModel has no weights to reload"):
        model.reload("some.ckpt")


def test_real_database_add_sym_gets_addition_premises() -> None:
    db = TheoremDatabase.load()
    record = db["ADD_SYM"]
    premises = [Premise(r.name, r.statement, r.sexp) for r in db.premises_for(record)]
    model = build_tactic_model(_load("fixed.yaml"))
    assert isinstance(model, FixedTacticModel)
    goal = Goal(record.statement)
    top = model.select_premises(goal, premises)
    assert len(top) == 20
    assert {"ADD_CLAUSES", "ADD_0", "ADD_SUC"} & set(top)
    assert "ADD_SYM" not in top  # a theorem is never its own premise
    names = {p.name for p in premises}
    [suggestions] = model.get_tactics([goal], [premises])
    for tactic, _ in suggestions:
        parse_tactic(tactic, theorem_names=names)
    # The plain overlap score finds them too.
    plain = FixedTacticModel(["ASM_MESON_TAC[{premises}]"], num_premises=20, score="overlap")
    assert {"ADD_CLAUSES", "ADD_0", "ADD_SUC"} <= set(plain.select_premises(goal, premises))


SET_PREMISES = [
    Premise("IN", "!P x. x IN P <=> P x"),
    Premise("SUBSET", "!s t. s SUBSET t <=> (!x. x IN s ==> x IN t)"),
    Premise("UNION", "!s t. s UNION t = {x | x IN s \\/ x IN t}"),
    Premise("SUBSET_REFL", "!s. s SUBSET s"),
    Premise("SUBSET_UNION", "!s t. s SUBSET (s UNION t) /\\ t SUBSET (s UNION t)"),
]


def test_definitions_are_the_first_premises_mentioning_the_goals_constants() -> None:
    model = FixedTacticModel(["REWRITE_TAC[{definitions}]"], num_definitions=8)
    goal = Goal("!s t u. s SUBSET u /\\ t SUBSET u ==> s UNION t SUBSET u")
    # SUBSET and UNION are defined by the first premises naming them (latest-introduced
    # first); IN is not in the goal; the logical symbols (!, /\, ==>) have no definition.
    assert model.select_definitions(goal, SET_PREMISES) == ["UNION", "SUBSET"]
    [suggestions] = model.get_tactics([goal], [SET_PREMISES])
    assert suggestions == [("REWRITE_TAC[UNION; SUBSET]", 0.0)]
    assert FixedTacticModel(["REWRITE_TAC[{definitions}]"], num_definitions=1).select_definitions(
        goal, SET_PREMISES
    ) == ["UNION"]


def test_a_premise_template_gives_one_suggestion_per_ranked_premise() -> None:
    model = FixedTacticModel(
        ["MATCH_MP_TAC {premise}", "ARITH_TAC"], num_premises=20, num_premise_choices=2
    )
    goal = Goal("!s t. s SUBSET (s UNION t)")
    ranked = model.select_premises(goal, SET_PREMISES, 2)
    [suggestions] = model.get_tactics([goal], [SET_PREMISES])
    _check_distribution(suggestions)
    by_tactic = dict(suggestions)
    assert set(by_tactic) == {f"MATCH_MP_TAC {name}" for name in ranked} | {"ARITH_TAC"}
    # The template's prior (half the mass) is shared by its two premises.
    for name in ranked:
        assert by_tactic[f"MATCH_MP_TAC {name}"] == pytest.approx(math.log(0.25))
    # No premise to cite: the template gives nothing and the rest carries all the mass.
    [alone] = model.get_tactics([goal], [[]])
    assert alone == [("ARITH_TAC", 0.0)]


def test_placeholders_outside_their_place_are_refused() -> None:
    with pytest.raises(ValueError, match="outside a theorem list"):
        FixedTacticModel(["REWRITE_TAC {definitions}"])
    with pytest.raises(ValueError, match="not a tactic of the safe HOL Light grammar"):
        FixedTacticModel(["MATCH_MP_TAC[{premise}]"])
    with pytest.raises(ValueError, match="num_premise_choices must be >= 0"):
        FixedTacticModel(["ARITH_TAC"], num_premise_choices=-1)


def test_the_wide_repertoire_config_builds_and_parses() -> None:
    model = build_tactic_model(_load("wide.yaml"), "cpu")
    goal = Goal("!s t. s SUBSET (s UNION t)")
    [suggestions] = model.get_tactics([goal], [SET_PREMISES])
    _check_distribution(suggestions)
    for tactic, _ in suggestions:
        parse_tactic(tactic)
    assert "SET_TAC[UNION; SUBSET]" in dict(suggestions)


# A tiny untrained dense retriever (models/end_to_end/tactic_models/retrieval/).
TINY_RETRIEVER = {
    "t5": {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1, "num_heads": 2},
    "max_bytes": 128,
}


def _retriever_checkpoint(path: Path, seed: int) -> str:
    """A retriever checkpoint holding what a Lightning one does for the loader."""
    import torch

    from models.end_to_end.tactic_models.retrieval.model import RetrieverModel

    model = RetrieverModel(**TINY_RETRIEVER, seed=seed)
    checkpoint = {"hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}
    model.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return str(path)


def test_a_retriever_ranks_the_premises_instead_of_shared_symbols() -> None:
    model = FixedTacticModel(
        ["ASM_MESON_TAC[{premises}]"], num_premises=3, retriever={"model": TINY_RETRIEVER}
    )
    assert model.retriever is not None and model.checkpoint is None
    goal = Goal("!n. n + 0 = n")
    premises = [*ARITH_PREMISES, Premise("Mod.thm", "!n. n + 0 = n")]
    # The retriever's order among the citable premises, which need share no symbol.
    [ranked] = model.retriever.rank([goal], [ARITH_PREMISES], 3)
    assert model.select_premises(goal, premises) == [p.name for p, _ in ranked]
    [[(tactic, _)]] = model.get_tactics([goal], [premises])
    assert _theorem_names(tactic) == [p.name for p, _ in ranked]
    assert len(model.select_premises(goal, premises, count=10)) == len(ARITH_PREMISES)


def test_the_retriever_is_called_once_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    model = FixedTacticModel(
        TEMPLATES, num_premises=2, num_premise_choices=3, retriever={"model": TINY_RETRIEVER}
    )
    calls: list[tuple[int, int]] = []

    def reverse(goals: list[Goal], premises: list[Premises], k: int) -> list[list[Any]]:
        calls.append((len(goals), k))
        return [[(p, 0.0) for p in reversed(ps)][:k] for ps in premises]

    assert model.retriever is not None
    monkeypatch.setattr(model.retriever, "rank", reverse)
    lists: list[Premises] = [ARITH_PREMISES, SET_PREMISES, []]
    results = model.get_tactics([Goal("n + 0 = n"), Goal("s SUBSET s"), Goal("T")], lists)
    assert calls == [(3, 3)]  # one call for the batch, k = max(num_premises, choices)
    for suggestions, premises in zip(results, lists, strict=True):
        _check_distribution(suggestions)
        meson = next(t for t, _ in suggestions if t.startswith("ASM_MESON_TAC["))
        assert _theorem_names(meson) == [p.name for p in reversed(premises)][:2]
    assert model.select_premises(Goal("T"), SET_PREMISES) == ["SUBSET_UNION", "SUBSET_REFL"]


def test_a_trained_retriever_comes_from_its_config_and_reload_still_refuses(
    tmp_path: Path,
) -> None:
    from models.end_to_end.tactic_models.retrieval.retriever import PremiseRetriever

    path = _retriever_checkpoint(tmp_path / "retriever.ckpt", seed=1)
    goal = Goal("!s t. s SUBSET (s UNION t)")
    untrained = FixedTacticModel(
        ["ASM_MESON_TAC[{premises}]"], num_premises=6, retriever={"model": TINY_RETRIEVER}
    )
    built = FixedTacticModel(
        ["ASM_MESON_TAC[{premises}]"], num_premises=6, retriever={"ckpt_path": path}
    )
    assert built.checkpoint == path
    [expected] = PremiseRetriever(ckpt_path=path).rank([goal], [SET_PREMISES], 6)
    assert built.select_premises(goal, SET_PREMISES) == [p.name for p, _ in expected]
    assert built.select_premises(goal, SET_PREMISES) != untrained.select_premises(
        goal, SET_PREMISES
    )  # seed 1's order differs
    # A mixture hands every component the learned model's checkpoint: this one must decline.
    with pytest.raises(NotImplementedError):
        built.reload(path)
    with pytest.raises(ValueError, match="nope.ckpt"):
        FixedTacticModel(["ARITH_TAC"], retriever={"ckpt_path": str(tmp_path / "nope.ckpt")})


def test_a_config_with_a_retriever_builds_on_the_callers_device() -> None:
    cfg = _load("fixed.yaml")
    cfg.retriever = {"model": TINY_RETRIEVER, "device": None}
    model = build_tactic_model(cfg, "cpu")
    assert isinstance(model, FixedTacticModel) and model.retriever is not None
    assert model.retriever.device == "cpu"
    [suggestions] = model.get_tactics([Goal("!n. n + 0 = n")], [ARITH_PREMISES])
    _check_distribution(suggestions)
    for tactic, _ in suggestions:
        parse_tactic(tactic, theorem_names={p.name for p in ARITH_PREMISES})


@pytest.mark.parametrize(
    ("retriever", "match"),
    [({"ckpt": "x.ckpt"}, r"retriever: unknown key\(s\) \['ckpt'\]"), ("x.ckpt", "a mapping")],
)
def test_bad_retriever_configs_are_refused(retriever: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FixedTacticModel(["ARITH_TAC"], retriever=retriever)
