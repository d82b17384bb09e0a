"""The train/valid/test split of a theorem set: a stable function of each theorem's name."""

from __future__ import annotations

import hashlib

SPLITS = ("train", "valid", "test")


def split_of(name: str) -> str:
    """80/10/10 by a hash of the name: stable across exports and machines."""
    bucket = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 100
    return "train" if bucket < 80 else "valid" if bucket < 90 else "test"
