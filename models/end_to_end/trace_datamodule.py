"""What every data module that learns from the loop's traces shares, written once.

Reading ``trace_files`` through the one trace loader (unreadable files are skipped and listed
in ``skipped_files``), keeping only theorems of ``splits`` (so the loop's evaluation theorems,
whose traces sit in the same run directory, stay out of training), holding out a
``val_fraction`` of the theorems for validation, and the data loaders. A subclass says how the
traces become examples (`examples_from`, through the shared rules of `data.traces.examples`)
and how examples become a batch (`collate`). `EdgeDataModule` is the base of the tactic
models' data modules: it labels every tactic application, and its subclasses choose which
labelled applications become examples (`build_examples`).
"""

from __future__ import annotations

import hashlib
import logging
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from data.traces.examples import EdgeExample, LabelRules, collect_examples
from data.traces.loader import TraceLoader
from data.traces.schema import ProofTrace

logger = logging.getLogger(__name__)

Example = TypeVar("Example")


class TraceDataModule(pl.LightningDataModule, Generic[Example]):
    """Examples from traces, split into train and validation by theorem.

    The held-out theorems are the ``round(val_fraction * n)`` of the ``n`` theorems with
    examples whose seeded hash is smallest: the same set whatever the order of the files.
    """

    no_examples = "no proved trace of a theorem in {splits} gave one; prove something first"
    """Why there may be no training examples, for the error (``{splits}`` is filled in)."""

    def __init__(
        self,
        trace_files: str | Path | Sequence[str | Path],
        batch_size: int,
        val_fraction: float,
        seed: int,
        splits: Sequence[str] | None,
        num_workers: int,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if batch_size < 1 or not 0.0 <= val_fraction <= 1.0:
            raise ValueError(
                f"{name}: need batch_size >= 1 and val_fraction in [0, 1]; got {batch_size} "
                f"and {val_fraction}"
            )
        self.trace_files = (
            [trace_files] if isinstance(trace_files, str | Path) else list(trace_files)
        )
        self.batch_size, self.val_fraction, self.seed = batch_size, val_fraction, seed
        self.splits = set(splits) if splits is not None else None  # None: every theorem
        self.num_workers = num_workers
        self.train_examples: list[Example] = []
        self.val_examples: list[Example] = []
        self.val_theorems: set[str] = set()
        self.skipped_files: list[tuple[Path, str]] = []
        self.excluded_theorems = 0  # traces of theorems outside `splits`
        self.skipped_steps = 0  # labelled steps that make no example (the subclass counts them)
        self._loaded = False

    @abstractmethod
    def examples_from(self, traces: Iterable[ProofTrace]) -> dict[str, list[Example]]:
        """The examples of each theorem (by id), from every attempt of a theorem in
        ``splits``, through the shared rules of `data.traces.examples`."""

    @abstractmethod
    def collate(self, examples: Sequence[Example]) -> Any:
        """A batch of ``examples`` (validation, and training unless `collate_train` differs)."""

    def collate_train(self, examples: Sequence[Example]) -> Any:
        """A training batch; override for augmentations that must not touch validation."""
        return self.collate(examples)

    def setup(self, stage: str | None = None) -> None:
        """Read the traces and build the examples, once."""
        if self._loaded:
            return
        loader = TraceLoader(self.trace_files, progress="reading traces")
        by_theorem = self.examples_from(self._in_splits(loader))
        self.skipped_files = list(loader.skipped)
        if self.skipped_files:
            logger.warning(
                "%s: skipped %d unreadable trace file(s) of %d",
                type(self).__name__,
                len(self.skipped_files),
                len(loader.files),
            )
        theorems = sorted(by_theorem, key=self._rank)
        self.val_theorems = set(theorems[: round(self.val_fraction * len(theorems))])
        for theorem in sorted(by_theorem):
            held_out = theorem in self.val_theorems
            (self.val_examples if held_out else self.train_examples).extend(by_theorem[theorem])
        logger.info(
            "%s: %d train and %d val examples from %d theorems; %d steps skipped",
            type(self).__name__,
            len(self.train_examples),
            len(self.val_examples),
            len(theorems),
            self.skipped_steps,
        )
        self._loaded = True

    def _in_splits(self, traces: Iterable[ProofTrace]) -> Iterator[ProofTrace]:
        for trace in traces:
            if self.splits is not None and trace.theorem.get("split") not in self.splits:
                self.excluded_theorems += 1
                continue
            yield trace

    def _rank(self, theorem: str) -> bytes:
        return hashlib.sha256(f"{self.seed}:{theorem}".encode()).digest()

    def _loader(self, examples: list[Example], shuffle: bool) -> DataLoader[Any]:
        return DataLoader(
            examples,  # type: ignore[arg-type]
            batch_size=self.batch_size,
            shuffle=shuffle,
            collate_fn=self.collate_train if shuffle else self.collate,
            num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(self.seed) if shuffle else None,
        )

    def train_dataloader(self) -> DataLoader[Any]:
        self.setup("fit")
        if not self.train_examples:
            splits = "any split" if self.splits is None else f"splits {sorted(self.splits)}"
            why = self.no_examples.format(splits=splits)
            raise ValueError(
                f"{type(self).__name__}: no training examples in {self.trace_files} ({why})"
            )
        return self._loader(self.train_examples, shuffle=True)

    def val_dataloader(self) -> DataLoader[Any] | list[Any]:
        self.setup("validate")
        return self._loader(self.val_examples, shuffle=False) if self.val_examples else []


class EdgeDataModule(TraceDataModule[Example]):
    """A tactic model's data module: every tactic application labelled by ``rules``
    (proving, progress, error; see `data.traces.examples`); a subclass picks its examples."""

    def __init__(
        self,
        trace_files: str | Path | Sequence[str | Path],
        batch_size: int,
        val_fraction: float,
        seed: int,
        splits: Sequence[str] | None,
        num_workers: int,
        rules: LabelRules | None = None,
    ) -> None:
        super().__init__(trace_files, batch_size, val_fraction, seed, splits, num_workers)
        self.rules = rules or LabelRules()

    @abstractmethod
    def build_examples(self, labelled: Mapping[str, list[EdgeExample]]) -> dict[str, list[Example]]:
        """The examples of each theorem (by id), from its labelled tactic applications (every
        attempt of a theorem in ``splits``, deduplicated; see `data.traces.examples`)."""

    def examples_from(self, traces: Iterable[ProofTrace]) -> dict[str, list[Example]]:
        return self.build_examples(collect_examples(traces, self.rules))
