"""The beat grid of a vocal: where the beats of a known tempo fall in an a-cappella recording.

A vocal's tempo comes from the tempo table (or a track-level estimate), but karaoke vocals
have no drums, so their beat *phase* is read from note onsets: the grid of period
``P = 60 * sr / tempo_bpm`` whose points collect the most onset strength over a window and
``context_beats`` beats either side (a comb, robust to syncopated notes; a short context
tolerates a slightly wrong tempo).  A window moved onto that grid starts on a beat, as every
accompaniment segment does, so at equal tempo the vocal beats land on the accompaniment
beats: our reading of the paper's "mixed at their nearest beat location".

The onset strength is the spectral flux of the magnitude spectrogram the vocal key finder
already computes (hop 512, bins below ``fmax_hz``), so alignment costs almost nothing on
top of the analysis.  On the demo corpus the aligned starts lie a median 0.02 beat from a
true beat (unaligned windows: 0.25); onsets alone cannot tell the beat from the half beat
in melodies of eighth notes, and about 1 window in 5 lands on the half beat.
"""

from __future__ import annotations

import numpy as np

from ..core.segment import HOP_LENGTH, SAMPLE_RATE, SEGMENT_SAMPLES

__all__ = ["FLUX_FMAX_HZ", "beat_grid_starts", "spectral_flux"]

FLUX_FMAX_HZ = 5000.0  # a voice's note changes show below 5 kHz; above is breath and noise


def spectral_flux(magnitude: np.ndarray, *, n_fft: int, fmax_hz: float = FLUX_FMAX_HZ,
                  sr: int = SAMPLE_RATE) -> np.ndarray:
    """Onset strength: half-wave rectified increase of ``log10(1 + 10 |X|)`` summed over the
    bins below ``fmax_hz``.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(1 + n_fft // 2, n_frames)]
        STFT magnitude (frames centred every hop samples).
    n_fft : int
        FFT length (samples) of ``magnitude``.
    fmax_hz : float
        Highest frequency counted (Hz).

    Returns
    -------
    np.ndarray [shape=(n_frames,), float64]
        Frame 0 is 0.
    """
    bins = min(magnitude.shape[0], int(np.floor(fmax_hz * n_fft / sr)) + 1)
    log_mag = np.log10(1 + 10 * np.asarray(magnitude[:bins], dtype=np.float32))
    flux = np.maximum(np.diff(log_mag, axis=1), 0).sum(axis=0, dtype=np.float64)
    return np.concatenate([[0.0], flux])


def beat_grid_starts(onset: np.ndarray, starts: np.ndarray, *, tempo_bpm: float,
                     n_samples: int, context_beats: int = 16, hop: int = HOP_LENGTH,
                     length: int = SEGMENT_SAMPLES, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Each window start moved by at most half a beat onto the recording's beat grid.

    For a start ``s`` the shift ``d`` (``|d| <= P / 2``, on the onset frame grid) maximises
    the onset strength summed over the points ``s + d + k * P`` for the beats of the window
    and ``context_beats`` beats either side; each point reads the strongest of its frame and
    the two neighbours (one frame of slack for a tempo that is not a whole number of frames).

    Parameters
    ----------
    onset : np.ndarray [shape=(n_frames,)]
        Onset strength of the whole recording, frame ``i`` centred at sample ``i * hop``.
    starts : np.ndarray [shape=(n,)]
        Window starts (samples).
    tempo_bpm : float
        The recording's tempo (BPM).
    n_samples : int
        Length of the recording (samples); aligned windows stay inside it.
    context_beats : int
        Beats before and after the window that also vote for its phase.
    hop : int
        Samples per onset frame (the resolution of the result).
    length : int
        Window length (samples).

    Returns
    -------
    np.ndarray [shape=(n,), int64]
        Aligned starts (samples, multiples of ``hop`` unless clamped); ``starts`` unchanged
        when the tempo is not usable or the grid collects no onset.
    """
    starts = np.asarray(starts, dtype=np.int64)
    last = max(n_samples - length, 0)
    if not (np.isfinite(tempo_bpm) and tempo_bpm > 0) or len(starts) == 0:
        return starts.copy()
    period = 60.0 * sr / tempo_bpm
    half = int(np.floor(period / 2 / hop))
    onset = np.asarray(onset, dtype=np.float64)
    slack = np.maximum(onset, np.maximum(np.r_[0.0, onset[:-1]], np.r_[onset[1:], 0.0]))
    padded = np.r_[slack, 0.0]  # index len(onset): outside the recording, scores 0
    shifts = np.arange(-half, half + 1) * hop  # (m,)
    beats = np.arange(-context_beats, int(np.ceil(length / period)) + context_beats) * period
    base = np.rint(starts / hop).astype(np.int64) * hop  # (n,) on the frame grid
    candidates = base[:, None] + shifts[None, :]  # (n, m)
    frames = np.rint((candidates[:, :, None] + beats[None, None, :]) / hop).astype(np.int64)
    frames = np.where((frames >= 0) & (frames < len(onset)), frames, len(onset))
    score = padded[frames].sum(axis=2)  # (n, m)
    score[(candidates < 0) | (candidates > last)] = -1.0  # the window must fit
    best = np.argmax(score, axis=1)  # first maximum: deterministic
    aligned = candidates[np.arange(len(starts)), best]
    keep = score[np.arange(len(starts)), best] <= 0
    aligned[keep] = np.clip(starts[keep], 0, last)
    return aligned.astype(np.int64)
