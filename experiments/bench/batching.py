"""TacticServer batching: suggestions per second for 8 concurrent provers, batched vs not.

The model is a small real torch model (a 2-layer Transformer encoder over hashed goal
tokens scoring a fixed tactic list, random weights): per-call overhead is what batching
amortises, as with any real model on a CPU or GPU.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from typing import Any

import ray
import torch

from data.proof_tree import Goal
from environments.base import Premise, Suggestion
from experiments.end_to_end.distributed import TacticServer
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
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)


def _throughput(server: Any, provers: int, requests: int) -> float:
    """``provers`` concurrent clients, each sending its next request when the last returns."""
    goals = [Goal(conclusion=f"!n. n + {i} = {i} + n /\\ (x{i} ==> y{i})") for i in range(64)]

    async def client(k: int) -> None:
        for r in range(requests):
            await server.get_tactics.remote(goals[(k * requests + r) % len(goals)], [])

    async def all_clients() -> None:
        await asyncio.gather(*(client(k) for k in range(provers)))

    started = time.perf_counter()
    asyncio.run(all_clients())
    return provers * requests * len(TACTICS) / (time.perf_counter() - started)


def run(args: argparse.Namespace) -> dict[str, Any]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        model = {"_target_": f"{__name__}.TinyTransformerTacticModel"}
        rates = {}
        for label, batch in (("unbatched", 1), ("batched", args.max_batch_size)):
            server = TacticServer.options(num_cpus=0).remote(model, batch, args.max_wait_ms / 1000)
            _throughput(server, args.provers, 3)  # warm-up: model built, code paths hot
            rates[label] = _throughput(server, args.provers, args.requests)
            sizes = ray.get(server.batch_sizes.remote())
            rates[f"{label}_mean_batch"] = sum(sizes) / len(sizes)
            ray.kill(server)
    finally:
        ray.shutdown()
    return {
        "benchmark": "batching",
        "provers": args.provers,
        "suggestions_per_s": {"unbatched": rates["unbatched"], "batched": rates["batched"]},
        "mean_batch_size": {
            "unbatched": rates["unbatched_mean_batch"],
            "batched": rates["batched_mean_batch"],
        },
        "speedup": rates["batched"] / rates["unbatched"],
        "target_speedup": 3.0,
    }
