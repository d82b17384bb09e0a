"""PremiseRetriever: each goal's top k among its own premises, batched, with a premise cache
that survives calls and not new weights or new statements."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from data.proof_tree import Goal
from environments.base import Premise
from models.end_to_end.tactic_models.retrieval.model import (
    RetrieverModel,
    goal_text,
    premise_text,
)
from models.end_to_end.tactic_models.retrieval.retriever import PremiseRetriever
from tests.models.end_to_end.tactic_models.retrieval.helpers import TINY

NAT = [Premise(f"NAT_{i}", f"!m. m + {i} = {i} + m") for i in range(8)]
SETS = [Premise(f"SET_{i}", f"!s. s{i} SUBSET s{i} UNION t") for i in range(8)]
REAL = [Premise(f"REAL_{i}", f"!x. &{i} <= abs x + &{i}") for i in range(3)]
GOALS = [Goal("n + 1 = 1 + n"), Goal("s SUBSET s UNION t", ("x IN s",)), Goal("&0 <= abs y")]
LISTS = [NAT, SETS, REAL]


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every text any RetrieverModel embeds, in order."""
    texts: list[str] = []
    original = RetrieverModel.embed

    def spy(self: RetrieverModel, batch: list[str]) -> torch.Tensor:
        texts.extend(batch)
        return original(self, batch)

    monkeypatch.setattr(RetrieverModel, "embed", spy)
    yield texts


def _names(ranked: list[tuple[Premise, float]]) -> list[str]:
    return [premise.name for premise, _ in ranked]


def test_rank_gives_each_goal_its_own_best_premises_sorted() -> None:
    retriever = PremiseRetriever(model=TINY)
    results = retriever.rank(GOALS, LISTS, k=4)
    assert [len(r) for r in results] == [4, 4, 3]  # REAL has fewer than k: all of them
    model = retriever.model
    for goal, premises, ranked in zip(GOALS, LISTS, results, strict=True):
        assert set(_names(ranked)) <= {p.name for p in premises}
        scores = [score for _, score in ranked]
        assert scores == sorted(scores, reverse=True)
        # The scores are the cosines, and the top 4 are the 4 best of the whole list.
        with torch.no_grad():
            cosines = model.embed([premise_text(p) for p in premises]) @ model.embed(
                [goal_text(goal)]
            ).squeeze(0)
        best = torch.sort(cosines, descending=True).indices[: len(ranked)].tolist()
        assert _names(ranked) == [premises[i].name for i in best]
        assert scores == pytest.approx(cosines[best].tolist(), abs=1e-5)
    everything = retriever.rank(GOALS, LISTS, k=100)
    assert [len(r) for r in everything] == [8, 8, 3]
    assert [r[:4] for r in everything[:2]] == results[:2]


def test_a_batch_ranks_as_its_goals_alone() -> None:
    batched = PremiseRetriever(model=TINY).rank(GOALS, LISTS, k=5)
    single = PremiseRetriever(model=TINY)  # a cache filled one goal at a time
    for goal, premises, ranked in zip(GOALS, LISTS, batched, strict=True):
        [alone] = single.rank([goal], [premises], k=5)
        assert _names(alone) == _names(ranked)
        assert [s for _, s in alone] == pytest.approx([s for _, s in ranked], abs=1e-5)


def test_edge_cases_of_k_and_lists() -> None:
    retriever = PremiseRetriever(model=TINY)
    assert retriever.rank([], [], k=3) == []
    assert retriever.rank(GOALS[:2], [NAT, []], k=0) == [[], []]
    assert retriever.rank(GOALS[:2], [[], NAT[:1]], k=3)[0] == []
    [twice] = retriever.rank(GOALS[:1], [[NAT[0], Premise("NAT_0", "F"), NAT[1]]], k=5)
    assert [(p.name, p.statement) for p, _ in twice] == [
        (p.name, p.statement) for p, _ in retriever.rank(GOALS[:1], [NAT[:2]], k=5)[0]
    ]  # a repeated name counts once, as first given
    with pytest.raises(ValueError, match="one list per goal"):
        retriever.rank(GOALS, LISTS[:2], k=3)
    with pytest.raises(ValueError, match="k must be an int >= 0"):
        retriever.rank(GOALS, LISTS, k=-1)


def test_premise_embeddings_are_cached_across_calls(embedded: list[str]) -> None:
    retriever = PremiseRetriever(model=TINY)
    embedded.clear()
    first = retriever.rank(GOALS, LISTS, k=3)
    premise_texts = {premise_text(p) for ps in LISTS for p in ps}
    assert premise_texts <= set(embedded)
    embedded.clear()
    assert retriever.rank(GOALS, LISTS, k=3) == first
    assert embedded == [goal_text(g) for g in GOALS]  # the goals only


def test_a_changed_statement_is_embedded_again(embedded: list[str]) -> None:
    retriever = PremiseRetriever(model=TINY)
    retriever.rank(GOALS[:1], [NAT], k=8)
    changed = [*NAT[:3], Premise("NAT_3", "!x. ~(x IN {})"), *NAT[4:]]
    embedded.clear()
    [ranked] = retriever.rank(GOALS[:1], [changed], k=8)
    assert embedded == [premise_text(changed[3]), goal_text(GOALS[0])]
    [fresh] = PremiseRetriever(model=TINY).rank(GOALS[:1], [changed], k=8)
    assert _names(ranked) == _names(fresh)
    assert [s for _, s in ranked] == pytest.approx([s for _, s in fresh], abs=1e-5)
    score_of = {p.statement: s for p, s in ranked}
    assert "!x. ~(x IN {})" in score_of and NAT[3].statement not in score_of


def test_reload_drops_the_cache_and_takes_the_new_weights(
    checkpoint: Path, embedded: list[str]
) -> None:
    retriever = PremiseRetriever(model=TINY)
    before = retriever.rank(GOALS, LISTS, k=3)
    embedded.clear()
    retriever.reload(str(checkpoint))
    assert retriever.checkpoint == str(checkpoint)
    after = retriever.rank(GOALS, LISTS, k=3)
    assert {premise_text(p) for ps in LISTS for p in ps} <= set(embedded)
    fresh = PremiseRetriever(ckpt_path=str(checkpoint)).rank(GOALS, LISTS, k=3)
    for old, new, expected in zip(before, after, fresh, strict=True):
        assert [s for _, s in new] == pytest.approx([s for _, s in expected], abs=1e-5)
        assert [s for _, s in new] != pytest.approx([s for _, s in old], abs=1e-5)


def test_a_failed_reload_keeps_the_model(tmp_path: Path) -> None:
    retriever = PremiseRetriever(model=TINY)
    before = retriever.rank(GOALS, LISTS, k=3)
    with pytest.raises(ValueError, match="nope.ckpt"):
        retriever.reload(str(tmp_path / "nope.ckpt"))
    assert retriever.checkpoint is None
    assert retriever.rank(GOALS, LISTS, k=3) == before


def test_the_untrained_model_is_seeded() -> None:
    same = PremiseRetriever(model=TINY, seed=1).rank(GOALS, LISTS, k=8)
    assert PremiseRetriever(model=TINY, seed=1).rank(GOALS, LISTS, k=8) == same
    other = PremiseRetriever(model=TINY, seed=2).rank(GOALS, LISTS, k=8)
    assert [[s for _, s in r] for r in other] != [[s for _, s in r] for r in same]
