"""Where decoding time goes, and what the mix stage's windowed decoding saves.

Single thread, CPU seconds (``time.process_time``), medians of --repeats; x-realtime per
core = audio seconds / CPU seconds.  Files: --files DAMP-like performances of --minutes
(44.1 kHz mono AAC-LC ``.m4a`` from the demo corpus's writer, a synthetic voice with
pauses and breath noise), written into a temporary folder, and, if installed, the real
musdb18 ``.stem.mp4`` shipped with stempeg (stereo, 44.1 kHz).

1. The split of ``load_audio``: demuxing, AAC decoding (``aac_fixed``), the downmix and
   soxr "HQ" resampling to 22,050 Hz, timed alone; turning frames into one float32 array is
   the rest.  Also the previous ``load_audio`` (``to_ndarray`` and a float64 division per
   frame, ``mean`` as the downmix) for the ratio.
2. The mix stage's decoding per performance: the whole file (``load_audio``) against the
   samples of its windows only (``audio_windows.load_windows``; at most ``svd.max_windows``
   voiced windows, as the analysis stage picks them), with the share of input decoded and
   the CPU ratio, which ``bench/scale_model.py`` takes as the mix's decode fraction.

With --survey DIR (a corpus folder, e.g. DAMP's ``sing/``): for up to --limit of its audio
files, whether the mix would decode them piecewise or whole, and why (two windows each:
one a third in, one at the end), so the saving on a real corpus can be read before a run.

    python bench/bench_decode.py [--files 6] [--minutes 3] [--repeats 5]
    python bench/bench_decode.py --survey /data/DAMP/sing [--limit 200]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.core import audio  # noqa: E402
from pipeline.core.audio_windows import load_windows  # noqa: E402
from pipeline.core.segment import SAMPLE_RATE, SEGMENT_SAMPLES  # noqa: E402

__all__ = ["damp_like_performances", "mix_decode_costs", "split_costs"]


def median_cpu(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return float(np.median(times))


def voice(n: int, sr: int, seed: int) -> np.ndarray:
    """A sung-like tone: harmonics with vibrato and drift, phrases with pauses, breath noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    f0 = 196 * 2 ** np.cumsum(rng.normal(0, 1e-4, n)) * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = sum(np.sin(k * phase) * (0.7 ** k) for k in range(1, 16)) * 0.25
    phrases = np.sin(2 * np.pi * t / rng.uniform(6, 9) + rng.uniform(0, 6)) > -0.4
    return (y * phrases + 0.01 * rng.normal(size=n)).astype(np.float32)


def damp_like_performances(folder: Path, n: int, minutes: float) -> list[Path]:
    """``n`` mono 44.1 kHz AAC-LC ``.m4a`` files of ``minutes`` each (the demo's writer)."""
    from pipeline.demo.writers import write_aac

    paths = []
    for i in range(n):
        path = folder / f"perf{i:02d}.m4a"
        write_aac(path, [voice(int(minutes * 60 * 44100), 44100, seed=i)], sr=44100,
                  container="ipod")
        paths.append(path)
    return paths


def _old_frames_to_array(frames) -> np.ndarray:
    """The conversion before: ``to_ndarray`` and a float64 division, per frame."""
    chunks = []
    for frame in frames:
        arr = frame.to_ndarray()
        chunks.append((arr / float(-np.iinfo(arr.dtype).min)).astype(np.float32))
    return np.concatenate(chunks, axis=1)


def split_costs(path: Path, stream: int, repeats: int) -> dict:
    """CPU seconds of each part of ``load_audio(path, stream=stream)``."""
    import av

    def frames():  # each frame dropped at once, as load_audio converts them while decoding
        with av.open(str(path)) as c:
            for _ in audio._frames(c, c.streams.audio[stream]):
                pass

    def demux():
        with av.open(str(path)) as c:
            for _ in c.demux(c.streams.audio[stream]):
                pass

    y, sr = audio.decode(path, stream)
    mono = audio.to_mono(y)
    return {"seconds": y.shape[1] / sr, "sr": sr, "channels": y.shape[0],
            "demux": median_cpu(demux, repeats),
            "demux + AAC decode": median_cpu(frames, repeats),
            "downmix": median_cpu(lambda: audio.to_mono(y), repeats),
            "soxr HQ": median_cpu(lambda: audio.resample(mono, sr), repeats),
            "load_audio": median_cpu(lambda: audio.load_audio(path, stream=stream), repeats),
            "load_audio, before": median_cpu(lambda: _old_load_audio(path, stream), repeats)}


def _old_load_audio(path: Path, stream: int) -> np.ndarray:
    """``load_audio`` as it was: per-frame conversion, the mean as the downmix."""
    import av

    with av.open(str(path)) as c:
        y = _old_frames_to_array(audio._frames(c, c.streams.audio[stream]))
        sr = c.streams.audio[stream].codec_context.sample_rate
    return audio.resample(y.mean(axis=0, dtype=np.float32), sr)


def window_starts(y: np.ndarray) -> list[int]:
    """The analysis stage's voiced windows (default SVD settings: at most 20)."""
    from pipeline.analysis.voicing import detect_voiced_windows

    return detect_voiced_windows(y).starts.tolist()


def mix_decode_costs(paths, starts_of: dict, repeats: int) -> dict:
    """Whole-file against windowed decoding of ``paths`` with windows ``starts_of[path]``.

    Returns CPU seconds of both (median per file, summed), audio seconds, the share of input
    samples decoded, and each windowed window checked equal to the whole decode.
    """
    full_s = windowed_s = seconds = decoded = total = 0.0
    for path in paths:
        starts = starts_of[path]
        y = audio.load_audio(path)
        got = load_windows(path, starts)
        assert all(np.array_equal(got[s:s + SEGMENT_SAMPLES], y[s:s + SEGMENT_SAMPLES])
                   for s in starts), path
        full_s += median_cpu(lambda: audio.load_audio(path), repeats)
        windowed_s += median_cpu(lambda: load_windows(path, starts), repeats)
        seconds += len(y) / SAMPLE_RATE
        decoded, total = decoded + got.decoded, total + got.total
    return {"full_s": full_s, "windowed_s": windowed_s, "seconds": seconds,
            "decoded_share": decoded / total, "method": got.method}


def survey(folder: Path, limit: int) -> None:
    """Count how the mix would decode the audio files under ``folder`` (first ``limit``)."""
    from collections import Counter

    from pipeline.core.errors import AudioError

    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in audio.AUDIO_EXTENSIONS)
    methods, decoded, total = Counter(), 0, 0
    for path in paths[:limit]:
        try:
            got = load_windows(path, [])  # the length, and the checks that need no window
            if got.method == "windowed":
                got = load_windows(path, [len(got) // 3, len(got) - SEGMENT_SAMPLES])
        except AudioError as exc:
            methods[f"error: {exc.reason}"] += 1
            continue
        methods[re.sub(r"\d+", "N", got.method)] += 1
        decoded, total = decoded + got.decoded, total + got.total
    print(f"{min(limit, len(paths))} of {len(paths)} audio files under {folder}:")
    for method, count in methods.most_common():
        print(f"  {count:6d}  {method}")
    if total:
        print(f"input decoded for two windows each: {decoded / total:.0%}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--survey", type=Path, help="a corpus folder to survey instead")
    parser.add_argument("--limit", type=int, default=200, help="files surveyed at most")
    args = parser.parse_args(argv)
    if args.survey:
        survey(args.survey, args.limit)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        paths = damp_like_performances(Path(tmp), args.files, args.minutes)
        spec = importlib.util.find_spec("stempeg")  # importing stempeg wants ffmpeg: don't
        musdb = sorted((Path(spec.origin).parent / "data").glob("*.stem.mp4")) if spec else []
        print(f"== load_audio split, x-realtime per core (median of {args.repeats}) ==")
        for name, path, stream in [("DAMP-like m4a", paths[0], 0),
                                   *[("musdb18 stem, vocals", p, 4) for p in musdb]]:
            c = split_costs(path, stream, args.repeats)
            print(f"{name}: {c['seconds']:.0f} s, {c['sr']} Hz, {c['channels']} ch")
            c["frames -> float32 (the rest)"] = (c["load_audio"] - c["demux + AAC decode"]
                                                 - c["downmix"] - c["soxr HQ"])
            for part in ("demux", "demux + AAC decode", "frames -> float32 (the rest)",
                         "downmix", "soxr HQ", "load_audio", "load_audio, before"):
                share = c[part] / c["load_audio"]
                xrt = f"{c['seconds'] / c[part]:8.0f}x" if c[part] > 0 else "       -"
                print(f"  {part:30s} {xrt}   {share:5.0%} of load_audio")
        starts_of = {p: window_starts(audio.load_audio(p)) for p in paths}
        n_windows = np.mean([len(s) for s in starts_of.values()])
        m = mix_decode_costs(paths, starts_of, args.repeats)
        print(f"\n== mix decoding per performance ({args.files} x {args.minutes:g} min, "
              f"{n_windows:.1f} windows each; windows equal the whole decode) ==")
        print(f"whole file (before)   {m['seconds'] / m['full_s']:8.0f}x realtime per core, "
              f"{m['full_s'] / args.files * 1000:.0f} ms per performance")
        print(f"windows only (after)  {m['seconds'] / m['windowed_s']:8.0f}x realtime per core, "
              f"{m['windowed_s'] / args.files * 1000:.0f} ms per performance ({m['method']})")
        print(f"input decoded {m['decoded_share']:.0%}; CPU after/before "
              f"{m['windowed_s'] / m['full_s']:.2f} (the mix's decode fraction)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
