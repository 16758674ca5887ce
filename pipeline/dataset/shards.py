"""The dataset-version format: NPY shards, Parquet index, dataset card, verification.

Layout of ``datasets/<version>/`` (readable with numpy and pyarrow alone)::

    mono-{k:06d}.npy        float16 (n_k, 129, 128) log-mel of a-cappella segments (DAMP-Vocal)
    mix-{k:06d}.npy         float16 (n_k, 129, 128) log-mel of their mixes (DAMP-Mash); row i of
                            mix-k is row i of mono-k mixed with an accompaniment
    index-{k:06d}.parquet   one row per segment of shard k (``DATASET_INDEX``)
    index.parquet           all shards' rows, ordered by (shard, row)
    card.json               version, params, counts, coverage, normalisation, mel settings,
                            library versions, sha256 and rows of every shard file
    pairs.parquet           the recipe (join output with source paths and sha256)
    unmatched.parquet, coverage.parquet, usage.parquet

Data shard k holds the matched windows of vocal analysis shard k.  Segments are in
``segment_id`` order within a shard; ``segment_id`` is ``{perf_id}-w{window_index:03d}-m{mix_index}``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.atomic import write_npy, write_parquet
from ..core.errors import PipelineError
from ..core.segment import N_MELS, SEGMENT_FRAMES
from ..core.tables import DATASET_INDEX

__all__ = ["SHARD_PATTERN", "gather_index", "index_frame", "shard_files", "shard_name",
           "shard_numbers", "write_shard"]

SHARD_PATTERN = re.compile(r"^(mono|mix|index)-(\d{6})\.(npy|parquet)$")


def shard_name(domain: str, k: int) -> str:
    """File name of shard ``k``: ``mono-000003.npy``, ``mix-..npy``, ``index-..parquet`` or
    ``skipped-..parquet`` (the mix stage's skipped segments)."""
    return f"{domain}-{int(k):06d}." + ("npy" if domain in ("mono", "mix") else "parquet")


def index_frame(rows) -> pd.DataFrame:
    """Index rows (dicts or frame) with exactly ``DATASET_INDEX``, in order and typed.

    ``shard`` and ``row`` may be absent (set by ``write_shard``); they read -1 until then.
    """
    df = pd.DataFrame(rows, columns=list(DATASET_INDEX))
    df[["shard", "row"]] = df[["shard", "row"]].fillna(-1)
    return df.astype(DATASET_INDEX)


def write_shard(out_dir, k: int, *, mono: np.ndarray, mix: np.ndarray,
                index: pd.DataFrame) -> None:
    """Write shard ``k`` (mono, mix, index) atomically; the index is written last.

    Parameters
    ----------
    mono, mix : np.ndarray [shape=(n, 129, 128)]
        Log-mel features, stored as float16.
    index : pd.DataFrame
        n rows; ``shard`` and ``row`` are set here.
    """
    n = len(index)
    for name, a in (("mono", mono), ("mix", mix)):
        if a.shape != (n, SEGMENT_FRAMES, N_MELS):
            raise PipelineError(f"shard {k}: {name} has shape {a.shape}, expected "
                                f"({n}, {SEGMENT_FRAMES}, {N_MELS})")
    index = index.copy()
    index["shard"], index["row"] = int(k), np.arange(n)
    out = Path(out_dir)
    write_npy(out / shard_name("mono", k), np.ascontiguousarray(mono, dtype=np.float16))
    write_npy(out / shard_name("mix", k), np.ascontiguousarray(mix, dtype=np.float16))
    write_parquet(out / shard_name("index", k), index_frame(index))


def shard_files(dataset_dir) -> list[Path]:
    """Shard files (mono/mix/index) of a dataset directory, sorted by name."""
    return sorted(p for p in Path(dataset_dir).iterdir() if SHARD_PATTERN.match(p.name))


def shard_numbers(paths) -> list[int]:
    """The shard numbers ``k`` named by shard files (``mono-000003.npy`` -> 3), sorted, unique."""
    ks = set()
    for p in paths:
        m = SHARD_PATTERN.match(Path(p).name)
        if m is None:
            raise PipelineError(f"{p}: not a shard file name (mono|mix|index-NNNNNN)")
        ks.add(int(m.group(2)))
    return sorted(ks)


def gather_index(dataset_dir, shards=None) -> pd.DataFrame:
    """The ``index-*.parquet`` rows of shards ``shards`` (None: every one present), by (shard, row).

    Passing the shard numbers of the current run keeps stale shards of an earlier, larger
    shard count out of the aggregate.
    """
    if shards is None:
        files = [p for p in shard_files(dataset_dir) if p.name.startswith("index-")]
    else:
        files = [Path(dataset_dir) / shard_name("index", k) for k in shards]
        missing = [str(p) for p in files if not p.exists()]
        if missing:
            raise PipelineError(f"index shard(s) not found: {missing}")
    if not files:
        raise PipelineError(f"{dataset_dir}: no index-*.parquet shard files")
    frames = [pd.read_parquet(p) for p in files]
    index = pd.concat(frames, ignore_index=True) if frames else index_frame([])
    return index_frame(index.sort_values(["shard", "row"], kind="stable").reset_index(drop=True))
