"""Export a generator checkpoint as a Hugging Face directory.

    python -m models.end_to_end.tactic_models.generator.export CHECKPOINT OUT_DIR [--force]

The directory (weights, config, ByT5 tokenizer files) loads with
``T5ForConditionalGeneration.from_pretrained`` or as ``tac_model.model.pretrained``, e.g. to
start a new run from a trained model. Refuses a non-empty OUT_DIR unless ``--force`` (then
files of the same name are replaced, others kept). Exit code 2: bad arguments or a checkpoint
that does not load; 1: the directory cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from models.end_to_end.tactic_models.generator.model import (
    export_pretrained,
    load_generator_checkpoint,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Export CHECKPOINT into OUT_DIR; print where it wrote."""
    parser = argparse.ArgumentParser(
        prog="python -m models.end_to_end.tactic_models.generator.export",
        description="Write a generator tactic model checkpoint as a Hugging Face directory.",
    )
    parser.add_argument("checkpoint", type=Path, help="a GeneratorModel Lightning checkpoint")
    parser.add_argument("out_dir", type=Path, help="the directory to write (made if missing)")
    parser.add_argument(
        "--force", action="store_true", help="write into OUT_DIR even if it is not empty"
    )
    args = parser.parse_args(argv)
    out_dir: Path = args.out_dir
    if out_dir.exists() and not out_dir.is_dir():
        print(f"error: {out_dir} exists and is not a directory", file=sys.stderr)
        return 2
    if out_dir.is_dir() and any(out_dir.iterdir()) and not args.force:
        print(
            f"error: {out_dir} is not empty; pass --force to replace its files, or name a new "
            "directory",
            file=sys.stderr,
        )
        return 2
    try:
        model = load_generator_checkpoint(args.checkpoint)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        export_pretrained(model, out_dir)
    except OSError as e:
        print(f"error: cannot write {out_dir}: {e}", file=sys.stderr)
        return 1
    print(f"exported {args.checkpoint} to {out_dir} (load it with tac_model.model.pretrained)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
