"""The End-to-End entry point.

    python -m experiments.end_to_end.end_to_end_experiment [--config-name=hol_light] [k=v ...]

Reads a Hydra config (``configs/end_to_end/``), checks it and builds every component once,
locks the run directory, starts (or joins) Ray, places TacticServers and ProverWorkers,
attempts each theorem once per iteration, writes one trace per attempt to
``<run_dir>/traces/<iteration>/<theorem_id>.json.gz`` and keeps ``<run_dir>/summary.json``
current after every attempt. ``exp_config.resume=true`` continues a run directory.
"""

from __future__ import annotations

import logging
import os
import random
import time
from pathlib import Path
from typing import Any

import hydra
import ray
from omegaconf import DictConfig
from tqdm import tqdm

from data.jsonable import config_hash
from data.traces.attempts import AttemptRecord
from data.traces.files import validate_completed
from experiments.end_to_end import run_directory, training
from experiments.end_to_end import summary as summaries
from experiments.end_to_end.components import (
    check_components,
    environment_class,
    plain_config,
    split_search_config,
    theorem_source,
)
from experiments.end_to_end.config import ConfigError, gpu_per_server, validate
from experiments.end_to_end.distributed import Task, WorkerConfig
from experiments.end_to_end.evaluation import PoolError, ProverPool, Resources
from experiments.end_to_end.wandb_logging import RunLogger

log = logging.getLogger(__name__)


class RunError(RuntimeError):
    """A run that cannot produce a result (every attempt errored); the message says why."""


def _named(cfg: DictConfig) -> list[str] | None:
    """The theorem names of ``theorems`` or ``theorem_file`` (one a line), or None."""
    if cfg.theorems is not None:
        names = list(cfg.theorems)
    elif cfg.theorem_file is not None:
        path = Path(cfg.theorem_file)
        try:
            lines = path.read_text().splitlines()
        except OSError as e:
            raise ConfigError(f"theorem_file: cannot read {path} ({e})") from e
        names = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    else:
        return None
    if not names:
        raise ConfigError("theorems: the list of theorem names is empty")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"theorems: named more than once: {repeated[:5]}")
    return names


def select_theorems(cfg: DictConfig) -> list[Task]:
    """The run's theorems: a deterministic function of the config, so resume sees the same.

    Evaluated (Pass@1): the theorems named by ``theorems`` or ``theorem_file``, in that order,
    else ``num_theorems`` of ``split``. ``num_data_theorems`` of ``data_split`` are attempted
    only to gather training data.
    """
    env_cls = environment_class(cfg.env_config)
    source = theorem_source(cfg.env_config)

    def task(record: Any, role: str) -> Task:
        return Task(env_cls.theorem_id(record), env_cls.theorem_to_dict(record), role)

    def take(split: str, count: int | None, field: str, exclude: set[str]) -> list[Any]:
        records = [r for r in source.split(split) if env_cls.theorem_id(r) not in exclude]
        if cfg.shuffle:
            random.Random(cfg.seed).shuffle(records)
        if count is not None and count > len(records):
            raise ConfigError(
                f"{field}: {count} is more than the {len(records)} theorems of split {split!r}"
            )
        return records if count is None else records[:count]

    names = _named(cfg)
    if names is None:
        tasks = [task(r, "eval") for r in take(cfg.split, cfg.num_theorems, "num_theorems", set())]
    else:
        by_id = {
            env_cls.theorem_id(r): r for s in ("train", "valid", "test") for r in source.split(s)
        }
        unknown = [n for n in names if n not in by_id]
        if unknown:
            key = "theorems" if cfg.theorems is not None else "theorem_file"
            raise ConfigError(
                f"{key}: {len(unknown)} unknown theorem name(s), e.g. {unknown[:5]} "
                f"(names are the environment's theorem ids)"
            )
        tasks = [task(by_id[n], "eval") for n in names]
    if cfg.num_data_theorems:
        taken = {t.theorem_id for t in tasks}
        data = take(cfg.data_split, cfg.num_data_theorems, "num_data_theorems", taken)
        tasks += [task(r, "data") for r in data]
    return tasks


def models_record(cfg: DictConfig) -> dict[str, Any]:
    """Which models produced a trace: their class, checkpoint (if any) and a config hash."""
    record = {}
    parts = {"tac_model": plain_config(cfg.tac_model, "tac_model")}
    search = plain_config(cfg.search_model, "search_model")
    parts["search_model"] = search
    goal_model = search.get("goal_model")
    if goal_model is not None:
        parts["goal_model"] = goal_model
    for key, plain in parts.items():
        record[key] = {
            "target": plain.get("_target_"),
            "checkpoint": plain.get("ckpt_path"),
            "config_hash": config_hash(plain),
        }
    return record


def start_ray(cfg: DictConfig) -> None:
    env_vars = {
        k: v
        for k, v in os.environ.items()
        if k.startswith("ITP_") or k in ("HF_HUB_OFFLINE", "WANDB_MODE")
    }
    if cfg.ray_address:
        ray.init(address=cfg.ray_address, runtime_env={"env_vars": env_vars}, log_to_driver=True)
    else:
        ray.init(
            num_cpus=cfg.num_cpus,
            num_gpus=cfg.num_gpus,
            include_dashboard=False,
            runtime_env={"env_vars": env_vars},
            log_to_driver=True,
        )


def actor_configs(cfg: DictConfig, run_dir: Path) -> tuple[WorkerConfig, Resources]:
    """What the ProverWorkers are built from, and how the actors are placed."""
    search, _ = split_search_config(cfg)
    worker_config = WorkerConfig(
        env_config=plain_config(cfg.env_config, "env_config"),
        search_model=search,
        num_sampled_tactics=cfg.num_sampled_tactics,
        total_timeout=cfg.total_timeout,
        env_timeout=cfg.env_timeout,
        run_dir=str(run_dir),
        models=models_record(cfg),
        max_expansions=cfg.max_expansions,
        root_tactic_timeout=cfg.root_tactic_timeout,
        goals_per_step=cfg.goals_per_step,
    )
    resources = Resources(
        logical_gpus=cfg.logical_gpus,
        provers_per_gpu=cfg.provers_per_gpu,
        gpu_per_server=gpu_per_server(cfg),
        gpu_per_prover=cfg.gpu_per_prover,
        cpu_per_prover=cfg.cpu_per_prover,
        max_batch_size=cfg.tactic_server.max_batch_size,
        max_wait_s=cfg.tactic_server.max_wait_ms / 1000.0,
        max_server_restarts=cfg.tactic_server.max_restarts,
    )
    return worker_config, resources


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume) the experiment; returns the final summary.

    Every check that can fail without Ray runs first (config, theorem names, every component
    built once), then the run directory is locked; nothing is written before that.
    """
    logging.getLogger().setLevel(cfg.log_level)
    validate(cfg)
    tasks = select_theorems(cfg)
    if not tasks:
        raise ConfigError("num_theorems: the run has no theorems to attempt")
    check_components(cfg, tasks[0].theorem)
    run_dir = run_directory.prepare(cfg)
    with run_directory.RunLock(run_dir):
        return _run_locked(cfg, tasks, run_dir)


def _run_locked(cfg: DictConfig, tasks: list[Task], run_dir: Path) -> dict[str, Any]:
    worker_config, resources = actor_configs(cfg, run_dir)
    start_ray(cfg)
    pool: ProverPool | None = None
    logger: RunLogger | None = None
    try:
        pool = ProverPool(
            plain_config(cfg.tac_model, "tac_model"),
            worker_config,
            resources,
            goal_model=split_search_config(cfg)[1],
        )
        logger = RunLogger(cfg, run_dir)
        iterations = summaries.read_summary(run_dir)[: cfg.resume_iteration]
        for iteration in range(cfg.resume_iteration, cfg.num_iterations):
            run_directory.save_config(cfg, run_dir, iteration)
            metrics = evaluate(pool, tasks, iteration, run_dir, iterations, logger)
            iterations = [*iterations[:iteration], metrics]
            logger.log_iteration(metrics)
            log.info("iteration %d: Pass@1 %s", iteration, summaries.pass_at_1_text(metrics))
            _refuse_if_all_errored(metrics, run_dir)
            if iteration + 1 < cfg.num_iterations and cfg.train_after_eval:
                cfg = next_iteration_config(cfg, run_dir, iteration, pool)
    finally:
        if pool is not None:
            pool.shutdown()
        ray.shutdown()
        if logger is not None:
            logger.finish()
    return {"run_dir": str(run_dir), "iterations": iterations}


def _refuse_if_all_errored(metrics: dict[str, Any], run_dir: Path) -> None:
    """No attempt of the iteration ran to an end: a broken set-up, not a result."""
    parts = [metrics, metrics.get("data") or {}]
    attempted = sum(p.get("attempted", 0) for p in parts)
    errored = sum(p.get("errored", 0) for p in parts)
    if attempted and errored == attempted:
        raise RunError(
            f"iteration {metrics['iteration']}: all {attempted} attempts ended in an "
            f"infrastructure error (see the 'error' of the traces in {run_dir / 'traces'})"
        )


def next_iteration_config(
    cfg: DictConfig, run_dir: Path, iteration: int, pool: ProverPool
) -> DictConfig:
    """Train on the traces so far, point the config at the new checkpoints, reload in place."""
    updated = training.train_after_eval(cfg, run_dir, iteration)
    checkpoint = updated.tac_model.get("ckpt_path")
    changed = checkpoint if checkpoint and checkpoint != cfg.tac_model.get("ckpt_path") else None
    new = plain_config(updated.tac_model, "tac_model")
    old = plain_config(cfg.tac_model, "tac_model")
    # reload() swaps the weights named by ckpt_path; any other change needs new servers.
    rebuild = without_checkpoint(new) != without_checkpoint(old)
    if rebuild:
        log.info("iteration %d: new tactic servers from the updated tac_model", iteration + 1)
    elif changed:
        log.info("iteration %d: reloading tactic servers from %s", iteration + 1, changed)
    pool.update_model(new, changed, rebuild=rebuild)
    _, old_goal = split_search_config(cfg)
    _, new_goal = split_search_config(updated)
    if new_goal is not None and new_goal != old_goal:
        checkpoint = new_goal.get("ckpt_path")
        assert old_goal is not None  # the search's config decides whether there is one
        rebuild = without_checkpoint(new_goal) != without_checkpoint(old_goal)
        log.info(
            "iteration %d: %s goal servers%s",
            iteration + 1,
            "new" if rebuild else "reloading",
            "" if rebuild else f" from {checkpoint}",
        )
        pool.update_model(new_goal, checkpoint, rebuild=rebuild, role="goal")
    pool.set_models(models_record(updated))
    return updated


def without_checkpoint(model: dict[str, Any]) -> dict[str, Any]:
    """A model config less its ``ckpt_path``: what a server's ``reload`` cannot change."""
    return {k: v for k, v in model.items() if k != "ckpt_path"}


def evaluate(
    pool: ProverPool,
    tasks: list[Task],
    iteration: int,
    run_dir: Path,
    previous: list[dict[str, Any]],
    logger: RunLogger,
) -> dict[str, Any]:
    """Attempt every task without a valid trace in this iteration; return its metrics."""
    good, bad = validate_completed(run_dir, iteration)
    for path in bad:
        log.warning("unusable trace %s: re-running its theorem", path)
        path.unlink(missing_ok=True)
    wanted = {t.theorem_id for t in tasks}
    records: dict[str, AttemptRecord] = {k: v for k, v in good.items() if k in wanted}
    todo = [t for t in tasks if t.theorem_id not in records]
    if records:
        log.info(
            "iteration %d: %d of %d theorems already attempted", iteration, len(records), len(tasks)
        )
    progress = tqdm(
        total=len(tasks),
        initial=len(records),
        desc=f"iteration {iteration}",
        unit="thm",
        dynamic_ncols=True,
    )
    started = time.monotonic()

    def on_result(task: Task, record: AttemptRecord) -> None:
        summaries.append_attempt(run_dir, record)
        records[task.theorem_id] = record
        metrics = summaries.iteration_metrics(iteration, records.values())
        summaries.write_summary(run_dir, [*previous[:iteration], metrics])
        logger.log_attempt(record)
        progress.update(1)
        rate = metrics["proved"] / max(1e-9, time.monotonic() - started) * 60
        postfix = {
            "proved": f"{metrics['proved']}/{metrics['attempted']}",
            "per_min": f"{rate:.1f}",
        }
        if metrics["errored"]:
            postfix["errored"] = str(metrics["errored"])
        progress.set_postfix(postfix)

    pool.run(todo, iteration, on_result)
    progress.close()
    metrics = summaries.iteration_metrics(iteration, records.values())
    summaries.write_summary(run_dir, [*previous[:iteration], metrics])
    return metrics


@hydra.main(version_base=None, config_path="../../configs/end_to_end", config_name="hol_light")
def main(cfg: DictConfig) -> None:
    try:
        result = run(cfg)
    except ConfigError as e:
        raise SystemExit(f"config error: {e}") from None
    except PoolError as e:
        raise SystemExit(f"cannot run: {e}") from None
    except RunError as e:
        raise SystemExit(f"run failed: {e}") from None
    except training.TrainingError as e:
        raise SystemExit(
            f"training failed: {e}\nthe run directory is intact: resume with "
            "exp_config.resume=true once the command is fixed"
        ) from None
    print(f"run directory: {result['run_dir']}")
    for it in result["iterations"]:
        data = it.get("data")
        gathered = (
            f"; data {data['proved']}/{data['attempted']} proved, "
            f"{data['mean_expansions']:.1f} expansions/attempt"
            if data
            else ""
        )
        print(
            f"iteration {it['iteration']}: Pass@1 {summaries.pass_at_1_text(it)}, "
            f"mean {it['mean_time_s']:.1f} s and {it['mean_expansions']:.1f} expansions/attempt"
            f"{gathered}"
        )
    if not result["iterations"]:
        print("no iteration ran")


if __name__ == "__main__":
    main()
