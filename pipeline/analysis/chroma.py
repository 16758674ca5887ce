"""Chroma of a whole file on the segment grid: STFT chroma (librosa's ``chroma_stft`` in numpy),
librosa CQT chroma, f0 pitch chroma, or essentia HPCP; computed once per file and summed per
key context by ``pipeline.analysis.keys``.

The STFT and the STFT chroma filterbank are numpy re-implementations of ``librosa.stft`` and
``librosa.filters.chroma`` (equal to float rounding, tests/test_keys.py): importing librosa's
spectral modules costs a job about a second (scipy.signal, numba), more than the analysis of
a short file.  Only the "cqt" chroma still imports librosa.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..core.errors import ParameterError
from ..core.segment import HOP_LENGTH, N_FFT, SAMPLE_RATE
from ..dataset.features import hann_window
from .key_params import CHROMAS, METHODS

__all__ = ["Chroma", "PITCH_N_FFT", "STFT_BLOCK_FRAMES", "chroma_filters", "compute_chroma",
           "pitch_chroma", "spectrogram"]

STFT_BLOCK_FRAMES = 64  # frames per FFT call: small work arrays, stay in cache (~2 MB at 4096)

ESSENTIA_HOP = 2048  # samples between HPCP frames (4 segment-grid frames)


@dataclasses.dataclass(frozen=True)
class Chroma:
    """Per-frame pitch-class profile of a whole file.

    Attributes
    ----------
    frames : np.ndarray [shape=(12, n_frames)]  frame ``i`` centred at sample ``i * hop``
    hop : int  samples between frames
    """

    frames: np.ndarray
    hop: int


def spectrogram(y: np.ndarray, *, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH,
                power: float = 2.0) -> np.ndarray:
    """|STFT|**power of centred frames (periodic Hann, zero padding of ``n_fft // 2``).

    As ``np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** power`` (librosa's
    defaults: ``center=True``, ``pad_mode="constant"``), in float64 until the one rounding to
    float32 for float32 input.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]  mono samples
    n_fft : int  window and FFT length (samples)
    hop_length : int  samples between frames (the segment grid: 512)
    power : float  exponent of the magnitude

    Returns
    -------
    np.ndarray [shape=(1 + n_fft // 2, 1 + n // hop_length)]
        float32 for float32 (or integer) input, else float64.
    """
    y = np.asarray(y)
    dtype = np.float64 if y.dtype == np.float64 else np.float32
    padded = np.pad(y.astype(np.float64), n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    window = hann_window(n_fft)[:, None]
    out = np.empty((1 + n_fft // 2, len(frames)), dtype=dtype)
    for i in range(0, len(frames), STFT_BLOCK_FRAMES):
        # frames as columns: pocketfft runs several transforms at once along axis 0
        spectrum = np.fft.rfft(frames[i:i + STFT_BLOCK_FRAMES].T * window, axis=0)
        out[:, i:i + STFT_BLOCK_FRAMES] = np.abs(spectrum)
    return out if power == 1 else out ** power


@functools.lru_cache(maxsize=8)
def chroma_filters(sr: int = SAMPLE_RATE, n_fft: int = 4096, n_chroma: int = 12
                   ) -> np.ndarray:
    """STFT-bin to pitch-class weights (12, 1 + n_fft // 2), float64, read-only, C first.

    Ellis's chroma filterbank as ``librosa.filters.chroma(tuning=0)`` at its defaults: each
    bin's pitch (in chroma bins from A440 / 16) spreads over the pitch classes as a Gaussian
    bump of half the bin's width in chroma bins (at least one), each column has unit L2 norm,
    and a Gaussian of 2 octaves around octave 5 (~ 880 Hz) weights the bins.
    """
    frequencies = np.linspace(0, sr, n_fft, endpoint=False)[1:]
    frqbins = n_chroma * np.log2(frequencies / (440.0 / 16))
    # the 0 Hz bin: 1.5 octaves below bin 1, so its chroma is broad and 50 % rotated
    frqbins = np.concatenate(([frqbins[0] - 1.5 * n_chroma], frqbins))
    binwidthbins = np.concatenate((np.maximum(frqbins[1:] - frqbins[:-1], 1.0), [1]))
    half = np.round(float(n_chroma) / 2)
    distance = np.subtract.outer(frqbins, np.arange(0, n_chroma, dtype="d")).T
    distance = np.remainder(distance + half + 10 * n_chroma, n_chroma) - half
    weights = np.exp(-0.5 * (2 * distance / binwidthbins[None, :]) ** 2)
    norm = np.sqrt(np.sum(weights ** 2, axis=0, keepdims=True))
    weights = weights / np.where(norm < np.finfo(np.float64).tiny, 1.0, norm)
    weights *= np.exp(-0.5 * ((frqbins / n_chroma - 5.0) / 2.0) ** 2)[None, :]
    weights = np.roll(weights, -3 * (n_chroma // 12), axis=0)  # bin 0 = C, not A
    out = np.ascontiguousarray(weights[:, :1 + n_fft // 2])
    out.flags.writeable = False
    return out


def compute_chroma(y: np.ndarray, *, method: str = "ks", chroma: str = "stft",
                   n_fft: int = 4096, power: float = 1.0, frame_norm: bool = False,
                   spec: np.ndarray | None = None) -> Chroma:
    """Chroma frames of a whole file (mono, 22,050 Hz).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]  mono samples at 22,050 Hz
    method : "ks" | "essentia"  chroma for Krumhansl-Schmuckler, or essentia HPCP
    chroma : "stft" | "cqt" | "pitch"  the pitch-class frames for "ks" (``KeyParams``)
    n_fft : int  STFT length (samples) of "stft" chroma; frames stay on the hop-512 grid
    power : float  exponent of the STFT magnitude for "stft" chroma (1: magnitude)
    frame_norm : bool  scale each frame to a maximum of 1
    spec : np.ndarray [shape=(1 + n_fft // 2, n_frames)] or None
        ``spectrogram(y, n_fft=n_fft, power=power)``, or with ``PITCH_N_FFT`` and power 1
        for "pitch"; reused when given.

    Returns
    -------
    Chroma
    """
    if method not in METHODS or chroma not in CHROMAS:
        raise ParameterError(f"chroma method {method!r} / kind {chroma!r} not in "
                             f"{METHODS} / {CHROMAS}")
    if method == "essentia":
        return Chroma(_essentia_hpcp(y), ESSENTIA_HOP)
    if chroma == "pitch":
        if spec is None:
            spec = spectrogram(y, n_fft=PITCH_N_FFT, power=1.0)
        frames = pitch_chroma(spec, n_fft=PITCH_N_FFT)
    elif chroma == "cqt":
        import librosa  # CQT only: its import costs about 1 s

        frames = librosa.feature.chroma_cqt(y=y, sr=SAMPLE_RATE, hop_length=HOP_LENGTH,
                                            tuning=0.0, norm=None)
    else:
        if spec is None:
            spec = spectrogram(y, n_fft=n_fft, power=power)
        # in the spectrogram's precision (float32), as librosa's chroma_stft
        spec = np.asarray(spec)
        frames = chroma_filters(SAMPLE_RATE, n_fft).astype(spec.dtype) @ spec
    if frame_norm:
        peak = frames.max(axis=0, keepdims=True)
        frames = np.divide(frames, peak, out=np.zeros_like(frames), where=peak > 0)
    return Chroma(frames, HOP_LENGTH)


PITCH_N_FFT = 2048  # samples; with 10 harmonics summed, f0 resolves well below 10.8 Hz bins
PITCH_RANGE = (36.0, 84.0)  # MIDI C2..C6, the sung range
PITCH_STEPS = 3  # f0 candidates per semitone
HARMONICS = 10
HARMONIC_DECAY = 0.8  # weight of harmonic h is DECAY ** (h - 1)


@functools.lru_cache(maxsize=4)
def harmonic_sum_matrix(n_fft: int) -> tuple[np.ndarray, "scipy.sparse.csr_matrix"]:  # noqa: F821
    """f0 candidates (MIDI) and the sparse (n_candidates, 1 + n_fft // 2) harmonic-sum weights.

    Row ``i`` adds the (linearly interpolated) STFT bins at ``h * f0_i`` for h = 1..10.
    """
    import scipy.sparse

    midi = PITCH_RANGE[0] + np.arange(int((PITCH_RANGE[1] - PITCH_RANGE[0]) * PITCH_STEPS) + 1) \
        / PITCH_STEPS
    f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    h = np.arange(1, HARMONICS + 1)
    bins = f0[:, None] * h[None] * n_fft / SAMPLE_RATE  # (n_candidates, HARMONICS)
    rows = np.repeat(np.arange(len(f0)), HARMONICS)
    weight = np.tile(HARMONIC_DECAY ** (h - 1.0), len(f0))
    bins = bins.ravel()
    ok = bins < n_fft // 2
    lower, frac = np.floor(bins).astype(np.int64), bins - np.floor(bins)
    matrix = scipy.sparse.csr_matrix(
        (np.concatenate([weight * (1 - frac), weight * frac])[np.tile(ok, 2)],
         (np.tile(rows, 2)[np.tile(ok, 2)],
          np.concatenate([lower, lower + 1])[np.tile(ok, 2)])),
        shape=(len(f0), 1 + n_fft // 2))
    return midi, matrix


def pitch_chroma(magnitude: np.ndarray, *, n_fft: int) -> np.ndarray:
    """One-hot pitch class of each frame's most salient f0.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(1 + n_fft // 2, n_frames)]  STFT magnitude
    n_fft : int

    Returns
    -------
    chroma : np.ndarray [shape=(12, n_frames)]  1 at the f0's pitch class (C = 0), else 0;
        all-zero frames for silence.  Weight frames by a voicing mask when summing.
    """
    midi, matrix = harmonic_sum_matrix(n_fft)
    salience = matrix @ np.sqrt(magnitude)  # compressed, so one loud formant does not win
    best = np.argmax(salience, axis=0)
    pitch_class = np.round(midi[best]).astype(np.int64) % 12
    chroma = np.zeros((12, magnitude.shape[1]))
    chroma[pitch_class, np.arange(magnitude.shape[1])] = 1.0
    chroma[:, salience.max(axis=0) <= 0] = 0.0
    return chroma


def _essentia_hpcp(y: np.ndarray) -> np.ndarray:
    """Essentia HPCP frames (12, n) with hop ``ESSENTIA_HOP``, as in essentia's KeyExtractor."""
    import essentia.standard as es

    frame_size = 4 * ESSENTIA_HOP
    window = es.Windowing(type="blackmanharris62", size=frame_size)
    spectrum = es.Spectrum(size=frame_size)
    peaks = es.SpectralPeaks(orderBy="magnitude", magnitudeThreshold=1e-4, minFrequency=25,
                             maxFrequency=3500, maxPeaks=60, sampleRate=SAMPLE_RATE)
    whitening = es.SpectralWhitening(maxFrequency=3500, sampleRate=SAMPLE_RATE)
    hpcp = es.HPCP(size=12, referenceFrequency=440, bandPreset=False, minFrequency=25,
                   maxFrequency=3500, weightType="cosine", nonLinear=False, windowSize=1.0,
                   sampleRate=SAMPLE_RATE)
    y = np.pad(np.asarray(y, dtype=np.float32), frame_size // 2)
    out = []
    for frame in es.FrameGenerator(y, frameSize=frame_size, hopSize=ESSENTIA_HOP,
                                   startFromZero=True):
        spec = spectrum(window(frame))
        freqs, mags = peaks(spec)
        out.append(hpcp(freqs, whitening(spec, freqs, mags)))
    # HPCP bin 0 is A (440 Hz); roll so bin 0 is C as in librosa chroma.
    if not out:
        return np.zeros((12, 0))
    return np.roll(np.array(out, dtype=np.float64).T, -3, axis=0)
