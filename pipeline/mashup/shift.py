"""Shift to match: pitch-shift and time-stretch an accompaniment segment onto a vocal's key and tempo.

``shift_segment`` time-stretches by a phase vocoder with identity phase locking (Laroche and
Dolson 1999) and shifts pitch by resampling (soxr, varispeed): stretching by
``stretch_ratio / p`` and then playing ``p = 2 ** (semitones / 12)`` times faster gives the
tempo ratio ``stretch_ratio`` and the pitch ratio ``p`` (librosa's ``pitch_shift`` chain).
``bench/bench_shift.py`` compares it with librosa, WSOLA, Rubber Band and Signalsmith Stretch.

Why not librosa's phase vocoder: it takes phases with ``np.angle`` and rebuilds them with
``np.exp``, whose SIMD kernels round differently by CPU (three different outputs on one
machine under the three numpy SIMD levels of ``tests/test_determinism.py``).  Here phases are
never taken: the phase advance of a bin over one hop is the unit phasor ``X_k / |X_k|`` times
the conjugate of the same bin one hop earlier, and phasors are multiplied as pairs of float64
arrays, so every operation is a correctly rounded IEEE add, multiply, divide or square root;
FFTs are numpy's pocketfft; the window is a Taylor series, not libm (glibc's exp, sin and cos
round differently on CPUs without FMA).  The output is therefore the same bytes on every
x86-64 machine, as the rest of a shard (``tests/test_shift.py``).

Conventions: ``stretch_ratio`` > 1 speeds the accompaniment up: its output of ``out_samples``
consumes ``ceil(stretch_ratio * out_samples)`` input samples, and the caller reads
``input_samples(stretch_ratio, out_samples)`` (that plus ``STRETCH_MARGIN_SAMPLES``) from the
segment start, which stays on the output's sample 0 (a beat stays a beat).
"""

from __future__ import annotations

import math

import numpy as np

from ..core.audio import resample as _soxr_resample  # noqa: F401  (sets SOXR_USE_SIMD=0 first)
from ..core.errors import ParameterError

__all__ = ["MAX_SEMITONES", "MAX_STRETCH_RATIO", "MIN_STRETCH_RATIO", "N_FFT", "HOP_LENGTH",
           "STRETCH_MARGIN_SAMPLES", "hann_window", "input_samples", "is_identity",
           "phase_vocoder", "shift_segment", "varispeed"]

N_FFT = 2048  # samples: 10.8 Hz bins at 22,050 Hz, enough to separate bass partials
HOP_LENGTH = 512  # synthesis hop (samples), N_FFT / 4
MAX_SEMITONES = 6  # any key is at most 6 semitones away
MIN_STRETCH_RATIO, MAX_STRETCH_RATIO = 0.8, 1.25
RESAMPLE_PAD = 1024  # stretched samples beyond the output soxr's filter reaches
# Input samples past ceil(stretch_ratio * out_samples) that the vocoder and resampler read,
# for every allowed (semitones, stretch_ratio); tests/test_shift.py checks the bound.
STRETCH_MARGIN_SAMPLES = 8192
_TINY = 1e-30


def is_identity(semitones: float, stretch_ratio: float) -> bool:
    """True when the shift changes nothing (0 semitones, ratio 1.0): the segment is copied."""
    return float(semitones) == 0.0 and float(stretch_ratio) == 1.0


def input_samples(stretch_ratio: float, out_samples: int) -> int:
    """Input samples ``shift_segment`` needs for ``out_samples`` at ``stretch_ratio``.

    ``ceil(stretch_ratio * out_samples) + STRETCH_MARGIN_SAMPLES``; exactly ``out_samples``
    at ratio 1.0 with no pitch shift is enough too (``is_identity``), but callers that cannot
    tell use this.
    """
    return int(math.ceil(float(stretch_ratio) * int(out_samples))) + STRETCH_MARGIN_SAMPLES


def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window ``sin(pi k / n) ** 2`` without libm: float64, shape (n,).

    ``sin`` is a Horner-evaluated Taylor series (to x**21, error < 1e-17 on [0, pi/2]) in
    float64, so the window has the same bits on every machine.
    """
    x = np.pi * np.arange(n, dtype=np.float64) / n
    x = np.minimum(x, np.pi - x)  # sin(x) = sin(pi - x), x in [0, pi/2]
    x2 = x * x
    s = np.ones_like(x)
    for m in range(20, 0, -2):  # sin x = x (1 - x2/(2*3) (1 - x2/(4*5) (1 - ...)))
        s = 1.0 - x2 / (m * (m + 1)) * s
    s = x * s
    return s * s


def _unit(re: np.ndarray, im: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The unit phasor of (re, im); 1 + 0j where the magnitude is ~0."""
    mag = np.sqrt(re * re + im * im)
    ok = mag > _TINY
    safe = np.where(ok, mag, 1.0)
    return np.where(ok, re / safe, 1.0), np.where(ok, im / safe, 0.0)


def _peaks(mag: np.ndarray) -> np.ndarray:
    """Bins that are local maxima over +-2 bins, per frame: bool (frames, bins); every bin of
    a frame that has none."""
    p = np.pad(mag, ((0, 0), (2, 2)))
    c = p[:, 2:-2]
    peak = (c > p[:, 1:-3]) & (c >= p[:, 3:-1]) & (c > p[:, :-4]) & (c >= p[:, 4:]) & (c > _TINY)
    peak[~peak.any(axis=1)] = True
    return peak


def _owners(peak: np.ndarray) -> np.ndarray:
    """The nearest peak bin of every bin (ties to the lower one): int64 (frames, bins)."""
    n = peak.shape[1]
    bins = np.arange(n)
    below = np.maximum.accumulate(np.where(peak, bins, -1), axis=1)
    above = np.minimum.accumulate(np.where(peak, bins, n)[:, ::-1], axis=1)[:, ::-1]
    lower = (below >= 0) & ((above >= n) | (2 * bins <= below + above))
    return np.where(lower, below, above)


def _frames(y: np.ndarray, centres: np.ndarray, window: np.ndarray) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """rfft of the windowed frames centred at ``centres`` of (zero-padded) ``y``: re, im."""
    n = len(window)
    idx = centres[:, None] + np.arange(-(n // 2), n - n // 2)[None, :]
    spec = np.fft.rfft(y[idx] * window, axis=1)
    return np.ascontiguousarray(spec.real), np.ascontiguousarray(spec.imag)


def phase_vocoder(y: np.ndarray, *, rate: float, out_samples: int, n_fft: int = N_FFT,
                  hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Time-stretch ``y`` by ``rate`` (> 1 faster) without changing its pitch.

    Output frame ``k`` (centred at ``k * hop_length``) takes its magnitude from the input
    frame centred at ``round(k * hop_length * rate)`` and its phase by accumulating, at
    spectral peaks, the phase advance the input shows over one hop at that place; other bins
    keep their phase relation to the peak whose region they are in (identity phase locking),
    which keeps partials coherent.  Frame 0 is the input's frame 0, so the output starts where
    the input does.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]  mono samples, starting at the output's first sample
    rate : float  tempo ratio (> 1: the output is faster and shorter than the input)
    out_samples : int  output length (samples); ``y`` needs about ``rate * out_samples``
        samples plus two frames (missing samples are taken as zeros)
    n_fft, hop_length : int  frame length and synthesis hop (samples), Hann windows

    Returns
    -------
    np.ndarray [shape=(out_samples,), float64]
    """
    if not rate > 0:
        raise ParameterError(f"stretch rate must be > 0, got {rate}")
    window = hann_window(n_fft)
    n_frames = int(out_samples) // hop_length + n_fft // (2 * hop_length) + 2
    centres = np.round(np.arange(n_frames) * (hop_length * float(rate))).astype(np.int64)
    pad = n_fft // 2 + hop_length
    need = int(centres[-1]) + n_fft // 2 + 1
    x = np.zeros(pad + max(need, len(y)), np.float64)
    x[pad:pad + len(y)] = y
    xr, xi = _frames(x, centres + pad, window)  # the frames themselves
    pr, pi = _frames(x, centres + pad - hop_length, window)  # the same places, one hop earlier
    mag = np.sqrt(xr * xr + xi * xi)
    ur, ui = _unit(xr, xi)
    vr, vi = _unit(pr, pi)
    # phase advance over one hop at each frame: u * conj(v)
    dr, di = ur * vr + ui * vi, ui * vr - ur * vi
    peak = _peaks(mag)
    owner = _owners(peak)
    # every bin's analysis phase relative to its peak's: u_bin * conj(u_peak)
    our, oui = np.take_along_axis(ur, owner, axis=1), np.take_along_axis(ui, owner, axis=1)
    rr, ri = ur * our + ui * oui, ui * our - ur * oui
    yr, yi = np.empty_like(xr), np.empty_like(xi)
    yr[0], yi[0] = ur[0], ui[0]
    ar, ai = np.zeros(mag.shape[1]), np.zeros(mag.shape[1])
    for k in range(1, n_frames):
        pk = np.flatnonzero(peak[k])
        # peaks: the previous synthesis phasor advanced by the input's advance
        sr_, si_ = yr[k - 1, pk], yi[k - 1, pk]
        # normalised: |phasor| stays 1 against rounding drift
        ar[pk], ai[pk] = _unit(sr_ * dr[k, pk] - si_ * di[k, pk],
                               sr_ * di[k, pk] + si_ * dr[k, pk])
        # every bin: its peak's phasor times its own phase relative to that peak
        a_r, a_i = ar[owner[k]], ai[owner[k]]
        yr[k] = a_r * rr[k] - a_i * ri[k]
        yi[k] = a_r * ri[k] + a_i * rr[k]
    spec = np.empty(xr.shape, np.complex128)
    spec.real, spec.imag = mag * yr, mag * yi
    frames = np.fft.irfft(spec, n=n_fft, axis=1) * window
    total = n_frames * hop_length + n_fft
    out, norm = np.zeros(total), np.zeros(total)
    w2 = window * window
    for k in range(n_frames):  # overlap-add in frame order: a fixed-order sum per sample
        out[k * hop_length:k * hop_length + n_fft] += frames[k]
        norm[k * hop_length:k * hop_length + n_fft] += w2
    lo = n_fft // 2
    out, norm = out[lo:lo + int(out_samples)], norm[lo:lo + int(out_samples)]
    return out / np.maximum(norm, 1e-3)


def varispeed(y: np.ndarray, *, factor: float, sr: int) -> np.ndarray:
    """Play ``y`` ``factor`` times faster (pitch and tempo up by ``factor``) by resampling.

    soxr "HQ" (its scalar engine, see ``pipeline.core.audio``) from ``sr * factor`` to ``sr``.

    Returns
    -------
    np.ndarray [shape=(about len(y) / factor,), float64]
    """
    import soxr

    if factor == 1.0:
        return np.asarray(y, np.float64)
    return soxr.resample(np.asarray(y, np.float64), float(sr) * float(factor), float(sr),
                         quality="HQ")


def shift_segment(y: np.ndarray, *, sr: int, semitones: float, stretch_ratio: float,
                  out_samples: int, n_fft: int = N_FFT,
                  hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Pitch-shift by ``semitones`` and time-stretch by ``stretch_ratio``: ``out_samples`` out.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]  mono samples from the segment start; ``n`` at least
        ``input_samples(stretch_ratio, out_samples)`` unless the shift is the identity
    sr : int  sample rate (Hz)
    semitones : float  pitch shift (semitones, |.| <= MAX_SEMITONES; + is up)
    stretch_ratio : float  tempo ratio in [MIN_STRETCH_RATIO, MAX_STRETCH_RATIO] (> 1 faster)
    out_samples : int  output length (samples)
    n_fft, hop_length : int  phase-vocoder frame and hop (samples)

    Returns
    -------
    np.ndarray [shape=(out_samples,), float32]
        At 0 semitones and ratio 1.0, ``y[:out_samples]`` itself (as float32).

    Raises
    ------
    ParameterError
        A shift out of range or ``y`` too short.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"shift_segment takes mono audio, got shape {y.shape}")
    if is_identity(semitones, stretch_ratio):
        if len(y) < out_samples:
            raise ParameterError(f"segment of {len(y)} samples, {out_samples} needed")
        return np.asarray(y[:out_samples], np.float32)
    if not abs(float(semitones)) <= MAX_SEMITONES:
        raise ParameterError(f"semitones must be within +-{MAX_SEMITONES}, got {semitones}")
    if not MIN_STRETCH_RATIO <= float(stretch_ratio) <= MAX_STRETCH_RATIO:
        raise ParameterError(f"stretch_ratio must be in [{MIN_STRETCH_RATIO}, "
                             f"{MAX_STRETCH_RATIO}], got {stretch_ratio}")
    need = input_samples(stretch_ratio, out_samples)
    if len(y) < need:
        raise ParameterError(f"segment of {len(y)} samples, {need} needed for stretch ratio "
                             f"{stretch_ratio} (ceil(ratio * {out_samples}) + "
                             f"STRETCH_MARGIN_SAMPLES)")
    p = 2.0 ** (float(semitones) / 12.0)
    mid = int(math.ceil(out_samples * p)) + RESAMPLE_PAD
    stretched = phase_vocoder(y[:need], rate=float(stretch_ratio) / p, out_samples=mid,
                              n_fft=n_fft, hop_length=hop_length)
    out = varispeed(stretched, factor=p, sr=sr)
    if len(out) < out_samples:
        raise ParameterError(f"internal: {len(out)} samples after resampling, "
                             f"{out_samples} needed")
    return np.asarray(out[:out_samples], np.float32)
