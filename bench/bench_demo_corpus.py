"""Benchmark the demo corpus generator: time, x-realtime, peak memory, and how hard it is.

Prints the generation time of the default corpus (s, median of --repeats), audio seconds
generated per second (x-realtime, wall clock and per core), peak memory (resource.getrusage,
this process and its workers), and the singer-identification accuracy of a trivial feature:
nearest centroid on per-performance mean MFCCs (librosa, 20 coefficients) of the a-cappella
performances, each held-out performance against the per-singer means of the others.  The
generator is tuned so this stays below 90 % (no trivial feature names the singer) and well
above chance (timbre carries identity).

    python bench/bench_demo_corpus.py [--small] [--repeats 1] [--workers 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.core.audio import load_audio  # noqa: E402
from pipeline.demo import generate_corpus, preset  # noqa: E402


def mean_mfccs(root: Path, paths) -> np.ndarray:
    """Per-file mean of 20 MFCCs at 22,050 Hz, shape (n_files, 20)."""
    import librosa

    rows = []
    for p in paths:
        y = load_audio(root / p)
        rows.append(librosa.feature.mfcc(y=y, sr=22050, n_mfcc=20).mean(axis=1))
    return np.array(rows)


def nearest_centroid_top1(features: np.ndarray, singers: np.ndarray) -> float:
    """Leave-one-out nearest centroid (Euclidean): each performance vs per-singer means of
    the other performances.  Returns top-1 accuracy."""
    labels, codes = np.unique(singers, return_inverse=True)
    sums = np.zeros((len(labels), features.shape[1]))
    np.add.at(sums, codes, features)
    counts = np.bincount(codes).astype(float)
    correct = 0
    for i, (x, c) in enumerate(zip(features, codes)):
        s, n = sums.copy(), counts.copy()
        s[c] -= x
        n[c] -= 1
        centroids = s / n[:, None]
        correct += int(np.argmin(((centroids - x) ** 2).sum(axis=1)) == c)
    return correct / len(features)


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (s)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="the small preset")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--params", default="{}", help="JSON overrides of DemoParams")
    ap.add_argument("--keep", default="", help="write the corpus here and keep it")
    args = ap.parse_args()
    params = preset("small" if args.small else "default", **json.loads(args.params))
    times, cpus, root = [], [], None
    for i in range(args.repeats):
        root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_demo_"))
        t0, c0 = time.perf_counter(), _cpu_seconds()
        summary = generate_corpus(root, params, workers=args.workers)
        times.append(time.perf_counter() - t0)
        cpus.append(_cpu_seconds() - c0)
        if not args.keep and i < args.repeats - 1:
            shutil.rmtree(root)
    wall, cpu = statistics.median(times), statistics.median(cpus)
    audio_s = summary["vocal_seconds"] + summary["accompaniment_seconds"]
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"corpus: {summary['performances']} performances ({summary['vocal_seconds']:.0f} s), "
          f"{summary['tracks']} tracks ({summary['accompaniment_seconds']:.0f} s)")
    print(f"generation time: {wall:.1f} s (median of {len(times)}; {args.workers} workers)")
    print(f"cpu time: {cpu:.1f} s (all processes; {cpu / args.workers:.1f} s of wall clock on "
          f"{args.workers} otherwise idle cores)")
    print(f"x-realtime: {audio_s / wall:.0f} wall, {audio_s / cpu:.0f} per cpu-second")
    print(f"peak memory: {own:.0f} MB main process, {kids:.0f} MB largest worker")
    vocals = pd.read_parquet(root / "truth/vocals.parquet")
    t0 = time.perf_counter()
    feats = mean_mfccs(root, vocals["path"])
    top1 = nearest_centroid_top1(feats, vocals["singer"].to_numpy())
    n_singers = vocals["singer"].nunique()
    print(f"nearest-centroid mean-MFCC top-1: {top1:.3f} (chance {1 / n_singers:.3f}, "
          f"{n_singers} singers; must stay < 0.90) [{time.perf_counter() - t0:.0f} s]")
    z = (feats - feats.mean(axis=0)) / feats.std(axis=0)
    print(f"  same on z-scored MFCCs: {nearest_centroid_top1(z, vocals['singer'].to_numpy()):.3f}"
          "; without c0 (level): "
          f"{nearest_centroid_top1(feats[:, 1:], vocals['singer'].to_numpy()):.3f}")
    if not args.keep:
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
