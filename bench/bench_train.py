"""Training throughput on CPU: model (forward + backward + step), loader alone, peak memory.

Builds a random dataset version in a temporary folder (float16 shards in the mashup format),
then prints medians of several repeats:

- model: segments/s through forward + backward + SGD step for MONO and CROSS triplet
  batches (batch 32, 1 positive + 4 negatives = 192 segments), with 1 and 2 threads;
- items/s (anchors through forward + backward + step, 1 thread) with negatives drawn from
  the dataset (192 segments a batch of 32) and from the batch (``train.negatives_from:
  batch``, 64 segments), and their ratio;
- loader: segments/s of ``TripletBatches`` reading memory-mapped shards (no model), which
  must be at least 5x the model's consumption so training is compute-bound;
- one metric-learning epoch through ``pipeline.train.loop.fit`` (wall time);
- peak resident memory of the process.

Usage: python bench/bench_train.py [--singers 24] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.core.random import rng_for  # noqa: E402
from pipeline.core.tables import DATASET_INDEX  # noqa: E402
from pipeline.dataset.reader import ShardReader  # noqa: E402
from pipeline.dataset.shards import shard_name  # noqa: E402
from pipeline.train import loop as train
from pipeline.train import sampling as data  # noqa: E402
from pipeline.train.model import (  # noqa: E402
    EmbeddingModel,
    hinge_rank_loss,
    in_batch_triplet_embeddings,
    triplet_embeddings,
)


def write_random_dataset(path: Path, *, singers: int, perfs: int = 4, windows: int = 10,
                         mixes: int = 2, rows_per_shard: int = 400, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    records = []
    for s in range(singers):
        for t in range(perfs):
            for w in range(windows):
                for m in range(mixes):
                    records.append({"segment_id": f"{s}-{t}-{w}-{m}",
                                    "subset": "valid" if t == perfs - 1 else "train",
                                    "singer": f"s{s:03d}", "perf_id": f"s{s:03d}-{t}",
                                    "window_index": w, "mix_index": m})
    index = pd.DataFrame.from_records(records)
    index["shard"] = np.arange(len(index)) // rows_per_shard
    index["row"] = np.arange(len(index)) % rows_per_shard
    path.mkdir(parents=True)
    for k, group in index.groupby("shard"):
        for domain in ("mono", "mix"):
            np.save(path / shard_name(domain, k),
                    rng.standard_normal((len(group), 129, 128)).astype(np.float16))
    for column, dtype in DATASET_INDEX.items():  # neutral values for what training never reads
        if column not in index:
            index[column] = "" if dtype == "str" else 0
    index[list(DATASET_INDEX)].astype(DATASET_INDEX).to_parquet(path / "index.parquet")
    norm = {"mean": 0.0, "std": 1.0}
    (path / "card.json").write_text(json.dumps({"version": "bench", "normalisation":
                                                {"mono": norm, "mix": norm}}))
    return path


def median_rate(fn, count: int, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return count / statistics.median(times)


def training_step(kind: str, threads: int, negatives_from: str = "dataset", batch: int = 32,
                  k: int = 4):
    """One forward + backward + SGD step of a fresh model on random batches, as a closure."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    norm = {"mean": 0.0, "std": 1.0}
    model = EmbeddingModel(kind, normalisation={"mono": norm, "mix": norm}).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
    a, p = torch.randn(batch, 129, 128), torch.randn(batch, 129, 128)
    n = torch.randn(batch, k, 129, 128)
    slots = torch.stack([torch.roll(torch.arange(batch), -j - 1) for j in range(k)], dim=1)

    def step():
        if negatives_from == "batch":
            out = in_batch_triplet_embeddings(model, a, p, slots, kind=kind)
        else:
            out = triplet_embeddings(model, a, p, n, kind=kind)
        loss = hinge_rank_loss(*out, margin=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def model_rate(kind: str, threads: int, repeats: int, batch: int = 32, k: int = 4) -> float:
    """Segments per second through a step with drawn negatives (batch x (2 + k) segments)."""
    return median_rate(training_step(kind, threads, batch=batch, k=k), batch * (2 + k), repeats)


def item_rate(kind: str, negatives_from: str, repeats: int, batch: int = 32, k: int = 4) -> float:
    """Anchors per second through one training step, 1 thread."""
    return median_rate(training_step(kind, 1, negatives_from, batch, k), batch, repeats)


def loader_rate(dataset: Path, repeats: int, n_batches: int = 20, batch: int = 32) -> float:
    ds = train._Data(dataset)
    anchors, targets = ds.pool("mono", ["train"]), ds.pool("mix", ["train"])
    plan = data.plan_triplets(anchors, targets, n_items=n_batches * batch, negatives=4,
                              rng=rng_for(0, 0, 1))
    batches = data.TripletBatches(ShardReader(dataset), anchors, targets, plan, batch)

    def read_all():
        for b in range(len(batches)):
            batches[b]

    return median_rate(read_all, n_batches * batch * 6, repeats)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--singers", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_random_dataset(Path(tmp) / "v", singers=args.singers)
        rates = {}
        for kind in ("mono", "cross"):
            for threads in (1, 2):
                rates[kind, threads] = model_rate(kind, threads, args.repeats)
                print(f"model {kind:5s} {threads} thread(s): {rates[kind, threads]:8.0f} "
                      "segments/s (forward + backward + step)")
        for kind in ("mono", "cross"):
            drawn, in_batch = (item_rate(kind, src, args.repeats) for src in ("dataset", "batch"))
            print(f"items/s {kind:5s} 1 thread: negatives from the dataset {drawn:6.1f}, "
                  f"from the batch {in_batch:6.1f} ({in_batch / drawn:.2f}x)")
        torch.set_num_threads(1)
        load = loader_rate(dataset, args.repeats)
        fastest = max(rates.values())
        print(f"loader (memory-mapped shards, 1 process): {load:8.0f} segments/s "
              f"= {load / fastest:.1f}x the fastest model rate")
        params = train.TrainParams(epochs=1, items_per_epoch=512, threads=1, valid_items=128)
        start = time.perf_counter()
        train.fit(dataset, "cross", params, Path(tmp) / "cross")
        print(f"fit CROSS, one epoch of 512 items + validation, 1 thread: "
              f"{time.perf_counter() - start:.1f} s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
