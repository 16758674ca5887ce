"""Coverage forecast at DAMP scale: a synthetic DAMP-sized analysis table through the real join.

Vocals: 34,620 performances by 3,462 singers, 10 distinct songs each (DAMP as used by the
paper), drawn from a pool of ``--songs`` songs; up to 20 analysis windows per performance
(``svd.max_windows`` of config/damp-musdb.yaml; N(18, 4) clipped to 3..20, the shorter ones
standing for quiet performances).  Accompaniments: 150 tracks (musdb18), lengths log-normal
around a 230 s median (musdb18 holds ~10 h in 150 tracks, i.e. ~240 s on average), clipped to
90..600 s, a segment at every beat, one key section or (25 %) two, the second a modulation
up one or two semitones after 60 % of the track.

Distributions (stated; the exact numbers are our assumptions in the spirit of the sources):
- Tempo: log-normal, median 110 BPM, sigma 0.2 in log, clipped to 60..200 BPM.  Tempi of
  popular and dance music cluster around 100-130 BPM with a peak near 120 BPM (Moelants,
  "Preferred tempo reconsidered", ICMPC 7, 2002; McKinney & Moelants, "Ambiguity in tempo
  perception", Music Perception 24(2), 2006).
- Key: 75 % major; tonic weights favouring the guitar and piano keys (C, G, D, A, E, F above
  the rest: weights 9 8 7 6 6 5 for them, 2..3 for the others).  Major keys dominate
  popular-music corpora, e.g. the McGill Billboard corpus (Burgoyne, Wild & Fujinaga, "An
  expert ground truth set for audio chord recognition and music analysis", ISMIR 2011) and
  the Rolling Stone 200 (de Clercq & Temperley, "A corpus analysis of rock harmony",
  Popular Music 30(1), 2011).
- Estimates (modelled noise): accompaniment tempo = truth x (1 + N(0, 0.3 %)), 5 % octave
  errors; segment keys = their section's key with p 0.85, else a fifth away or the relative;
  key margins uniform on 0..0.3 (so ~17 % fall below ``min_key_margin`` 0.05 and are not
  used).  Vocal tempo: ``table`` (the authors' DAMP tempo table: the song's tempo, as
  config/damp-musdb.yaml uses) or ``estimated`` (issue #15's measurement of our estimator:
  65 % within 4 % of the truth, N(0, 1.5 %); 20 % an octave off; 15 % anywhere in 60..200
  BPM); window keys = the performance's key with p 0.75, relative 0.08, a fifth away 0.10,
  the parallel 0.03, random 0.04.

For each policy: share of windows and of performances matched (a performance reaches the
dataset when one window is paired), singers with >= 10 performances in the dataset, whether
the paper's split (1000 training + 300 unseen singers with 6 + 4 tracks) can be drawn from
them, the share of windows per tier, the reuse histogram of accompaniment segments and the
CPU time of the join (one core, contended machine: compare within one run).

    python bench/bench_join_coverage.py [--vocal-tempo table|estimated] [--singers 3462]
        [--policies strict authors default ...]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.core.errors import ConfigError  # noqa: E402
from pipeline.core.segment import SAMPLE_RATE  # noqa: E402
from pipeline.mashup.join import join_windows  # noqa: E402
from pipeline.mashup.tiers import PRESETS, Tier  # noqa: E402
from pipeline.sources.split import SplitParams, split_singers  # noqa: E402

TONIC_WEIGHTS = np.array([9, 2, 7, 3, 6, 5, 2, 8, 3, 6, 3, 2], float)  # C C# D ... B
CANDIDATES = {
    "tempo only": (Tier("exact"), Tier("bpm2", tempo_tolerance_bpm=2),
                   Tier("pct4 half/double", tempo_tolerance_bpm=2, tempo_tolerance_percent=4,
                        half_double=True)),
    "shift": (Tier("exact"), Tier("shift", tempo_tolerance_bpm=2, half_double=True,
                                  max_semitones=3, max_stretch_percent=6)),
}
POLICIES = {**PRESETS, **CANDIDATES}


def draw_tempo(rng, n):
    return np.clip(np.exp(rng.normal(np.log(110.0), 0.2, n)), 60, 200)


def draw_key(rng, n):
    tonic = rng.choice(12, n, p=TONIC_WEIGHTS / TONIC_WEIGHTS.sum())
    return tonic + 12 * (rng.random(n) >= 0.75)


def relative(k):
    return np.where(k < 12, (k + 9) % 12 + 12, (k - 12 + 3) % 12)


def fifth(k, rng):
    step = np.where(rng.random(len(k)) < 0.5, 7, 5)
    return (k // 12) * 12 + (k + step) % 12


def noisy_keys(k, rng, p_same, p_rel, p_fifth, p_par):
    u = rng.random(len(k))
    out = np.where(u < p_same, k, rng.integers(0, 24, len(k)))
    c = np.cumsum([p_same, p_rel, p_fifth, p_par])
    out = np.where((u >= c[0]) & (u < c[1]), relative(k), out)
    out = np.where((u >= c[1]) & (u < c[2]), fifth(k, rng), out)
    return np.where((u >= c[2]) & (u < c[3]), (k + 12) % 24, out)


def vocal_table(rng, singers, songs, vocal_tempo):
    song_tempo, song_key = draw_tempo(rng, songs), draw_key(rng, songs)
    perf_song = np.concatenate([rng.choice(songs, 10, replace=False) for _ in range(singers)])
    perf_singer = np.repeat(np.arange(singers), 10)
    n_perf = len(perf_song)
    truth = song_tempo[perf_song]
    if vocal_tempo == "table":
        tempo = truth
    else:
        u = rng.random(n_perf)
        tempo = truth * (1 + rng.normal(0, 0.015, n_perf))
        tempo = np.where((u >= 0.65) & (u < 0.85), truth * rng.choice([0.5, 2.0], n_perf), tempo)
        tempo = np.where(u >= 0.85, rng.uniform(60, 200, n_perf), tempo)
    n_win = np.clip(np.round(rng.normal(18, 4, n_perf)), 3, 20).astype(int)
    perf = np.repeat(np.arange(n_perf), n_win)
    key = noisy_keys(song_key[perf_song][perf], rng, 0.75, 0.08, 0.10, 0.03)
    start = np.concatenate([np.arange(k) for k in n_win]) * (SAMPLE_RATE * 3 // 2)
    ids = np.array([f"p{i:05d}" for i in range(n_perf)], dtype=object)
    names = np.array([f"s{i:04d}" for i in range(singers)], dtype=object)
    windows = pd.DataFrame({"perf_id": ids[perf], "singer": names[perf_singer[perf]],
                            "song": perf_song[perf].astype(str), "start": start.astype(np.int64),
                            "key": key.astype(np.int64), "tempo_bpm": tempo[perf],
                            "key_margin": rng.uniform(0, 0.3, len(perf))})
    manifest = pd.DataFrame({"id": ids, "singer": names[perf_singer]})
    return windows, manifest


def accompaniment_tables(rng, n_tracks=150):
    length_s = np.clip(np.exp(rng.normal(np.log(230.0), 0.3, n_tracks)), 90, 600)
    tempo_true, key0 = draw_tempo(rng, n_tracks), draw_key(rng, n_tracks)
    est = tempo_true * (1 + rng.normal(0, 0.003, n_tracks))
    octave = rng.random(n_tracks) < 0.05
    est = np.where(octave, est * rng.choice([0.5, 2.0], n_tracks), est)
    segs = []
    for t in range(n_tracks):
        beats = np.arange(0.0, length_s[t] - 3.0, 60.0 / tempo_true[t])
        change = 0.6 * length_s[t] if rng.random() < 0.25 else np.inf
        key = np.where(beats + 3.0 <= change, key0[t],
                       (key0[t] // 12) * 12 + (key0[t] + rng.integers(1, 3)) % 12)
        key = noisy_keys(key, rng, 0.85, 0.05, 0.10, 0.0)
        margin = np.minimum(np.abs(beats - change), np.abs(beats + 3.0 - change))
        margin = np.where(np.isfinite(change), np.where((beats < change) & (beats + 3 > change),
                                                        -margin, margin), np.inf)
        segs.append(pd.DataFrame({"track_id": f"t{t:03d}", "beat_index": np.arange(len(beats)),
                                  "start": np.round(beats * SAMPLE_RATE).astype(np.int64),
                                  "key": key.astype(np.int64), "tempo_bpm": est[t],
                                  "key_margin": rng.uniform(0, 0.3, len(beats)),
                                  "change_margin_s": margin}))
    tracks = pd.DataFrame({"track_id": [f"t{t:03d}" for t in range(n_tracks)],
                           "audio_length": np.round(length_s * SAMPLE_RATE).astype(np.int64)})
    return pd.concat(segs, ignore_index=True), tracks


def reuse_histogram(usage: pd.DataFrame) -> str:
    bins = [(0, 0), (1, 1), (2, 5), (6, 10), (11, 19), (20, 10**9)]
    u, n = usage["uses"].to_numpy(), usage["segments"].to_numpy()
    parts = [f"{n[(u >= a) & (u <= b)].sum()}" for a, b in bins]
    return "/".join(parts)


def run(windows, manifest, segments, tracks, name, policy, seed):
    t0 = time.process_time()
    res = join_windows(windows, segments, tracks, None, seed=seed, policy=policy,
                       max_segment_uses=20, key_change_margin_s=0.5, min_key_margin=0.05)
    cpu = time.process_time() - t0
    cov = res.coverage.iloc[0]
    reached = res.pairs["perf_id"].unique()
    per_singer = manifest[manifest["id"].isin(reached)].groupby("singer").size()
    try:
        split_singers(manifest, SplitParams(unseen_singers=300, train_singers=1000), seed,
                      reached=reached)
        paper = "yes"
    except ConfigError as exc:
        paper = "no: " + str(exc).split(": ")[-1]
    tiers = ", ".join(f"{t.name} {cov[f'tier:{t.name}'] / cov['windows']:.1%}" for t in policy)
    return {"policy": name, "windows": f"{cov['share_matched']:.1%}",
            "performances": f"{len(reached) / len(manifest):.1%}",
            "singers >=10": int((per_singer >= 10).sum()), "paper split": paper,
            "tiers (share of windows)": tiers, "reuse 0/1/2-5/6-10/11-19/20": reuse_histogram(res.usage),
            "CPU s": f"{cpu:.1f}"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--singers", type=int, default=3462)
    ap.add_argument("--songs", type=int, default=2000)
    ap.add_argument("--vocal-tempo", choices=["table", "estimated"], default="table")
    ap.add_argument("--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    windows, manifest = vocal_table(rng, args.singers, args.songs, args.vocal_tempo)
    segments, tracks = accompaniment_tables(rng)
    print(f"{len(manifest)} performances of {args.singers} singers, {len(windows)} windows; "
          f"{len(tracks)} accompaniments, {len(segments)} segments; vocal tempo: {args.vocal_tempo}")
    rows = []
    for name in args.policies:
        rows.append(run(windows, manifest, segments, tracks, name, POLICIES[name], args.seed))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False))
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
