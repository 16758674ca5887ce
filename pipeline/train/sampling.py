"""Training data over a dataset version: segment pools, triplet sampling, batch loading.

A dataset version (``datasets/<version>/``) holds row-aligned shards ``mono-{k:06d}.npy`` and
``mix-{k:06d}.npy`` (float16, (n_k, 129, 128) log-mel), ``index.parquet`` (one row per
segment, with ``shard`` and ``row``) and ``card.json`` (normalisation statistics).  Shards
are memory-mapped; a batch is read with one fancy-indexing call per shard.

A ``Pool`` is the set of segments of one domain and some subsets, sorted by singer so each
singer's segments are one contiguous block.  The mono pool holds each vocal window once
(``mix_index`` duplicates dropped); the mix pool holds every mix.

Sampling (``plan_triplets``) is a pure function of (seed, stream, epoch): per item an anchor
(a shuffled pass over the anchor pool), one positive of the anchor's singer from another
vocal window (for CROSS a mix, possibly of another performance) and ``negatives`` segments
of singers drawn uniformly among the other singers (never the anchor's).  With ``in_batch``
the negatives are instead ``negatives`` of the other items' positives in the same batch
(``in_batch_negatives``): each segment is embedded once and serves as one item's positive
and as other items' negatives, so a step embeds 2B segments instead of (2 + K)B.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import torch

from ..analysis.voicing import spread_evenly
from ..core.errors import PipelineError
from ..dataset.reader import ShardReader

__all__ = ["Pool", "SegmentBatches", "TripletBatches", "TripletPlan", "loader", "make_pool",
           "in_batch_negatives", "plan_triplets", "spread_per_singer", "usable_anchors",
           "window_codes"]


@dataclasses.dataclass(frozen=True)
class Pool:
    """Segments of one domain, sorted by singer code.

    Attributes
    ----------
    domain : "mono" | "mix"
    shard, row : np.ndarray [shape=(n,), int64]   where each segment is stored
    singer : np.ndarray [shape=(n,), int64]       singer code (index into ``singers``)
    window : np.ndarray [shape=(n,), int64]       vocal-window code, shared across domains
    offsets : np.ndarray [shape=(n_singers + 1,)] singer s owns rows offsets[s]:offsets[s+1]
    singers : tuple of str
    """

    domain: str
    shard: np.ndarray
    row: np.ndarray
    singer: np.ndarray
    window: np.ndarray
    offsets: np.ndarray
    singers: tuple

    def __len__(self):
        return len(self.row)

    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


def window_codes(index: pd.DataFrame) -> np.ndarray:
    """One integer per vocal window (perf_id, window_index), equal across domains."""
    keys = index["perf_id"].astype(str) + "\x00" + index["window_index"].astype(str)
    return pd.factorize(keys, sort=True)[0].astype(np.int64)


def make_pool(index: pd.DataFrame, *, domain: str, subsets, singers) -> Pool:
    """The ``domain`` segments of ``subsets`` whose singer is in ``singers`` (ordered codes)."""
    rows = index[index["subset"].isin(list(subsets)) & index["singer"].isin(list(singers))]
    if domain == "mono":
        rows = rows.sort_values(["window", "mix_index"], kind="stable").drop_duplicates("window")
    code = {s: i for i, s in enumerate(singers)}
    singer = rows["singer"].map(code).to_numpy(np.int64)
    order = np.lexsort((rows["window"].to_numpy(), rows["mix_index"].to_numpy(), singer))
    singer = singer[order]
    offsets = np.searchsorted(singer, np.arange(len(singers) + 1)).astype(np.int64)
    return Pool(domain=domain, shard=rows["shard"].to_numpy(np.int64)[order],
                row=rows["row"].to_numpy(np.int64)[order], singer=singer,
                window=rows["window"].to_numpy(np.int64)[order], offsets=offsets,
                singers=tuple(singers))


@dataclasses.dataclass(frozen=True)
class TripletPlan:
    """Indices of one epoch's items: anchors into the anchor pool, the rest into the target."""

    anchor: np.ndarray  # (n,)
    positive: np.ndarray  # (n,)
    negatives: np.ndarray  # (n, K) target rows, or (n, K) positions in the batch (in_batch)
    in_batch: int | None = None  # the batch size the positions refer to; None: target rows


def usable_anchors(anchors: Pool, targets: Pool) -> np.ndarray:
    """Anchor rows whose singer has a target segment from another vocal window."""
    ok = np.zeros(len(anchors), dtype=bool)
    for s in range(len(anchors.singers)):
        a0, a1 = anchors.offsets[s], anchors.offsets[s + 1]
        t_windows = np.unique(targets.window[targets.offsets[s]:targets.offsets[s + 1]])
        if len(t_windows) >= 2:
            ok[a0:a1] = True
        elif len(t_windows) == 1:
            ok[a0:a1] = anchors.window[a0:a1] != t_windows[0]
    return np.flatnonzero(ok)


def plan_triplets(anchors: Pool, targets: Pool, *, n_items: int | None, negatives: int,
                  rng: np.random.Generator, candidates: np.ndarray | None = None,
                  in_batch: int | None = None) -> TripletPlan:
    """Draw one epoch of (anchor, positive, negatives) indices.

    Parameters
    ----------
    anchors, targets : Pool
        Same singer coding; for MONO / MIXED the same pool.
    n_items : int or None
        Items to draw (None: one pass over the usable anchors).
    negatives : int
        Negatives per item (K).
    rng : np.random.Generator
    candidates : np.ndarray or None
        Usable anchor rows (``usable_anchors``), computed once by the caller.
    in_batch : int or None
        Batch size: take the negatives from the other items' positives of each batch of this
        many consecutive items (``in_batch_negatives``) instead of drawing target rows.

    Returns
    -------
    TripletPlan
    """
    if candidates is None:
        candidates = usable_anchors(anchors, targets)
    if len(candidates) == 0:
        raise PipelineError("no usable anchors: training needs two or more singers with "
                            "two or more vocal windows")
    n = len(candidates) if n_items is None else int(n_items)
    passes = -(-n // len(candidates))
    anchor = np.concatenate([rng.permutation(candidates) for _ in range(passes)])[:n]
    singer = anchors.singer[anchor]
    lo, size = targets.offsets[singer], targets.counts()[singer]
    positive = lo + rng.integers(0, np.maximum(size, 1))
    clash = targets.window[positive] == anchors.window[anchor]
    while clash.any():  # redraw positives that repeat the anchor's vocal window
        positive[clash] = lo[clash] + rng.integers(0, size[clash])
        clash = targets.window[positive] == anchors.window[anchor]
    if in_batch is not None:
        slots = in_batch_negatives(singer, targets.singer[positive], batch_size=in_batch,
                                   negatives=negatives, rng=rng)
        return TripletPlan(anchor=anchor, positive=positive, negatives=slots, in_batch=in_batch)
    # Negative singers uniform over the other singers that have target segments: draw from
    # V - 1 positions and skip the anchor singer's position.
    counts = targets.counts()
    present = np.flatnonzero(counts > 0)
    if len(present) < 2:
        raise PipelineError("negatives need two or more singers with target segments")
    other = rng.integers(0, len(present) - 1, size=(n, negatives))
    other += other >= np.searchsorted(present, singer)[:, None]
    other = present[other]
    neg = targets.offsets[other] + rng.integers(0, counts[other])
    return TripletPlan(anchor=anchor, positive=positive, negatives=neg)


def in_batch_negatives(anchor_singer: np.ndarray, positive_singer: np.ndarray, *,
                       batch_size: int, negatives: int, rng: np.random.Generator) -> np.ndarray:
    """Negatives taken from the batch: for each item, other items' positives of other singers.

    Items ``b * batch_size`` up to ``(b + 1) * batch_size`` form batch ``b``.  Each item gets
    ``negatives`` distinct positions in its batch, drawn uniformly among the items whose
    positive is sung by another singer than the item's anchor.

    Parameters
    ----------
    anchor_singer, positive_singer : np.ndarray [shape=(n,), int]
        Singer codes of each item's anchor and positive.
    batch_size : int
    negatives : int
        Negatives per item (K).
    rng : np.random.Generator

    Returns
    -------
    np.ndarray [shape=(n, K), int64]
        Positions within the item's batch (0 .. its batch's size - 1).
    """
    n = len(anchor_singer)
    out = np.empty((n, negatives), dtype=np.int64)
    for b0 in range(0, n, batch_size):
        a = anchor_singer[b0:b0 + batch_size]
        p = positive_singer[b0:b0 + batch_size]
        other = a[:, None] != p[None, :]  # (B, B): position j may be item i's negative
        short = other.sum(axis=1) < negatives
        if short.any():
            raise PipelineError(
                f"in-batch negatives: item {b0 + int(np.argmax(short))} has fewer than "
                f"{negatives} other singers' positives in its batch of {len(a)}; use a larger "
                "train.batch_size or train.negatives_from: dataset")
        keys = np.where(other, rng.random(other.shape), np.inf)  # ineligible sort last
        out[b0:b0 + len(a)] = np.argsort(keys, axis=1, kind="stable")[:, :negatives]
    return out


class TripletBatches(torch.utils.data.Dataset):
    """Batch ``b`` of a plan as float32 tensors.

    Items are (anchor (B, T, F), positive (B, T, F), negatives (B, K, T, F)); for an in-batch
    plan the negatives are (B, K) int64 positions into the positives.
    """

    def __init__(self, reader: ShardReader, anchors: Pool, targets: Pool, plan: TripletPlan,
                 batch_size: int):
        if plan.in_batch not in (None, batch_size):
            raise PipelineError(f"an in-batch plan of batches of {plan.in_batch} read in "
                                f"batches of {batch_size}: its negative positions would be wrong")
        self.reader, self.anchors, self.targets, self.plan = reader, anchors, targets, plan
        self.batch_size = batch_size

    def __len__(self):
        return -(-len(self.plan.anchor) // self.batch_size)

    def __getitem__(self, b):
        sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
        a, p, n = self.plan.anchor[sl], self.plan.positive[sl], self.plan.negatives[sl]
        read = self.reader.gather
        anchor = read(self.anchors.domain, self.anchors.shard[a], self.anchors.row[a])
        positive = read(self.targets.domain, self.targets.shard[p], self.targets.row[p])
        if self.plan.in_batch:  # positions of the batch's positives, read once above
            return torch.from_numpy(anchor), torch.from_numpy(positive), torch.from_numpy(n)
        negs = read(self.targets.domain, self.targets.shard[n], self.targets.row[n])
        negs = negs.reshape(n.shape + negs.shape[1:])  # (B, K, T, F)
        return torch.from_numpy(anchor), torch.from_numpy(positive), torch.from_numpy(negs)


class SegmentBatches(torch.utils.data.Dataset):
    """Batch ``b`` of pool rows ``which``: (mels (B,T,F) float32, singer codes (B,) int64)."""

    def __init__(self, reader: ShardReader, pool: Pool, which: np.ndarray, batch_size: int):
        self.reader, self.pool, self.which, self.batch_size = reader, pool, which, batch_size

    def __len__(self):
        return -(-len(self.which) // self.batch_size)

    def __getitem__(self, b):
        i = self.which[b * self.batch_size:(b + 1) * self.batch_size]
        mels = self.reader.gather(self.pool.domain, self.pool.shard[i], self.pool.row[i])
        return torch.from_numpy(mels), torch.from_numpy(self.pool.singer[i])


def spread_per_singer(pool: Pool, per_singer: int) -> np.ndarray:
    """Up to ``per_singer`` rows of each singer, evenly spread over its block (deterministic)."""
    picks = [pool.offsets[s] + spread_evenly(n, per_singer) for s, n in enumerate(pool.counts())]
    return np.concatenate(picks).astype(np.int64) if picks else np.zeros(0, dtype=np.int64)


def loader(dataset: torch.utils.data.Dataset, *, num_workers: int, seed: int,
           pin_memory: bool = False):
    """A DataLoader over pre-batched ``dataset`` in order, with its own torch.Generator.

    ``pin_memory`` (for a CUDA device) copies batches to page-locked memory, so the
    ``non_blocking`` host-to-device copy overlaps the previous step.
    """
    return torch.utils.data.DataLoader(
        dataset, batch_size=None, shuffle=False, num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed), persistent_workers=False,
        pin_memory=pin_memory)
