"""CoqFixedTacticModel: normalised, sorted suggestions the Coq grammar accepts, premises and
variables chosen per goal, and proofs of easy library lemmas on the real Coq."""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from data.coq.database import CoqDatabase, CoqTheorem
from data.proof_tree import Goal, ProofStep
from environments.base import Premise, Suggestion
from environments.coq.driver import Coq
from environments.coq.env import CoqEnv
from environments.coq.tactics import parse_tactic
from experiments.end_to_end.prover import AttemptInfo, Prover
from models.end_to_end.search_models.bestfs import BestFS
from models.end_to_end.tactic_models.coq_fixed import (
    CoqFixedTacticModel,
    coq_symbols,
    goal_variables,
)
from models.end_to_end.tactic_models.tac_models import build_tactic_model

CONFIG = Path(__file__).resolve().parents[4] / "configs/end_to_end/tac_model/coq_fixed.yaml"
DB = CoqDatabase.cached()
LAST_LENGTH = DB["Coq.Lists.List.last_length"]  # A : Type |- forall (l : list A) (a : A), ...


def _premises(thm: CoqTheorem) -> list[Premise]:
    return [Premise(name, statement) for name, statement in DB.premises_for(thm)]


def _goal(thm: CoqTheorem) -> Goal:
    return Goal(thm.conclusion, thm.hypotheses)


def _model() -> CoqFixedTacticModel:
    model = instantiate(OmegaConf.load(CONFIG), _convert_="all")
    assert isinstance(model, CoqFixedTacticModel)
    return model


def _check(suggestions: list[Suggestion]) -> None:
    """Sorted, normalised, each tactic once and accepted by the Coq grammar."""
    logprobs = [lp for _, lp in suggestions]
    assert logprobs == sorted(logprobs, reverse=True)
    assert float(math.log(math.fsum(math.exp(lp) for lp in logprobs))) == pytest.approx(0.0)
    assert len({t for t, _ in suggestions}) == len(suggestions)
    for tactic, _ in suggestions:
        assert parse_tactic(tactic) == tactic


def test_symbols_drop_variables_binders_and_punctuation() -> None:
    text = "forall (l : list A) (a : A), length (l ++ [a]) = S (length l)"
    assert coq_symbols(text) == {"forall", "list", "length", "++", "=", "S"}
    matching = "fun x => match x with | [] => 0 | _ :: l' => 1 end"
    assert coq_symbols(matching) == {"[]", "0", "::", "1"}
    assert coq_symbols("Nat.add_comm n₁ (x1 + O)") == {"Nat.add_comm", "+", "O"}


def test_the_config_builds_a_model_whose_suggestions_are_normalised_and_parse() -> None:
    model = _model()
    assert model.checkpoint is None and model.score == "idf"
    assert build_tactic_model(OmegaConf.load(CONFIG)).templates == model.templates
    theorems = [LAST_LENGTH, DB["Coq.Bool.Bool.andb_diag"], DB["Coq.Arith.PeanoNat.Nat.max_l"]]
    results = model.get_tactics([_goal(t) for t in theorems], [_premises(t) for t in theorems])
    for suggestions in results:
        _check(suggestions)
        assert suggestions[0][0] == "auto"  # closing tactics first
    tactics = dict(results[0])
    assert "induction l" in tactics and "induction a" not in tactics  # a : A is opaque
    assert {"apply app_length", "rewrite app_length", "rewrite <- app_length"} <= set(tactics)
    eauto = next(t for t in tactics if t.startswith("eauto using "))
    assert eauto.removeprefix("eauto using ").split(", ")[:2] == ["app_length", "app_assoc_reverse"]


def test_priors_are_normalised_and_shared_among_choices() -> None:
    model = CoqFixedTacticModel(
        ["auto", "apply {premise}", "induction {variable}"],
        log_priors=[0.0, 0.0, math.log(2)],
        num_premise_choices=2,
    )
    goal = Goal("forall n m : nat, n + m = m + n")
    premises = [Premise("add_comm", "forall n m : nat, n + m = m + n"), Premise("I", "True")]
    [suggestions] = model.get_tactics([goal], [premises])
    _check(suggestions)
    # Mass 1/4, 1/4, 1/2; the only premise sharing a symbol takes apply's; n and m split 1/2.
    assert dict(suggestions) == pytest.approx(
        {
            "auto": math.log(0.25),
            "apply add_comm": math.log(0.25),
            "induction n": math.log(0.25),
            "induction m": math.log(0.25),
        }
    )


@pytest.mark.parametrize(
    ("goal", "expected"),
    [
        (Goal("forall n m : nat, n + m = m + n"), ["n", "m"]),
        (Goal("n + m = m + n", ("n, m : nat",)), ["n", "m"]),
        (Goal("n + m = m + n", ("n, m : nat", "H : n <= m")), ["n", "m"]),
        (Goal("forall (l l' : list A) (b : bool), P", ("A : Type", "x : A")), ["l", "l'", "b"]),
        (Goal("forall p q r, in_int (S p) q r", ("P, Q : nat -> Prop",)), ["p", "q", "r"]),
        (Goal("forall '(x, y) (z : nat), x = z"), ["z"]),
        (Goal("True", ("H : ~ In a l", "Hf : forall x : A, f x = x", "k := 0 : nat")), []),
        (
            Goal("forall n : nat, n = n", ("n : nat", "l₁ : list nat", "e : {x = y} + {x <> y}")),
            ["n"],
        ),
    ],
)
def test_variables_are_data_hypotheses_then_leading_binders(
    goal: Goal, expected: list[str]
) -> None:
    assert goal_variables(goal) == expected


def test_variable_templates_give_one_suggestion_per_variable_up_to_the_limit() -> None:
    model = CoqFixedTacticModel(["induction {variable}", "destruct {variable}"], num_variables=2)
    goal = Goal("n <= m -> n + p <= m + p", ("n, m, p : nat", "H : n <= m"))
    [suggestions] = model.get_tactics([goal], [[]])
    assert [t for t, _ in suggestions] == [
        "induction n",
        "induction m",
        "destruct n",
        "destruct m",
    ]
    _check(suggestions)
    # A goal with no variable: those templates give nothing, the others all the mass.
    with_auto = CoqFixedTacticModel(["destruct {variable}", "auto"])
    assert with_auto.get_tactics([Goal("True")], [[]]) == [[("auto", 0.0)]]


def test_premises_sharing_rare_symbols_rank_first() -> None:
    model = _model()
    ranked = model.select_premises(_goal(LAST_LENGTH), _premises(LAST_LENGTH), 4)
    # The lemmas on length of an append come first; nat lemmas (Nat.add_comm, ...) are far.
    assert ranked[0] == "app_length"
    statements = dict(DB.premises_for(LAST_LENGTH))
    assert all("++" in statements[name] for name in ranked)
    goal = Goal("length (l ++ l') = length l + length l'", ("A : Type", "l, l' : list A"))
    premises = [
        Premise("Coq.Arith.PeanoNat.Nat.add_comm", "forall n m : nat, n + m = m + n"),
        Premise("app_length", "forall l l' : list A, length (l++l') = length l + length l'"),
        Premise("app_nil_r", "(l:list A) : l ++ [] = l"),
        Premise("Coq.Arith.PeanoNat.Nat.add_0_r", "forall n : nat, n + 0 = n"),
    ]
    assert model.select_premises(goal, premises, 2) == ["app_length", "app_nil_r"]
    names = [t.removeprefix("apply ") for t, _ in model.get_tactics([goal], [premises])[0]]
    assert names.index("app_length") < names.index("Coq.Arith.PeanoNat.Nat.add_comm")


def test_declarations_of_data_are_never_cited() -> None:
    model = CoqFixedTacticModel(["eauto using {premises}"])
    premises = [
        Premise("A", "Variable A : Type."),
        Premise("length", "Fixpoint length (l : list A) : nat := ..."),
        Premise("Nat.eq", "#[local] Definition eq := @Logic.eq nat."),
        Premise("NoDup", "Inductive NoDup : list A -> Prop := ..."),
        Premise("bad name", "list A"),
        Premise("app_length", "forall l l' : list A, length (l++l') = length l + length l'"),
    ]
    goal = Goal("NoDup l -> length (l ++ []) = length l", ("A : Type", "l : list A"))
    assert model.get_tactics([goal], [premises]) == [[("eauto using app_length, NoDup", 0.0)]]
    # Nothing to cite: `eauto using` with an empty list is not Coq, so the template is dropped.
    both = CoqFixedTacticModel(["eauto using {premises}", "eauto"])
    assert both.get_tactics([goal], [premises[:3]]) == [[("eauto", 0.0)]]


@pytest.mark.parametrize(
    "template",
    ["frobnicate", "auto. Drop", "admit", "apply {premis}", "eauto using [{premises}", "(auto"],
)
def test_bad_templates_raise_naming_them(template: str) -> None:
    with pytest.raises(ValueError, match="template") as info:
        CoqFixedTacticModel(["auto", template])
    assert repr(template) in str(info.value)


BAD_KNOBS: dict[str, dict[str, Any]] = {
    "log_priors has 1 entries but there are 2 templates": {"log_priors": [0.0]},
    "num_premises must be >= 0": {"num_premises": -1},
    "num_variables must be >= 0": {"num_variables": -1},
    "num_variables must be an int": {"num_variables": 1.5},
    "unknown score 'bm25'": {"score": "bm25"},
}


@pytest.mark.parametrize("problem", sorted(BAD_KNOBS))
def test_bad_knobs_raise_naming_the_problem(problem: str) -> None:
    with pytest.raises(ValueError, match=f"CoqFixedTacticModel: {problem}"):
        CoqFixedTacticModel(["auto", "lia"], **BAD_KNOBS[problem])


def test_templates_must_be_a_non_empty_list() -> None:
    with pytest.raises(ValueError, match="templates is empty"):
        CoqFixedTacticModel([])
    with pytest.raises(ValueError, match="templates must be a list"):
        CoqFixedTacticModel("auto")


# Easy lemmas of Bool/Bool.v: destruct, then a closing tactic, or one apply.
EASY = [
    "Coq.Bool.Bool.diff_true_false",
    "Coq.Bool.Bool.negb_involutive",
    "Coq.Bool.Bool.andb_diag",
    "Coq.Bool.Bool.orb_comm",
    "Coq.Bool.Bool.implb_false_r",
    "Coq.Bool.Bool.negb_true_iff",
    "Coq.Bool.Bool.orb_prop",
]


@pytest.fixture(scope="module")
def coq() -> Iterator[Coq]:
    """One warm coqidetop for the module's attempts, closed after them (none left running)."""
    c = Coq()
    yield c
    c.close()


class CheckedCoqEnv(CoqEnv):
    """CoqEnv recording what its ``check_proof`` (the kernel's ``Qed``) says of each proof."""

    verdicts: ClassVar[list[str]] = []

    def check_proof(self, steps: list[ProofStep]) -> str:
        verdict = super().check_proof(steps)
        self.verdicts.append(verdict)
        return verdict


def test_the_model_proves_easy_library_lemmas_on_the_real_coq(coq: Coq) -> None:
    """A few seconds: each lemma takes a few expansions of milliseconds-long tactics."""
    model = _model()
    prover = Prover(BestFS(), model.get_tactics, 24, total_timeout=10.0, env_timeout=8.0)
    proved = []
    # The prover collects garbage after each attempt, a second each with the whole suite's
    # modules loaded, unless the objects alive now are left out of it.
    gc.freeze()
    try:
        for name in EASY:
            thm = DB[name]
            info = AttemptInfo(name, thm.to_dict(), {"name": "coq", "config": {}}, 0, {})
            trace = prover.prove(CheckedCoqEnv(thm, timeout=1.0, database=DB, coq=coq), info)
            if trace.status == "proved":
                proved.append(name)
                assert trace.proof and not trace.error
    finally:
        gc.unfreeze()
    assert len(proved) >= len(EASY) - 1, proved
    # Every proof found was checked by Coq's Qed, and accepted ("" is no objection).
    assert CheckedCoqEnv.verdicts == [""] * len(proved)
