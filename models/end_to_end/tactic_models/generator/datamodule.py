"""Training data for the generator: each goal's best proving tactic, as (input text, tactic).

The input is the one the tactic model builds at inference (`inputs.format_input`): the goal,
and with ``num_retrieved > 0`` the premises the same ranking (`premises.PremiseRanking`) puts
first among those the theorem may use. In training each premise is dropped with probability
``p_drop`` (ReProver's augmentation, so the model does not rely on retrieval being right);
validation reads them all.

With ``library_proofs`` (a Coq theorem database directory) the library's own proofs are
examples too: every traced tactic of a lemma in ``splits``, on the goal it was applied to.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from data.coq.database import CoqDatabase
from data.proof_tree import Goal
from data.traces.examples import EdgeExample
from data.traces.schema import ProofTrace
from environments.base import Premise
from models.end_to_end.tactic_models.generator.inputs import format_input
from models.end_to_end.tactic_models.generator.premises import PremiseRanking
from models.end_to_end.tactic_models.premise_pool import PremisePool
from models.end_to_end.trace_datamodule import EdgeDataModule

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GeneratorExample:
    """One proving step: the goal, its ranked premises (best first) and the tactic."""

    theorem: str
    goal: Goal
    tactic: str
    premises: tuple[Premise, ...] = ()


class GeneratorDataModule(EdgeDataModule[GeneratorExample]):
    """Examples from the traces in ``trace_files`` (see `EdgeDataModule` for the splits and
    the held-out theorems): each goal's best proving edge, or with ``all_proving_edges``
    every proving edge. A tactic longer than ``max_output_bytes`` is dropped (counted in
    ``skipped_steps``): the decoder could never write it.

    Premises come from the theorem database (``database``, null: the packaged HOL Light one),
    ranked by ``retriever`` (a ``PremiseRetriever`` config) or by symbol overlap; they must
    match the tactic model's ``num_retrieved``, ``retriever`` and ``max_input_bytes``.

    ``library_proofs``: a Coq theorem database directory whose lemmas' traced proof steps
    join the examples (their theorems are held out for validation like the others).
    """

    def __init__(
        self,
        trace_files: str | Sequence[str],
        batch_size: int = 16,
        val_fraction: float = 0.1,
        seed: int = 0,
        splits: Sequence[str] | None = ("train",),
        num_workers: int = 0,
        all_proving_edges: bool = False,
        num_retrieved: int = 0,
        retriever: Mapping[str, Any] | None = None,
        p_drop: float = 0.5,
        max_input_bytes: int = 1024,
        max_output_bytes: int = 128,
        database: str | None = None,
        library_proofs: str | None = None,
    ) -> None:
        super().__init__(trace_files, batch_size, val_fraction, seed, splits, num_workers)
        if library_proofs is not None and num_retrieved:
            raise ValueError(
                "GeneratorDataModule: library_proofs (a Coq database) takes no retrieved premises "
                f"(they come from the HOL Light database); got num_retrieved={num_retrieved}"
            )
        self.library_proofs = library_proofs
        self.library_steps = 0  # examples from the library's own proofs
        if num_retrieved < 0 or not 0.0 <= p_drop < 1.0 or max_output_bytes < 1:
            raise ValueError(
                f"GeneratorDataModule: need num_retrieved >= 0, p_drop in [0, 1) and "
                f"max_output_bytes >= 1; got {num_retrieved}, {p_drop} and {max_output_bytes}"
            )
        self.all_proving_edges, self.num_retrieved = all_proving_edges, num_retrieved
        self.retriever = dict(retriever) if retriever is not None else None
        self.p_drop, self.max_input_bytes = p_drop, max_input_bytes
        self.max_output_bytes, self.database = max_output_bytes, database
        self._rng = random.Random(seed)

    def examples_from(self, traces: Iterable[ProofTrace]) -> dict[str, list[GeneratorExample]]:
        by_theorem = super().examples_from(traces)
        if self.library_proofs is None:
            return by_theorem
        for record in CoqDatabase.load(self.library_proofs):
            if self.splits is not None and record.split not in self.splits:
                continue
            for step in record.proof:
                if len(step.tactic.encode("utf-8")) > self.max_output_bytes:
                    self.skipped_steps += 1
                    continue
                goal = Goal(step.conclusion, step.hypotheses)
                example = GeneratorExample(record.name, goal, step.tactic)
                by_theorem.setdefault(record.name, []).append(example)
                self.library_steps += 1
        logger.info(
            "GeneratorDataModule: %d steps of the library's own proofs from %s",
            self.library_steps,
            self.library_proofs,
        )
        return by_theorem

    def build_examples(
        self, labelled: Mapping[str, list[EdgeExample]]
    ) -> dict[str, list[GeneratorExample]]:
        chosen: dict[str, list[EdgeExample]] = {}
        for theorem_id, edges in sorted(labelled.items()):
            for edge in edges:
                if not (edge.best or (self.all_proving_edges and edge.kind == "proving")):
                    continue
                if len(edge.tactic.encode("utf-8")) > self.max_output_bytes:
                    self.skipped_steps += 1
                    continue
                chosen.setdefault(theorem_id, []).append(edge)
        if self.skipped_steps:
            logger.info(
                "GeneratorDataModule: %d tactics longer than max_output_bytes (%d) left out",
                self.skipped_steps,
                self.max_output_bytes,
            )
        premises = self._premises(chosen) if self.num_retrieved else {}
        return {
            theorem_id: [
                GeneratorExample(
                    theorem_id,
                    e.goal,
                    e.tactic,
                    tuple(premises.get((theorem_id, e.edge, e.iteration), ())),
                )
                for e in edges
            ]
            for theorem_id, edges in chosen.items()
        }

    def _premises(
        self, chosen: Mapping[str, list[EdgeExample]]
    ) -> dict[tuple[str, int, int], list[Premise]]:
        """The ranked premises of every chosen edge, one ranking call per theorem."""
        pool = PremisePool(self.database)
        ranking = PremiseRanking(self.retriever)
        out: dict[tuple[str, int, int], list[Premise]] = {}
        for theorem_id, edges in chosen.items():
            record = pool.record(edges[0].theorem, theorem_id)
            if record is None:
                logger.warning(
                    "GeneratorDataModule: %r is not in the database: no premises", theorem_id
                )
                continue
            available = pool.available(record)
            ranked = ranking.rank(
                [e.goal for e in edges], [available] * len(edges), self.num_retrieved
            )
            for edge, row in zip(edges, ranked, strict=True):
                out[(theorem_id, edge.edge, edge.iteration)] = row
        return out

    def collate(self, examples: Sequence[GeneratorExample]) -> dict[str, list[str]]:
        """Inputs with every ranked premise that fits, and the target tactics."""
        return self._batch(examples, p_drop=0.0)

    def collate_train(self, examples: Sequence[GeneratorExample]) -> dict[str, list[str]]:
        """Inputs with each premise dropped with probability ``p_drop``."""
        return self._batch(examples, p_drop=self.p_drop)

    def _batch(self, examples: Sequence[GeneratorExample], p_drop: float) -> dict[str, list[str]]:
        return {
            "sources": [
                format_input(e.goal, e.premises, self.max_input_bytes, p_drop, self._rng)
                for e in examples
            ],
            "targets": [e.tactic for e in examples],
        }
