"""Reading a dataset version: the public reader a lab that received shards uses.

A dataset version directory holds ``card.json``, ``index.parquet`` and row-aligned float16
shards ``mono-{k:06d}.npy`` / ``mix-{k:06d}.npy`` (format: ``pipeline.dataset.shards``).
Shards are memory-mapped, so only the segments asked for are read.

Example
-------
>>> from pipeline.dataset import DatasetVersion                    # doctest: +SKIP
>>> ds = DatasetVersion("results/datasets/05b560230e")             # doctest: +SKIP
>>> for row, mel in ds.segments("mono", subset="train"):           # doctest: +SKIP
...     x = ds.normalise(mel, "mono")      # (129, 128) float32, zero mean / unit std
>>> torch_ds = ds.torch_dataset("mix", subset="valid")             # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import PipelineError
from ..core.segment import N_MELS, SEGMENT_FRAMES
from ..core.tables import DATASET_INDEX
from ..core.vocabulary import DOMAINS
from .shards import shard_name

__all__ = ["DatasetVersion", "SegmentDataset", "ShardReader", "read_card", "read_index"]


def read_card(dataset_dir) -> dict:
    """``card.json`` of a dataset version, checked for the normalisation statistics.

    Raises
    ------
    PipelineError
        When the card is missing or lacks a mean and a positive std for a domain.
    """
    path = Path(dataset_dir) / "card.json"
    if not path.exists():
        raise PipelineError(f"{path}: dataset card not found")
    card = json.loads(path.read_text())
    for d in DOMAINS:
        stats = card.get("normalisation", {}).get(d, {})
        if not {"mean", "std"} <= set(stats) or not float(stats["std"]) > 0:
            raise PipelineError(f"{path}: normalisation.{d} needs a mean and a positive std")
    return card


def read_index(dataset_dir, columns=DATASET_INDEX) -> pd.DataFrame:
    """``<dataset_dir>/index.parquet``, checked for ``columns`` (default: every index column).

    Returns
    -------
    pd.DataFrame
        One row per segment; ``shard`` and ``row`` locate its log-mel in the shards.
    """
    path = Path(dataset_dir) / "index.parquet"
    if not path.exists():
        raise PipelineError(f"{path}: dataset index not found")
    index = pd.read_parquet(path)
    missing = sorted(set(columns) - set(index.columns))
    if missing:
        raise PipelineError(f"{path}: missing column(s) {missing}")
    return index


class ShardReader:
    """Reads segments from memory-mapped shards; picklable for DataLoader workers."""

    def __init__(self, dataset_dir):
        self.dataset_dir = Path(dataset_dir)
        self._maps: dict = {}

    def __getstate__(self):
        return {"dataset_dir": self.dataset_dir, "_maps": {}}

    def shard(self, domain: str, k: int) -> np.ndarray:
        """Shard ``k`` of ``domain``, memory-mapped: float16 (n_k, 129, 128)."""
        if domain not in DOMAINS:
            raise PipelineError(f"unknown domain {domain!r}; expected one of {DOMAINS}")
        key = (domain, int(k))
        if key not in self._maps:
            path = self.dataset_dir / shard_name(domain, k)
            if not path.exists():
                raise PipelineError(f"{path}: shard not found")
            array = np.load(path, mmap_mode="r")
            if array.ndim != 3 or array.shape[1:] != (SEGMENT_FRAMES, N_MELS):
                raise PipelineError(f"{path}: shape {array.shape}, expected (n, "
                                    f"{SEGMENT_FRAMES}, {N_MELS})")
            self._maps[key] = array
        return self._maps[key]

    def gather(self, domain: str, shards: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Segments at (``shards[i]``, ``rows[i]``) -> float32 (n, 129, 128), in input order."""
        shards, rows = np.asarray(shards).ravel(), np.asarray(rows).ravel()
        out = np.empty((len(rows), SEGMENT_FRAMES, N_MELS), dtype=np.float32)
        for k in np.unique(shards):
            at = np.flatnonzero(shards == k)
            order = np.argsort(rows[at], kind="stable")  # ascending rows read the map in order
            out[at[order]] = self._rows(domain, k, rows[at][order])
        return out

    def batches(self, rows: pd.DataFrame, *, domain: str, batch_size: int,
                dtype=np.float32):
        """Yield ``(positions, mels)`` for index ``rows`` of ``domain``, shard by shard.

        Parameters
        ----------
        rows : pd.DataFrame  index rows (``shard``, ``row`` columns)
        domain : "mono" | "mix"
        batch_size : int  segments per batch
        dtype : float dtype of ``mels``

        Yields
        ------
        positions : np.ndarray [shape=(b,)]  positions into ``rows``
        mels : np.ndarray [shape=(b, 129, 128)]
        """
        shards = rows["shard"].to_numpy()
        row_in_shard = rows["row"].to_numpy()
        for k in np.unique(shards):
            positions = np.flatnonzero(shards == k)
            for start in range(0, len(positions), batch_size):
                chunk = positions[start:start + batch_size]
                yield chunk, np.asarray(self._rows(domain, k, row_in_shard[chunk]), dtype=dtype)

    def _rows(self, domain: str, k: int, rows: np.ndarray) -> np.ndarray:
        array = self.shard(domain, k)
        if len(rows) and int(rows.max()) >= len(array):
            raise PipelineError(f"{self.dataset_dir / shard_name(domain, k)}: index refers to "
                                f"row {int(rows.max())} of a shard with {len(array)} rows")
        return array[rows]


class DatasetVersion:
    """One dataset version on disk: its card, its index and its segments.

    Parameters
    ----------
    path : str or Path
        The version directory (``datasets/<version>/``).
    """

    def __init__(self, path):
        self.path = Path(path)
        self.card = read_card(self.path)
        self.index = read_index(self.path)
        self.reader = ShardReader(self.path)

    @property
    def version(self) -> str:
        return str(self.card.get("version", self.path.name))

    def rows(self, subset=None) -> pd.DataFrame:
        """Index rows of ``subset`` (a name or a list of names; None: all), in index order."""
        if subset is None:
            return self.index
        subsets = [subset] if isinstance(subset, str) else list(subset)
        return self.index[self.index["subset"].isin(subsets)]

    def segments(self, domain: str, *, subset=None, batch_size: int = 256):
        """Yield ``(index_row, mel)`` for every segment of ``subset``, in index order.

        ``mel`` is the stored log-mel as float32 [shape=(129, 128)] (frames x mel bands).
        """
        rows = self.rows(subset).reset_index(drop=True)
        for start in range(0, len(rows), batch_size):
            part = rows.iloc[start:start + batch_size]
            mels_part = self.reader.gather(domain, part["shard"].to_numpy(), part["row"].to_numpy())
            for i, (_, row) in enumerate(part.iterrows()):
                yield row, mels_part[i]

    def normalise(self, mels: np.ndarray, domain: str) -> np.ndarray:
        """``(mels - mean) / std`` with the card's statistics of ``domain`` (float32)."""
        stats = self.card["normalisation"][domain]
        return ((np.asarray(mels, dtype=np.float32) - np.float32(stats["mean"]))
                / np.float32(stats["std"]))

    def torch_dataset(self, domain: str, *, subset=None, normalise: bool = True):
        """A ``torch.utils.data.Dataset`` of ``(mel (129, 128) float32 tensor, singer code)``.

        Singer codes index the dataset's ``singers`` (sorted singer ids of the rows).
        """
        return SegmentDataset(self, domain, self.rows(subset), normalise=normalise)


class SegmentDataset:
    """Segments of one domain as a map-style torch dataset (picklable for loader workers).

    Parameters
    ----------
    version : DatasetVersion
    domain : "mono" | "mix"
    rows : pd.DataFrame  index rows to serve, in order
    normalise : bool  apply the card's normalisation
    """

    def __init__(self, version: DatasetVersion, domain: str, rows: pd.DataFrame, *,
                 normalise: bool = True):
        self.version, self.domain, self.normalise = version, domain, normalise
        self.shard = rows["shard"].to_numpy(np.int64)
        self.row = rows["row"].to_numpy(np.int64)
        self.singers = tuple(sorted(rows["singer"].astype(str).unique()))
        code = {s: i for i, s in enumerate(self.singers)}
        self.codes = rows["singer"].astype(str).map(code).to_numpy(np.int64)

    def __len__(self):
        return len(self.row)

    def __getitem__(self, i):
        import torch

        mel = self.version.reader.gather(self.domain, self.shard[i:i + 1], self.row[i:i + 1])[0]
        if self.normalise:
            mel = self.version.normalise(mel, self.domain)
        return torch.from_numpy(mel), int(self.codes[i])
