"""WandB logging of a run: offline unless ``logging_config.offline`` is false.

The run id is stored in the run directory so a resumed online run keeps appending to the
same WandB run; offline, each start writes its own run (sync them together later).
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from data.files import write_atomic
from data.traces.attempts import AttemptRecord

log = logging.getLogger(__name__)


class RunLogger:
    """Per-attempt and per-iteration metrics, and the config, in one WandB run."""

    def __init__(self, cfg: DictConfig, run_dir: Path) -> None:
        import wandb

        id_file = run_dir / "wandb_id"
        offline = bool(cfg.logging_config.offline)
        if cfg.logging_config.id:
            run_id = str(cfg.logging_config.id)
        elif id_file.exists() and not offline:
            run_id = id_file.read_text().strip()  # an online resume continues the same run
        else:
            # Offline, every start is its own run: a killed start's WandB service may still
            # hold the previous id for a while.
            run_id = uuid.uuid4().hex[:8]
        write_atomic(id_file, run_id)
        os.environ.setdefault("WANDB_SILENT", "true")
        self.run = wandb.init(
            project=cfg.exp_config.experiment,
            name=str(cfg.exp_config.name),
            id=run_id,
            dir=str(run_dir),
            mode="offline" if offline else "online",
            config=OmegaConf.to_container(cfg, resolve=True),  # type: ignore[arg-type]
            resume="allow",
            reinit="finish_previous",
        )
        self.attempts = 0

    def log_attempt(self, record: AttemptRecord) -> None:
        self.attempts += 1
        self.run.log(
            {
                "iteration": record.iteration,
                "attempt/proved": int(record.status == "proved"),
                "attempt/errored": int(record.status == "error"),
                "attempt/time_s": record.total_s,
                "attempt/model_s": record.model_s,
                "attempt/env_s": record.env_s,
                "attempt/expansions": record.expansions,
                "attempt/nodes": record.nodes,
            }
        )

    def log_iteration(self, metrics: dict[str, Any]) -> None:
        flat = {f"iteration/{k}": v for k, v in metrics.items() if isinstance(v, (int, float))}
        flat.update({f"iteration/errors/{k}": v for k, v in metrics["errors"].items()})
        self.run.log(flat)

    def finish(self) -> None:
        self.run.finish()
