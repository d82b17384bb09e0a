"""Capacity: what one prover costs on HOL Light, and what ``--provers`` of them need.

One run on the real HOL Light with the default config (``holist_fixed`` unless ``--tac-model``
says otherwise) measures, on this machine:

- **memory**: proportional set size (PSS, ``/proc/<pid>/smaps_rollup``: a page shared by n
  processes counts 1/n in each, so the zygote's pages are not counted again in its forks) of
  each ProverWorker and of its forked HOL Light server after the run's attempts; the zygote's
  own PSS (paid once per machine), the TacticServer's (once per server) and Ray's daemons';
- **request rates**: requests (= expansions) per second one prover makes in that run, from its
  attempt records, and requests per second one TacticServer sustains for ``--clients``
  blocking clients that send real goals with real premise lists (``PremiseRef``, put once per
  attempt, as ProverWorkers do); the same with a model that answers at once gives the rate
  Ray's per-request work leaves a server (what a server whose model is on a GPU approaches);
- **bytes**: sizes as Ray's serializer stores them (``ray.put``'s ``total_bytes``) of an
  average train theorem's premise list, of an ``AttemptRecord``, and of one request's
  arguments and answer.

From these it derives provers per node, nodes, servers, GPUs and object-store traffic for
``--provers`` provers on nodes of ``--node-cores`` cores and ``--node-memory-gib`` GiB. CPU
figures from a 2-core machine under-state a real node: the provers, the model and Ray share
two cores here.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ray

from data.hol_light.database import TheoremDatabase
from data.proof_tree import Goal
from data.traces.attempts import AttemptRecord
from environments.base import Premise, Suggestion
from environments.hol_light.driver import shared_zygote
from environments.hol_light.env import root_goal
from experiments.end_to_end.components import plain_config
from experiments.end_to_end.config import compose
from experiments.end_to_end.distributed import PremiseRef, TacticServerActor, Task
from experiments.end_to_end.end_to_end_experiment import actor_configs, select_theorems
from experiments.end_to_end.evaluation import ProverPool, server_threads
from models.end_to_end.tactic_models.base import Premises, TacticModel

log = logging.getLogger(__name__)

MIB = 1 << 20
WorkItem = tuple[Goal, list[Premise]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tac-model", default="holist_fixed", help="tac_model config")
    parser.add_argument("--theorems", type=int, default=12, help="train theorems attempted")
    parser.add_argument("--total-timeout", type=float, default=10.0, help="seconds per attempt")
    parser.add_argument("--clients", type=int, default=8, help="clients of the server bench")
    parser.add_argument("--server-seconds", type=float, default=10.0, help="server bench window")
    parser.add_argument("--provers", type=int, default=1000, help="provers to plan for")
    parser.add_argument("--node-cores", type=int, default=64)
    parser.add_argument("--node-memory-gib", type=float, default=256.0)
    parser.add_argument("--cpu-per-prover", type=float, default=1.0)
    parser.add_argument(
        "--gpu-per-server",
        type=float,
        default=0.5,
        help="GPU share of a server, for the shared plan",
    )


def _mean(values: Any) -> float:
    items = list(values)
    return sum(items) / len(items)


# -- memory ----------------------------------------------------------------------------------


def _memory(pid: int) -> dict[str, int]:
    """PSS and USS (private pages only: what one more such process adds) of ``pid``, bytes."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            fields[key] = int(rest.split()[0]) * 1024
    return {"pss": fields["Pss"], "uss": fields["Private_Clean"] + fields["Private_Dirty"]}


def _children(ppid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == ppid:
                children.append(int(entry))
    return children


def _fd_targets(pid: int) -> set[str]:
    targets = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return targets


def _hol_server_of(worker: int, zygote: int) -> int:
    """The zygote's fork that ``worker`` talks to: its stdin is a FIFO the worker holds open.

    The zygote is shared by every client on the machine, so its children are matched to the
    worker rather than counted wholesale.
    """
    held = _fd_targets(worker)
    for child in _children(zygote):
        try:
            if os.readlink(f"/proc/{child}/fd/0") in held:
                return child
        except OSError:
            continue
    raise RuntimeError(f"no HOL Light server of worker {worker} among the zygote's children")


def _ray_daemons() -> dict[str, int]:
    """PSS of this Ray instance's own processes: per node (raylet and its agents), head only."""
    node: Any = ray._private.worker._global_node  # this driver's local Ray instance
    pids = {name: [p.process.pid for p in procs] for name, procs in node.all_processes.items()}
    per_node = [*pids.get("raylet", []), *pids.get("log_monitor", [])]
    for raylet in pids.get("raylet", []):
        for child in _children(raylet):  # agents, not the Ray workers (actors) it started
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if not cmdline.startswith(b"ray::") and b"default_worker.py" not in cmdline:
                per_node.append(child)
    head = [pid for name in ("gcs_server", "monitor", "dashboard") for pid in pids.get(name, [])]
    return {
        "node": sum(_memory(pid)["pss"] for pid in per_node),
        "head": sum(_memory(pid)["pss"] for pid in head),
    }


# -- bytes -----------------------------------------------------------------------------------

SERIALIZER = "ray SerializationContext.serialize(value).total_bytes (what ray.put stores)"


def _serialized_bytes(value: Any) -> int:
    """Bytes Ray's own serializer makes of ``value``: what ``ray.put`` stores, or a call sends."""
    context = ray._private.worker.global_worker.get_serialization_context()
    size: int = context.serialize(value).total_bytes
    context.get_and_clear_contained_object_refs()  # a PremiseRef's ref: not ours to keep
    return size


def _premise_list(database: TheoremDatabase, name: str) -> list[Premise]:
    """What HolLightEnv.retrieve_premises gives an attempt: every theorem loaded before it."""
    return [
        Premise(name=r.name, statement=r.statement, sexp=r.sexp)
        for r in database.premises_for(database[name])
    ]


def _train_premise_lists(database: TheoremDatabase, samples: int = 100) -> tuple[float, float]:
    """Mean serialized bytes and length of a train theorem's premise list (every k-th one)."""
    train = database.split("train")
    chosen = train[:: max(1, len(train) // samples)]
    lists = [_premise_list(database, r.name) for r in chosen]
    return _mean(_serialized_bytes(p) for p in lists), _mean(len(p) for p in lists)


# -- the server bench ------------------------------------------------------------------------


class ReplayTacticModel(TacticModel):
    """Answers every goal at once with one recorded answer: a server costing only Ray's work."""

    def __init__(self, suggestions: Sequence[Sequence[Any]]) -> None:
        self.suggestions: list[Suggestion] = [(str(t), float(s)) for t, s in suggestions]

    def get_tactics(self, goals: list[Goal], premises: list[Premises]) -> list[list[Suggestion]]:
        return [list(self.suggestions) for _ in goals]


@ray.remote(num_cpus=0)
class _Client:
    """A client like a ProverWorker: puts an attempt's premise list once, then asks for tactics
    one blocking request after another, theorem after theorem, ``expansions`` requests per
    attempt on average (the run's mean, spread as evenly as whole requests allow)."""

    def __init__(self, work: list[WorkItem], expansions: float, client: int) -> None:
        self.work, self.expansions, self.client = work, expansions, client

    def ask(self, server: Any, start: float, deadline: float) -> int:
        """Requests answered between ``start`` and ``deadline`` (wall clock, this machine)."""
        time.sleep(max(0.0, start - time.time()))
        answered, attempt = 0, 0
        while time.time() < deadline:
            goal, premises = self.work[(self.client + attempt) % len(self.work)]
            requests = math.floor((attempt + 1) * self.expansions) - math.floor(
                attempt * self.expansions
            )
            attempt += 1
            if not requests:
                continue  # an attempt with no expansion puts nothing either
            ref = PremiseRef(ray.put(premises))
            for _ in range(requests):
                ray.get(server.get_tactics.remote([goal], [ref], self.client))
                if time.time() >= deadline:
                    return answered
                answered += 1
        return answered


def _server_rate(
    tac_model: dict[str, Any], clients: list[Any], batch: int, max_wait_s: float, seconds: float
) -> tuple[dict[str, float], Any]:
    """Requests per second one TacticServer answers for ``clients``, its mean batch size, and
    the server (still up, for the caller to ask and then kill)."""
    server: Any = TacticServerActor.options(  # type: ignore[attr-defined]
        num_cpus=0, max_concurrency=server_threads(len(clients))
    ).remote(tac_model, batch, max_wait_s, len(clients), "cpu")
    ray.get(server.ready.remote())
    now = time.time()  # warm-up: the premises' embeddings cached, code paths hot
    ray.get([c.ask.remote(server, now, now + 2.0) for c in clients])
    warm = len(ray.get(server.batch_sizes.remote()))
    start = time.time() + 0.5
    answered = sum(ray.get([c.ask.remote(server, start, start + seconds) for c in clients]))
    sizes = ray.get(server.batch_sizes.remote())[warm:]
    figures = {"requests_per_s": answered / seconds, "mean_batch": sum(sizes) / max(1, len(sizes))}
    return figures, server


# -- the run ---------------------------------------------------------------------------------


def _prover_figures(records: list[AttemptRecord]) -> dict[str, float]:
    """One prover's rates over the run's attempts (each expansion is one server request)."""
    expansions = sum(r.expansions for r in records)
    total = sum(r.total_s for r in records)
    model = sum(r.model_s for r in records)
    return {
        "attempts": len(records),
        "proved": sum(r.status == "proved" for r in records),
        "expansions_per_attempt": expansions / len(records),
        "attempt_s": total / len(records),
        "attempts_per_s": len(records) / total,
        "requests_per_s": expansions / total,
        # If the server answered at once (model on a GPU, no queue): the rate's upper bound.
        "requests_per_s_model_free": expansions / max(1e-9, total - model),
        "request_latency_ms": 1000 * model / max(1, expansions),
        "env_share": sum(r.env_s for r in records) / total,
        "model_share": model / total,
    }


def _run_pool(cfg: Any, tasks: list[Task], run_dir: Path) -> dict[str, Any]:
    """The real run: attempts, then the memory of every actor and process it used."""
    worker_config, resources = actor_configs(cfg, run_dir)
    pool = ProverPool(plain_config(cfg.tac_model), worker_config, resources)
    try:
        database = TheoremDatabase.cached(cfg.env_config.environment.database)
        last = database.records[-1]
        every = _premise_list(database, last.name) + [
            Premise(name=last.name, statement=last.statement, sexp=last.sexp)
        ]
        # A long-running server has every premise embedded: fill its cache before the clock.
        ray.get(pool.servers[0].get_tactics.remote([root_goal(last)], [every], 0))
        records: list[AttemptRecord] = []
        log.info("capacity: attempting %d theorems with %d provers", len(tasks), len(pool.workers))
        started = time.perf_counter()
        pool.run(tasks, 0, lambda task, record: records.append(record))
        wall = time.perf_counter() - started
        zygote_pid = json.loads((shared_zygote().runtime_dir / "ready.json").read_text())["pid"]
        workers = ray.get([w.ready.remote() for w in pool.workers])
        servers = [_hol_server_of(pid, zygote_pid) for pid in workers]
        tactic_server = ray.get(pool.servers[0].ready.remote())
        worker_mem = [_memory(pid) for pid in workers]
        hol_mem = [_memory(pid) for pid in servers]
        memory = {
            "worker_pss": _mean(m["pss"] for m in worker_mem),
            "worker_uss": _mean(m["uss"] for m in worker_mem),
            "hol_server_pss": _mean(m["pss"] for m in hol_mem),
            "hol_server_uss": _mean(m["uss"] for m in hol_mem),
            "zygote_pss": _memory(zygote_pid)["pss"],
            "tactic_server_pss": _memory(tactic_server)["pss"],
        }
        daemons = _ray_daemons()
        memory["ray_node_daemons_pss"] = daemons["node"]
        memory["ray_head_daemons_pss"] = daemons["head"]
    finally:
        pool.shutdown()
    return {"records": records, "wall_s": wall, "memory": memory}


def _capacity(measured: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """``args.provers`` provers on ``args.node_cores``-core nodes, from the measured figures."""
    mem, prover, server, size = (
        measured["memory_mib"],
        measured["prover"],
        measured["server"],
        measured["bytes"],
    )
    per_prover_mib = mem["prover_pss"] + size["premise_list"] / MIB  # its live list, in the store
    node_fixed_mib = mem["zygote_pss"] + mem["ray_node_daemons_pss"]
    by_cores = math.floor(args.node_cores / args.cpu_per_prover)
    by_memory = math.floor((args.node_memory_gib * 1024 - node_fixed_mib) / per_prover_mib)
    per_node = max(1, min(by_cores, by_memory))
    nodes = math.ceil(args.provers / per_node)
    on_node = min(per_node, args.provers)

    def traffic(requests_per_s: float) -> float:
        """Object-store and call bytes per second: premise lists and records, requests."""
        attempts_per_s = requests_per_s / prover["expansions_per_attempt"]
        return (attempts_per_s * size["per_attempt"] + requests_per_s * size["per_request"]) / MIB

    # CPU servers: the model's cost as measured; each server runs its model on about one core.
    cpu_rate = args.provers * prover["requests_per_s"]
    cpu_servers = math.ceil(cpu_rate / server["requests_per_s"])
    cpu_only_cores = args.provers * args.cpu_per_prover + cpu_servers
    cpu_only_mib = args.provers * per_prover_mib + cpu_servers * mem["tactic_server_pss"]
    cpu_only_nodes = max(
        math.ceil(cpu_only_cores / args.node_cores),
        math.ceil(cpu_only_mib / (args.node_memory_gib * 1024 - node_fixed_mib)),
    )
    # GPU servers: provers no longer wait on the model (their rate rises to the model-free
    # bound) and a server is bounded by Ray's per-request work (the replay model's rate).
    gpu_rate = args.provers * prover["requests_per_s_model_free"]
    gpu_servers = math.ceil(gpu_rate / server["requests_per_s_model_free"])
    return {
        "provers": args.provers,
        "node_cores": args.node_cores,
        "node_memory_gib": args.node_memory_gib,
        "cpu_per_prover": args.cpu_per_prover,
        "prover_memory_mib": per_prover_mib,
        "node_fixed_memory_mib": node_fixed_mib,
        "provers_per_node_by_cores": by_cores,
        "provers_per_node_by_memory": by_memory,
        "provers_per_node": per_node,
        "nodes": nodes,
        "memory_per_node_gib": (node_fixed_mib + on_node * per_prover_mib) / 1024,
        "cpu_servers": {
            "requests_per_s": cpu_rate,
            "servers": cpu_servers,
            "nodes_with_servers": cpu_only_nodes,
            "object_store_mib_per_s": traffic(cpu_rate),
        },
        "gpu_servers": {
            "requests_per_s": gpu_rate,
            "servers": gpu_servers,
            "gpus_one_server_each": gpu_servers,
            "gpu_per_server": args.gpu_per_server,
            "gpus_shared": math.ceil(gpu_servers * args.gpu_per_server),
            "object_store_mib_per_s": traffic(gpu_rate),
        },
    }


def _server_figures(
    cfg: Any, work: list[WorkItem], expansions: float, args: argparse.Namespace
) -> tuple[dict[str, float], list[list[list[Suggestion]]], list[PremiseRef]]:
    """One TacticServer's sustained rate with the run's model and with an instant one, plus the
    model's real answers to ``work`` (and the refs they were asked with) for the byte counts."""
    shared_work = ray.put(work)
    clients = [
        _Client.remote(shared_work, expansions, k)  # type: ignore[attr-defined]
        for k in range(args.clients)
    ]
    batch, wait = cfg.tactic_server.max_batch_size, cfg.tactic_server.max_wait_ms / 1000
    log.info("capacity: one TacticServer, %d clients, %.0f s", args.clients, args.server_seconds)
    tac_model = plain_config(cfg.tac_model)
    server, handle = _server_rate(tac_model, clients, batch, wait, args.server_seconds)
    refs = [PremiseRef(ray.put(premises)) for _, premises in work]
    answers = ray.get(
        [handle.get_tactics.remote([g], [r], 0) for (g, _), r in zip(work, refs, strict=True)]
    )
    ray.kill(handle)
    log.info("capacity: the same server with a model that answers at once")
    replay = {"_target_": f"{__name__}.ReplayTacticModel", "suggestions": answers[0][0]}
    free, handle = _server_rate(replay, clients, batch, wait, args.server_seconds)
    ray.kill(handle)
    for client in clients:
        ray.kill(client)
    server |= {
        "requests_per_s_model_free": free["requests_per_s"],
        "model_free_mean_batch": free["mean_batch"],
        "clients": args.clients,
        "max_batch_size": batch,
    }
    return server, answers, refs


def run(args: argparse.Namespace) -> dict[str, Any]:
    began = time.perf_counter()
    cfg = compose(
        [
            f"num_theorems={args.theorems}",
            f"total_timeout={args.total_timeout}",
            "split=train",
            f"tac_model={args.tac_model}",
            "num_data_theorems=0",
        ]
    )
    tasks = select_theorems(cfg)
    database = TheoremDatabase.cached(cfg.env_config.environment.database)
    load_s = shared_zygote().startup_s  # HOL Light loads once (minutes if cold), before timing
    ray.init(num_cpus=cfg.num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory(prefix="itp-capacity-") as run_dir:
            run_out = _run_pool(cfg, tasks, Path(run_dir))
        records: list[AttemptRecord] = run_out["records"]
        prover = _prover_figures(records) | {"run_wall_s": run_out["wall_s"]}
        work = [
            (root_goal(database[t.theorem_id]), _premise_list(database, t.theorem_id))
            for t in tasks
        ]
        server, answers, refs = _server_figures(cfg, work, prover["expansions_per_attempt"], args)
        train_bytes, train_premises = _train_premise_lists(database)
        sizes: dict[str, Any] = {
            "serializer": SERIALIZER,
            "premise_list": train_bytes,
            "premises_per_list": train_premises,
            "premise_list_run_mean": _mean(_serialized_bytes(p) for _, p in work),
            "attempt_record": _mean(_serialized_bytes(r) for r in records),
            "request": _mean(
                _serialized_bytes(([g], [r], 0)) for (g, _), r in zip(work, refs, strict=True)
            ),
            "response": _mean(_serialized_bytes(a) for a in answers),
        }
    finally:
        ray.shutdown()
    sizes["per_attempt"] = sizes["premise_list"] + sizes["attempt_record"]
    sizes["per_request"] = sizes["request"] + sizes["response"]
    memory = {k: v / MIB for k, v in run_out["memory"].items()}
    memory["prover_pss"] = memory["worker_pss"] + memory["hol_server_pss"]
    memory["prover_uss"] = memory["worker_uss"] + memory["hol_server_uss"]
    measured = {"memory_mib": memory, "prover": prover, "server": server, "bytes": sizes}
    return {
        "benchmark": "capacity",
        "tac_model": args.tac_model,
        "theorems": len(tasks),
        "provers_measured": cfg.logical_gpus * cfg.provers_per_gpu,
        "cpu_count": os.cpu_count(),
        "measured": measured,
        "capacity": _capacity(measured, args),
        "hol_light_load_s": load_s,
        "bench_s": time.perf_counter() - began,
    }
