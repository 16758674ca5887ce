"""Dense arrangement parts and studio processing for the demo accompaniments.

Real pop / rock accompaniments fill the voice's range (100 Hz..5 kHz) with sustained,
harmonically rich parts: distorted guitars, string or synth pads, organs.  This module
renders such parts from a chord sequence, and the processing that gives them realistic
spectra and dynamics: waveshaping distortion, a guitar-cabinet filter, a plate-like
reverb and a bus compressor.  Every function is pure given its ``rng``.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.signal

__all__ = ["SAW_HARMONICS", "TABLE", "bus_compressor", "cabinet", "distorted_guitar", "plate_reverb",
           "section_dynamics", "string_pad", "supersaw"]

SAW_HARMONICS = 60  # band-limited sawtooth harmonics (below Nyquist for f0 < 180 Hz)


TABLE = 4096  # wavetable points per cycle


@functools.lru_cache(maxsize=64)
def _saw_table(harmonics: int) -> np.ndarray:
    """One cycle of a sawtooth of ``harmonics`` harmonics, float32 (TABLE,), peak ~1."""
    phase = 2 * np.pi * np.arange(TABLE) / TABLE
    wave = sum(np.sin(k * phase) / k for k in range(1, harmonics + 1))
    return (wave / np.abs(wave).max()).astype(np.float32)


def _saw(f0: float, n: int, sr: int, phase0: float, harmonics: int) -> np.ndarray:
    """A band-limited sawtooth at ``f0`` Hz: ``n`` float32 samples, peak ~1.

    Harmonics are capped below 0.45 ``sr`` (no aliasing); start phase ``phase0`` in cycles.
    """
    k = max(1, min(harmonics, int(0.45 * sr / f0)))
    index = (np.arange(n) * (f0 * TABLE / sr) + phase0 * TABLE).astype(np.int64)
    return _saw_table(k)[index & (TABLE - 1)]


def supersaw(midi: float, n: int, sr: int, rng: np.random.Generator, *, voices: int = 3,
             spread_cents: float = 12.0, harmonics: int = 24) -> np.ndarray:
    """``voices`` detuned sawtooths at ``midi`` (float32 (n,)), a thick sustained tone."""
    out = np.zeros(n, np.float32)
    for d in np.linspace(-spread_cents, spread_cents, voices):
        f = 440.0 * 2 ** ((midi - 69 + d / 100) / 12)
        out += _saw(f, n, sr, rng.random(), harmonics)
    return out / np.float32(np.sqrt(voices))


def _fade(n: int, attack: int, release: int) -> np.ndarray:
    i = np.arange(n, dtype=np.float32)
    return np.minimum(1.0, np.minimum((i + 1) / max(attack, 1), (n - i) / max(release, 1)))


def distorted_guitar(roots: np.ndarray, chord_t: np.ndarray, chord_s: float, n: int, *,
                     sr: int, rng: np.random.Generator, drive: float, eighths: bool
                     ) -> np.ndarray:
    """One take of a distorted power-chord rhythm guitar, float32 (n,).

    Parameters
    ----------
    roots : np.ndarray [shape=(n_chords,)]  chord roots (MIDI, any octave)
    chord_t : np.ndarray [shape=(n_chords,)]  chord start times (s)
    chord_s : float  chord length (s)
    n : int  output samples at ``sr`` Hz
    drive : float  pre-distortion gain (5..30: crunch to high gain)
    eighths : bool  palm-muted eighth-note chugs, else held chords
    """
    dry = np.zeros(n, np.float32)
    for root, t in zip(roots, chord_t):
        low = 40 + (root - 40) % 12  # E2..D#3
        m = int(chord_s * sr) + int(0.05 * sr)
        tone = sum(_saw(440.0 * 2 ** ((p - 69 + rng.normal(0, 4) / 100) / 12), m, sr,
                        rng.random(), SAW_HARMONICS)
                   for p in (low, low + 7, low + 12))
        if eighths:
            step = m // 4 if m >= 8 else m
            i = np.arange(m) % max(step, 1)
            env = np.exp(-i / (0.09 * sr)) * np.float32(0.8) + np.float32(0.2)
        else:
            env = np.exp(-np.arange(m) / (2.5 * sr))
        start = int((t + rng.normal(0, 0.004)) * sr)
        start = max(start, 0)
        end = min(start + m, n)
        if end > start:
            dry[start:end] += (tone * env * _fade(m, int(0.003 * sr), int(0.03 * sr))
                               )[: end - start].astype(np.float32)
    wet = np.tanh(np.float32(drive) * dry / np.float32(np.abs(dry).max() + 1e-9))
    return cabinet(wet.astype(np.float32), sr=sr, rng=rng)


def cabinet(y: np.ndarray, *, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A 4x12-like speaker response: 90 Hz high-pass, presence peak, 4.5..6.5 kHz roll-off."""
    sos = np.vstack([
        scipy.signal.butter(2, 90.0, "highpass", fs=sr, output="sos"),
        scipy.signal.butter(4, rng.uniform(4500.0, 6500.0), "lowpass", fs=sr, output="sos"),
        _peak(rng.uniform(1500.0, 3000.0), rng.uniform(3.0, 6.0), 1.2, sr),
    ])
    return scipy.signal.sosfilt(sos.astype(np.float32), y).astype(np.float32)


def _peak(freq_hz: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    """RBJ peaking-EQ biquad as one second-order section."""
    amp = 10 ** (gain_db / 40)
    w = 2 * np.pi * freq_hz / sr
    alpha = np.sin(w) / (2 * q)
    b = np.array([1 + alpha * amp, -2 * np.cos(w), 1 - alpha * amp])
    a = np.array([1 + alpha / amp, -2 * np.cos(w), 1 - alpha / amp])
    return np.r_[b / a[0], a / a[0]]


def string_pad(chords: np.ndarray, chord_t: np.ndarray, chord_s: float, n: int, *, sr: int,
               rng: np.random.Generator, octave: int, cutoff_hz: float) -> np.ndarray:
    """Sustained chords (triads ``chords`` shifted by ``octave``) on low-passed supersaws."""
    out = np.zeros(n, np.float32)
    m = int(chord_s * sr) + int(0.25 * sr)
    env = _fade(m, int(0.15 * sr), int(0.25 * sr))
    for chord, t in zip(chords, chord_t):
        tone = sum(supersaw(p + 12 * octave, m, sr, rng) for p in chord) / np.float32(3)
        start = int(t * sr)
        end = min(start + m, n)
        if end > start:
            out[start:end] += (tone * env)[: end - start]
    sos = scipy.signal.butter(2, cutoff_hz, "lowpass", fs=sr, output="sos")
    return scipy.signal.sosfilt(sos.astype(np.float32), out).astype(np.float32)


def plate_reverb(y: np.ndarray, *, sr: int, rng: np.random.Generator, rt60_s: float,
                 wet: float) -> np.ndarray:
    """``y`` plus ``wet`` times its convolution with decaying, darkening noise (float32)."""
    m = int(rt60_s * sr)
    t = np.arange(m) / sr
    ir = rng.standard_normal(m) * np.exp(-6.9 * t / rt60_s)
    ir = scipy.signal.lfilter([0.5], [1.0, -0.5], ir)
    ir[: int(0.015 * sr)] = 0.0
    ir /= np.sqrt(np.sum(ir * ir)) + 1e-12
    tail = scipy.signal.fftconvolve(y, ir.astype(np.float32))[: len(y)]
    return (y + np.float32(wet) * tail).astype(np.float32)


def bus_compressor(y: np.ndarray, *, sr: int, threshold_db: float, ratio: float,
                   attack_s: float = 0.03, release_s: float = 0.25, block: int = 256
                   ) -> np.ndarray:
    """Gain curve (float32 (n,)) of a feed-forward RMS compressor on ``y`` (n,) or (n, c).

    Block RMS (``block`` samples) above ``threshold_db`` dBFS is reduced by ``ratio``; the
    gain follows with one-pole attack and release, then is interpolated to samples.  Apply
    the same curve to every stem so the stems still add up to the mixture.
    """
    mono = y if y.ndim == 1 else y.mean(axis=1)
    nb = -(-len(mono) // block)
    padded = np.zeros(nb * block, np.float64)
    padded[: len(mono)] = mono
    level = 10 * np.log10(np.mean(padded.reshape(nb, block) ** 2, axis=1) + 1e-12)
    over = np.maximum(level - threshold_db, 0.0)
    target = -over * (1.0 - 1.0 / ratio)
    gain = np.empty(nb)
    a_att = np.exp(-block / (attack_s * sr))
    a_rel = np.exp(-block / (release_s * sr))
    g = 0.0
    for i, x in enumerate(target):  # nb ~ 90 per second: a plain loop is cheap
        a = a_att if x < g else a_rel
        g = a * g + (1 - a) * x
        gain[i] = g
    centres = (np.arange(nb) + 0.5) * block
    curve = np.interp(np.arange(len(mono)), centres, gain)
    return (10 ** (curve / 20)).astype(np.float32)


def section_dynamics(n: int, section_starts_s: np.ndarray, *, sr: int,
                     rng: np.random.Generator, spread_db: float = 4.0) -> np.ndarray:
    """A per-section level (verse / chorus contrast), ramped over 0.2 s: float32 (n,)."""
    levels = 10 ** (rng.uniform(-spread_db, 0.0, len(section_starts_s)) / 20)
    t = np.arange(n) / sr
    idx = np.clip(np.searchsorted(section_starts_s, t, side="right") - 1, 0, None)
    step = levels[idx]
    a = np.exp(-1.0 / (0.2 * sr / 64))
    ctrl = scipy.signal.lfilter([1 - a], [1, -a], step[::64], zi=[a * step[0]])[0]
    return np.interp(t, t[::64], ctrl).astype(np.float32)
