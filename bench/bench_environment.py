"""How much a singer's recording environment helps feature baselines within and across domains.

Renders a demo corpus in memory (``--singers`` singers x ``--perfs`` performances, default
durations) at each ``--strengths`` value of ``demo.params.environment_strength`` (0: every
recording's room is its own; 1: the singer's home room tone and room), cuts each
performance into 3-s windows at least 70 % voiced (by the generator's truth), mixes each
window at 0 dB with a random segment of the demo accompaniments (``mix_pair``, as the DAG
does), and scores two baselines on the log-mel features of the DAG:

- MFCC mean+std nearest centroid (``pipeline.evaluate.songs``'s vector, standardised per
  domain; cosine against each singer's centroid of model tracks);
- GMM-UBM (``pipeline.evaluate.gmm_ubm``, ``--components`` components, UBM of the target
  domain fitted on the model tracks' frames).

Six tracks per singer are models, the rest queries; Mono2Mono scores mono queries against
mono models, Mono2Mix mono queries against mixed models (the paper's protocol).  It also
prints the log-mel level of silent frames (the room tone as the networks see it) against
voiced frames, per band group, and the generation time per strength (x-realtime).

    python bench/bench_environment.py [--singers 30] [--perfs 10] [--strengths 0 1]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.core.random import rng_for  # noqa: E402
from pipeline.core.segment import HOP_LENGTH, SAMPLE_RATE, SEGMENT_SAMPLES  # noqa: E402
from pipeline.dataset.features import log_mel  # noqa: E402
from pipeline.demo import preset  # noqa: E402
from pipeline.demo.accompaniment import render_track  # noqa: E402
from pipeline.demo.corpus import SR, synthesise_performance  # noqa: E402
from pipeline.demo.plan import (  # noqa: E402
    covered_pairs,
    plan_performances,
    plan_songs,
    plan_tracks,
)
from pipeline.evaluate.gmm_ubm import (  # noqa: E402
    fit_ubm,
    llr_scores,
    map_adapt_means,
    mfcc_from_logmel,
)
from pipeline.evaluate.songs import mfcc_vectors_raw, standardise  # noqa: E402
from pipeline.mashup.mixing import active_frames, active_rms, mix_pair  # noqa: E402

MODEL_TRACKS = 6
WINDOWS_PER_TRACK = 6


def voiced_windows(truth: dict, n: int, *, min_share: float = 0.7) -> list[int]:
    """Start samples (at 22,050 Hz) of non-overlapping windows at least ``min_share`` voiced."""
    t = (np.arange(SEGMENT_SAMPLES * (n // SEGMENT_SAMPLES)) / SAMPLE_RATE)[::HOP_LENGTH]
    on = np.zeros(len(t), bool)
    for a, b in zip(truth["voiced_start_s"], truth["voiced_end_s"]):
        on |= (t >= a) & (t < b)
    per = SEGMENT_SAMPLES // HOP_LENGTH
    starts = [i * SEGMENT_SAMPLES for i in range(n // SEGMENT_SAMPLES)
              if on[i * per:(i + 1) * per].mean() >= min_share]
    return starts[:WINDOWS_PER_TRACK]


def _render(job):
    plan, params = job
    y, truth = synthesise_performance(plan, params)
    y = soxr.resample(y, SR, SAMPLE_RATE, quality="HQ")
    starts = voiced_windows(truth, len(y))
    return plan.user_id, np.stack([y[s:s + SEGMENT_SAMPLES] for s in starts]) if starts else None


def accompaniments(params, n_tracks: int) -> list[np.ndarray]:
    """Mono mixtures (22,050 Hz) of the first ``n_tracks`` demo accompaniments."""
    out = []
    for plan in plan_tracks(params)[:n_tracks]:
        stems, _ = render_track(plan, sr=SR, rng=rng_for(params.seed, "track", plan.name))
        out.append(soxr.resample(stems["mixture"].mean(axis=1), SR, SAMPLE_RATE, quality="HQ"))
    return out


def mixes(windows: np.ndarray, accs: list[np.ndarray], rng, *, target_rms: float = 0.1
          ) -> np.ndarray:
    """Each window mixed at 0 dB with a random segment of a random accompaniment."""
    out = np.empty_like(windows)
    for i, w in enumerate(windows):
        acc = accs[rng.integers(len(accs))]
        start = rng.integers(len(acc) - SEGMENT_SAMPLES)
        out[i] = mix_pair(w, acc[start:start + SEGMENT_SAMPLES], snr_db=0.0,
                          target_rms=target_rms).mix
    return out


def at_level(windows: np.ndarray, level: float) -> np.ndarray:
    """Each window scaled to active RMS ``level`` (frames above 0.02, as the mixing does)."""
    out = np.empty_like(windows)
    for i, w in enumerate(windows):
        out[i] = w * np.float32(level / active_rms(w, active_frames(w, threshold=0.02)))
    return out


def centroid_top1(query: np.ndarray, q_lab, model: np.ndarray, m_lab) -> float:
    """Cosine nearest-centroid top-1 of query vectors against per-singer model centroids."""
    labels = np.unique(m_lab)
    cent = np.stack([model[m_lab == s].mean(axis=0) for s in labels])
    cent /= np.linalg.norm(cent, axis=1, keepdims=True)
    q = query / np.linalg.norm(query, axis=1, keepdims=True)
    return float(np.mean(labels[np.argmax(q @ cent.T, axis=1)] == q_lab))


def gmm_top1(q_frames, q_lab, m_frames, m_lab, *, components: int, seed: int) -> float:
    """GMM-UBM top-1: UBM on all model frames, MAP means per singer, LLR of each query."""
    labels = np.unique(m_lab)
    pool = np.concatenate(m_frames)
    pick = np.random.default_rng(seed).choice(len(pool), min(len(pool), 40000), replace=False)
    ubm = fit_ubm(pool[np.sort(pick)], n_components=components, max_iter=50, seed=seed)
    means = np.stack([map_adapt_means(ubm, np.concatenate([f for f, s in zip(m_frames, m_lab)
                                                           if s == lab])) for lab in labels])
    hits = [labels[np.argmax(llr_scores(ubm, means, f, n_top=5))] == s
            for f, s in zip(q_frames, q_lab)]
    return float(np.mean(hits))


def silent_levels(mels: np.ndarray) -> str:
    """Median log-mel value of the quietest 10 % of frames vs all frames, per band group."""
    frames = mels.reshape(-1, mels.shape[-1]).astype(np.float64)
    quiet = frames[frames.mean(axis=1) <= np.quantile(frames.mean(axis=1), 0.1)]
    groups = {"<150 Hz": slice(0, 6), "150-1k": slice(6, 39), "1-4k": slice(39, 82),
              ">4k": slice(82, 128)}
    return ", ".join(f"{g} {np.median(quiet[:, s]):.4f}/{np.median(frames[:, s]):.4f}"
                     for g, s in groups.items())


def run(strength: float, args) -> None:
    params = preset("default", singers=args.singers, performances_per_singer=args.perfs,
                    seed=args.seed, environment_strength=strength)
    perfs = plan_performances(params, plan_songs(params, covered_pairs(plan_tracks(params))))
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        rendered = pool.map(_render, [(p, params) for p in perfs], chunksize=4)
    gen_s = time.perf_counter() - t0
    audio_s = sum(p.duration_s for p in perfs)
    accs = accompaniments(params, args.tracks)
    rng = np.random.default_rng(args.seed)
    tracks, seen = [], {}
    for singer, windows in rendered:
        if windows is None:
            continue
        if args.level:
            mono = log_mel(np.clip(at_level(windows, args.level), -1, 1))
            mix = log_mel(mixes(windows, accs, rng, target_rms=args.level * np.sqrt(2)))
        else:
            mono = log_mel(windows)
            mix = log_mel(mixes(windows, accs, rng))
        seen[singer] = seen.get(singer, 0) + 1
        tracks.append((singer, seen[singer] <= MODEL_TRACKS, mono, mix))
    lab = np.array([t[0] for t in tracks])
    is_model = np.array([t[1] for t in tracks])
    vec = {d: standardise(np.stack([mfcc_vectors_raw(t[2 + i]) for t in tracks]))
           for i, d in enumerate(("mono", "mix"))}
    frames = {d: [mfcc_from_logmel(t[2 + i]).reshape(-1, 13) for t in tracks]
              for i, d in enumerate(("mono", "mix"))}
    q, m = ~is_model, is_model
    print(f"environment_strength {strength:g}: {len(perfs)} performances ({audio_s:.0f} s) "
          f"rendered in {gen_s:.1f} s ({audio_s / gen_s:.0f}x realtime, {args.workers} "
          f"workers); {q.sum()} query / {m.sum()} model tracks of {len(np.unique(lab))} singers")
    print(f"  silent vs all frames (log-mel medians), mono: {silent_levels(np.concatenate([t[2] for t in tracks]))}")
    print(f"  silent vs all frames (log-mel medians), mix:  {silent_levels(np.concatenate([t[3] for t in tracks]))}")
    for name, (src, tgt) in {"Mono2Mono": ("mono", "mono"), "Mono2Mix": ("mono", "mix"),
                             "Mix2Mix": ("mix", "mix")}.items():
        mfcc = centroid_top1(vec[src][q], lab[q], vec[tgt][m], lab[m])
        gmm = gmm_top1([f for f, k in zip(frames[src], q) if k], lab[q],
                       [f for f, k in zip(frames[tgt], m) if k], lab[m],
                       components=args.components, seed=args.seed)
        print(f"  {name:9s} MFCC mean+std centroid {mfcc:.3f}   GMM-UBM {gmm:.3f}   "
              f"(chance {1 / len(np.unique(lab)):.3f})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--singers", type=int, default=30)
    ap.add_argument("--perfs", type=int, default=10)
    ap.add_argument("--tracks", type=int, default=8, help="accompaniments to mix with")
    ap.add_argument("--components", type=int, default=32, help="GMM components")
    ap.add_argument("--strengths", type=float, nargs="+", default=[0.0, 1.0])
    ap.add_argument("--level", type=float, default=0.0,
                    help="active RMS of the mono windows (mixes at sqrt(2) times it); 0: the "
                    "DAG's (mono as recorded, mixes at mashup.target_rms 0.1)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    for strength in args.strengths:
        run(strength, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
