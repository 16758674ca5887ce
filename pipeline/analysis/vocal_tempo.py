"""Tempo of an a-cappella recording from its note onsets, with a confidence.

A sung melody has no drums: its beats show as note onsets, and within a legato phrase a note
often starts only as a change of pitch.  The onset envelope here therefore adds two novelty
curves of the |STFT| the vocal analysis already computes (hop 512, n_fft 2048):

- the note-onset flux of the beat grid (``beat_grid.spectral_flux``: rising log magnitude
  below 5 kHz), which marks attacks and syllables;
- a pitch flux: rising log harmonic-sum salience (the f0 candidates of the "pitch" chroma,
  ``chroma.harmonic_sum_matrix``), which marks a new pitch even without a new attack.

Each is detrended by its 1-s moving mean and scaled to unit standard deviation.  The tempo
maximises, over a log-spaced BPM grid, the autocorrelation of the whole envelope at the beat
lag and its multiples (weights 1, 1/2, 1/3, 1/4: a beat period is confirmed by the bars it
builds, which suppresses the half-beat) minus a log-normal prior around ``start_bpm``
(``prior_weight`` per squared octave).  The confidence is the product of the salience (that
autocorrelation sum over the weights, in [0, 1]) and the agreement between phrases: the share
of overlapping ``phrase_s`` windows whose own best tempo lies within 4 % of the whole
recording's.  Measured in bench/bench_vocal_tempo.py (README, "Vocal tempo").
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.segment import HOP_LENGTH, SAMPLE_RATE
from .beat_grid import spectral_flux
from .chroma import harmonic_sum_matrix

__all__ = ["BPM_STEP_OCTAVES", "HARMONIC_WEIGHTS", "PHRASE_HOP_S", "PHRASE_S", "PRIOR_WEIGHT",
           "VocalTempo", "estimate_vocal_tempo", "note_onset_envelope", "pitch_flux",
           "tempo_salience"]

HARMONIC_WEIGHTS = (1.0, 0.5, 1.0 / 3.0, 0.25)  # autocorrelation at 1, 2, 3, 4 beat lags
PRIOR_WEIGHT = 0.144  # salience lost per squared octave away from start_bpm
BPM_STEP_OCTAVES = 0.0025  # grid step: 0.17 % of the tempo
PHRASE_S = 12.0  # seconds per phrase window voting on the tempo
PHRASE_HOP_S = 4.0
AGREE = 0.04  # a phrase agrees within 4 % of the tempo


@dataclasses.dataclass(frozen=True)
class VocalTempo:
    """A vocal tempo estimate.

    Attributes
    ----------
    bpm : float  NaN when the envelope has no onset
    confidence : float  ``salience * agreement``, in [0, 1]
    salience : float  weighted autocorrelation at the beat lags, in [0, 1]
    agreement : float  share of phrase windows agreeing within 4 %, in [0, 1]
    onset : np.ndarray [shape=(n_frames,)]  the envelope (frames every hop samples)
    """

    bpm: float
    confidence: float
    salience: float
    agreement: float
    onset: np.ndarray


def pitch_flux(magnitude: np.ndarray, *, n_fft: int) -> np.ndarray:
    """Rising log harmonic-sum salience summed over the f0 candidates, per frame.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(1 + n_fft // 2, n_frames)]  |STFT|
    n_fft : int  its FFT length (samples)

    Returns
    -------
    np.ndarray [shape=(n_frames,), float64]  frame 0 is 0
    """
    _, matrix = harmonic_sum_matrix(n_fft)
    salience = matrix @ np.sqrt(np.asarray(magnitude, dtype=np.float64))
    peak = salience.max() if salience.size else 0.0
    if peak <= 0:
        return np.zeros(magnitude.shape[1])
    log_sal = np.log1p(100.0 * salience / peak)  # 40 dB of range above the floor
    return np.concatenate([[0.0], np.maximum(np.diff(log_sal, axis=1), 0).sum(axis=0)])


def _standardised(x: np.ndarray, *, frames_per_s: float) -> np.ndarray:
    """``x`` minus its 1-s moving mean, half-wave rectified, over its standard deviation."""
    k = max(1, int(round(frames_per_s)))
    x = np.maximum(x - np.convolve(x, np.ones(k) / k, mode="same"), 0.0)
    sd = x.std()
    return x / sd if sd > 0 else x


def note_onset_envelope(magnitude: np.ndarray, *, n_fft: int, sr: int = SAMPLE_RATE,
                        hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Standardised note-onset flux plus standardised pitch flux (see the module).

    Returns
    -------
    np.ndarray [shape=(n_frames,), float64]
    """
    fps = sr / hop_length
    return (_standardised(spectral_flux(magnitude, n_fft=n_fft, sr=sr), frames_per_s=fps)
            + _standardised(pitch_flux(magnitude, n_fft=n_fft), frames_per_s=fps))


def tempo_salience(onset: np.ndarray, bpms: np.ndarray, *, sr: int = SAMPLE_RATE,
                   hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Weighted normalised autocorrelation of ``onset`` at 1-4 beat lags of each tempo.

    The autocorrelation is unbiased (each lag divided by its overlap) and scaled to 1 at lag
    0, read at fractional lags by linear interpolation; lags past half the envelope count 0
    (an unbiased autocorrelation over a few products is noise).

    Returns
    -------
    np.ndarray [shape=bpms.shape]  in [-1, 1]; 0 for a constant envelope
    """
    x = np.asarray(onset, dtype=np.float64)
    x = x - x.mean()
    n = len(x)
    if n < 2 or not np.any(x):
        return np.zeros(len(bpms))
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(x, size)
    ac = np.fft.irfft(spectrum.real ** 2 + spectrum.imag ** 2, size)[:n]
    ac = ac / (n - np.arange(n)) / (ac[0] / n)
    lag = 60.0 * sr / (hop_length * np.asarray(bpms, dtype=np.float64))
    total = np.zeros(len(lag))
    for k, w in enumerate(HARMONIC_WEIGHTS, start=1):
        pos = k * lag
        i = np.floor(pos).astype(np.int64)
        inside = i + 1 < n // 2  # longer lags rest on too few products to be read
        frac = pos - i
        value = np.zeros(len(lag))
        value[inside] = ac[i[inside]] * (1 - frac[inside]) + ac[i[inside] + 1] * frac[inside]
        total += w * value
    return total / sum(HARMONIC_WEIGHTS)


def _best(onset, bpms, prior, *, sr, hop_length) -> tuple[float, float]:
    """(tempo, salience there) maximising salience + prior."""
    salience = tempo_salience(onset, bpms, sr=sr, hop_length=hop_length)
    i = int(np.argmax(salience + prior))  # first maximum: deterministic
    return float(bpms[i]), float(salience[i])


def estimate_vocal_tempo(magnitude: np.ndarray, *, n_fft: int, sr: int = SAMPLE_RATE,
                         hop_length: int = HOP_LENGTH, start_bpm: float = 120.0,
                         min_bpm: float = 40.0, max_bpm: float = 240.0,
                         prior_weight: float = PRIOR_WEIGHT, phrase_s: float = PHRASE_S,
                         phrase_hop_s: float = PHRASE_HOP_S) -> VocalTempo:
    """The tempo of a sung recording from its |STFT| (see the module).

    Parameters
    ----------
    magnitude : np.ndarray [shape=(1 + n_fft // 2, n_frames)]  |STFT|, frames every hop
    n_fft, hop_length : int  samples
    sr : int  sample rate (Hz)
    start_bpm : float  centre of the tempo prior (BPM)
    min_bpm, max_bpm : float  the tempo range searched (BPM)
    prior_weight : float  score lost per squared octave from ``start_bpm``
    phrase_s, phrase_hop_s : float  phrase windows voting for the agreement (seconds)

    Returns
    -------
    VocalTempo
    """
    onset = note_onset_envelope(magnitude, n_fft=n_fft, sr=sr, hop_length=hop_length)
    if not np.any(onset > 0):
        return VocalTempo(float("nan"), 0.0, 0.0, 0.0, onset)
    bpms = min_bpm * 2.0 ** np.arange(0.0, np.log2(max_bpm / min_bpm) + 1e-9,
                                      BPM_STEP_OCTAVES)
    prior = -prior_weight * np.log2(bpms / start_bpm) ** 2
    bpm, salience = _best(onset, bpms, prior, sr=sr, hop_length=hop_length)
    width, step = int(phrase_s * sr / hop_length), int(phrase_hop_s * sr / hop_length)
    votes = []
    for start in range(0, max(len(onset) - width, 0) + 1, max(step, 1)):
        phrase = onset[start:start + width]
        if np.any(phrase > 0):
            votes.append(abs(_best(phrase, bpms, prior, sr=sr, hop_length=hop_length)[0]
                             / bpm - 1.0) <= AGREE)
    agreement = float(np.mean(votes)) if votes else 0.0
    salience = float(np.clip(salience, 0.0, 1.0))
    return VocalTempo(bpm, salience * agreement, salience, agreement, onset)
