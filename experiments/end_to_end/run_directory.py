"""The run directory: made or resumed, locked while a run uses it, and its per-iteration configs.

The lock is an advisory ``flock`` on ``<run_dir>/run.lock``, which the kernel drops when the
process holding it dies however it dies; the file keeps who held it, so a second run is told
who is using the directory, and a run that finds a lock nobody holds knows a killed run left
it and takes it over.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from omegaconf import DictConfig, OmegaConf

from data.files import write_atomic
from data.traces.files import TRACES_DIR, trace_files
from experiments.end_to_end.config import ConfigError

log = logging.getLogger(__name__)

LOCK = "run.lock"


def prepare(cfg: DictConfig) -> Path:
    """The run directory, created; a ConfigError if it cannot be used as the config says."""
    run_dir = Path(cfg.exp_config.directory).resolve()
    has_traces = bool(trace_files(run_dir / TRACES_DIR, recursive=True))
    if has_traces and not cfg.exp_config.resume:
        raise ConfigError(
            f"exp_config.directory: {run_dir} already holds traces; set exp_config.resume=true "
            "to continue it, or choose another directory"
        )
    if cfg.exp_config.resume and not run_dir.exists():
        raise ConfigError(f"exp_config.directory: no run to resume at {run_dir}")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


class RunLock:
    """Holds ``<run_dir>/run.lock`` for the life of a run: ``with RunLock(run_dir): ...``."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd) or "another process"
            os.close(fd)
            raise ConfigError(
                f"exp_config.directory: {self.run_dir} is in use by another run ({holder}); "
                "wait for it to finish, or choose another directory"
            ) from None
        stale = _read(fd)
        if stale:
            log.warning(
                "%s: taking over a lock left by a run that did not finish (%s)", self.path, stale
            )
        os.ftruncate(fd, 0)
        since = time.strftime("%Y-%m-%d %H:%M:%S")
        holder = f"pid {os.getpid()} on {socket.gethostname()} since {since}"
        os.pwrite(fd, holder.encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)  # an empty lock file: the last run finished
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def _read(fd: int) -> str:
    return os.pread(fd, 4096, 0).decode(errors="replace").strip()


def save_config(cfg: DictConfig, run_dir: Path, iteration: int) -> None:
    """The exact config of every iteration, next to its traces."""
    write_atomic(run_dir / "configs" / f"{iteration}.yaml", OmegaConf.to_yaml(cfg, resolve=True))
