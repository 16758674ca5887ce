"""Training epochs read from disk, not from the page cache; the loader against the model.

A DAMP-size dataset (about 690,000 pairs, 45 GB of float16 shards) does not fit in this
machine's memory, so its epochs read from disk.  With a smaller dataset the same reads are
forced by dropping its pages before every epoch: ``posix_fadvise(POSIX_FADV_DONTNEED)`` on each
shard file (``fincore`` reports how many pages stayed resident).  Prints medians over
``--epochs`` cold epochs of:

- loader alone: triplet items/s of ``TripletBatches`` through a ``DataLoader`` with 0, 1 and
  2 workers, ``pin_memory`` off and on (a no-op without an accelerator, which the script
  reports), from cold shards and, for comparison, warm ones;
- training: items/s of forward + backward + SGD step with the loader feeding it from cold
  shards (1 worker) against the model on in-memory tensors; the loader keeps up when the
  loader-alone rate is well above the training rate;
- ``python -m pipeline plan-training`` for config/damp-musdb.yaml at DAMP size with the
  measured training rate: the CPU-hours of the paper's schedule.

An item is one triplet (anchor, positive, 4 negatives = 6 segments), batches of 32.

Usage: python bench/bench_train_disk.py [--dataset DIR] [--rows 12000] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_dag_scale import write_damp_scale_workdir  # noqa: E402
from bench_train import write_random_dataset  # noqa: E402

from pipeline.core.random import rng_for  # noqa: E402
from pipeline.dataset.reader import ShardReader  # noqa: E402
from pipeline.train import loop as train  # noqa: E402
from pipeline.train import sampling as data  # noqa: E402
from pipeline.train.model import EmbeddingModel, hinge_rank_loss, triplet_embeddings  # noqa: E402

BATCH, NEGATIVES = 32, 4


def drop_pages(paths) -> None:
    """Evict ``paths`` from the page cache (``POSIX_FADV_DONTNEED``; dirty pages are synced first)."""
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def resident_share(paths) -> float:
    """Share of the files' bytes in the page cache (``fincore``), NaN when it is missing."""
    try:
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw", "-o", "RES,SIZE",
                              *map(str, paths)], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return float("nan")
    res = size = 0
    for line in out.stdout.split("\n"):
        if line.strip():
            r, s = map(int, line.split())
            res, size = res + r, size + s
    return res / size if size else float("nan")


def triplets(dataset: Path, items: int, seed: int) -> data.TripletBatches:
    """A CROSS epoch's batches (mono anchors, mix positives and negatives)."""
    ds = train._Data(dataset)
    anchors, targets = ds.pool("mono", ["train"]), ds.pool("mix", ["train"])
    plan = data.plan_triplets(anchors, targets, n_items=items, negatives=NEGATIVES,
                              rng=rng_for(seed, 0, 1))
    return data.TripletBatches(ShardReader(dataset), anchors, targets, plan, BATCH)


def loader(batches, workers: int, pin: bool):
    # pipeline.train.sampling.loader's settings, plus pin_memory
    return torch.utils.data.DataLoader(batches, batch_size=None, shuffle=False,
                                       num_workers=workers, pin_memory=pin,
                                       generator=torch.Generator().manual_seed(0))


def cpu_seconds() -> float:
    """CPU seconds of this process and of its reaped children (the loader's workers)."""
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def epoch_rate(dataset, shards, items, *, workers, pin, cold, seed, step=None) -> tuple:
    """(items per wall second, items per CPU second, resident share before) of one epoch."""
    if cold:
        drop_pages(shards)
    resident = resident_share(shards)
    batches = triplets(dataset, items, seed)
    start, cpu = time.perf_counter(), cpu_seconds()
    n = 0
    it = loader(batches, workers, pin)
    for batch in it:
        if step is not None:
            step(batch)
        n += len(batch[0])
    del it  # shuts the workers down, so their CPU time is counted
    return n / (time.perf_counter() - start), n / (cpu_seconds() - cpu), resident


def train_step(kind: str = "cross"):
    torch.manual_seed(0)
    norm = {"mean": 0.0, "std": 1.0}
    model = EmbeddingModel(kind, normalisation={"mono": norm, "mix": norm}).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
    device = torch.device("cpu")

    def step(batch):
        a, p, n = (t.to(device, non_blocking=True) for t in batch)
        loss = hinge_rank_loss(*triplet_embeddings(model, a, p, n, kind=kind), margin=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, help="a dataset version (default: random)")
    parser.add_argument("--rows", type=int, default=12000, help="rows of the random dataset")
    parser.add_argument("--items", type=int, default=1024, help="triplets per loader epoch")
    parser.add_argument("--train-items", type=int, default=256, help="triplets per training epoch")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        dataset = args.dataset
        if dataset is None:  # singers x 4 performances x 10 windows x 2 mixes = rows
            dataset = write_random_dataset(Path(tmp) / "v", singers=max(4, args.rows // 80))
        shards = sorted(dataset.glob("mono-*.npy")) + sorted(dataset.glob("mix-*.npy"))
        size_gb = sum(p.stat().st_size for p in shards) / 1e9
        print(f"dataset {dataset}: {len(shards)} shard files, {size_gb:.2f} GB; "
              f"load average {os.getloadavg()[0]:.1f}")
        drop_pages(shards)
        print(f"after POSIX_FADV_DONTNEED: {resident_share(shards):.1%} of the shard bytes "
              "resident (fincore)")
        pinned = next(iter(loader(triplets(dataset, BATCH, 0), 0, True)))[0].is_pinned()
        print(f"pin_memory=True gives pinned tensors here: {pinned} "
              f"(accelerator available: {torch.cuda.is_available()})\n")
        print("| loader alone | cache | workers | pin_memory | items/s (wall) | items per CPU-s "
              "| segments per CPU-s | resident before |")
        print("|---|---|---:|---|---:|---:|---:|---:|")
        rates = {}
        for cold in (True, False):
            for workers in (0, 1, 2):
                for pin in (False, True):
                    if not cold and pin:
                        continue
                    runs = [epoch_rate(dataset, shards, args.items, workers=workers, pin=pin,
                                       cold=cold, seed=e) for e in range(args.epochs)]
                    wall, cpu, resident = (statistics.median(r[i] for r in runs) for i in range(3))
                    rates[cold, workers, pin] = cpu
                    print(f"| | {'cold' if cold else 'warm'} | {workers} | {pin} | {wall:,.0f} | "
                          f"{cpu:,.0f} | {cpu * (2 + NEGATIVES):,.0f} | {resident:.1%} |")
        step = train_step()
        a = torch.randn(BATCH, 129, 128)
        fixed = (a, a.clone(), torch.randn(BATCH, NEGATIVES, 129, 128))
        step(fixed)  # warm-up
        times = []
        for _ in range(args.epochs):
            start = cpu_seconds()
            for _ in range(args.train_items // BATCH):
                step(fixed)
            times.append(cpu_seconds() - start)
        model_rate = args.train_items / statistics.median(times)
        fed = {w: [epoch_rate(dataset, shards, args.train_items, workers=w, pin=False, cold=True,
                              seed=e, step=step) for e in range(args.epochs)] for w in (0, 1)}
        fed = {w: (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
               for w, runs in fed.items()}
        print(f"\ntraining CROSS, 1 thread, per CPU-s: model on in-memory tensors "
              f"{model_rate:,.1f} items ({model_rate * 6:,.0f} segments); fed from cold shards "
              f"{fed[0][1]:,.1f} items with 0 workers, {fed[1][1]:,.1f} with 1 worker (wall: "
              f"{fed[0][0]:,.1f} and {fed[1][0]:,.1f} items/s, contended)")
        slowest = min(rates[True, w, False] for w in (0, 1, 2))
        print(f"the slowest cold loader is {slowest / model_rate:.0f}x the model's rate per "
              f"CPU-s: {'it keeps up' if slowest > 2 * model_rate else 'it is a bottleneck'}")
        workdir = Path(tmp) / "damp"
        workdir.mkdir()
        write_damp_scale_workdir(workdir)
        plan = subprocess.run(
            [sys.executable, "-m", "pipeline", "plan-training", "--config",
             str(ROOT / "config/config.yaml"), str(ROOT / "config/damp-musdb.yaml"),
             "--manifest", str(workdir / "results/manifests/vocals.parquet"),
             "--segments-per-s", f"{fed[0][1] * 6:.0f}"],
            capture_output=True, text=True, check=True, cwd=ROOT)
        print("\npython -m pipeline plan-training (paper's schedule at DAMP size, at the rate "
              f"fed from cold shards, 0 workers: {fed[0][1] * 6:,.0f} segments per CPU-s):\n{plan.stdout}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
