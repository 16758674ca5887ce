"""Synthetic test signals with known tempo, key and voicing (mono float32 at 22,050 Hz)."""

import numpy as np

from pipeline.core.music import is_minor, tonic
from pipeline.core.segment import SAMPLE_RATE as SR


def midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69) / 12)


def note(midi: float, seconds: float, amp: float = 0.2, harmonics: int = 3) -> np.ndarray:
    """A harmonic tone with a short fade in/out."""
    t = np.arange(int(seconds * SR)) / SR
    y = sum(amp / h * np.sin(2 * np.pi * h * midi_hz(midi) * t) for h in range(1, harmonics + 1))
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
    return (y * fade).astype(np.float32)


def cadence(key: int, seconds_per_chord: float = 0.75, repeats: int = 2) -> np.ndarray:
    """I-IV-V-I (minor: i-iv-V-i) triads with a bass note, in key index ``key``."""
    root = 48 + tonic(key)
    third = 3 if is_minor(key) else 4
    chords = [(0, third, 7), (5, 5 + third, 12), (7, 11, 14), (0, third, 7)]
    parts = []
    for c in chords * repeats:
        parts.append(sum(note(root + 12 + d, seconds_per_chord, 0.1) for d in c)
                     + note(root + c[0], seconds_per_chord, 0.15))
    return np.concatenate(parts).astype(np.float32)


def clicks(bpm: float, seconds: float, rng, first_s: float = 0.5, amp: float = 0.5) -> np.ndarray:
    """Noise bursts (5 ms decay) every beat from ``first_s``."""
    y = np.zeros(int(seconds * SR), dtype=np.float32)
    n = 400
    for t in np.arange(first_s, seconds - 0.05, 60.0 / bpm):
        i = int(round(t * SR))
        burst = rng.standard_normal(n) * np.exp(-np.arange(n) / 110.0) * amp
        y[i:i + n] += burst[: len(y) - i].astype(np.float32)
    return y


def sung_phrases(key: int, seconds: float, *, phrase_s: float = 4.0, gap_s: float = 2.0,
                 amp: float = 0.2) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Scale-tone 'phrases' separated by silence; returns samples and voiced (start, end) s."""
    from pipeline.core.music import scale_pitch_classes

    pcs = scale_pitch_classes(key)
    melody = [pcs[i] for i in (0, 2, 4, 2, 0, 4, 3, 1, 0)]
    y = np.zeros(int(seconds * SR), dtype=np.float32)
    intervals, t, j = [], 0.5, 0
    while t + phrase_s <= seconds:
        i = int(t * SR)
        phrase = np.concatenate([note(60 + melody[(j + k) % len(melody)], 0.5, amp)
                                 for k in range(int(phrase_s / 0.5))])
        y[i:i + len(phrase)] += phrase
        intervals.append((t, t + len(phrase) / SR))
        t += phrase_s + gap_s
        j += 3
    return y, intervals
