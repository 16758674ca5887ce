"""Vocal tempo from a-cappella audio: accuracy before and after, in one run.

"before": the accompaniments' beat tracker on the vocal (``tempo.vocal_method: beats``);
"after": note onsets + pitch flux, harmonic autocorrelation, tempo prior and phrase
agreement (``vocal_method: onsets``, ``pipeline.analysis.vocal_tempo``).  For each source it
prints the share of estimates within 4 % of the truth, the octave-tolerant share (also
x2, x1/2, x3, x1/3 within 4 %), how many estimates ``tempo.min_confidence`` keeps and how
many of those are right, and the CPU time per audio minute.  Sources:

- the demo corpus (``--corpus``; every ``--every``-th performance): truth/vocals.parquet;
- sung melodies our generator did not make: MIDI melodies (quarter, eighth, dotted and half
  notes in 1-2 bar phrases, rests between) at log-uniform tempi of 60-180 BPM rendered by
  fluidsynth with the FluidR3 GM soundfont's "Choir Aahs", "Voice Oohs" and "Synth Voice"
  (Debian ``fluidsynth``, ``fluid-soundfont-gm``; skipped when absent); truth: the MIDI tempo;
- the vocal stream of the real MUSDB18 excerpt in the stempeg wheel (6 s); its reference
  tempo is librosa's ``beat_track`` of the mixture stream (no annotation exists).

    python bench/bench_vocal_tempo.py --corpus results/demo [--every 5] [--melodies 30]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline.analysis.chroma import spectrogram  # noqa: E402
from pipeline.analysis.onset import ONSET_N_FFT  # noqa: E402
from pipeline.analysis.tempo import TempoParams, vocal_tempo  # noqa: E402
from pipeline.core.audio import decode, load_audio  # noqa: E402
from pipeline.core.segment import SAMPLE_RATE  # noqa: E402

VOICE_PROGRAMS = (52, 53, 54)  # General MIDI: Choir Aahs, Voice Oohs, Synth Voice
RHYTHMS = (  # note lengths in eighths; each pattern fills two 4/4 bars
    (2, 2, 2, 2, 2, 2, 4), (1, 1, 2, 2, 2, 1, 1, 2, 4), (3, 1, 2, 2, 3, 1, 4),
    (2, 1, 1, 2, 2, 4, 4), (4, 2, 2, 4, 4), (1, 1, 1, 1, 2, 2, 2, 2, 4))
MUSDB_NAME = "The Easton Ellises - Falcon 69"


def sung_melody(bpm: float, program: int, rng, phrases: int = 6) -> list[tuple[int, bytes]]:
    """MIDI events of a melody in C-ish major: phrases of 1-2 rhythm patterns, 2-4 beat rests."""
    from external_check import TICKS, _note

    events = [(0, bytes([0xC0, program]))]
    eighth, tick = TICKS // 2, 4 * TICKS  # one bar of lead-in
    root = 60 + int(rng.integers(-5, 6))
    scale = (0, 2, 4, 5, 7, 9, 11, 12)
    for _ in range(phrases):
        for _ in range(int(rng.integers(1, 3))):
            for length in RHYTHMS[int(rng.integers(len(RHYTHMS)))]:
                _note(events, 0, root + scale[int(rng.integers(len(scale)))], tick,
                      length * eighth - 5, int(rng.integers(70, 100)))
                tick += length * eighth
        tick += int(rng.choice([2, 3, 4])) * TICKS
    return events


def rendered_melodies(folder: Path, n: int, seed: int = 7) -> list[tuple[str, float, Path]]:
    """(name, true BPM, wav) of ``n`` melodies rendered by fluidsynth, or [] without it."""
    from external_check import SOUNDFONT, midi_bytes, render

    if shutil.which("fluidsynth") is None or not SOUNDFONT.exists():
        print("fluidsynth or the FluidR3 GM soundfont is missing: no rendered melodies")
        return []
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        bpm = float(np.round(60.0 * 3.0 ** rng.uniform(0.0, 1.0), 1))
        program = VOICE_PROGRAMS[i % len(VOICE_PROGRAMS)]
        mid, wav = folder / f"melody{i:03d}.mid", folder / f"melody{i:03d}.wav"
        mid.write_bytes(midi_bytes(sung_melody(bpm, program, rng), bpm))
        render(mid, wav)
        out.append((f"melody{i:03d} (program {program})", bpm, wav))
    return out


def musdb_vocals() -> tuple[np.ndarray, float] | None:
    """The MUSDB18 excerpt's vocal stream (mono, 22,050 Hz) and librosa's mixture tempo."""
    import librosa
    import soxr

    spec = importlib.util.find_spec("stempeg")
    if spec is None:
        return None
    path = Path(spec.origin).parent / "data" / f"{MUSDB_NAME}.stem.mp4"
    streams = {}
    for stream in (0, 4):
        x, sr = decode(path, stream=stream)
        streams[stream] = soxr.resample(x.mean(axis=0), sr, SAMPLE_RATE).astype(np.float32)
    tempo, _ = librosa.beat.beat_track(y=streams[0], sr=SAMPLE_RATE)
    return streams[4], float(np.atleast_1d(tempo)[0])


def score(estimates: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per estimate: within 4 % of the truth, and within 4 % of 1, 2, 1/2, 3 or 1/3 times it."""
    ratio = np.asarray(estimates, dtype=float) / np.asarray(truth, dtype=float)
    exact = np.abs(ratio - 1.0) <= 0.04
    octave = exact.copy()
    for factor in (2.0, 0.5, 3.0, 1.0 / 3.0):
        octave |= np.abs(ratio / factor - 1.0) <= 0.04
    return exact, octave


def run(items: list[tuple[str, float, np.ndarray]], tempo: TempoParams) -> pd.DataFrame:
    rows = []
    for method in ("beats", "onsets"):
        for name, truth, y in items:
            t0 = time.process_time()
            spec = spectrogram(y, n_fft=ONSET_N_FFT, power=1.0)
            b = vocal_tempo(y, vocal_source="estimate", vocal_method=method, magnitude=spec,
                            **tempo.beat_kwargs())
            rows.append({"method": method, "name": name, "truth": truth,
                         "estimate": b.tempo_bpm, "confidence": b.confidence,
                         "cpu_s": time.process_time() - t0, "audio_s": len(y) / SAMPLE_RATE})
    df = pd.DataFrame(rows)
    df["exact"], df["octave"] = score(df["estimate"].fillna(1.0), df["truth"])
    df["kept"] = df["confidence"] >= tempo.min_confidence
    return df


def table(results: dict[str, pd.DataFrame]) -> None:
    print(f"{'source':34s} {'n':>4s} {'within 4%':>17s} {'octave-tolerant':>17s} "
          f"{'kept (right)':>25s} {'CPU s/min':>11s}")
    print(f"{'':34s} {'':>4s} {'before':>8s} {'after':>8s} {'before':>8s} {'after':>8s} "
          f"{'before':>12s} {'after':>12s} {'before':>5s} {'after':>5s}")
    for source, df in results.items():
        b, a = df[df["method"] == "beats"], df[df["method"] == "onsets"]

        def kept(d):
            k = d[d["kept"]]
            return f"{len(k) / len(d):4.0%} ({k['exact'].mean() if len(k) else 0:4.0%})"

        def cpu(d):
            return 60 * d["cpu_s"].sum() / d["audio_s"].sum()
        print(f"{source:34s} {len(a):4d} {b['exact'].mean():8.1%} {a['exact'].mean():8.1%} "
              f"{b['octave'].mean():8.1%} {a['octave'].mean():8.1%} {kept(b):>12s} "
              f"{kept(a):>12s} {cpu(b):5.2f} {cpu(a):5.2f}")
    print("before: tempo.vocal_method beats (the beat tracker); after: onsets (default). kept: "
          "confidence >= tempo.min_confidence, and the share of those within 4 %.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="", help="demo corpus root (with truth/)")
    parser.add_argument("--every", type=int, default=5, help="every k-th demo performance")
    parser.add_argument("--melodies", type=int, default=30, help="fluidsynth renderings")
    parser.add_argument("--show-wrong", action="store_true")
    args = parser.parse_args(argv)
    tempo = TempoParams()
    results = {}
    if args.corpus:
        corpus = Path(args.corpus)
        truth = pd.read_parquet(corpus / "truth" / "vocals.parquet").sort_values("perf_key")
        truth = truth.iloc[::args.every]
        items = [(r["perf_key"], float(r["tempo_bpm"]), load_audio(corpus / r["path"]))
                 for r in truth.to_dict("records")]
        results[f"demo corpus (1 in {args.every})"] = run(items, tempo)
    with tempfile.TemporaryDirectory() as tmp:
        melodies = rendered_melodies(Path(tmp), args.melodies)
        if melodies:
            items = [(name, bpm, load_audio(wav)) for name, bpm, wav in melodies]
            results["fluidsynth sung melodies 60-180 BPM"] = run(items, tempo)
    musdb = musdb_vocals()
    if musdb is not None:
        y, bpm = musdb
        print(f"MUSDB18 '{MUSDB_NAME}' vocal stream: reference tempo {bpm:.1f} BPM "
              "(librosa beat_track of the mixture)")
        results["MUSDB18 vocal stream (6 s)"] = run([("musdb vocals", bpm, y)], tempo)
    table(results)
    if args.show_wrong:
        for source, df in results.items():
            wrong = df[(df["method"] == "onsets") & ~df["exact"]]
            print(f"\n{source}: wrong after\n{wrong.round(3).to_string()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
