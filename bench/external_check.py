"""Check the analysis estimators on audio our demo generator did not make.

Writes a few General-MIDI pieces with known tempo and key (chords, bass, melody, drums;
written byte by byte here, no MIDI library), renders them with fluidsynth and the
FluidR3 GM soundfont, and prints tempo accuracy (within 4 %, octave errors apart), MIREX
key scores (track and per-beat segments, each tempo/key method) and, for solo melodies
with rests rendered on a voice-like patch, the SVD frame F1 and the window key score.

Needs the Debian packages ``fluidsynth`` and ``fluid-soundfont-gm``.

    python bench/external_check.py [--pieces 12] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.analysis.key_params import KeyParams  # noqa: E402
from pipeline.analysis.scoring import (  # noqa: E402
    frame_f1,
    intervals_to_frames,
    mirex_key_score,
    tempo_match,
    tempo_octave_error,
)
from pipeline.analysis.stage import analyze_accompaniment, analyze_vocal  # noqa: E402
from pipeline.analysis.tempo import TempoParams  # noqa: E402
from pipeline.analysis.voicing import rms_threshold, voiced_frames  # noqa: E402
from pipeline.core import audio  # noqa: E402
from pipeline.core.music import KEY_NAMES, is_minor, scale_pitch_classes, tonic  # noqa: E402
from pipeline.core.signal import frame_rms  # noqa: E402
from pipeline.mashup.mix import MashupParams  # noqa: E402

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TICKS = 480  # per quarter note
PROGRESSIONS_MAJOR = [(0, 4, 5, 3), (0, 3, 4, 0), (1, 4, 0, 0), (0, 5, 3, 4)]  # scale degrees
PROGRESSIONS_MINOR = [(0, 5, 2, 6), (0, 3, 4, 0), (0, 3, 6, 2), (0, 6, 5, 4)]
PROGRAMS = [0, 48, 24, 16, 4, 88]  # piano, strings, nylon guitar, organ, e-piano, pad
MELODY_PROGRAMS = [53, 73, 65]  # voice oohs, flute, alto sax


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def midi_bytes(events: list[tuple[int, bytes]], bpm: float) -> bytes:
    """A format-0 MIDI file from (absolute tick, message bytes) events at a fixed tempo."""
    tempo = int(round(60_000_000 / bpm))
    body = b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big")
    now = 0
    for tick, msg in sorted(events, key=lambda e: (e[0], e[1][0] & 0xF0 != 0x80)):
        body += _vlq(tick - now) + msg
        now = tick
    body += b"\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS)
            + b"MTrk" + struct.pack(">I", len(body)) + body)


def _note(events, ch, pitch, start, length, velocity=80):
    events.append((start, bytes([0x90 | ch, pitch, velocity])))
    events.append((start + length, bytes([0x80 | ch, pitch, 0])))


def piece(key: int, bpm: float, variant: int, *, bars: int = 16, drums: bool = True,
          rng) -> list[tuple[int, bytes]]:
    """Chords (one per bar), bass, a scale melody in eighths and optionally drums."""
    scale = scale_pitch_classes(key)
    if is_minor(key):  # harmonic minor: raise the seventh, as in common practice
        scale = scale[:6] + ((tonic(key) + 11) % 12,)
    progression = (PROGRESSIONS_MINOR if is_minor(key) else PROGRESSIONS_MAJOR)[variant % 4]
    events = [(0, bytes([0xC0, PROGRAMS[variant % len(PROGRAMS)]])),
              (0, bytes([0xC1, 33])), (0, bytes([0xC2, MELODY_PROGRAMS[variant % 3]]))]
    bar = 4 * TICKS
    base = 48 + tonic(key)
    for b in range(bars):
        degree = progression[b % 4]
        triad = [scale[(degree + i) % 7] for i in (0, 2, 4)]
        root = base + (triad[0] - tonic(key)) % 12
        for pc in triad:
            _note(events, 0, 60 + (pc - 60) % 12, b * bar, bar - 10, 60)
        for beat in range(4):
            _note(events, 1, root - 12 + (7 if beat == 2 else 0), b * bar + beat * TICKS,
                  TICKS - 20, 90)
        for e in range(8):
            pc = triad[rng.integers(3)] if e % 2 == 0 else scale[rng.integers(7)]
            _note(events, 2, 72 + (pc - 72) % 12, b * bar + e * TICKS // 2, TICKS // 2 - 20, 70)
        if drums:
            for e in range(8):
                t = b * bar + e * TICKS // 2
                _note(events, 9, 42, t, 60, 60)
                if e in (0, 4):
                    _note(events, 9, 36, t, 60, 110)
                if e in (2, 6):
                    _note(events, 9, 38, t, 60, 100)
    return events


def melody(key: int, bpm: float, variant: int, *, phrases: int = 8, rng
           ) -> tuple[list[tuple[int, bytes]], list[tuple[float, float]]]:
    """A solo voice-like melody: 2-bar phrases of scale notes, 1-bar rests between them."""
    scale = scale_pitch_classes(key)
    events = [(0, bytes([0xC0, MELODY_PROGRAMS[variant % 3]]))]
    bar, spans = 4 * TICKS, []
    low = 50 + 10 * (variant % 2)  # a low or a high voice
    seconds = 60.0 / bpm / TICKS
    for p in range(phrases):
        start = (1 + 3 * p) * bar
        for q in range(8):
            pc = scale[(0, 2, 4)[rng.integers(3)] if q % 2 == 0 else rng.integers(7)]
            _note(events, 0, low + (pc - low) % 12, start + q * TICKS, TICKS - 30, 90)
        spans.append((start * seconds, (start + 8 * TICKS - 30) * seconds))
    return events, spans


def render(mid: Path, wav: Path) -> None:
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", "44100", "-F", str(wav),
                    str(SOUNDFONT), str(mid)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=12)
    parser.add_argument("--keep", help="keep the MIDI and wav files in this folder")
    args = parser.parse_args(argv)
    if not SOUNDFONT.exists() or shutil.which("fluidsynth") is None:
        print("needs: apt-get install -y fluidsynth fluid-soundfont-gm", file=sys.stderr)
        return 2
    rng = np.random.default_rng(20190401)
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="external-check-"))
    tmp.mkdir(parents=True, exist_ok=True)
    tempos = np.linspace(70, 170, args.pieces).round()
    keys = rng.permutation(24)[: args.pieces]
    kk = {"profile": "krumhansl"}
    key_settings = {
        "ks stft1024 power segment (authors)": KeyParams(n_fft=1024, power=2.0,
                                                         context="segment", **kk),
        "ks stft2048 mag segment": KeyParams(n_fft=2048, power=1.0, context="segment", **kk),
        "ks stft2048 mag window6": KeyParams(n_fft=2048, power=1.0, context="window",
                                             window_seconds=6.0, **kk),
        "ks cqt segment": KeyParams(chroma="cqt", context="segment", **kk),
        "essentia krumhansl segment": KeyParams(method="essentia", essentia_profile="krumhansl",
                                                context="segment"),
        "essentia bgate segment": KeyParams(method="essentia", essentia_profile="bgate",
                                            context="segment"),
        "ks window8 krumhansl (previous default)": KeyParams(context="window", **kk),
        "ks sections krumhansl": KeyParams(**kk),
        "ks sections temperley": KeyParams(profile="temperley"),
        "default (ks sections albrecht)": KeyParams()}
    vkk = {"vocal_profile": "krumhansl"}
    vocal_settings = {
        "ks stft1024 power segment (authors)": KeyParams(n_fft=1024, power=2.0,
                                                         vocal_chroma="stft",
                                                         vocal_context="segment", **vkk),
        "ks stft2048 mag track": KeyParams(vocal_chroma="stft", n_fft=2048, power=1.0, **vkk),
        "ks pitch segment": KeyParams(vocal_chroma="pitch", vocal_context="segment", **vkk),
        "ks pitch track krumhansl": KeyParams(**vkk),
        "ks pitch track temperley": KeyParams(vocal_profile="temperley"),
        "essentia krumhansl track": KeyParams(method="essentia", essentia_profile="krumhansl"),
        "default (ks pitch track albrecht)": KeyParams()}
    tempo_settings = {"librosa": TempoParams(), "essentia": TempoParams(method="essentia")}
    try:
        pieces = []
        for i, (bpm, key) in enumerate(zip(tempos, keys)):
            mid, wav = tmp / f"piece{i:02d}.mid", tmp / f"piece{i:02d}.wav"
            mid.write_bytes(midi_bytes(piece(int(key), bpm, i, drums=i % 3 != 2, rng=rng), bpm))
            render(mid, wav)
            pieces.append((audio.load_audio(wav), bpm, int(key)))
        print(f"{len(pieces)} rendered pieces, tempi {tempos.min():.0f}-{tempos.max():.0f} BPM, "
              f"{sum(is_minor(k) for _, _, k in pieces)} in minor keys, FluidR3 GM")
        for name, tp in tempo_settings.items():
            est = np.array([analyze_accompaniment(y, tempo=tp, key=KeyParams()).tempo_bpm
                            for y, _, _ in pieces])
            ref = np.array([b for _, b, _ in pieces])
            print(f"tempo {name:9s}: within 4% {tempo_match(est, ref).mean():.0%}, "
                  f"octave errors {tempo_octave_error(est, ref).mean():.0%}")
        join = MashupParams()
        for name, kp in key_settings.items():
            track, seg, kept = [], [], []
            for y, _, key in pieces:
                res = analyze_accompaniment(y, tempo=TempoParams(), key=kp)
                track.append(mirex_key_score(res.track_key, key)[0])
                seg.extend(mirex_key_score(res.key, np.full(len(res.key), key)))
                usable = (res.change_margin_s >= join.key_change_margin_s) & \
                    (res.key_margin >= join.min_key_margin)
                kept.extend(np.where(usable, res.key == key, np.nan))
            kept = np.array(kept)
            print(f"key {name:36s}: segments MIREX {np.mean(seg):.3f} (n={len(seg)}), "
                  f"tracks {np.mean(track):.3f}; the join would use {np.mean(~np.isnan(kept)):.2f}"
                  f" of the segments, {np.nanmean(kept):.3f} of them in the right key")
        f1s, window_scores, names = [], {n: [] for n in vocal_settings}, []
        for i, (bpm, key) in enumerate(zip(tempos, keys)):
            mid, wav = tmp / f"melody{i:02d}.mid", tmp / f"melody{i:02d}.wav"
            events, spans = melody(int(key), bpm, i, rng=rng)
            mid.write_bytes(midi_bytes(events, bpm))
            render(mid, wav)
            y = audio.load_audio(wav)
            rms = frame_rms(y)
            est = voiced_frames(rms, rms_threshold(rms))
            ref = intervals_to_frames([a for a, _ in spans], [b for _, b in spans], len(rms))
            f1s.append(frame_f1(est, ref))
            names.append(KEY_NAMES[int(key)])
            for name, kp in vocal_settings.items():
                res = analyze_vocal(y, key=kp, table_bpm=bpm)
                window_scores[name].extend(mirex_key_score(res.key, np.full(len(res.key), key)))
        print(f"solo melodies ({len(f1s)}, voice/flute/sax): SVD frame F1 median "
              f"{np.median(f1s):.3f} (min {np.min(f1s):.3f})")
        for name, scores in window_scores.items():
            print(f"  window keys {name:36s}: MIREX {np.mean(scores):.3f} (n={len(scores)})")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
