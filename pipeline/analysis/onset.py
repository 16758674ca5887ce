"""Onset strength, tempo and Ellis's dynamic-programming beat tracker in numpy.

The same algorithms as ``librosa.onset.onset_strength``, ``librosa.feature.tempo`` and
``librosa.beat.beat_track`` at their defaults, without librosa: importing those modules
compiles numba kernels (``guvectorize``, not cached on disk) for about 3 s in every process,
while the work itself takes milliseconds per file.  The numba loop of the beat tracker's
dynamic program is vectorised here over blocks of half a beat: a frame's predecessors lie
at least half a beat back, so the frames of one block depend only on earlier blocks.
tests/test_beats.py measures the agreement with librosa on real and synthetic audio.

References: D. P. W. Ellis, "Beat tracking by dynamic programming", J. New Music Research
36(1), 2007; librosa 0.11 (ISC licence), whose defaults are reproduced.
"""

from __future__ import annotations

import numpy as np

from ..core.segment import HOP_LENGTH, SAMPLE_RATE
from ..dataset.features import hann_window, mel_basis

__all__ = ["AC_SIZE_S", "MAX_TEMPO", "ONSET_N_FFT", "autocorrelation_tempogram",
           "beat_track", "fast_fft_length", "mel_onset_strength", "tempo_from_tempogram"]

ONSET_N_FFT = 2048  # samples: librosa's onset_strength FFT
AC_SIZE_S = 8.0  # seconds of onset envelope per autocorrelation window
MAX_TEMPO = 320.0  # BPM: faster lags are never chosen (librosa's max_tempo)


def mel_onset_strength(magnitude: np.ndarray, *, sr: int = SAMPLE_RATE,
                       n_fft: int = ONSET_N_FFT, hop_length: int = HOP_LENGTH,
                       n_mels: int = 128) -> np.ndarray:
    """Spectral flux of a log-power mel spectrogram (``librosa.onset.onset_strength``).

    Power mel bands (Slaney, 0 Hz to ``sr / 2``) in dB (floor 1e-10, at most 80 dB below
    the loudest bin), the half-wave rectified increase from frame to frame averaged over the
    bands, delayed by 1 + ``n_fft // (2 hop_length)`` frames as librosa does.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(1 + n_fft // 2, n_frames)]
        |STFT| with ``n_fft`` (centred frames every ``hop_length`` samples).
    sr : int  sample rate (Hz)
    n_fft, hop_length : int  samples
    n_mels : int  mel bands

    Returns
    -------
    np.ndarray [shape=(n_frames,), float64]
    """
    power = np.asarray(magnitude, dtype=np.float64) ** 2
    mel = mel_basis(sr, n_fft, n_mels).T @ power  # (n_mels, n_frames)
    db = 10.0 * np.log10(np.maximum(1e-10, mel))
    db = np.maximum(db, db.max() - 80.0) if db.size else db
    flux = np.maximum(0.0, np.diff(db, axis=1)).mean(axis=0)
    delay = 1 + n_fft // (2 * hop_length)
    return np.concatenate([np.zeros(delay), flux])[:power.shape[1]]


def autocorrelation_tempogram(onset: np.ndarray, *, win_length: int) -> np.ndarray:
    """Local autocorrelation of an onset envelope (``librosa.feature.tempogram``).

    Each frame's window of ``win_length`` frames (centred, linear-ramp padding to 0 at the
    ends, periodic Hann) is autocorrelated and scaled to a maximum of 1.

    Returns
    -------
    np.ndarray [shape=(win_length, n_frames), float64]
        Row ``k``: lag ``k`` frames.
    """
    onset = np.asarray(onset, dtype=np.float64)
    n = len(onset)
    half = win_length // 2
    padded = np.pad(onset, (half, half), mode="linear_ramp", end_values=(0, 0))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win_length)[:n]  # (n, win)
    x = frames * hann_window(win_length)
    # any FFT length >= 2 win - 1 gives the linear autocorrelation; pick a fast one
    n_pad = fast_fft_length(2 * win_length - 1)
    spectrum = np.fft.rfft(x, n=n_pad, axis=-1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    ac = np.fft.irfft(power, n=n_pad, axis=-1)[:, :win_length]
    peak = np.abs(ac).max(axis=1, keepdims=True)
    return (ac / np.where(peak < np.finfo(np.float64).tiny, 1.0, peak)).T


def fast_fft_length(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= ``n`` (a fast FFT length; 687 = 3 x 229 is slow)."""
    m = max(int(n), 1)
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


def tempo_from_tempogram(tempogram: np.ndarray, *, sr: int = SAMPLE_RATE,
                         hop_length: int = HOP_LENGTH, start_bpm: float = 120.0,
                         std_bpm: float = 1.0, max_tempo: float = MAX_TEMPO) -> float:
    """The tempo (BPM) of the mean tempogram under a log-normal prior (librosa's ``tempo``).

    Maximises ``log1p(1e6 * mean autocorrelation) - 0.5 ((log2 bpm - log2 start_bpm) /
    std_bpm) ** 2`` over the lags; lags faster than ``max_tempo`` BPM are excluded.
    """
    mean = tempogram.mean(axis=1)
    lags = np.arange(1, len(mean))
    bpms = 60.0 * sr / (hop_length * lags)
    score = np.log1p(1e6 * mean[1:]) - 0.5 * ((np.log2(bpms) - np.log2(start_bpm))
                                              / std_bpm) ** 2
    score[bpms >= max_tempo] = -np.inf
    return float(bpms[int(np.argmax(score))])


def beat_track(onset: np.ndarray, *, bpm: float, sr: int = SAMPLE_RATE,
               hop_length: int = HOP_LENGTH, tightness: float = 100.0,
               trim: bool = True) -> np.ndarray:
    """Beat frames of an onset envelope at tempo ``bpm`` (Ellis's dynamic program).

    The envelope (scaled to unit standard deviation) is smoothed by a Gaussian of width
    period / 32; each frame's cumulative score adds the best predecessor between half and
    two periods back, penalised by ``tightness * log(interval / period) ** 2``.  The path
    is read back from the last local maximum scoring at least half the median of the local
    maxima; leading and trailing beats on weak onsets are dropped (``trim``).

    Parameters
    ----------
    onset : np.ndarray [shape=(n_frames,)]  onset strength
    bpm : float  tempo (BPM), > 0
    sr, hop_length : int  sample rate (Hz) and samples per onset frame
    tightness : float  adherence to the period, > 0

    Returns
    -------
    np.ndarray [shape=(n_beats,), int64]
        Frame numbers, ascending; empty when ``onset`` is all zero.
    """
    onset = np.asarray(onset, dtype=np.float64)
    if not onset.any():
        return np.zeros(0, dtype=np.int64)
    period = float(np.round(sr / hop_length * 60.0 / bpm))
    onset = onset / (onset.std(ddof=1) + np.finfo(np.float64).tiny)
    offsets = np.arange(-period, period + 1)
    window = np.exp(-0.5 * (offsets * 32.0 / period) ** 2)
    localscore = np.convolve(onset, window)[len(window) // 2:len(window) // 2 + len(onset)]
    backlink, cumscore = _dynamic_program(localscore, period, tightness)
    beats = np.zeros(len(onset), dtype=bool)
    n = _last_beat(cumscore)
    while n >= 0:
        beats[n] = True
        n = backlink[n]
    return np.flatnonzero(_trim(localscore, beats, trim)).astype(np.int64)


def _dynamic_program(localscore: np.ndarray, period: float, tightness: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Backlinks (-1: none) and cumulative scores of the beat DP, one block at a time."""
    n = len(localscore)
    near = max(1, int(np.round(period / 2)))  # the nearest predecessor, in frames back
    intervals = np.arange(near, int(2 * period) + 1)  # ascending: ties go to the nearest
    penalty = tightness * (np.log(intervals) - np.log(period)) ** 2
    cumscore = np.empty(n)
    best_loc = np.full(n, -1, dtype=np.int64)
    for start in range(0, n, near):
        frames = np.arange(start, min(start + near, n))
        locs = frames[:, None] - intervals[None, :]  # (block, intervals), all < start
        score = np.where(locs >= 0, cumscore[np.maximum(locs, 0)] - penalty, -np.inf)
        pick = np.argmax(score, axis=1)
        found = locs[:, 0] >= 0  # the nearest predecessor exists
        best = score[np.arange(len(frames)), pick]
        cumscore[frames] = localscore[frames] + np.where(found, best, 0.0)
        best_loc[frames] = np.where(found, locs[np.arange(len(frames)), pick], -1)
    # no backlink before the first onset reaching 1 % of the strongest
    strong = np.flatnonzero(localscore >= 0.01 * localscore.max())
    first = strong[0] if len(strong) else n
    best_loc[:first] = -1
    return best_loc, cumscore


def _last_beat(cumscore: np.ndarray) -> int:
    """The last local maximum of ``cumscore`` reaching half the median local maximum."""
    previous = np.r_[cumscore[0], cumscore[:-1]]
    following = np.r_[cumscore[1:], cumscore[-1]]
    peaks = (cumscore > previous) & (cumscore >= following)
    if not peaks.any():
        return len(cumscore) - 1
    threshold = 0.5 * np.median(cumscore[peaks])
    ok = np.flatnonzero(peaks & (cumscore >= threshold))
    return int(ok[-1]) if len(ok) else len(cumscore) - 1


def _trim(localscore: np.ndarray, beats: np.ndarray, trim: bool) -> np.ndarray:
    """``beats`` without the frames at either end whose local score is at most half the
    RMS of the smoothed beat scores (librosa's ``__trim_beats``, same-length convolution
    slice included)."""
    beats = beats.copy()
    w = np.hanning(5)
    smooth = np.convolve(localscore[beats], w)[len(w) // 2:len(localscore) + len(w) // 2]
    threshold = 0.5 * np.sqrt(np.mean(smooth ** 2)) if trim else 0.0
    weak = localscore <= threshold
    lead = np.argmin(weak) if not weak.all() else len(weak)
    beats[:lead] = False
    tail = np.argmin(weak[::-1]) if not weak.all() else len(weak)
    beats[len(beats) - tail:] = False
    return beats
