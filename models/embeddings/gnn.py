"""A graph neural network over terms as DAGs of shared sub-expressions (HOList's GNN encoder).

Each distinct sub-expression of the s-expression (types included) is one node, labelled by its
head: the constant, variable or type name, or the tag ``a``/``l``. So every occurrence of
``(v (num) m)``, bound or free, is the same node, and repeated subterms cost nothing. Edges go
parent -> child typed by the child's role (function, argument, bound variable, body, type,
type argument), plus the reverse edges with their own types.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GINEConv, global_mean_pool

from models.embeddings.base import TermEncoder
from models.embeddings.vocabulary import UNK, Vocabulary, sexp_keys

FUNCTION, ARGUMENT, BOUND, BODY, TYPE_OF, TYPE_ARG, LATER_TYPE_ARG = range(7)
NUM_FORWARD_EDGE_TYPES = 7
NUM_EDGE_TYPES = 2 * NUM_FORWARD_EDGE_TYPES  # a reverse edge has type forward + 7
_ROLES = {"a": (FUNCTION, ARGUMENT), "l": (BOUND, BODY), "c": (TYPE_OF,), "v": (TYPE_OF,)}
_NAMED_HEADS = frozenset({"c", "v", "tyvar"})  # the node's label is the name after the head


def _role(head: str, position: int) -> int:
    roles = _ROLES.get(head)
    if roles is not None and position < len(roles):
        return roles[position]
    return TYPE_ARG if position == 0 else LATER_TYPE_ARG


def build_term_graph(text: str, vocabulary: Vocabulary) -> Data:
    """The hash-consed graph of one s-expression: ``x`` (label ids), ``edge_index``,
    ``edge_type`` and ``root_index``; nodes in post-order. Iterative, for terms of any depth."""
    nodes: dict[tuple[str, tuple[int, ...]], int] = {}
    labels: list[int] = []
    sources: list[int] = []
    targets: list[int] = []
    roles: list[int] = []
    # Open lists: [head key, label key, child ids].
    stack: list[tuple[list[str], list[int]]] = []
    roots: list[int] = []

    def close(head: str, label: str, children: list[int]) -> None:
        key = (label, tuple(children))
        node = nodes.get(key)
        if node is None:
            node = nodes[key] = len(labels)
            labels.append(vocabulary.id_of(label))
            for position, child in enumerate(children):
                sources.append(node)
                targets.append(child)
                roles.append(_role(head, position))
        (stack[-1][1] if stack else roots).append(node)

    for key in sexp_keys(text):
        if key == "(":
            stack.append(([], []))
        elif key == ")":
            if stack:
                names, children = stack.pop()
                close(*_head_and_label(names), children)
        elif stack:
            stack[-1][0].append(key)
        else:
            close(key, key, [])
    while stack:
        names, children = stack.pop()
        close(*_head_and_label(names), children)
    if not labels:
        close(UNK, UNK, [])
    forward = torch.tensor([sources, targets], dtype=torch.long).reshape(2, -1)
    edge_type = torch.tensor(roles, dtype=torch.long)
    return Data(
        x=torch.tensor(labels, dtype=torch.long),
        edge_index=torch.cat([forward, forward.flip(0)], dim=1),
        edge_type=torch.cat([edge_type, edge_type + NUM_FORWARD_EDGE_TYPES]),
        root_index=torch.tensor([roots[-1]], dtype=torch.long),
        num_nodes=len(labels),
    )


def _head_and_label(names: list[str]) -> tuple[str, str]:
    """A closed list's head (its first atom) and node label (the name for c, v and tyvar)."""
    if not names:
        return UNK, UNK
    head = names[0]
    if head in _NAMED_HEADS:
        return head, names[1] if len(names) > 1 else head
    return head, head


class TermGraphEncoder(TermEncoder):
    """Label embeddings, ``layers`` rounds of GINE message passing with typed edges (residual,
    layer norm), then the root node's vector and the mean over nodes, projected to ``dim``."""

    def __init__(
        self,
        vocabulary: Vocabulary,
        dim: int = 128,
        layers: int = 3,
        dropout: float = 0.0,
        aggregation: str = "add",
    ) -> None:
        super().__init__(vocabulary, dim)
        self.labels = nn.Embedding(len(vocabulary), dim)
        self.edge_types = nn.Embedding(NUM_EDGE_TYPES, dim)
        self.convs = nn.ModuleList(
            GINEConv(
                nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim)),
                train_eps=True,
                aggr=aggregation,
            )
            for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.readout = nn.Linear(2 * dim, dim)

    def embed(self, sexps: Sequence[str]) -> Tensor:
        if not sexps:
            return torch.zeros(0, self.dim, device=self.device)
        graphs = [build_term_graph(s, self.vocabulary) for s in sexps]
        batch = Batch.from_data_list(graphs).to(self.device)
        x = self.labels(batch.x)
        edges = self.edge_types(batch.edge_type)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = norm(x + self.dropout(conv(x, batch.edge_index, edges)))
        pooled = global_mean_pool(x, batch.batch, size=len(graphs))
        return self.readout(torch.cat([x[batch.root_index], pooled], dim=-1))
