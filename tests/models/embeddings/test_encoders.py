"""Term encoders: the shared-subterm graph is built exactly, and both encoders can learn."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from data.hol_light.database import TheoremDatabase
from models.embeddings.base import TermEncoder
from models.embeddings.gnn import (
    ARGUMENT,
    FUNCTION,
    NUM_FORWARD_EDGE_TYPES,
    TYPE_OF,
    TermGraphEncoder,
    build_term_graph,
)
from models.embeddings.sexp_transformer import SexpTransformerEncoder
from models.embeddings.vocabulary import Vocabulary

# x = x: the variable (v (num) x) occurs twice, the type (num) four times.
X_EQ_X = "(a (a (c (fun (num) (fun (num) (bool))) =) (v (num) x)) (v (num) x))"


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary.from_database()


def _label(vocabulary: Vocabulary, node_label: int) -> str:
    return vocabulary.tokens[node_label]


def test_graph_shares_identical_subexpressions(vocabulary: Vocabulary) -> None:
    graph = build_term_graph(X_EQ_X, vocabulary)
    tree_nodes = X_EQ_X.count("(")
    assert tree_nodes == 12
    # (num), (bool), (fun (num) (bool)), (fun (num) (fun ..)), (c .. =), (v (num) x), two a's.
    assert graph.num_nodes == 8
    labels = [_label(vocabulary, i) for i in graph.x.tolist()]
    assert sorted(labels) == sorted(
        ["ty:num", "ty:bool", "ty:fun", "ty:fun", "c:=", "v:x", "a", "a"]
    )
    root = int(graph.root_index)
    assert root == graph.num_nodes - 1 and labels[root] == "a"
    # 10 parent -> child edges (one per child position), each also reversed.
    assert graph.edge_index.shape == (2, 20)
    forward = graph.edge_type < NUM_FORWARD_EDGE_TYPES
    pairs = {
        (int(s), int(d), int(t))
        for s, d, t in zip(*graph.edge_index, graph.edge_type, strict=True)
        if t < NUM_FORWARD_EDGE_TYPES
    }
    assert int(forward.sum()) == 10
    variable = labels.index("v:x")
    root_children = {(d, t) for s, d, t in pairs if s == root}
    assert (variable, ARGUMENT) in root_children
    (function,) = [d for d, t in root_children if t == FUNCTION]
    assert (function, variable, ARGUMENT) in pairs  # the same node under both `=` arguments
    assert (variable, labels.index("ty:num"), TYPE_OF) in pairs
    reverse = {(int(s), int(d)) for s, d in graph.edge_index[:, ~forward].t()}
    assert reverse == {(d, s) for s, d, _ in pairs}


def test_deep_terms_build_without_recursion(vocabulary: Vocabulary) -> None:
    depth = 5000  # SUC (SUC (... 0)): far past Python's recursion limit
    term = "(c (num) _0)"
    for _ in range(depth):
        term = f"(a (c (fun (num) (num)) SUC) {term})"
    graph = build_term_graph(term, vocabulary)
    # depth applications, SUC, _0, (num), (fun (num) (num)).
    assert graph.num_nodes == depth + 4
    for encoder in (
        TermGraphEncoder(vocabulary, dim=8, layers=1),
        SexpTransformerEncoder(vocabulary, dim=8, heads=2, max_len=64),
    ):
        assert encoder.embed([term]).shape == (1, 8)


@pytest.mark.parametrize("cls", [SexpTransformerEncoder, TermGraphEncoder])
def test_encoders_embed_anything(vocabulary: Vocabulary, cls: type[TermEncoder]) -> None:
    encoder = cls(vocabulary, dim=16)
    encoder.eval()
    texts = [X_EQ_X, "", "plain words", "(a (c", X_EQ_X]
    out = encoder.embed(texts)
    assert out.shape == (5, 16) and encoder.dim == 16
    assert torch.isfinite(out).all()
    assert torch.allclose(out[0], out[4], atol=1e-5)  # order and batch mates do not matter
    assert encoder.embed([]).shape == (0, 16)


def _file_task(per_file: int = 8) -> tuple[list[str], torch.Tensor]:
    """Statements from three theory files, labelled by file: a small task with a real signal."""
    db = TheoremDatabase.cached()
    texts: list[str] = []
    labels: list[int] = []
    for label, file in enumerate(("arith.ml", "real.ml", "sets.ml")):
        records = sorted((r for r in db if r.file == file), key=lambda r: (len(r.sexp), r.name))
        texts.extend(r.sexp for r in records[5 : 5 + per_file])
        labels.extend([label] * per_file)
    return texts, torch.tensor(labels)


@pytest.mark.parametrize(
    "make",
    [
        lambda v: SexpTransformerEncoder(v, dim=32, layers=1, heads=2, max_len=96, dropout=0.0),
        lambda v: TermGraphEncoder(v, dim=32, layers=2),
    ],
    ids=["transformer", "gnn"],
)
def test_encoder_learns_a_small_task(
    vocabulary: Vocabulary, make: Callable[[Vocabulary], TermEncoder]
) -> None:
    torch.manual_seed(0)
    texts, labels = _file_task()
    encoder = make(vocabulary)
    head = nn.Linear(encoder.dim, 3)
    optimiser = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=3e-3)
    losses = []
    for _ in range(30):
        loss = nn.functional.cross_entropy(head(encoder.embed(texts)), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    print(f"{type(encoder).__name__}: loss {first:.3f} -> {last:.3f}")
    assert last < 0.5 * first
