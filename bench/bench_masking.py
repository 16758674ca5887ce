"""How much the accompaniments mask the voice: the real MUSDB18 excerpt against the demo corpus.

The real file is the 6-s MUSDB18 excerpt that ships in the stempeg wheel (``The Easton
Ellises - Falcon 69``; accompaniment = drums + bass + other streams, voice = vocals stream).
Demo pairs are rendered in memory: ``--pairs`` accompaniment tracks of the default corpus,
each with one performance of a different singer.  Every figure is per 3-s segment
(65,536 samples at 22,050 Hz, hop 1 s on the real file, three per demo pair), printed as
median [min, max]:

- flatness: spectral flatness of the accompaniment (geometric over arithmetic mean of the
  power spectrum, 1024-point frames, 100 Hz..5 kHz), mean over active frames;
- LTAS: long-term average spectrum of the accompaniment in octave bands (dB re its total),
  and of the voice;
- masked share: with voice and accompaniment at 0 dB active-RMS balance (the mixer's
  ``mix_pair`` rule), the share of the voice's strong log-mel bins (within 30 dB of the
  segment's loudest voice bin) where the accompaniment's mel magnitude is larger.  Shown for
  the matched pairs (real voice on real accompaniment, demo voice on demo accompaniment) and
  crossed (the real voice on demo accompaniments), which isolates the accompaniment;
- frame-level figures, per log-mel frame of the dataset's features (n_fft 1024, hop 512,
  128 bands) with voice and accompaniment scaled as ``mix_pair`` scales them at ``--snr``
  (0 dB unless given), over the voiced frames (voice frame energy within 30 dB of the segment's loudest voice frame;
  frame energy = sum of the squared mel magnitudes, over all bands and over the 250 Hz..
  4 kHz bands, since the full-band figure is ruled by bass and kick): the share of frames
  where the voice is >= 6 dB louder than the accompaniment and the median frame
  voice-to-accompaniment ratio (dB); the accompaniment's own gaps (share of its frames more
  than 6 dB under its median voice-band energy); and the MFCC-envelope dominance, the share
  of frames whose mix MFCC vector (13 coefficients of the log1p10 log-mel, as
  ``gmm_ubm.mfcc_from_logmel``) lies closer (Euclidean) to the accompaniment's than to the
  voice's, with c0 (the GMM-UBM's features; c0 is the level and rules the distance) and
  without.  These say how many frames of a mix a frame-level model sees as clean voice;
- voice dynamics: the 90th percentile minus the median of the voice's own log-mel frame
  energies (dB) over its voiced frames (the same 3-s segments, the voice alone).

    python bench/bench_masking.py [--pairs 6] [--seed 1234] [--snr 0] [--consonant-strength 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.core.audio import load_audio, load_stems_sum  # noqa: E402
from pipeline.core.audio import resample as resample_audio  # noqa: E402
from pipeline.core.random import rng_for  # noqa: E402
from pipeline.core.segment import SAMPLE_RATE, SEGMENT_SAMPLES  # noqa: E402
from pipeline.dataset.features import compress, mel_basis, mel_magnitude  # noqa: E402
from pipeline.demo import preset  # noqa: E402
from pipeline.demo.accompaniment import render_track  # noqa: E402
from pipeline.demo.corpus import SR, synthesise_performance  # noqa: E402
from pipeline.demo.plan import covered_pairs, plan_performances, plan_songs, plan_tracks  # noqa: E402
from pipeline.evaluate.gmm_ubm import mfcc_from_logmel  # noqa: E402
from pipeline.mashup.mixing import active_frames, active_rms, mix_pair  # noqa: E402

REAL = "The Easton Ellises - Falcon 69"
OCTAVES = (63, 125, 250, 500, 1000, 2000, 4000, 8000)
STRONG_DB = 30.0
DOMINANT_DB = 6.0  # a frame is voice-dominated when the voice is this much louder
ACTIVE = 0.02  # the mixer's active-frame threshold (frame RMS, as loaded)


def real_file() -> Path:
    spec = importlib.util.find_spec("stempeg")  # locate without importing (it needs ffmpeg)
    if spec is None:
        raise SystemExit("stempeg (a test dependency) is not installed")
    return Path(spec.origin).parent / "data" / f"{REAL}.stem.mp4"


def power_spectra(y: np.ndarray, n_fft: int = 1024, hop: int = 512) -> np.ndarray:
    """Hann-windowed power spectra of ``y`` (22,050 Hz), shape (frames, n_fft // 2 + 1)."""
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, n_fft // 2), n_fft)[::hop]
    return np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2


def flatness(acc: np.ndarray, sr: int = SAMPLE_RATE, lo: float = 100.0, hi: float = 5000.0
             ) -> float:
    """Mean spectral flatness (100 Hz..5 kHz) over the active frames of ``acc``."""
    p = power_spectra(acc)
    f = np.fft.rfftfreq(1024, 1 / sr)
    band = p[:, (f >= lo) & (f <= hi)] + 1e-12
    flat = np.exp(np.log(band).mean(axis=1)) / band.mean(axis=1)
    mask = active_frames(acc, threshold=ACTIVE)[: len(flat)]
    return float(flat[mask].mean())


def ltas(acc: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Octave-band long-term average spectrum (dB re the total power), shape (len(OCTAVES),)."""
    p = power_spectra(acc).mean(axis=0)
    f = np.fft.rfftfreq(1024, 1 / sr)
    bands = np.array([p[(f >= c / np.sqrt(2)) & (f < c * np.sqrt(2))].sum() for c in OCTAVES])
    return 10 * np.log10(bands / p.sum() + 1e-12)


def masked_share(voice: np.ndarray, acc: np.ndarray) -> float:
    """Share of the voice's strong mel bins where ``acc`` dominates, at 0 dB active RMS."""
    g = active_rms(voice, active_frames(voice, threshold=ACTIVE)) / max(
        active_rms(acc, active_frames(acc, threshold=ACTIVE)), 1e-12)
    v, a = mel_magnitude(np.stack([voice, g * acc]))
    strong = 20 * np.log10(v + 1e-12) > 20 * np.log10(v.max() + 1e-12) - STRONG_DB
    return float(np.mean(a[strong] > v[strong]))


FRAME_FIGURES = ("voice >= 6 dB, full band", "median ratio dB, full band",
                 "voice >= 6 dB, 250 Hz..4 kHz", "median ratio dB, 250 Hz..4 kHz",
                 "acc frames 6 dB under its median, 250 Hz..4 kHz",
                 "MFCC nearer acc (c0..c12)", "MFCC nearer acc (c1..c12)")


def voice_band(lo: float = 250.0, hi: float = 4000.0, sr: int = SAMPLE_RATE,
               n_fft: int = 1024) -> np.ndarray:
    """Mel bands whose centre of mass lies in ``lo``..``hi`` Hz: bool (128,)."""
    fb = mel_basis(sr, n_fft)
    centre = (fb * np.fft.rfftfreq(n_fft, 1 / sr)[:, None]).sum(axis=0) / fb.sum(axis=0)
    return (centre >= lo) & (centre <= hi)


def frame_figures(voice: np.ndarray, acc: np.ndarray, snr_db: float = 0.0, n_mfcc: int = 13
                  ) -> np.ndarray:
    """Frame-level figures of one segment pair mixed at ``snr_db`` (``mix_pair``'s gains).

    Frames are log-mel frames (23 ms hop); a frame's energy is the sum of its squared mel
    magnitudes (over all bands or the 250 Hz..4 kHz bands); voiced frames are those within
    ``STRONG_DB`` of the segment's loudest voice frame (in the same bands).

    Returns
    -------
    np.ndarray [shape=(len(FRAME_FIGURES),)]
        In the order of ``FRAME_FIGURES``: share of voiced frames where the voice is
        >= ``DOMINANT_DB`` above the accompaniment, median voice-to-accompaniment ratio (dB),
        both over all bands then over the voice band; share of the accompaniment's frames
        more than ``DOMINANT_DB`` below its median voice-band energy (gaps between notes and
        hits); share of voiced frames whose mix MFCC vector lies nearer the
        accompaniment's than the voice's, with c0 (as the GMM-UBM sees it) and without.
    """
    res = mix_pair(voice.astype(np.float32), acc.astype(np.float32), snr_db=snr_db,
                   active_threshold=ACTIVE)
    v, a, m = mel_magnitude(np.stack([res.vocal_gain * voice, res.acc_gain * acc,
                                      res.mix.astype(np.float64)]))
    out = []
    for bands in (slice(None), voice_band()):
        ev, ea = (v[:, bands] ** 2).sum(axis=1), (a[:, bands] ** 2).sum(axis=1)
        voiced = 10 * np.log10(ev + 1e-20) > 10 * np.log10(ev.max() + 1e-20) - STRONG_DB
        ratio = 10 * np.log10((ev[voiced] + 1e-20) / (ea[voiced] + 1e-20))
        out += [np.mean(ratio >= DOMINANT_DB), np.median(ratio)]
    acc_db = 10 * np.log10(ea + 1e-20)
    out.append(np.mean(acc_db < np.median(acc_db) - DOMINANT_DB))
    ev = (v ** 2).sum(axis=1)
    voiced = 10 * np.log10(ev + 1e-20) > 10 * np.log10(ev.max() + 1e-20) - STRONG_DB
    cv, ca, cm = (mfcc_from_logmel(compress(x)[voiced], n_mfcc=n_mfcc) for x in (v, a, m))
    for first in (0, 1):
        out.append(np.mean(np.linalg.norm((cm - ca)[:, first:], axis=1)
                           < np.linalg.norm((cm - cv)[:, first:], axis=1)))
    return np.array(out, dtype=float)


def level_spread(voice: np.ndarray) -> float:
    """The voice's dynamics: 90th percentile minus median of its log-mel frame energies (dB)
    over the voiced frames (within ``STRONG_DB`` of the segment's loudest)."""
    db = 10 * np.log10((mel_magnitude(voice[None].astype(np.float64))[0] ** 2).sum(axis=1)
                       + 1e-20)
    db = db[db > db.max() - STRONG_DB]
    return float(np.percentile(db, 90) - np.median(db))


def segments(y: np.ndarray, hop: int) -> list[np.ndarray]:
    return [y[s:s + SEGMENT_SAMPLES] for s in range(0, len(y) - SEGMENT_SAMPLES + 1, hop)]


def demo_pairs(n_pairs: int, seed: int, consonant_strength: float = 0.0):
    """``n_pairs`` (voice, accompaniment) at 22,050 Hz from the default demo corpus plan."""
    params = preset("default", seed=seed, consonant_strength=consonant_strength)
    tracks = plan_tracks(params)[:n_pairs]
    perfs = plan_performances(params, plan_songs(params, covered_pairs(plan_tracks(params))))
    by_singer = {}
    for p in perfs:
        by_singer.setdefault(p.user_id, p)
    voices = list(by_singer.values())[:n_pairs]
    out, seconds = [], 0.0
    for track, perf in zip(tracks, voices):
        stems, _ = render_track(track, sr=SR, rng=rng_for(params.seed, "track", track.name))
        acc = (stems["drums"] + stems["bass"] + stems["other"]).mean(axis=1)
        voice, _ = synthesise_performance(perf, params)
        seconds += (len(acc) + len(voice)) / SR
        out.append((resample_audio(voice, SR), resample_audio(acc, SR)))
    return out, seconds


def summary(values) -> str:
    v = np.asarray(list(values), dtype=float)
    return f"{np.median(v):.3f} [{v.min():.3f}, {v.max():.3f}] (n={len(v)})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--snr", type=float, default=0.0,
                    help="vocal-to-accompaniment ratio (dB) of the frame-level figures")
    ap.add_argument("--consonant-strength", type=float, default=0.0,
                    help="demo.params.consonant_strength of the demo voices (default 0, off)")
    args = ap.parse_args()
    path = real_file()
    real_acc = load_stems_sum(path, streams=(1, 2, 3))
    real_voice = load_audio(path, stream=4)
    r_acc, r_voc = segments(real_acc, SAMPLE_RATE), segments(real_voice, SAMPLE_RATE)
    t0 = time.perf_counter()
    pairs, audio_s = demo_pairs(args.pairs, args.seed, args.consonant_strength)
    render_s = time.perf_counter() - t0
    d_voc, d_acc = [], []
    for voice, acc in pairs:
        start = SAMPLE_RATE * 5  # past the lead-in; three segments 4 s apart
        for k in range(3):
            s = slice(start + 4 * k * SAMPLE_RATE, start + 4 * k * SAMPLE_RATE + SEGMENT_SAMPLES)
            if len(acc[s]) == SEGMENT_SAMPLES and len(voice[s]) == SEGMENT_SAMPLES:
                d_voc.append(voice[s])
                d_acc.append(acc[s])
    print(f"real: {REAL} ({len(real_acc) / SAMPLE_RATE:.1f} s, {len(r_acc)} segments); demo: "
          f"{len(pairs)} pairs, {len(d_acc)} segments (rendered {audio_s:.0f} s of audio in "
          f"{render_s:.1f} s, {audio_s / render_s:.0f}x realtime, one process)")
    print(f"accompaniment flatness (100 Hz..5 kHz): real {summary(map(flatness, r_acc))}, "
          f"demo {summary(map(flatness, d_acc))}")
    print(f"masked share at 0 dB, matched: real {summary(map(masked_share, r_voc, r_acc))}, "
          f"demo {summary(map(masked_share, d_voc, d_acc))}")
    print("voice dynamics (frame level p90 - median, dB): "
          f"real {summary(map(level_spread, r_voc))}, demo {summary(map(level_spread, d_voc))}")
    crossed = [masked_share(v, a) for v in r_voc for a in d_acc]
    demo_on_real = [masked_share(v, a) for v in d_voc for a in r_acc]
    print(f"masked share, crossed: real voice on demo acc {summary(crossed)}, "
          f"demo voice on real acc {summary(demo_on_real)}")
    print(f"frame level at {args.snr:g} dB, per log-mel frame (share of voiced frames unless "
          "said):")
    rows = (("real voice on real acc", r_voc, r_acc), ("demo voice on demo acc", d_voc, d_acc),
            ("real voice on demo acc", [v for v in r_voc for _ in d_acc],
             [a for _ in r_voc for a in d_acc]),
            ("demo voice on real acc", [v for v in d_voc for _ in r_acc],
             [a for _ in d_voc for a in r_acc]))
    figs = {name: np.array([frame_figures(v, a, args.snr) for v, a in zip(vs, accs)])
            for name, vs, accs in rows}
    for k, label in enumerate(FRAME_FIGURES):
        print(f"  {label}:")
        for name, table in figs.items():
            print(f"    {name:24s} {summary(table[:, k])}")
    real_l = np.array([ltas(a) for a in r_acc])
    demo_l = np.array([ltas(a) for a in d_acc])
    print("LTAS (dB re total), octave centre Hz: " + " ".join(f"{c:>6d}" for c in OCTAVES))
    for name, table in (("real", real_l), ("demo", demo_l)):
        print(f"  {name} median   " + " ".join(f"{x:6.1f}" for x in np.median(table, axis=0)))
        print(f"  {name} min      " + " ".join(f"{x:6.1f}" for x in table.min(axis=0)))
        print(f"  {name} max      " + " ".join(f"{x:6.1f}" for x in table.max(axis=0)))
    diff = np.median(demo_l, axis=0) - np.median(real_l, axis=0)
    print(f"  demo - real (median, dB): {' '.join(f'{x:6.1f}' for x in diff)}; "
          f"RMS over 125 Hz..4 kHz {np.sqrt(np.mean(diff[1:7] ** 2)):.1f} dB")
    print("voice LTAS (dB re total, median over segments; --consonant-strength fills 4-8 kHz):")
    for name, voices in (("real", r_voc), ("demo", d_voc)):
        table = np.array([ltas(v) for v in voices])
        print(f"  {name} median   " + " ".join(f"{x:6.1f}" for x in np.median(table, axis=0)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
