"""Verification of a dataset version against its card: hashes, shapes, row counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.hashing import sha256_file
from ..core.segment import N_MELS, SEGMENT_FRAMES
from .shards import shard_files

__all__ = ["verify"]


def verify(dataset_dir) -> list[str]:
    """Problems found in a dataset directory (empty list when it is intact).

    Recomputes every shard file's sha256 and checks NPY shapes and dtypes, per-shard index
    rows and ``index.parquet`` against ``card.json``.
    """
    out = Path(dataset_dir)
    card_path = out / "card.json"
    if not card_path.exists():
        return [f"{card_path}: missing"]
    card = json.loads(card_path.read_text())
    problems = []
    for entry in card.get("shards", []):
        path = out / entry["file"]
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        if sha256_file(path) != entry["sha256"]:
            problems.append(f"{path}: sha256 differs from card.json")
        if path.suffix == ".npy":
            try:
                a = np.load(path, mmap_mode="r")
            except ValueError as exc:
                problems.append(f"{path}: unreadable ({exc})")
                continue
            if a.dtype != np.float16 or a.shape != (entry["rows"], SEGMENT_FRAMES, N_MELS):
                problems.append(f"{path}: {a.dtype} {a.shape}, card says float16 "
                                f"({entry['rows']}, {SEGMENT_FRAMES}, {N_MELS})")
        else:
            try:
                n = len(pd.read_parquet(path, columns=["row"]))
            except Exception as exc:  # noqa: BLE001 - any read failure is a finding
                problems.append(f"{path}: unreadable ({type(exc).__name__})")
                continue
            if n != entry["rows"]:
                problems.append(f"{path}: {n} rows, card says {entry['rows']}")
    listed = {e["file"] for e in card.get("shards", [])}
    problems += [f"{p}: not listed in card.json" for p in shard_files(out) if p.name not in listed]
    index_path = out / "index.parquet"
    if not index_path.exists():
        problems.append(f"{index_path}: missing")
    else:
        index = pd.read_parquet(index_path, columns=["shard", "row"])
        expected = card.get("counts", {}).get("all", {}).get("segments")
        if len(index) != expected:
            problems.append(f"{index_path}: {len(index)} rows, card says {expected}")
        if index.duplicated().any():
            problems.append(f"{index_path}: duplicate (shard, row)")
    return problems
