"""TacticServer batching without Ray: batch sizes under concurrency, the early flush, errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from data.proof_tree import Goal
from experiments.end_to_end.distributed import TacticServer
from tests.experiments.end_to_end.recording_model import RecordingModel

MODEL = {
    "_target_": "tests.experiments.end_to_end.recording_model.RecordingModel",
    "tactics": ["t"],
}


def server(max_batch_size: int, max_wait_s: float, num_clients: int) -> TacticServer:
    return TacticServer(MODEL, max_batch_size, max_wait_s, num_clients)


async def ask(s: TacticServer, client: int, goals: list[str]) -> Any:
    return await s.get_tactics([Goal(g) for g in goals], [[] for _ in goals], client)


def model_of(s: TacticServer) -> RecordingModel:
    assert isinstance(s.model, RecordingModel)
    return s.model


@pytest.mark.timeout(60)
def test_a_batch_flushes_as_soon_as_every_bound_prover_waits() -> None:
    # An hour of max_wait: only the early flush can answer before the test's timeout.
    s = server(max_batch_size=16, max_wait_s=3600.0, num_clients=2)

    async def both() -> list[Any]:
        return await asyncio.gather(ask(s, 0, ["a"]), ask(s, 1, ["b"]))

    answers = asyncio.run(both())
    assert answers == [[[("t", 0.0)]], [[("t", 0.0)]]]
    assert model_of(s).batches == [2] and s.batch_sizes() == [2]


@pytest.mark.timeout(60)
def test_one_prover_with_several_goals_is_one_request() -> None:
    s = server(max_batch_size=16, max_wait_s=3600.0, num_clients=1)
    answers = asyncio.run(ask(s, 0, ["a", "b", "c"]))
    assert len(answers) == 3 and model_of(s).batches == [3]


def test_a_lone_request_waits_at_most_max_wait() -> None:
    s = server(max_batch_size=16, max_wait_s=0.01, num_clients=2)
    asyncio.run(ask(s, 0, ["a"]))  # the other prover never asks: the timer flushes
    assert model_of(s).batches == [1]


@pytest.mark.timeout(60)
def test_concurrent_requests_fill_batches_up_to_the_maximum() -> None:
    s = server(max_batch_size=4, max_wait_s=3600.0, num_clients=8)

    async def clients() -> None:
        await asyncio.gather(*(ask(s, k, [f"g{k}"]) for k in range(8)))

    asyncio.run(clients())
    assert model_of(s).batches == [4, 4]
    assert len(model_of(s).threads) == 1  # one model call at a time, on the server's thread


@pytest.mark.timeout(60)
def test_a_model_error_fails_only_its_batch() -> None:
    s = server(max_batch_size=2, max_wait_s=3600.0, num_clients=4)

    async def clients() -> list[Any]:
        return await asyncio.gather(
            ask(s, 0, ["<fail> here"]),
            ask(s, 1, ["fine"]),
            ask(s, 2, ["also fine"]),
            ask(s, 3, ["fine too"]),
            return_exceptions=True,
        )

    first, second, third, fourth = asyncio.run(clients())
    assert isinstance(first, ValueError) and isinstance(second, ValueError)  # one batch
    assert third == [[("t", 0.0)]] and fourth == [[("t", 0.0)]]
    assert model_of(s).batches == [2, 2]
    asyncio.run(ask(s, 0, ["after", "more"]))  # the server still serves
    assert model_of(s).batches[-1] == 2


def test_reload_reaches_the_model() -> None:
    s = server(max_batch_size=1, max_wait_s=0.0, num_clients=1)
    s.reload("/ckpt/new.ckpt")
    assert s.checkpoint() == "/ckpt/new.ckpt"
