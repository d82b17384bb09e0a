"""Batching: the model's own gain from batching beside what a TacticServer keeps of it.

The model is a small real torch model (a 2-layer Transformer encoder over hashed goal tokens
scoring a fixed tactic list, random weights): per-call overhead is what batching amortises, as
with any real model on a CPU or GPU. ``model_speedup`` is suggestions per second of one call on
``provers`` goals over ``provers`` calls on one goal each, in this process; ``speedup`` is the
same ratio through a TacticServer serving ``provers`` concurrent clients (batches of up to
``provers`` against batches of one); ``kept`` is the second over the first. A model-free
server's rate is reported too: the ceiling Ray's own per-request cost puts on any server.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import ray
import torch

from data.proof_tree import Goal
from environments.base import Premise, Suggestion
from experiments.end_to_end.distributed import TacticServerActor
from experiments.end_to_end.evaluation import server_threads
from models.end_to_end.tactic_models.base import TacticModel

TACTICS = [
    "ARITH_TAC",
    "STRIP_TAC",
    "GEN_TAC",
    "CONJ_TAC",
    "DISCH_TAC",
    "EQ_TAC",
    "INDUCT_TAC",
    "REWRITE_TAC[]",
    "SIMP_TAC[]",
    "MESON_TAC[]",
    "ITAUT_TAC",
    "REAL_ARITH_TAC",
]


class TinyTransformerTacticModel(TacticModel):
    """Scores a fixed tactic list with a small Transformer over hashed goal tokens."""

    def __init__(
        self, d_model: int = 128, layers: int = 2, vocab: int = 4096, max_tokens: int = 64
    ) -> None:
        torch.manual_seed(0)
        self.vocab, self.max_tokens = vocab, max_tokens
        self.embed = torch.nn.Embedding(vocab, d_model)
        layer = torch.nn.TransformerEncoderLayer(
            d_model, nhead=4, dim_feedforward=4 * d_model, batch_first=True
        )
        self.encoder = torch.nn.TransformerEncoder(layer, layers)
        self.head = torch.nn.Linear(d_model, len(TACTICS))
        self.checkpoint = None

    def _tokens(self, goal: Goal) -> list[int]:
        words = goal.conclusion.split()[: self.max_tokens] or ["<empty>"]
        return [hash(w) % (self.vocab - 1) + 1 for w in words]

    @torch.no_grad()
    def get_tactics(
        self, goals: list[Goal], premises: list[Sequence[Premise]]
    ) -> list[list[Suggestion]]:
        ids = [self._tokens(g) for g in goals]
        width = max(len(t) for t in ids)
        batch = torch.zeros(len(ids), width, dtype=torch.long)
        for i, t in enumerate(ids):
            batch[i, : len(t)] = torch.tensor(t)
        hidden = self.encoder(self.embed(batch), src_key_padding_mask=batch == 0)
        logprobs = torch.log_softmax(self.head(hidden.mean(dim=1)), dim=-1)
        return [
            sorted(zip(TACTICS, row.tolist(), strict=True), key=lambda s: -s[1]) for row in logprobs
        ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provers", type=int, default=8, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=40, help="requests per client")
    parser.add_argument("--max-wait-ms", type=float, default=5.0)


GOALS = [Goal(conclusion=f"!n. n + {i} = {i} + n /\\ (x{i} ==> y{i})") for i in range(64)]


def _model_rates(provers: int, rounds: int) -> dict[str, float]:
    """Suggestions per second of the bare model: one goal per call, and ``provers`` per call."""
    torch.set_num_threads(1)
    model = TinyTransformerTacticModel()
    rates = {}
    for label, size in (("unbatched", 1), ("batched", provers)):
        model.get_tactics(GOALS[:size], [[]] * size)  # warm-up
        started = time.perf_counter()
        for r in range(rounds):
            for k in range(0, provers, size):
                goals = [GOALS[(r * provers + k + j) % len(GOALS)] for j in range(size)]
                model.get_tactics(goals, [[]] * size)
        rates[label] = rounds * provers * len(TACTICS) / (time.perf_counter() - started)
    return rates


class _Echo:
    """A server that answers at once, without a model: the most requests Ray itself carries."""

    def get_tactics(self, goals: list[Goal], premises: Any, client: int) -> list[Any]:
        return [[(t, 0.0) for t in TACTICS] for _ in goals]


@ray.remote(num_cpus=0)
class _Prover:
    """A client like a ProverWorker: one blocking request after another."""

    def __init__(self, server: Any, client: int) -> None:
        self.server, self.client = server, client

    def ask(self, requests: int) -> None:
        for r in range(requests):
            goal = GOALS[(self.client * requests + r) % len(GOALS)]
            ray.get(self.server.get_tactics.remote([goal], [[]], self.client))


def _throughput(server: Any, provers: int, requests: int) -> float:
    """``provers`` concurrent clients, each sending its next request when the last returns."""
    clients = [_Prover.remote(server, k) for k in range(provers)]  # type: ignore[attr-defined]
    ray.get([c.ask.remote(3) for c in clients])  # warm-up: model built, code paths hot
    started = time.perf_counter()
    ray.get([c.ask.remote(requests) for c in clients])
    elapsed = time.perf_counter() - started
    for c in clients:
        ray.kill(c)
    return provers * requests * len(TACTICS) / elapsed


def run(args: argparse.Namespace) -> dict[str, Any]:
    model_rates = _model_rates(args.provers, args.requests)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        model = {"_target_": f"{__name__}.TinyTransformerTacticModel"}
        rates = {}
        for label, batch in (("unbatched", 1), ("batched", args.provers)):
            server = TacticServerActor.options(
                num_cpus=0, max_concurrency=server_threads(args.provers)
            ).remote(model, batch, args.max_wait_ms / 1000, args.provers)
            rates[label] = _throughput(server, args.provers, args.requests)
            sizes = ray.get(server.batch_sizes.remote())
            rates[f"{label}_mean_batch"] = sum(sizes) / len(sizes)
            ray.kill(server)
        echo = ray.remote(_Echo).options(num_cpus=0, max_concurrency=server_threads(args.provers))
        ceiling = _throughput(echo.remote(), args.provers, args.requests)
    finally:
        ray.shutdown()
    model_speedup = model_rates["batched"] / model_rates["unbatched"]
    speedup = rates["batched"] / rates["unbatched"]
    return {
        "benchmark": "batching",
        "provers": args.provers,
        "model_suggestions_per_s": model_rates,
        "suggestions_per_s": {"unbatched": rates["unbatched"], "batched": rates["batched"]},
        "mean_batch_size": {
            "unbatched": rates["unbatched_mean_batch"],
            "batched": rates["batched_mean_batch"],
        },
        # Suggestions per second through Ray with no model at all: what any server is bound by.
        "ray_ceiling_suggestions_per_s": ceiling,
        "model_speedup": model_speedup,
        "speedup": speedup,
        "kept": speedup / model_speedup,
        "target_kept": 0.8,
    }
