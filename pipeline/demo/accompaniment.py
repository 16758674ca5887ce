"""musdb-like accompaniments: drums on a beat grid, a bass line and dense chords in known keys.

A track is a sequence of key sections at one tempo.  Each section repeats a diatonic chord
progression (a chord every ``CHORD_BEATS`` beats) that starts on the tonic; the bass plays
chord roots and fifths.  The "other" stem is a dense arrangement in the voice's range, in
one of ``ARRANGEMENTS`` (distorted rhythm guitars, string and synth pads, organ, arpeggios;
``pipeline.demo.instruments``) with a plate reverb.  Drums: kick, snare, hats, ride and
crash on the grid with humanised timing, in a short room.  Section levels vary (verse /
chorus) and a bus compressor acts on the sum; both gains are applied to every stem, so
stems are stereo and mixture = drums + bass + other exactly as before; vocals are silent.
Measured against a real MUSDB18 excerpt by ``bench/bench_masking.py``.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from ..core.music import is_minor, key_name, tonic
from .instruments import (
    bus_compressor,
    distorted_guitar,
    plate_reverb,
    section_dynamics,
    string_pad,
)
from .melody import degree_to_semitones
from .plan import BEATS_PER_BAR, CHORD_BEATS, TrackPlan

__all__ = ["ARRANGEMENTS", "MAJOR_PROGRESSIONS", "MINOR_PROGRESSIONS", "STEMS", "TABLE", "render_track"]

TABLE = 2048  # wavetable points per cycle
MAJOR_PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3), (0, 3, 0, 4))
MINOR_PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 6, 0), (0, 3, 6, 0), (0, 5, 3, 4))
STEMS = ("mixture", "drums", "bass", "other", "vocals")


def render_track(plan: TrackPlan, *, sr: int, rng: np.random.Generator):
    """Render ``plan``: stems {name: float32 (n, 2)} and ground truth (dict).

    Truth: ``tempo_bpm``, ``beat_times_s`` (the unhumanised grid, s), ``key_change_s`` (the
    first is 0.0, then each section start, s), ``key_names`` and ``duration_s``.
    """
    beat_s = 60.0 / plan.tempo_bpm
    n_beats = len(plan.section_keys) * plan.section_bars * BEATS_PER_BAR
    duration = plan.lead_in_s + (n_beats + 4) * beat_s
    n = int(round(duration * sr))
    beats = plan.lead_in_s + np.arange(n_beats + 1) * beat_s
    drums = _drums(beats, beat_s, n, sr=sr, rng=rng)
    chords, roots = _chords(plan)
    chord_t = plan.lead_in_s + np.arange(len(chords)) * CHORD_BEATS * beat_s
    bass = np.zeros(n, np.float32)
    _bass(bass, roots, chord_t, beat_s, sr=sr, rng=rng)
    bass = _pan(bass, 0.0)
    other = _other(plan, chords, roots, chord_t, beat_s, n, sr=sr, rng=rng)
    drums *= np.float32(0.5)
    bass *= np.float32(0.35)
    section_starts = plan.lead_in_s + np.arange(len(plan.section_keys)) * plan.section_s
    # the same level curve on every stem keeps mixture = drums + bass + other
    level = section_dynamics(n, section_starts, sr=sr, rng=rng)
    level *= bus_compressor((drums + bass + other) * level[:, None], sr=sr,
                            threshold_db=float(rng.uniform(-24.0, -18.0)),
                            ratio=float(rng.uniform(2.5, 5.0)))
    for stem in (drums, bass, other):
        stem *= level[:, None]
    mixture = drums + bass + other
    gain = np.float32(0.9 / (np.abs(mixture).max() + 1e-9))
    for stem in (mixture, drums, bass, other):
        stem *= gain
    stems = {"mixture": mixture, "drums": drums, "bass": bass, "other": other,
             "vocals": np.zeros_like(mixture)}
    section_starts = plan.lead_in_s + np.arange(len(plan.section_keys)) * plan.section_s
    truth = {
        "tempo_bpm": plan.tempo_bpm, "beat_times_s": beats.tolist(),
        "key_change_s": [0.0] + section_starts[1:].tolist(),
        "key_names": [key_name(k) for k in plan.section_keys], "duration_s": n / sr,
    }
    return stems, truth


ARRANGEMENTS = ("rock", "pop", "organ")


def _other(plan: TrackPlan, chords, roots, chord_t, beat_s, n, *, sr: int, rng) -> np.ndarray:
    """The "other" stem, stereo (n, 2): a dense arrangement in the voice's range.

    rock: two distorted rhythm-guitar takes panned apart, a pad, an arpeggio; pop: strings in
    two octaves, a pad or organ, an arpeggio; organ: organ, strings, a crunchy guitar.  The
    bus goes through a plate reverb.
    """
    style = ARRANGEMENTS[int(rng.integers(len(ARRANGEMENTS)))]
    chord_s = CHORD_BEATS * beat_s
    out = np.zeros((n, 2), np.float32)
    pan = float(rng.uniform(0.5, 0.9))

    def add(mono, side, level):
        out[:] += _pan(mono / np.float32(np.sqrt(np.mean(mono ** 2)) + 1e-9), side) * \
            np.float32(level)

    if style in ("rock", "organ"):
        drive = float(rng.uniform(8.0, 25.0) if style == "rock" else rng.uniform(3.0, 6.0))
        eighths = bool(rng.random() < 0.5)
        takes = (-pan, pan) if style == "rock" else (float(rng.uniform(-0.4, 0.4)),)
        for side in takes:
            add(distorted_guitar(roots, chord_t, chord_s, n, sr=sr, rng=rng, drive=drive,
                                 eighths=eighths), side, 0.09)
    if style in ("pop", "organ"):
        add(string_pad(chords, chord_t, chord_s, n, sr=sr, rng=rng, octave=0,
                       cutoff_hz=float(rng.uniform(2500.0, 5000.0))), -0.3 * pan, 0.08)
    if style == "pop":
        add(string_pad(chords, chord_t, chord_s, n, sr=sr, rng=rng, octave=1,
                       cutoff_hz=float(rng.uniform(4000.0, 7000.0))), 0.3 * pan, 0.06)
    names = {"rock": ("pad", "pluck"), "pop": (str(rng.choice(["pad", "organ"])), "pluck"),
             "organ": ("organ",)}[style]
    for i, name in enumerate(names):
        bus = np.zeros(n, np.float32)
        _harmony(bus, name, chords, chord_t, beat_s, sr=sr, rng=rng)
        add(bus, float(rng.uniform(-0.6, 0.6)), 0.07 if i == 0 else 0.05)
    rt60, wet = float(rng.uniform(0.8, 1.8)), float(rng.uniform(0.2, 0.5))
    for c in range(2):  # one impulse response per side: a wide, decorrelated tail
        out[:, c] = plate_reverb(out[:, c], sr=sr, rng=rng, rt60_s=rt60, wet=wet)
    return out


def _chords(plan: TrackPlan) -> tuple[np.ndarray, np.ndarray]:
    """Chord slots of every section (one per ``CHORD_BEATS`` beats).

    Returns triads in close position within MIDI 55..66, shape (n_chords, 3), and their
    roots in the bass octave (MIDI 36..47), shape (n_chords,).
    """
    triads, roots = [], []
    per_section = plan.section_bars * BEATS_PER_BAR // CHORD_BEATS
    for i, key in enumerate(plan.section_keys):
        table = MINOR_PROGRESSIONS if is_minor(key) else MAJOR_PROGRESSIONS
        progression = table[(i + key) % len(table)]
        for slot in range(per_section):
            degree = progression[slot % len(progression)]
            semis = degree_to_semitones(np.array([degree, degree + 2, degree + 4]),
                                        minor=is_minor(key))
            pcs = (tonic(key) + semis) % 12
            triads.append(np.sort(55 + (pcs - 55) % 12))
            roots.append(36 + (pcs[0] - 36) % 12)
    return np.array(triads, dtype=float), np.array(roots, dtype=float)


def _wavetable(amplitudes: np.ndarray) -> np.ndarray:
    """One cycle (TABLE points) of a sum of harmonics with the given amplitudes."""
    phase = 2 * np.pi * np.arange(TABLE) / TABLE
    k = np.arange(1, len(amplitudes) + 1)[:, None]
    wave = (amplitudes[:, None] * np.sin(k * phase)).sum(axis=0)
    return (wave / np.abs(wave).max()).astype(np.float32)


def _tone(table: np.ndarray, midi: float, n: int, sr: int, detune_cents: float = 0.0):
    """``n`` samples of ``table`` played at ``midi`` (float32)."""
    f = 440.0 * 2 ** ((midi - 69 + detune_cents / 100) / 12)
    index = (np.arange(n, dtype=np.float32) * np.float32(f * TABLE / sr)).astype(np.int32)
    return table[index & (TABLE - 1)]


def _bright_to_dull(bright, dull, fade: np.ndarray, midi: float, sr: int) -> np.ndarray:
    """A plucked tone: wavetable ``bright`` fading (by ``fade``, 1 -> 0) into ``dull``."""
    n = len(fade)
    return fade * _tone(bright, midi, n, sr) + (1 - fade) * _tone(dull, midi, n, sr)


def _add(buf: np.ndarray, start: int, sound: np.ndarray) -> None:
    """Mix mono ``sound`` into mono ``buf`` from sample ``start`` (cut at the end of ``buf``)."""
    end = min(start + len(sound), len(buf))
    if end > start:
        buf[start:end] += sound[: end - start]


def _pan(mono: np.ndarray, pan: float) -> np.ndarray:
    """Equal-power pan of (n,) to (n, 2); ``pan`` from -1 (left) to 1 (right)."""
    angle = (pan + 1) * np.pi / 4
    out = np.empty((len(mono), 2), np.float32)
    np.multiply(mono, np.float32(np.cos(angle)), out=out[:, 0])  # column writes beat broadcasting
    np.multiply(mono, np.float32(np.sin(angle)), out=out[:, 1])
    return out


def _bass(buf, roots, chord_t, beat_s, *, sr: int, rng) -> None:
    """Roots on the beats, sometimes roots or fifths between, in a plucked low tone."""
    k = np.arange(1, 13)
    bright = _wavetable(1.0 / k)
    dull = _wavetable(np.exp(-k))
    decay = rng.uniform(0.25, 0.6)
    n = int(0.5 * beat_s * sr)
    u = np.arange(n, dtype=np.float32) / sr
    env = np.exp(-u / decay) * np.minimum(1.0, (n - np.arange(n)) / (0.01 * sr))
    fast = np.exp(-u / 0.08)
    for root, t in zip(roots, chord_t):
        for j in range(CHORD_BEATS * 2):
            if j % 2 and rng.random() < 0.5:
                continue
            midi = root + 7 if (j % 2 and rng.random() < 0.5) else root
            note = env * _bright_to_dull(bright, dull, fast, midi, sr)
            _add(buf, int((t + j * 0.5 * beat_s) * sr), note.astype(np.float32))


def _harmony(buf, name: str, chords, chord_t, beat_s, *, sr: int, rng) -> None:
    """Chords on a pad or organ, or arpeggios on a plucked instrument."""
    k = np.arange(1, 17)
    chord_n = int(CHORD_BEATS * beat_s * sr)
    if name == "pad":
        table = _wavetable(k ** -1.5)
        for chord, t in zip(chords, chord_t):
            n = chord_n + int(0.3 * sr)
            u = np.arange(n) / sr
            env = (1 - np.exp(-u / 0.12)) * np.clip((n - np.arange(n)) / (0.3 * sr), 0, 1)
            note = sum(_tone(table, m, n, sr, d) for m in chord for d in (-7, 7)) / 6
            _add(buf, int(t * sr), (env * note).astype(np.float32))
    elif name == "organ":
        drawbars = np.zeros(8)
        drawbars[[0, 1, 2, 3, 5, 7]] = rng.uniform(0.2, 1.0, 6)
        table = _wavetable(drawbars)
        for chord, t in zip(chords, chord_t):
            u = np.arange(chord_n) / sr
            env = np.minimum(1.0, u / 0.01) * np.clip((chord_n - np.arange(chord_n)) / (0.01 * sr),
                                                      0, 1) * (1 + 0.1 * np.sin(2 * np.pi * 6 * u))
            note = sum(_tone(table, m, chord_n, sr) for m in chord) / 3
            _add(buf, int(t * sr), (env * note).astype(np.float32))
    else:
        bright, dull = _wavetable(k ** -0.8), _wavetable(k ** -2.5)
        step = 0.5 * beat_s
        pattern = rng.permutation([0, 1, 2, 1])
        n = int(0.6 * sr)
        u = np.arange(n, dtype=np.float32) / sr
        env = np.exp(-u / 0.25) * np.minimum(1.0, (n - np.arange(n)) / (0.01 * sr))
        fast = np.exp(-u / 0.05)
        for chord, t in zip(chords, chord_t):
            for j in range(CHORD_BEATS * 2):
                midi = chord[pattern[j % 4]] + 12
                note = env * _bright_to_dull(bright, dull, fast, midi, sr)
                _add(buf, int((t + j * step) * sr), 0.6 * note.astype(np.float32))


def _drums(beats: np.ndarray, beat_s: float, n: int, *, sr: int, rng) -> np.ndarray:
    """Kick on 1 and 3, snare on 2 and 4, hats on eighths; timing humanised (sd 6 ms)."""
    centre, hats = np.zeros(n, np.float32), np.zeros(n, np.float32)
    kick, snare = _kick(sr, rng), _snare(sr, rng)
    hat = _hat(sr, rng, 0.03)
    open_hat = _hat(sr, rng, 0.2)
    extra_kick = rng.random() < 0.5
    hat_pan = rng.uniform(-0.5, 0.5)
    crash, ride = _hat(sr, rng, 1.2, low_hz=3000.0), _hat(sr, rng, 0.5, low_hz=2500.0)
    use_ride = rng.random() < 0.5
    for i, b in enumerate(beats):
        pos = i % BEATS_PER_BAR
        vel = rng.uniform(0.85, 1.0)
        at = int((b + rng.normal(0, 0.006)) * sr)
        _add(centre, at, vel * (kick if pos in (0, 2) else snare))
        if i == len(beats) - 1:
            break
        for half in (0, 1):
            at = int((b + half * 0.5 * beat_s + rng.normal(0, 0.006)) * sr)
            sound = open_hat if (pos == 3 and half == 1) else hat
            level = rng.uniform(0.15, 0.25)
            if use_ride and half == 0:
                sound = ride
            _add(hats, at, level * sound)
        if i % (4 * BEATS_PER_BAR) == 0 and i > 0:  # a crash every fourth downbeat
            _add(hats, int(b * sr), 0.15 * crash)
        if extra_kick and pos == 2:
            _add(centre, int((b + 0.5 * beat_s) * sr), 0.6 * kick)
    # a room around the cymbals only: on kick and snare it would blur the onsets
    hats = plate_reverb(hats, sr=sr, rng=rng, rt60_s=0.6, wet=0.4)
    return _pan(centre, 0.0) + _pan(hats, hat_pan)


def _kick(sr: int, rng) -> np.ndarray:
    n = int(0.4 * sr)
    u = np.arange(n) / sr
    f = 45 + rng.uniform(80, 140) * np.exp(-u / 0.03)
    body = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-u / rng.uniform(0.12, 0.3))
    click = rng.standard_normal(n) * np.exp(-u / 0.003) * 0.3
    return (body + click).astype(np.float32)


def _snare(sr: int, rng) -> np.ndarray:
    n = int(0.3 * sr)
    u = np.arange(n) / sr
    noise = scipy.signal.lfilter([1, -1], [1, -0.3], rng.standard_normal(n))
    tone = np.sin(2 * np.pi * rng.uniform(170, 220) * u) * np.exp(-u / 0.05)
    return (0.6 * noise * np.exp(-u / rng.uniform(0.06, 0.15)) + 0.5 * tone).astype(np.float32)


def _hat(sr: int, rng, decay_s: float, low_hz: float = 0.0) -> np.ndarray:
    """A noise cymbal: hats (high-pass 6..9 kHz) or, with ``low_hz``, a ride or crash."""
    n = int(min(6 * decay_s, 2.5) * sr)
    u = np.arange(n) / sr
    if low_hz:  # ride and crash: most of their noise between 2.5 and 8 kHz
        sos = scipy.signal.butter(2, [low_hz, 8000.0], "bandpass", fs=sr, output="sos")
    else:
        sos = scipy.signal.butter(2, rng.uniform(6000, 9000), "highpass", fs=sr, output="sos")
    noise = scipy.signal.sosfilt(sos, rng.standard_normal(n))
    return (0.5 * noise * np.exp(-u / decay_s)).astype(np.float32)
