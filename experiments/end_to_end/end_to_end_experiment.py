"""The End-to-End entry point.

    python -m experiments.end_to_end.end_to_end_experiment [--config-name=hol_light] [k=v ...]

Reads a Hydra config (``configs/end_to_end/``), starts (or joins) Ray, places TacticServers
and ProverWorkers, attempts each theorem once per iteration, writes one trace per attempt to
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
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from experiments.end_to_end import summary as summaries
from experiments.end_to_end import training
from experiments.end_to_end.config import ConfigError, gpu_per_server, validate
from experiments.end_to_end.distributed import WorkerConfig, attempt_summary
from experiments.end_to_end.environments import environment_class, plain_config, theorem_source
from experiments.end_to_end.evaluation import ProverPool, Resources, Task
from experiments.end_to_end.traces import config_hash, load_trace, trace_path, validate_completed
from experiments.end_to_end.wandb_logging import RunLogger

log = logging.getLogger(__name__)


def _take(
    cfg: DictConfig, split: str, count: int | None, field: str, exclude: set[str]
) -> list[Any]:
    env_cls = environment_class(cfg.env_config)
    records = [
        r
        for r in theorem_source(cfg.env_config).split(split)
        if env_cls.theorem_id(r) not in exclude
    ]
    if cfg.shuffle:
        random.Random(cfg.seed).shuffle(records)
    if count is not None:
        if count > len(records):
            raise ConfigError(
                f"{field}: {count} is more than the {len(records)} theorems of split {split!r}"
            )
        records = records[:count]
    return records


def select_theorems(cfg: DictConfig) -> list[Task]:
    """The run's theorems: a deterministic function of the config, so resume sees the same.

    ``num_theorems`` of ``split`` are evaluated (Pass@1); ``num_data_theorems`` of
    ``data_split`` are attempted only to gather training data.
    """
    env_cls = environment_class(cfg.env_config)
    evaluated = _take(cfg, cfg.split, cfg.num_theorems, "num_theorems", set())
    tasks = [Task(env_cls.theorem_id(r), env_cls.theorem_to_dict(r), "eval") for r in evaluated]
    if cfg.num_data_theorems:
        taken = {t.theorem_id for t in tasks}
        data = _take(cfg, cfg.data_split, cfg.num_data_theorems, "num_data_theorems", taken)
        tasks += [Task(env_cls.theorem_id(r), env_cls.theorem_to_dict(r), "data") for r in data]
    return tasks


def prepare_run_dir(cfg: DictConfig) -> Path:
    run_dir = Path(cfg.exp_config.directory).resolve()
    has_traces = (run_dir / "traces").exists() and any((run_dir / "traces").rglob("*.json.gz"))
    if has_traces and not cfg.exp_config.resume:
        raise ConfigError(
            f"exp_config.directory: {run_dir} already holds traces; set exp_config.resume=true "
            "to continue it, or choose another directory"
        )
    if cfg.exp_config.resume and not run_dir.exists():
        raise ConfigError(f"exp_config.directory: no run to resume at {run_dir}")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def save_config(cfg: DictConfig, run_dir: Path, iteration: int) -> None:
    """The exact config of every iteration, next to its traces."""
    path = run_dir / "configs" / f"{iteration}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    tmp.replace(path)


def models_record(cfg: DictConfig) -> dict[str, Any]:
    """Which models produced a trace: their class, checkpoint (if any) and a config hash."""
    record = {}
    for key in ("tac_model", "search_model"):
        plain = plain_config(cfg[key])
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
    worker_config = WorkerConfig(
        env_config=plain_config(cfg.env_config),
        search_model=plain_config(cfg.search_model),
        num_sampled_tactics=cfg.num_sampled_tactics,
        total_timeout=cfg.total_timeout,
        env_timeout=cfg.env_timeout,
        run_dir=str(run_dir),
        models=models_record(cfg),
    )
    resources = Resources(
        logical_gpus=cfg.logical_gpus,
        provers_per_gpu=cfg.provers_per_gpu,
        gpu_per_server=gpu_per_server(cfg),
        gpu_per_prover=cfg.gpu_per_prover,
        cpu_per_prover=cfg.cpu_per_prover,
        max_batch_size=cfg.tactic_server.max_batch_size,
        max_wait_s=cfg.tactic_server.max_wait_ms / 1000.0,
    )
    return worker_config, resources


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume) the experiment; returns the final summary."""
    logging.getLogger().setLevel(cfg.log_level)
    validate(cfg)
    tasks = select_theorems(cfg)
    run_dir = prepare_run_dir(cfg)
    worker_config, resources = actor_configs(cfg, run_dir)
    logger = RunLogger(cfg, run_dir)
    start_ray(cfg)
    pool = None
    try:
        pool = ProverPool(plain_config(cfg.tac_model), worker_config, resources)
        iterations = summaries.read_summary(run_dir)[: cfg.resume_iteration]
        for iteration in range(cfg.resume_iteration, cfg.num_iterations):
            save_config(cfg, run_dir, iteration)
            metrics = evaluate(pool, tasks, iteration, run_dir, iterations, logger)
            iterations = [*iterations[:iteration], metrics]
            logger.log_iteration(metrics)
            log.info(
                "iteration %d: Pass@1 %.3f (%d/%d)",
                iteration,
                metrics["pass_at_1"],
                metrics["proved"],
                metrics["attempted"],
            )
            if iteration + 1 < cfg.num_iterations and cfg.train_after_eval:
                cfg = next_iteration_config(cfg, run_dir, iteration, pool)
    finally:
        if pool is not None:
            pool.shutdown()
        ray.shutdown()
        logger.finish()
    return {"run_dir": str(run_dir), "iterations": iterations}


def next_iteration_config(
    cfg: DictConfig, run_dir: Path, iteration: int, pool: ProverPool
) -> DictConfig:
    """Train on the traces so far, point the config at the new checkpoints, reload in place."""
    updated = training.train_after_eval(cfg, run_dir, iteration)
    checkpoint = updated.tac_model.get("ckpt_path")
    if checkpoint and checkpoint != cfg.tac_model.get("ckpt_path"):
        log.info("iteration %d: reloading tactic servers from %s", iteration + 1, checkpoint)
        pool.reload(str(checkpoint))
    pool.set_models(models_record(updated))
    return updated


def evaluate(
    pool: ProverPool,
    tasks: list[Task],
    iteration: int,
    run_dir: Path,
    previous: list[dict[str, Any]],
    logger: RunLogger,
) -> dict[str, Any]:
    """Attempt every task without a valid trace in this iteration; return its metrics."""
    good, corrupt = validate_completed(run_dir, iteration)
    for path in corrupt:
        log.warning("corrupt trace %s: re-running its theorem", path)
        path.unlink(missing_ok=True)
    attempts = summaries.read_attempts(run_dir, iteration)
    roles = {t.theorem_id: t.role for t in tasks}
    wanted = set(roles)
    for theorem_id in sorted(good & wanted - set(attempts)):
        # Killed between writing the trace and logging it: recover the summary from the trace.
        summary = attempt_summary(load_trace(trace_path(run_dir, iteration, theorem_id)))
        summary["role"] = roles[theorem_id]
        summaries.append_attempt(run_dir, iteration, summary)
        attempts[theorem_id] = summary
    attempts = {k: v for k, v in attempts.items() if k in good & wanted}
    todo = [t for t in tasks if t.theorem_id not in good]
    if len(todo) < len(tasks):
        log.info(
            "iteration %d: %d of %d theorems already attempted",
            iteration,
            len(tasks) - len(todo),
            len(tasks),
        )
    progress = tqdm(
        total=len(tasks),
        initial=len(tasks) - len(todo),
        desc=f"iteration {iteration}",
        unit="thm",
        dynamic_ncols=True,
    )
    started = time.monotonic()

    def on_result(task: Task, summary: dict[str, Any]) -> None:
        summary = {**summary, "role": task.role}
        summaries.append_attempt(run_dir, iteration, summary)
        attempts[task.theorem_id] = summary
        metrics = summaries.iteration_metrics(iteration, attempts.values())
        summaries.write_summary(run_dir, [*previous[:iteration], metrics])
        logger.log_attempt(iteration, summary)
        progress.update(1)
        rate = metrics["proved"] / max(1e-9, time.monotonic() - started) * 60
        progress.set_postfix(
            proved=f"{metrics['proved']}/{metrics['attempted']}", per_min=f"{rate:.1f}"
        )

    pool.run(todo, iteration, on_result)
    progress.close()
    metrics = summaries.iteration_metrics(iteration, attempts.values())
    summaries.write_summary(run_dir, [*previous[:iteration], metrics])
    return metrics


@hydra.main(version_base=None, config_path="../../configs/end_to_end", config_name="hol_light")
def main(cfg: DictConfig) -> None:
    try:
        result = run(cfg)
    except ConfigError as e:
        raise SystemExit(f"config error: {e}") from None
    except training.TrainingError as e:
        raise SystemExit(
            f"training failed: {e}\nthe run directory is intact: resume with "
            "exp_config.resume=true once the command is fixed"
        ) from None
    last = result["iterations"][-1] if result["iterations"] else {}
    print(f"run directory: {result['run_dir']}")
    for it in result["iterations"]:
        print(
            f"iteration {it['iteration']}: Pass@1 {it['pass_at_1']:.3f} "
            f"({it['proved']}/{it['attempted']}), mean {it['mean_time_s']:.1f} s/attempt"
        )
    if not last:
        print("no iteration ran")


if __name__ == "__main__":
    main()
