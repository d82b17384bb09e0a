"""DeepHOL's tactic model (Bansal et al. 2019): a tactic classifier and a premise scorer over
goal and premise embeddings, as a Lightning module, and the prover-facing ``TacticModel``.

The classifier picks the tactic; the scorer ranks the goal's premises as its theorem
arguments, optionally conditioned on the tactic (DeepHOL's PARAMETERS_CONDITIONED_ON_TAC). The
encoders are any ``models.embeddings`` ``TermEncoder``, chosen by a nested ``_target_``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from data.jsonable import jsonable, keyword_arguments
from data.proof_tree import Goal
from environments.base import Premise, Suggestion
from environments.hol_light.tactics import (
    TACTIC_SIGNATURES,
    ArgKind,
    TacticRejected,
    is_theorem_name,
    parse_tactic,
)
from models.embeddings.base import build_encoder, goal_sexp
from models.embeddings.vocabulary import Vocabulary
from models.end_to_end.checkpoints import TaggedCheckpoint, load_module
from models.end_to_end.tactic_models.base import Premises, TacticModel, check_batch

logger = logging.getLogger(__name__)

DEFAULT_ENCODER: dict[str, Any] = {
    "_target_": "models.embeddings.sexp_transformer.SexpTransformerEncoder",
    "dim": 128,
}


class HOListBatch(TypedDict):
    """What the data module's collate function hands ``training_step``.

    Premise pair ``k`` asks whether ``premises[pair_premise[k]]`` is a good theorem argument for
    ``goals[pair_goal[k]]`` (``pair_label[k]`` 1.0) or not (0.0).
    """

    goals: list[str]
    tactics: list[str]
    premises: list[str]
    pair_goal: Tensor
    pair_premise: Tensor
    pair_label: Tensor


class PremiseScorer(nn.Module):
    """MLP over ``[g; p; g*p]`` (and the tactic) -> logit, with the first layer split by input so
    that ranking n premises for k tactics costs one projection of the premises, not k."""

    def __init__(self, dim: int, hidden: int, num_tactics: int | None, dropout: float) -> None:
        super().__init__()
        self.goal = nn.Linear(dim, hidden)
        self.premise = nn.Linear(dim, hidden, bias=False)
        self.product = nn.Linear(dim, hidden, bias=False)
        # A learned vector per tactic added in the hidden layer: the same as concatenating a
        # one-hot tactic to the input.
        self.tactic = nn.Embedding(num_tactics, hidden) if num_tactics else None
        self.out = nn.Sequential(nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def pairs(self, goals: Tensor, premises: Tensor, tactics: Tensor) -> Tensor:
        """Logits of aligned rows: ``goals[k]`` with ``premises[k]`` for tactic ``tactics[k]``."""
        hidden = self.goal(goals) + self.premise(premises) + self.product(goals * premises)
        if self.tactic is not None:
            hidden = hidden + self.tactic(tactics)
        return self.out(hidden).squeeze(-1)

    def matrix(self, goal: Tensor, premises: Tensor, tactics: Tensor) -> Tensor:
        """Logits ``[len(tactics), len(premises)]`` of one goal's premises under each tactic
        (one row, shared by all tactics, when the scorer ignores the tactic)."""
        hidden = self.goal(goal) + self.premise(premises) + self.product(goal * premises)
        if self.tactic is None:
            return self.out(hidden).squeeze(-1).unsqueeze(0)
        return self.out(hidden.unsqueeze(0) + self.tactic(tactics).unsqueeze(1)).squeeze(-1)


class HOListModel(TaggedCheckpoint, pl.LightningModule):
    """Goal and premise encoders, a tactic classifier and a premise scorer, trained jointly:
    cross-entropy on the tactic plus binary cross-entropy on positive/negative premises.

    ``vocabulary`` None builds it from the theorem database (``database``, default the packaged
    one); the built vocabulary and the tactic list go into the hyperparameters, so a checkpoint
    rebuilds the same model with no database at hand.
    """

    def __init__(
        self,
        encoder: Mapping[str, Any] | None = None,
        vocabulary: Mapping[str, Any] | None = None,
        tactics: Sequence[str] | None = None,
        share_encoders: bool = False,
        conditioned_on_tactic: bool = True,
        hidden_dim: int = 256,
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        premise_loss_weight: float = 1.0,
        num_variable_names: int = 32,
        database: str | None = None,
    ) -> None:
        super().__init__()
        encoder_config = jsonable(encoder if encoder is not None else DEFAULT_ENCODER, "encoder")
        if vocabulary is None:
            vocab = Vocabulary.from_database(database, num_variable_names)
        else:
            vocab = Vocabulary.from_dict(jsonable(vocabulary, "vocabulary"))
        self.tactics = list(tactics) if tactics is not None else sorted(TACTIC_SIGNATURES)
        if not self.tactics or len(set(self.tactics)) != len(self.tactics):
            raise ValueError(f"HOListModel: tactics must be distinct and non-empty: {self.tactics}")
        self.tactic_index = {name: i for i, name in enumerate(self.tactics)}
        self.save_hyperparameters(
            {
                "encoder": encoder_config,
                "vocabulary": vocab.to_dict(),
                "tactics": self.tactics,
                "share_encoders": share_encoders,
                "conditioned_on_tactic": conditioned_on_tactic,
                "hidden_dim": hidden_dim,
                "dropout": dropout,
                "lr": lr,
                "weight_decay": weight_decay,
                "premise_loss_weight": premise_loss_weight,
                "num_variable_names": num_variable_names,
                "database": database,
            }
        )
        self.vocabulary = vocab
        self.goal_encoder = build_encoder(encoder_config, vocab, "HOListModel")
        self.premise_encoder = (
            self.goal_encoder
            if share_encoders
            else build_encoder(encoder_config, vocab, "HOListModel")
        )
        dim = self.goal_encoder.dim
        self.tactic_head = nn.Sequential(
            nn.Linear(dim, hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, len(self.tactics)),
        )
        self.scorer = PremiseScorer(
            dim, hidden_dim, len(self.tactics) if conditioned_on_tactic else None, dropout
        )
        self.lr, self.weight_decay, self.premise_loss_weight = lr, weight_decay, premise_loss_weight

    def tactic_ids(self, names: Sequence[str]) -> Tensor:
        try:
            ids = [self.tactic_index[n] for n in names]
        except KeyError as e:
            raise ValueError(
                f"HOListModel: tactic {e.args[0]!r} is not in the model's tactic list "
                f"{self.tactics}; retrain from a config with it or drop those examples"
            ) from None
        return torch.tensor(ids, dtype=torch.long, device=self.device)

    def losses(self, batch: HOListBatch) -> dict[str, Tensor]:
        """Tactic and premise losses, the total, and the tactic accuracy of one batch."""
        goals = self.goal_encoder.embed(batch["goals"])
        targets = self.tactic_ids(batch["tactics"])
        logits = self.tactic_head(goals)
        tactic_loss = F.cross_entropy(logits, targets)
        if len(batch["pair_label"]):
            premises = self.premise_encoder.embed(batch["premises"])
            pair_goal, pair_premise = batch["pair_goal"], batch["pair_premise"]
            scores = self.scorer.pairs(goals[pair_goal], premises[pair_premise], targets[pair_goal])
            premise_loss = F.binary_cross_entropy_with_logits(scores, batch["pair_label"].float())
        else:
            premise_loss = logits.new_zeros(())
        return {
            "loss": tactic_loss + self.premise_loss_weight * premise_loss,
            "tactic_loss": tactic_loss,
            "premise_loss": premise_loss,
            "tactic_acc": (logits.argmax(-1) == targets).float().mean(),
        }

    def training_step(self, batch: HOListBatch, batch_idx: int) -> Tensor:
        out = self.losses(batch)
        size = len(batch["goals"])
        for name in ("loss", "tactic_loss", "premise_loss"):
            self.log(f"train/{name}", out[name], batch_size=size, prog_bar=name == "loss")
        return out["loss"]

    def validation_step(self, batch: HOListBatch, batch_idx: int) -> None:
        out = self.losses(batch)
        size = len(batch["goals"])
        for name in ("loss", "tactic_loss", "premise_loss", "tactic_acc"):
            self.log(f"val/{name}", out[name], batch_size=size, prog_bar=name == "loss")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


_ARG_KINDS_SUPPORTED = frozenset({ArgKind.THEOREM, ArgKind.THEOREM_LIST})
_PREMISE_BATCH = 256  # premises encoded per forward pass when filling the cache


def load_holist_checkpoint(path: str | Path, device: str = "cpu") -> HOListModel:
    """A trained ``HOListModel`` from a local Lightning checkpoint, in eval mode on ``device``.

    Raises ValueError naming ``path`` if the file is missing or holds another model.
    """
    return load_module(path, HOListModel, "HOList tactic model", device)


class HOListTacticModel(TacticModel):
    """The prover's view of ``HOListModel``: for each goal, the top ``num_tactics`` tactics that
    the grammar can complete from the goal's premises, with their arguments filled in.

    Tactics that need a term, conversion or string are never proposed (the model cannot write
    them); the tactic distribution is renormalised over the rest. A theorem-list tactic cites
    the ``num_premises`` best-scored premises (maybe none); a one-theorem tactic cites the best
    one, scored ``log p(tactic) + log_softmax(premise scores)[best]``. Premise embeddings are
    cached by name until ``reload``.
    """

    def __init__(
        self,
        ckpt_path: str | None = None,
        model: Mapping[str, Any] | None = None,
        num_tactics: int = 8,
        num_premises: int = 8,
        device: str = "cpu",
        seed: int | None = 0,
    ) -> None:
        if num_tactics < 1 or num_premises < 0:
            raise ValueError(
                f"HOListTacticModel: need num_tactics >= 1 and num_premises >= 0, got "
                f"{num_tactics} and {num_premises}"
            )
        self.num_tactics, self.num_premises, self.device = num_tactics, num_premises, device
        self._cache: dict[str, tuple[str, int]] = {}  # name -> (text, row of _matrix)
        self._chunks: list[Tensor] = []
        self._matrix: Tensor | None = None
        if ckpt_path is not None:
            self.reload(ckpt_path)
            return
        config = keyword_arguments(model, "tac_model.model")
        # Seeded, so every prover of a run starts from the same untrained model.
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self._use(HOListModel(**config).to(device).eval(), None)

    def reload(self, checkpoint: str) -> None:
        """Load new weights (a local Lightning checkpoint of ``HOListModel``); drops the cache."""
        self._use(load_holist_checkpoint(checkpoint, self.device), checkpoint)

    def _use(self, model: HOListModel, checkpoint: str | None) -> None:
        self.model = model
        self.checkpoint = checkpoint
        self._cache, self._chunks, self._matrix = {}, [], None
        # Tactics the grammar knows and we can complete: (index, name, argument kind or None).
        self._candidates: list[tuple[int, str, ArgKind | None]] = []
        for index, name in enumerate(model.tactics):
            kinds = TACTIC_SIGNATURES.get(name)
            if kinds is None or len(kinds) > 1 or not set(kinds) <= _ARG_KINDS_SUPPORTED:
                continue
            self._candidates.append((index, name, kinds[0] if kinds else None))

    @torch.inference_mode()
    def get_tactics(self, goals: list[Goal], premises: list[Premises]) -> list[list[Suggestion]]:
        check_batch(goals, premises)
        if not goals:
            return []
        embedded = self.model.goal_encoder.embed([goal_sexp(g) for g in goals])
        log_probs = F.log_softmax(self.model.tactic_head(embedded), dim=-1)
        return [self._suggest(embedded[i], log_probs[i], ps) for i, ps in enumerate(premises)]

    def _suggest(self, goal: Tensor, log_probs: Tensor, premises: Premises) -> list[Suggestion]:
        names, rows = self._premise_rows(premises)
        candidates = [c for c in self._candidates if names or c[2] is not ArgKind.THEOREM]
        if not candidates:
            return []
        index = torch.tensor([c[0] for c in candidates], device=goal.device)
        renormalised = log_probs[index] - torch.logsumexp(log_probs[index], dim=0)
        top = torch.topk(renormalised, min(self.num_tactics, len(candidates)))
        chosen = [candidates[i] for i in top.indices.tolist()]
        tactic_logprobs = top.values.tolist()
        # Premise scores per chosen tactic that cites premises (one shared row if unconditioned).
        cites = [i for i, c in enumerate(chosen) if c[2] is not None]
        rows_of: dict[int, Tensor] = {}
        if cites and names:
            assert self._matrix is not None
            tactic_ids = torch.tensor([chosen[i][0] for i in cites], device=goal.device)
            scores = self.model.scorer.matrix(goal, self._matrix[rows], tactic_ids)
            rows_of = {i: scores[min(j, len(scores) - 1)] for j, i in enumerate(cites)}
        suggestions: list[Suggestion] = []
        for i, (_, name, kind) in enumerate(chosen):
            logprob = tactic_logprobs[i]
            row = rows_of.get(i)
            if kind is None:
                tactic = name
            elif kind is ArgKind.THEOREM:
                assert row is not None  # THEOREM tactics are candidates only with premises
                best = int(row.argmax())
                logprob += float(row[best] - torch.logsumexp(row, dim=0))
                tactic = f"{name} {names[best]}"
            else:
                k = min(self.num_premises, len(names))
                cited = [] if row is None or k == 0 else torch.topk(row, k).indices.tolist()
                tactic = f"{name}[{'; '.join(names[j] for j in cited)}]"
            try:
                parse_tactic(tactic)
            except TacticRejected as e:
                logger.warning("HOListTacticModel: dropping %r: %s", tactic, e)
                continue
            suggestions.append((tactic, min(logprob, 0.0)))
        suggestions.sort(key=lambda s: -s[1])
        return suggestions

    def _premise_rows(self, premises: Sequence[Premise]) -> tuple[list[str], Tensor]:
        """Names of the citable premises (first of each name) and their rows in the cache,
        encoding the ones not seen before (or seen with another statement)."""
        names: list[str] = []
        seen: set[str] = set()
        missing: dict[str, str] = {}
        for premise in premises:
            name = premise.name
            if name in seen or not is_theorem_name(name):
                continue
            seen.add(name)
            text = premise.sexp if premise.sexp is not None else premise.statement
            names.append(name)
            cached = self._cache.get(name)
            if cached is None or cached[0] != text:
                missing[name] = text
        if missing:
            self._encode_premises(missing)
        rows = torch.tensor([self._cache[n][1] for n in names], dtype=torch.long)
        return names, rows.to(self.device)

    def _encode_premises(self, missing: Mapping[str, str]) -> None:
        items = list(missing.items())
        start = sum(len(c) for c in self._chunks)
        for offset in range(0, len(items), _PREMISE_BATCH):
            chunk = items[offset : offset + _PREMISE_BATCH]
            self._chunks.append(self.model.premise_encoder.embed([text for _, text in chunk]))
            for j, (name, text) in enumerate(chunk):
                self._cache[name] = (text, start + offset + j)
        self._chunks = [torch.cat(self._chunks)]
        self._matrix = self._chunks[0]
