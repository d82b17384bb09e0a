"""The one reader of many traces: good ones in, bad files skipped, named and counted.

Resume, the training data modules, the report, the visualiser and ``traces verify`` all read
traces through `TraceLoader`, so every reader treats a corrupt file, a truncated gzip or an
unknown schema version the same way: it logs the file and the reason, counts it and goes on.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from data.traces.files import TraceError, load_trace, trace_files
from data.traces.schema import ProofTrace

logger = logging.getLogger(__name__)

OnError = Callable[[Path, str], None]


class TraceLoader:
    """Iterate over the good traces under `paths`; `skipped` lists ``(file, reason)`` of bad ones.

    `paths` is a directory (searched recursively, e.g. a run's ``traces/`` with all iterations)
    or trace files, or an iterable of either. A path that does not exist is a configuration
    error and raises `TraceError` at once; a file that exists but does not load is skipped.
    With `progress` (a description), a progress bar on stderr counts the files.
    """

    def __init__(
        self,
        paths: Iterable[Path | str] | Path | str,
        *,
        on_error: OnError | None = None,
        progress: str | None = None,
    ) -> None:
        roots = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        self.files: list[Path] = []
        for root in map(Path, roots):
            if root.is_dir():
                self.files.extend(trace_files(root, recursive=True))
            elif root.exists():
                self.files.append(root)
            else:
                raise TraceError(f"{root}: no such trace file or directory")
        self.on_error = on_error
        self.progress = progress
        self.skipped: list[tuple[Path, str]] = []
        self.loaded = 0

    def __iter__(self) -> Iterator[ProofTrace]:
        for _, trace in self.with_paths():
            yield trace

    def with_paths(self) -> Iterator[tuple[Path, ProofTrace]]:
        """Like iterating, with each trace's file; each pass recounts `skipped` and `loaded`."""
        self.skipped, self.loaded = [], 0
        files = tqdm(
            self.files,
            desc=self.progress,
            unit="trace",
            file=sys.stderr,
            disable=self.progress is None,
        )
        with logging_redirect_tqdm():  # warnings print above the bar, not through it
            for path in files:
                try:
                    trace = load_trace(path)
                except TraceError as e:
                    logger.warning("skipping unreadable trace: %s", e)
                    self.skipped.append((path, str(e)))
                    if self.on_error is not None:
                        self.on_error(path, str(e))
                    continue
                self.loaded += 1
                yield path, trace
