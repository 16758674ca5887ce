"""A recording channel per performance: phone-mic EQ, room reverb, level and noise floor.

Each recording gets its own channel, so level, tilt or room alone do not name the singer.
``strength`` scales the variation (0: a clean, fixed channel).  Optionally a singer records
on one phone (``own_phone``): the mic's low cut is the singer's, to within 5%, a mark on the
a-cappella recordings that a mix's bass and kick cover.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.signal

__all__ = ["Channel", "NOISE_PERIOD", "PHONE_JITTER", "add_noise_floor", "apply_channel",
           "draw_channel", "draw_phone_cut", "own_phone"]

NOISE_PERIOD = 2**17
PHONE_JITTER = 0.05  # sd of the log of a recording's low cut around its singer's phone


@dataclasses.dataclass(frozen=True)
class Channel:
    """One recording's channel."""

    low_cut_hz: float  # mic / phone high-pass corner
    tilt_db: float  # gain of the band above ``tilt_hz`` relative to below
    tilt_hz: float
    peak_hz: float  # a mic / cavity resonance
    peak_db: float
    reverb_rt60_s: float
    reverb_wet: float  # reverberant to direct amplitude ratio
    level_db: float  # peak level of the recording (dBFS)
    noise_db: float  # noise floor RMS (dBFS)


def draw_channel(rng: np.random.Generator, *, strength: float = 1.0) -> Channel:
    """Sample a channel; ``strength`` scales EQ gains, reverb amount and the low cut."""
    s = float(strength)
    return Channel(
        low_cut_hz=draw_phone_cut(rng, strength=s),
        tilt_db=float(s * rng.uniform(-8.0, 8.0)), tilt_hz=float(rng.uniform(800.0, 3000.0)),
        peak_hz=float(rng.uniform(1000.0, 6000.0)), peak_db=float(s * rng.uniform(-8.0, 8.0)),
        reverb_rt60_s=float(rng.uniform(0.2, 0.8)),
        reverb_wet=float(min(s * rng.uniform(0.0, 0.5), 0.8)),
        level_db=float(rng.uniform(-7.0, -1.0)), noise_db=float(rng.uniform(-72.0, -50.0)),
    )


def draw_phone_cut(rng: np.random.Generator, *, strength: float = 1.0) -> float:
    """A phone's mic high-pass corner (Hz): 60 Hz plus up to ``strength`` x 220 Hz."""
    return float(60.0 + float(strength) * rng.uniform(0.0, 220.0))


def own_phone(channel: Channel, cut_hz: float, *, rng: np.random.Generator) -> Channel:
    """``channel`` recorded on the singer's phone: low cut ``cut_hz`` times exp(N(0,
    ``PHONE_JITTER``)) (the phone held differently, another app version)."""
    jitter = float(np.exp(rng.normal(0.0, PHONE_JITTER)))
    return dataclasses.replace(channel, low_cut_hz=float(cut_hz * jitter))


def apply_channel(y: np.ndarray, channel: Channel, *, sr: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Pass mono ``y`` (n,) through the channel's EQ and room: float32 (n,) at its peak level.

    The noise floor is added separately (``add_noise_floor``), after any resampling.
    """
    f32 = np.float32
    eq = np.vstack([
        scipy.signal.butter(2, channel.low_cut_hz, "highpass", fs=sr, output="sos"),
        _tilt(channel.tilt_db, channel.tilt_hz, sr),
        np.hstack(_peaking(channel.peak_hz, channel.peak_db, 1.0, sr)),
    ])
    y = scipy.signal.sosfilt(eq.astype(f32), y.astype(f32))
    if channel.reverb_wet > 0:
        y = y + f32(channel.reverb_wet) * _reverb(y, channel.reverb_rt60_s, sr, rng)
    y *= f32(10 ** (channel.level_db / 20) / (np.abs(y).max() + 1e-9))
    return y.astype(f32)


def add_noise_floor(y: np.ndarray, channel: Channel, *, rng: np.random.Generator) -> np.ndarray:
    """Add the channel's noise floor (pinkish, ``noise_db`` dBFS RMS) to ``y``; clip to [-1, 1].

    The noise is a random ``NOISE_PERIOD``-sample loop (about 3 s at 44.1 kHz), which is
    cheaper than fresh noise and inaudible as a loop at these levels.
    """
    f32 = np.float32
    loop = scipy.signal.lfilter(np.array([1.0], f32), np.array([1.0, -0.95], f32),
                                rng.standard_normal(NOISE_PERIOD, dtype=f32))
    loop *= f32(10 ** (channel.noise_db / 20) / (loop.std() + 1e-12))
    return np.clip(y + np.resize(loop, len(y)), -1.0, 1.0).astype(f32)


def _tilt(gain_db: float, corner_hz: float, sr: int) -> np.ndarray:
    """First-order shelf as one second-order section: 1 + (g - 1) * highpass(corner_hz)."""
    (b, a) = scipy.signal.butter(1, corner_hz, "highpass", fs=sr)
    b = a + (10 ** (gain_db / 20) - 1.0) * b
    return np.r_[b, 0.0, a, 0.0]


def _peaking(freq_hz: float, gain_db: float, q: float, sr: int):
    """RBJ peaking-EQ biquad coefficients (b, a)."""
    amp = 10 ** (gain_db / 40)
    w = 2 * np.pi * freq_hz / sr
    alpha = np.sin(w) / (2 * q)
    b = np.array([1 + alpha * amp, -2 * np.cos(w), 1 - alpha * amp])
    a = np.array([1 + alpha / amp, -2 * np.cos(w), 1 - alpha / amp])
    return b / a[0], a / a[0]


def _reverb(y: np.ndarray, rt60_s: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A diffuse room: ``y`` convolved with exponentially decaying, darkening noise."""
    n = int(rt60_s * sr)
    t = np.arange(n) / sr
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s)
    ir = scipy.signal.lfilter([0.4], [1.0, -0.6], ir)
    ir[: int(0.01 * sr)] = 0.0  # pre-delay: the direct sound comes first
    ir /= np.sqrt(np.sum(ir * ir)) + 1e-12
    return scipy.signal.fftconvolve(y, ir.astype(y.dtype))[: len(y)]
