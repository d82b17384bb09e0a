"""TacticServer batching without Ray: batch sizes under concurrency, the early flush, errors."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from data.proof_tree import Goal
from experiments.end_to_end.distributed import GoalServer, TacticServer
from tests.experiments.end_to_end.recording_model import RecordingModel

MODEL = {
    "_target_": "tests.experiments.end_to_end.recording_model.RecordingModel",
    "tactics": ["t"],
}
ANSWER = [("t", 0.0)]


def server(max_batch_size: int, max_wait_s: float, num_clients: int) -> TacticServer:
    return TacticServer(MODEL, max_batch_size, max_wait_s, num_clients)


def ask(s: TacticServer, client: int, goals: list[str]) -> Any:
    return s.get_tactics([Goal(g) for g in goals], [[] for _ in goals], client)


def concurrently(s: TacticServer, requests: list[list[str]]) -> list[Any]:
    """Each request from its own prover (client k sends requests[k]), all at once."""
    with ThreadPoolExecutor(len(requests)) as pool:
        futures = [pool.submit(ask, s, k, goals) for k, goals in enumerate(requests)]
        return [f.exception() or f.result() for f in futures]


def model_of(s: TacticServer) -> RecordingModel:
    assert isinstance(s.model, RecordingModel)
    return s.model


@pytest.mark.timeout(60)
def test_a_batch_flushes_as_soon_as_every_bound_prover_waits() -> None:
    # An hour of max_wait: only the early flush can answer before the test's timeout.
    s = server(max_batch_size=16, max_wait_s=3600.0, num_clients=2)
    assert concurrently(s, [["a"], ["b"]]) == [[ANSWER], [ANSWER]]
    assert model_of(s).batches == [2] and s.batch_sizes() == [2]


@pytest.mark.timeout(60)
def test_one_prover_with_several_goals_is_one_request() -> None:
    s = server(max_batch_size=16, max_wait_s=3600.0, num_clients=1)
    assert ask(s, 0, ["a", "b", "c"]) == [ANSWER] * 3
    assert model_of(s).batches == [3]


def test_a_lone_request_waits_at_most_max_wait() -> None:
    s = server(max_batch_size=16, max_wait_s=0.01, num_clients=2)
    assert ask(s, 0, ["a"]) == [ANSWER]  # the other prover never asks: the wait runs out
    assert model_of(s).batches == [1]


@pytest.mark.timeout(60)
def test_concurrent_requests_are_batched_up_to_the_maximum() -> None:
    # Requests that come in while the model is busy go as soon as it is free, so the batches
    # after the first depend on timing: never more than four, eight goals in all.
    s = server(max_batch_size=4, max_wait_s=0.05, num_clients=8)
    answers = concurrently(s, [[f"g{k}"] for k in range(8)])
    assert answers == [[ANSWER]] * 8
    batches = model_of(s).batches
    assert sum(batches) == 8 and max(batches) <= 4 and len(batches) >= 2
    assert len(model_of(s).threads) == 1  # one model thread, one call at a time


@pytest.mark.timeout(60)
def test_a_request_that_came_while_the_model_was_busy_goes_next_without_waiting() -> None:
    # An hour of max_wait, and the fourth prover never asks: only the busy-model rule lets
    # the third prover's request go as soon as the first batch is done.
    s = server(max_batch_size=2, max_wait_s=3600.0, num_clients=4)
    model_of(s).delay_s = 0.3
    with ThreadPoolExecutor(3) as pool:
        first = [pool.submit(ask, s, k, [f"g{k}"]) for k in (0, 1)]  # a full batch of two
        while not model_of(s).batches:
            time.sleep(0.001)
        third = pool.submit(ask, s, 2, ["g2"])  # arrives while that batch runs
        assert [f.result() for f in first] == [[ANSWER], [ANSWER]] and third.result() == [ANSWER]
    assert model_of(s).batches == [2, 1]


@pytest.mark.timeout(60)
def test_a_model_error_fails_only_its_batch() -> None:
    s = server(max_batch_size=1, max_wait_s=3600.0, num_clients=2)  # two batches of one
    failing, fine = concurrently(s, [["<fail>"], ["fine"]])
    assert isinstance(failing, ValueError) and fine == [ANSWER]
    s = server(max_batch_size=16, max_wait_s=3600.0, num_clients=2)  # one batch of two
    assert all(isinstance(a, ValueError) for a in concurrently(s, [["<fail>"], ["fine"]]))
    assert concurrently(s, [["fine"], ["also fine"]]) == [[ANSWER], [ANSWER]]  # still serving
    assert model_of(s).batches == [2, 2]


def test_reload_reaches_the_model() -> None:
    s = server(max_batch_size=1, max_wait_s=0.0, num_clients=1)
    s.reload("/ckpt/new.ckpt")
    assert s.checkpoint() == "/ckpt/new.ckpt"


GOAL_MODEL = {
    "_target_": "tests.experiments.end_to_end.recording_model.RecordingGoalModel",
    "logprob": -0.25,
}


@pytest.mark.timeout(60)
def test_the_goal_server_batches_concurrent_provers_and_reloads() -> None:
    s = GoalServer(GOAL_MODEL, max_batch_size=16, max_wait_s=3600.0, num_clients=2)
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(s.values, [Goal(g) for g in goals], k)
            for k, goals in enumerate([["a", "b"], ["c"]])
        ]
        answers = [f.result() for f in futures]
    assert answers == [[-0.25, -0.25], [-0.25]]
    assert s.batch_sizes() == [3] and s.model.batches == [3]  # one model call for both
    s.reload("/ckpt/goal.ckpt")
    assert s.checkpoint() == "/ckpt/goal.ckpt"


def test_a_goal_model_error_reaches_the_asking_prover() -> None:
    s = GoalServer({**GOAL_MODEL, "fail": "bad"}, 16, 0.0, 1)
    with pytest.raises(ValueError, match="goal model error"):
        s.values([Goal("bad")])
    assert s.values([Goal("good")]) == [-0.25]  # the server lives on
