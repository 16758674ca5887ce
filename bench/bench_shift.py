"""Shift to match: pitch-shift / time-stretch libraries compared on quality, speed and licence.

Ground truth from the demo generator (``pipeline.demo.accompaniment.render_track``): an
accompaniment is rendered at a source tempo and key, and again, with the same random draws
(drum humanisation, voicings, timbre), at the target tempo ``tempo * ratio`` and key
``key + semitones``.  Each method shifts the source; then

- key: the share of beat-start segments whose key, estimated by OUR analysis
  (``pipeline.analysis.stage.analyze_accompaniment``, default key parameters), is the
  target key (the same estimator on the target render itself is the ceiling);
- tempo: |estimated - target| BPM (our beat tracker) and whether the whole-BPM buckets the
  join compares are equal;
- LSD: log-spectral distance (dB, 64 mel bands, 80-dB floor) between the shifted source
  and the target render, at the best lag within +-46 ms, and that lag (ms): the latency a
  method adds, which would move the beats off the vocal's.  On the harmonic stems (bass +
  other, every case: the target's drums do not change pitch, so a pitch-shifted mixture has
  no exact target) and on the whole mixture for the stretch-only cases;
- segment key: per 2.972-s segment shifted alone, as the mixer shifts it, whether the key
  our key finder gives that segment alone equals the one it gives the artefact-free
  transposition of the same segment (varispeed by 2 ** (semitones / 12)); the 3-s estimate
  is itself unstable under exact transposition (it moves with the key in 73-85% of segments
  on these renders), so the reference is the transposed segment, not the key name;
- speed: output seconds / CPU seconds (children included) for one 2.972-s segment (single
  thread, median).

Every TSM method shifts pitch the same way: stretch by ratio / p, then varispeed by p with
soxr (p = 2 ** (semitones / 12)), librosa's pitch_shift chain; Rubber Band and Signalsmith
do both internally.  Methods whose package is missing are listed as not installed.

    python bench/bench_shift.py [--repeats 5] [--tracks 2] [--seconds 20] [--speed-only]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.core.audio import to_mono  # noqa: E402
from pipeline.core.music import is_minor, key_name, tonic  # noqa: E402
from pipeline.core.segment import SAMPLE_RATE, SEGMENT_SAMPLES  # noqa: E402
from pipeline.mashup import shift  # noqa: E402

SR = SAMPLE_RATE
# (semitones, ratio): stretch only, pitch only, both (+1 semitone at 2**(1/12) is varispeed)
CASES = [(0, 0.92), (0, 0.96), (0, 1.04), (0, 1.08), (-3, 1.0), (-1, 1.0), (1, 1.0),
         (3, 1.0), (1, 2 ** (1 / 12)), (-2, 1.06), (2, 0.94)]
SOURCES = [(100.0, 0), (120.0, 21), (90.0, 6), (132.0, 16)]  # (BPM, key index)


def shifted_key(key: int, semitones: int) -> int:
    return (tonic(key) + semitones) % 12 + (12 if is_minor(key) else 0)


def render(tempo: float, key: int, *, seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A one-key demo accompaniment of about ``seconds`` s plus a lead-in: mono float32
    (mixture, harmonic stems bass + other).

    The lead-in is scaled with the tempo so that beat n falls at the same musical place."""
    from pipeline.demo.accompaniment import render_track
    from pipeline.demo.plan import TrackPlan

    bars = int(math.ceil(seconds * tempo / 240.0)) + 2
    plan = TrackPlan(name="bench", split="train", format="hq", tempo_bpm=float(tempo),
                     section_keys=(int(key),), section_bars=bars, lead_in_s=30.0 / tempo)
    stems, _ = render_track(plan, sr=SR, rng=np.random.default_rng(seed))
    return to_mono(stems["mixture"].T), to_mono((stems["bass"] + stems["other"]).T)


# --- the candidates: f(y, semitones, ratio, out) -> at least ``out`` samples ---------------

def _tsm_then_varispeed(stretch):
    def run(y, s, r, out):
        p = 2.0 ** (s / 12)
        z = stretch(y, r / p)
        return shift.varispeed(z, factor=p, sr=SR) if s else z
    return run


def ours(y, s, r, out):
    return shift.shift_segment(y, sr=SR, semitones=s, stretch_ratio=r, out_samples=out)


def varispeed_only(y, s, r, out):
    if not math.isclose(r, 2.0 ** (s / 12), rel_tol=1e-9):
        return None  # varispeed ties pitch to tempo: only this (s, r) is reachable
    return shift.varispeed(y, factor=r, sr=SR)


def _librosa(y, a):
    import librosa

    return librosa.effects.time_stretch(np.asarray(y, np.float32), rate=a)


def _audiotsm(kind):
    def stretch(y, a):
        import audiotsm
        from audiotsm.io.array import ArrayReader, ArrayWriter

        reader, writer = ArrayReader(np.asarray(y, np.float32)[None]), ArrayWriter(1)
        getattr(audiotsm, kind)(1, speed=a).run(reader, writer)
        return writer.data[0]
    return stretch


def _pytsmod(kind):
    def stretch(y, a):
        import pytsmod

        return getattr(pytsmod, kind)(np.asarray(y, np.float64), 1.0 / a)
    return stretch


def rubberband_cli(y, s, r, out):
    from pyrubberband import pyrb

    return getattr(pyrb, "__rubberband")(np.asarray(y, np.float32), SR,
                                         **{"--time": 1.0 / r, "--pitch": s})


def pedalboard_rb(y, s, r, out):
    import pedalboard

    return pedalboard.time_stretch(np.asarray(y, np.float32)[None], SR, stretch_factor=r,
                                   pitch_shift_in_semitones=float(s))[0]


def signalsmith(y, s, r, out):
    from python_stretch.Signalsmith import Stretch

    st = Stretch()
    st.preset(1, SR)
    st.setTransposeSemitones(float(s))
    st.setTimeFactor(float(r))
    return st.process(np.asarray(y, np.float32)[None])[0]


METHODS = [  # name, function, package (for availability), licence
    ("ours: phase-locked PV + soxr", ours, "soxr", "MIT (ours; numpy BSD, soxr LGPL-2.1)"),
    ("varispeed (soxr resampling)", varispeed_only, "soxr", "LGPL-2.1 (libsoxr)"),
    ("librosa phase vocoder", _tsm_then_varispeed(_librosa), "librosa", "ISC"),
    ("audiotsm WSOLA", _tsm_then_varispeed(_audiotsm("wsola")), "audiotsm", "MIT"),
    ("audiotsm phase vocoder", _tsm_then_varispeed(_audiotsm("phasevocoder")), "audiotsm",
     "MIT"),
    ("pytsmod WSOLA", _tsm_then_varispeed(_pytsmod("wsola")), "pytsmod", "GPL-3.0"),
    ("pytsmod HPTSM (harmonic PV + percussive OLA)", _tsm_then_varispeed(_pytsmod("hptsm")),
     "pytsmod", "GPL-3.0"),
    ("Rubber Band CLI via pyrubberband", rubberband_cli, "pyrubberband",
     "GPL-2.0+ (rubberband-cli; wrapper ISC)"),
    ("pedalboard (Rubber Band)", pedalboard_rb, "pedalboard", "GPL-3.0"),
    ("python-stretch (Signalsmith Stretch)", signalsmith, "python_stretch", "MIT"),
]


def available(package: str) -> bool:
    import importlib.util
    import shutil

    if importlib.util.find_spec(package) is None:
        return False
    return package != "pyrubberband" or shutil.which("rubberband") is not None


def _mel_db(y):
    import librosa

    m = librosa.feature.melspectrogram(y=np.asarray(y, np.float32), sr=SR, n_fft=2048,
                                       hop_length=512, n_mels=64)
    return 10 * np.log10(np.maximum(m, 1e-10))


def lsd(x, ref, *, max_lag: int = 2):
    """(LSD in dB, lag in ms) at the best frame lag; both spectrograms share one 80-dB floor."""
    a, b = _mel_db(x), _mel_db(ref)
    floor = max(a.max(), b.max()) - 80.0
    a, b = np.maximum(a, floor), np.maximum(b, floor)
    best = (math.inf, 0)
    for lag in range(-max_lag, max_lag + 1):
        aa, bb = (a[:, lag:], b[:, :b.shape[1] - lag]) if lag >= 0 else (a[:, :lag], b[:, -lag:])
        n = min(aa.shape[1], bb.shape[1])
        d = float(np.mean(np.sqrt(np.mean((aa[:, :n] - bb[:, :n]) ** 2, axis=0))))
        best = min(best, (d, lag))
    return best[0], best[1] * 512 / SR * 1000


def analyse(y):
    """(share of segments in each key, tempo BPM) by the pipeline's accompaniment analysis."""
    from pipeline.analysis.stage import analyze_accompaniment

    res = analyze_accompaniment(np.asarray(y, np.float32))
    return res.key, res.tempo_bpm


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the rubberband CLI)."""
    import resource

    own, children = (resource.getrusage(w) for w in (resource.RUSAGE_SELF,
                                                     resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_seconds(fn, repeats: int, *, min_seconds: float = 0.2) -> float:
    """Median over ``repeats`` of the CPU seconds per call, each repeat >= ``min_seconds``."""
    times = []
    for _ in range(repeats):
        n, t0 = 0, _cpu()
        while True:
            fn()
            n += 1
            if _cpu() - t0 >= min_seconds:
                break
        times.append((_cpu() - t0) / n)
    return float(np.median(times))


def segment_key(y) -> int:
    """The key of one 2.972-s segment alone (its summed chroma), by our key finder."""
    from pipeline.analysis.chroma import compute_chroma
    from pipeline.analysis.key_params import KeyParams
    from pipeline.analysis.keys import track_key

    kp = KeyParams()
    seg = np.asarray(y[:SEGMENT_SAMPLES], np.float32)
    return track_key(compute_chroma(seg, **kp.chroma_kwargs()), **kp.profile_kwargs())[0]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tracks", type=int, default=2, help="source renders (of 4)")
    ap.add_argument("--seconds", type=float, default=20.0, help="analysed output length (s)")
    ap.add_argument("--speed-only", action="store_true", help="only the speed column")
    args = ap.parse_args(argv)
    out = int(args.seconds * SR)
    methods = [m for m in METHODS if available(m[2])]
    missing = [m[0] for m in METHODS if not available(m[2])]
    stats = {m[0]: {"key": [], "dbpm": [], "bucket": [], "lsd": [], "lag": [], "lsd_mix": [],
                     "seg_key": []} for m in methods}
    ceiling = {"key": [], "dbpm": [], "lsd_none": [], "lsd_mix_none": []}
    seg, speed_case, speed = render(110.0, 3, seconds=6, seed=7)[0], (2, 1.05), {}
    for name, fn, _, _ in methods:  # first, so that a failure shows at once
        s, r = speed_case if name != METHODS[1][0] else (1, 2 ** (1 / 12))
        y = seg[:shift.input_samples(r, SEGMENT_SAMPLES)]
        speed[name] = cpu_seconds(lambda: fn(y, s, r, SEGMENT_SAMPLES), args.repeats)
        print(f"  {name}: {SEGMENT_SAMPLES / SR / speed[name]:.0f}x",
              file=sys.stdout if args.speed_only else sys.stderr)
    if args.speed_only:
        return
    for t, (tempo, key) in enumerate(SOURCES[:args.tracks]):
        src, src_h = render(tempo, key, seconds=args.seconds * 1.25 + 2, seed=100 + t)
        for s, r in CASES:
            target_key, target_bpm = shifted_key(key, s), tempo * r
            tgt, tgt_h = (x[:out] for x in render(target_bpm, target_key,
                                                  seconds=args.seconds + 1, seed=100 + t))
            keys, bpm = analyse(tgt)
            ceiling["key"].append(np.mean(keys == target_key))
            ceiling["dbpm"].append(abs(bpm - target_bpm))
            ceiling["lsd_none"].append(lsd(src_h[:out], tgt_h)[0])
            if s == 0:
                ceiling["lsd_mix_none"].append(lsd(src[:out], tgt)[0])
            n_in = shift.input_samples(r, out)
            seg_in = shift.input_samples(r, SEGMENT_SAMPLES)
            seg_starts = [600 + int(j * 1.5 * 60 / tempo * SR) for j in range(8)]
            refs = [segment_key(shift.varispeed(src[a:a + seg_in], factor=2.0 ** (s / 12),
                                                sr=SR)) for a in seg_starts]
            for name, fn, _, _ in methods:
                for a, ref in zip(seg_starts, refs):
                    z = fn(src[a:a + seg_in], s, r, SEGMENT_SAMPLES)
                    if z is not None:
                        stats[name]["seg_key"].append(segment_key(z) == ref)
                z = fn(src[:n_in], s, r, out)
                if z is None:
                    continue
                z = np.asarray(z, np.float32)[:out]
                keys, bpm = analyse(z)
                st = stats[name]
                st["key"].append(np.mean(keys == target_key))
                st["dbpm"].append(abs(bpm - target_bpm))
                st["bucket"].append(math.floor(bpm + 0.5) == math.floor(target_bpm + 0.5))
                d, lag = lsd(np.asarray(fn(src_h[:n_in], s, r, out), np.float32)[:out], tgt_h)
                st["lsd"].append(d), st["lag"].append(lag)
                if s == 0:
                    st["lsd_mix"].append(lsd(z, tgt)[0])
            print(f"  {key_name(key)} {tempo:.0f} BPM -> {s:+d} st x{r:.4f}: done",
                  file=sys.stderr)
    print(f"{len(SOURCES[:args.tracks])} source renders x {len(CASES)} (semitones, ratio) cases"
          f" ({', '.join(f'{s:+d}/{r:.3f}' for s, r in CASES)}); {args.seconds:.0f}-s outputs")
    print("| method | licence | key right (segments) | tempo error, median / max (BPM) | "
          "whole-BPM equal | LSD harmonic stems (dB) | LSD mixture, stretch only (dB) | "
          "lag (ms) | 3-s segment key = transposed segment's | x-realtime per core |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| target render itself (estimator ceiling) | - | {np.mean(ceiling['key']):.3f} | "
          f"{np.median(ceiling['dbpm']):.2f} / {np.max(ceiling['dbpm']):.2f} | - | 0 | 0 | 0 "
          "| - | - |")
    print(f"| no shift (source as is) | - | - | - | - | {np.mean(ceiling['lsd_none']):.2f} | "
          f"{np.mean(ceiling['lsd_mix_none']):.2f} | - | - | - |")
    for name, fn, _, lic in methods:
        st, cpu = stats[name], speed[name]
        print(f"| {name} | {lic} | {np.mean(st['key']):.3f} | {np.median(st['dbpm']):.2f} / "
              f"{np.max(st['dbpm']):.2f} | {np.mean(st['bucket']):.3f} | "
              f"{np.mean(st['lsd']):.2f} | "
              f"{np.mean(st['lsd_mix']) if st['lsd_mix'] else math.nan:.2f} | "
              f"{np.median(st['lag']):.0f} | {np.mean(st['seg_key']):.3f} | "
              f"{SEGMENT_SAMPLES / SR / cpu:.0f}x |")
    if missing:
        print("not installed: " + "; ".join(missing))
    print("varispeed: only the +1 semitone / x2**(1/12) case (pitch and tempo move together); "
          f"speed measured at {speed_case[0]:+d} semitones x{speed_case[1]}")


if __name__ == "__main__":
    main()
