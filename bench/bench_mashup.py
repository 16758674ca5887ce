"""Speed of the mashup stage: mixing + log-mel per core, peak memory, shard reading.

Single thread (BLAS threads pinned to 1).  Per pair the mix job mixes (RMS balance, level,
peak limit) and computes two log-mels (mono and mix); x-realtime = pair audio seconds (one
3-s segment per pair) / CPU seconds, median of --repeats.  Decoding is excluded (see
bench_analysis.py) and so is the vocal beat grid, placed by the analysis stage.  Shard
reading: a memmap loader (``np.load(mmap_mode="r")``) gathering random sorted batches from
float16 shards already in the page cache, in GB/s.  Join throughput on random tables.
With --dataset/--truth: the built mixes checked against the demo corpus's ground truth.

    python bench/bench_mashup.py [--pairs 256] [--repeats 5] [--shard-rows 4000]
        [--dataset results/datasets/<version> --truth results/demo/truth]
"""

from __future__ import annotations

import dataclasses
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.fft  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.core.segment import N_MELS, SAMPLE_RATE, SEGMENT_FRAMES, SEGMENT_SAMPLES  # noqa: E402
from pipeline.core.signal import frame_rms  # noqa: E402
from pipeline.dataset.features import FeatureParams, log_mel  # noqa: E402
from pipeline.mashup.mixing import mix_pair  # noqa: E402


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.process_time()  # CPU seconds: fair on a shared machine
        fn()
        times.append(time.process_time() - t0)
    return float(np.median(times))


def _float32_blas_log_mel(x, batch=8):
    """The previous log-mel: float32 FFT and a float32 BLAS mel product, in batches.

    Its bytes change with the batch size and the BLAS kernel (tests/test_determinism.py);
    kept here only for the cost ratio of the machine-independent float64 path."""
    import librosa

    from pipeline.core.segment import HOP_LENGTH, N_FFT, N_MELS

    basis = np.ascontiguousarray(librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT,
                                                     n_mels=N_MELS).T, dtype=np.float32)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    out = []
    for i in range(0, len(x), batch):
        padded = np.pad(x[i:i + batch], ((0, 0), (N_FFT // 2, N_FFT // 2)))
        frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT, axis=-1)[:, ::HOP_LENGTH]
        mag = np.abs(scipy.fft.rfft(frames * window, axis=-1, workers=1))
        out.append(np.log10(1 + 10 * (mag @ basis), dtype=np.float32))
    return np.concatenate(out).astype(np.float16)


def _float32_frame_rms(y):
    """The previous mixing frame RMS (float32 block energies, BLAS-like einsum)."""
    from pipeline.core.segment import HOP_LENGTH, N_FFT

    y = np.asarray(y, dtype=np.float32)
    n_full = len(y) // HOP_LENGTH
    blocks = y[:n_full * HOP_LENGTH].reshape(n_full, HOP_LENGTH)
    tail = y[n_full * HOP_LENGTH:]
    energy = np.concatenate([[0.0], np.einsum("ij,ij->i", blocks, blocks).astype(np.float64),
                             [float(np.dot(tail, tail))]])
    return np.sqrt((energy[:-1] + energy[1:]) / N_FFT)


def bench_mixing(n, repeats, rng, batch=FeatureParams().batch_size):
    """Random vocal windows and accompaniment segments, as a mix job sees them after decoding
    (the vocal beat grid is placed by the analysis stage: see bench_analysis.py)."""
    vocals = (0.1 * rng.standard_normal((n, SEGMENT_SAMPLES))).astype(np.float32)
    acc = (0.2 * rng.standard_normal((n, SEGMENT_SAMPLES))).astype(np.float32)
    params = FeatureParams(batch_size=batch)
    seconds = n * SEGMENT_SAMPLES / SAMPLE_RATE

    def mix_only():
        return [mix_pair(vocals[i], acc[i]).mix for i in range(n)]

    mixes = np.stack(mix_only())

    def whole():  # as mashup.mix_pairs: mix each pair, log-mel of vocal and mix in batches
        m = np.stack(mix_only())
        log_mel(vocals, **dataclasses.asdict(params))
        log_mel(m, **dataclasses.asdict(params))

    rows = {}
    for name, fn in (("mix (balance+level)", mix_only),
                     ("frame RMS x3, float64 cumsum", lambda: [frame_rms(v) for v in
                                                              np.concatenate([vocals, acc, mixes])]),
                     ("frame RMS x3, float32 (previous)", lambda: [
                         _float32_frame_rms(v) for v in np.concatenate([vocals, acc, mixes])]),
                     ("log-mel x1, float32 BLAS (previous)", lambda: _float32_blas_log_mel(vocals)),
                     ("log-mel x1 (float64, as shipped)",
                      lambda: log_mel(vocals, **dataclasses.asdict(params), dtype=np.float16)),
                     ("log-mel x2 (mono+mix)", lambda: (log_mel(vocals, **dataclasses.asdict(params)),
                                                        log_mel(mixes, **dataclasses.asdict(params)))),
                     ("whole pair (mix + 2 log-mels)", whole)):
        t = _median_time(fn, repeats)
        rows[name] = (n / t, seconds / t)
    for name, (per_s, xrt) in rows.items():
        print(f"  {name:34s} {per_s:8.0f} pairs/s/core  {xrt:8.0f} x realtime")
    old, new = rows["log-mel x1, float32 BLAS (previous)"][0], rows["log-mel x1 (float64, as shipped)"][0]
    print(f"  machine-independent / previous log-mel speed: {new / old:.2f}x")
    old, new = rows["frame RMS x3, float32 (previous)"][0], rows["frame RMS x3, float64 cumsum"][0]
    print(f"  machine-independent / previous frame RMS speed: {new / old:.2f}x")
    for size in (8, 64):
        t = _median_time(lambda: log_mel(vocals, batch_size=size), repeats)
        print(f"  log-mel x1, batches of {size:3d}        {n / t:8.0f} pairs/s/core  "
              f"{seconds / t:8.0f} x realtime")


def bench_join(n_windows, rng, n_segments=60000, n_tracks=150):
    """Join throughput on random tables of musdb-like size (tolerance 2 BPM, relative keys)."""
    import pandas as pd

    from pipeline.mashup.join import join_windows
    from pipeline.mashup.tiers import Tier

    perf = rng.integers(0, n_windows // 10, n_windows)
    windows = pd.DataFrame({"perf_id": [f"p{p:06d}" for p in perf], "singer": [f"s{p // 10}" for p in perf],
                            "song": "x", "start": rng.integers(0, 10**7, n_windows),
                            "key": rng.integers(0, 24, n_windows),
                            "tempo_bpm": rng.uniform(70, 160, n_windows)})
    windows = windows.drop_duplicates(["perf_id", "start"])
    track = rng.integers(0, n_tracks, n_segments)
    segments = pd.DataFrame({"track_id": [f"t{t}" for t in track], "beat_index": np.arange(n_segments),
                             "start": rng.integers(0, 4 * 10**6, n_segments),
                             "key": rng.integers(0, 24, n_segments),
                             "tempo_bpm": rng.uniform(70, 160, n_tracks)[track]})
    tracks = pd.DataFrame({"track_id": [f"t{i}" for i in range(n_tracks)], "audio_length": 5 * 10**6})
    split = pd.DataFrame({"id": windows["perf_id"].unique(), "subset": "train"})
    t0 = time.process_time()
    res = join_windows(windows, segments, tracks, split, seed=1,
                       policy=[Tier("bpm2 relative", tempo_tolerance_bpm=2, relative_keys=True)],
                       mixes_per_window=2, max_segment_uses=20)
    t = time.process_time() - t0
    print(f"  {len(windows)} windows x {n_segments} segments: {t:.1f} s CPU, "
          f"{len(windows) / t:.0f} windows/s, {len(res.pairs)} pairs")


def bench_reading(rows, repeats, rng, batch=32):
    tmp = Path(tempfile.mkdtemp(prefix="bench_shards_"))
    try:
        n_shards = 2
        for k in range(n_shards):
            data = rng.standard_normal((rows, SEGMENT_FRAMES, N_MELS)).astype(np.float16)
            np.save(tmp / f"mix-{k:06d}.npy", data)
            del data
        maps = [np.load(tmp / f"mix-{k:06d}.npy", mmap_mode="r") for k in range(n_shards)]
        for m in maps:  # into the page cache
            np.asarray(m).sum(dtype=np.float32)
        row_bytes = SEGMENT_FRAMES * N_MELS * 2
        n_batches = 2 * rows // batch

        def sequential():
            for m in maps:
                for i in range(0, rows, 256):
                    np.array(m[i:i + 256])

        def sequential_f32():
            for m in maps:
                for i in range(0, rows, 256):
                    np.array(m[i:i + 256], dtype=np.float32)

        def random_batches():
            for _ in range(n_batches):
                k = int(rng.integers(n_shards))
                r = np.sort(rng.choice(rows, batch, replace=False))
                np.asarray(maps[k][r], dtype=np.float32)  # as the training reader does

        t_seq = _median_time(sequential, repeats)
        t_f32 = _median_time(sequential_f32, repeats)
        t_rand = _median_time(random_batches, repeats)
        print(f"  sequential memmap read (float16)  {n_shards * rows * row_bytes / t_seq / 1e9:6.2f} GB/s")
        print(f"  sequential read + cast to float32 {n_shards * rows * row_bytes / t_f32 / 1e9:6.2f} GB/s")
        rate = n_batches * batch * row_bytes / t_rand / 1e9
        print(f"  random batches of {batch} -> float32  {rate:6.2f} GB/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_against_truth(dataset, truth):
    """Share of mixes whose vocal and accompaniment truly share whole-BPM tempo and key (over
    the accompaniment segment's whole length: one spanning a true key change fails), and how
    close the vocal starts are to true vocal beats (demo corpus only)."""
    import pandas as pd

    from pipeline.core.music import key_index

    index = pd.read_parquet(Path(dataset) / "index.parquet")
    vocals = pd.read_parquet(Path(truth) / "vocals.parquet").set_index("perf_key")
    accs = pd.read_parquet(Path(truth) / "accompaniments.parquet").set_index("track")
    key_ok = tempo_ok = vocal_key_ok = acc_key_ok = 0
    to_beat = []
    for r in index.itertuples():
        v, a = vocals.loc[r.perf_id], accs.loc[r.acc_track.split("/")[-1]]
        changes = np.asarray(a.key_change_s) * SAMPLE_RATE
        first = max(int(np.searchsorted(changes, r.acc_start, side="right")) - 1, 0)
        last = max(int(np.searchsorted(changes, r.acc_start + SEGMENT_SAMPLES - 1, side="right")) - 1, 0)
        true_acc = key_index(a.key_names[first]) if first == last else -1
        key_ok += true_acc == key_index(v.key)
        vocal_key_ok += r.key == key_index(v.key)
        acc_key_ok += r.acc_key == true_acc
        tempo_ok += round(a.tempo_bpm) == round(v.tempo_bpm)
        beats = np.asarray(v.beat_times_s) * SAMPLE_RATE
        to_beat.append(np.min(np.abs(beats - r.vocal_start)) / (60 * SAMPLE_RATE / v.tempo_bpm))
    n = len(index)
    to_beat = np.array(to_beat)
    print(f"  {n} mixes: true key equal {key_ok / n:.3f} (vocal key right {vocal_key_ok / n:.3f}, "
          f"accompaniment segment wholly in its estimated key {acc_key_ok / n:.3f}); "
          f"true tempo equal (whole BPM) {tempo_ok / n:.3f}")
    print(f"  vocal start to nearest true beat: median {np.median(to_beat):.3f} beat, "
          f"within 0.1 beat {np.mean(to_beat < 0.1):.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shard-rows", type=int, default=4000)
    parser.add_argument("--join-windows", type=int, default=50000)
    parser.add_argument("--dataset", help="a dataset directory built from the demo corpus")
    parser.add_argument("--truth", help="the demo corpus truth/ directory (with --dataset)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"mixing + log-mel, {args.pairs} pairs of {SEGMENT_SAMPLES} samples, 1 thread, "
          f"median of {args.repeats}:")
    bench_mixing(args.pairs, args.repeats, rng)
    print("join:")
    bench_join(args.join_windows, rng)
    print(f"shard reading, 2 shards x {args.shard_rows} rows float16 (page cache):")
    bench_reading(args.shard_rows, args.repeats, rng)
    if args.dataset and args.truth:
        print(f"against the demo truth ({args.dataset}):")
        check_against_truth(args.dataset, args.truth)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:.0f} MB")


if __name__ == "__main__":
    main()
