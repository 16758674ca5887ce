"""The dataset card (``card.json``): what a version holds and how to reproduce it.

``build_card`` aggregates the per-shard indices into ``index.parquet`` and writes the card:
version, parameters, counts, coverage (per subset, reason and match tier), the split's
eligibility counts, normalisation statistics, mel settings, library
versions, and the sha256 and row count of every shard file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.atomic import write_json, write_parquet
from ..core.config import dataset_version
from ..core.hashing import sha256_file
from ..core.segment import N_MELS, SEGMENT_FRAMES
from ..core.tables import DATASET_INDEX
from ..core.vocabulary import DOMAINS
from .reader import ShardReader
from .shards import SHARD_PATTERN, gather_index, shard_files

__all__ = ["build_card", "counts", "normalisation"]


def normalisation(dataset_dir, index: pd.DataFrame, *, subset: str = "train",
                  chunk: int = 256) -> dict:
    """Global scalar mean and std per domain over every value of ``subset`` rows (float64).

    Falls back to all rows when there is no ``subset`` row (e.g. an SNR-sweep directory
    holding test singers only); the returned dict names the rows used.  Rows are summed in
    (shard, row) order, ``chunk`` segments at a time, so the result is one fixed sequence of
    float64 additions.
    """
    rows = index[index["subset"] == subset]
    used = subset
    if rows.empty:
        rows, used = index, "all"
    rows = rows.sort_values(["shard", "row"], kind="stable")
    reader = ShardReader(dataset_dir)
    stats = {"rows": used}
    for domain in DOMAINS:
        total = total_sq = count = 0.0
        for _, block in reader.batches(rows, domain=domain, batch_size=chunk, dtype=np.float64):
            total += block.sum()
            total_sq += np.square(block).sum()
            count += block.size
        mean = total / count if count else 0.0
        var = max(total_sq / count - mean * mean, 0.0) if count else 0.0
        stats[domain] = {"mean": mean, "std": float(np.sqrt(var))}
    return stats


def counts(index: pd.DataFrame) -> dict:
    """Segments, singers and performances, overall and per subset."""
    def one(df):
        return {"segments": int(len(df)), "windows": int(len(df.drop_duplicates(["perf_id",
                                                                                "window_index"]))),
                "singers": int(df["singer"].nunique()), "performances": int(df["perf_id"].nunique())}
    out = {"all": one(index)}
    out.update({s: one(g) for s, g in index.groupby("subset", sort=True)})
    return out


def library_versions() -> dict:
    import importlib

    out = {}
    for name in ("numpy", "scipy", "librosa", "soxr", "av", "soundfile", "pandas", "pyarrow"):
        try:
            out[name] = importlib.import_module(name).__version__
        except (ImportError, AttributeError):
            out[name] = None
    return out


def build_card(dataset_dir, *, params: dict, mel: dict, effective_params: dict | None = None,
               shards=None) -> dict:
    """Aggregate the shard indices into ``index.parquet`` and write ``card.json``; return it.

    ``params`` are the data-changing config sections as given (their hash is the version);
    ``effective_params`` the stage dataclasses with every default filled in; ``shards`` the
    shard numbers of this version (None: every shard file in the folder).
    """
    out = Path(dataset_dir)
    wanted = None if shards is None else set(shards)
    index = gather_index(out, shards)
    write_parquet(out / "index.parquet", index)
    coverage = (pd.read_parquet(out / "coverage.parquet").to_dict("records")
                if (out / "coverage.parquet").exists() else None)
    # the split's eligibility counts (pipeline.mashup.split_join), when the join drew it
    split = (json.loads((out / "split.json").read_text()) if (out / "split.json").exists()
             else None)
    per_shard = index.groupby("shard").size().to_dict()
    shards = []
    for p in shard_files(out):
        k = int(SHARD_PATTERN.match(p.name).group(2))
        if wanted is not None and k not in wanted:
            continue
        shards.append({"file": p.name, "sha256": sha256_file(p), "rows": int(per_shard.get(k, 0))})
    card = {"version": dataset_version(params), "params": params,
            "effective_params": effective_params or {}, "counts": counts(index),
            "coverage": coverage, "split": split, "normalisation": normalisation(out, index), "mel": mel,
            "libraries": library_versions(), "shards": shards,
            "format": {"dtype": "float16", "shape": ["rows", SEGMENT_FRAMES, N_MELS],
                       "index_columns": list(DATASET_INDEX)}}
    write_json(out / "card.json", card)
    return card
