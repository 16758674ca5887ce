"""Log-mel features of segments: the one definition training, evaluation and embedding use.

A segment of ``SEGMENT_SAMPLES`` samples at 22,050 Hz gives exactly 129 centred frames
(Hann window 1024, hop 512, zero padding of 512 at each end as librosa's ``center=True,
pad_mode="constant"``).  As in the authors' code the mel spectrogram is of the STFT
*magnitude* (not power), 128 Slaney-normalised bands from 0 Hz to 11,025 Hz
(``librosa.filters.mel`` defaults), compressed by ``log10(1 + 10 * mel)`` by default.

The STFT is batched: one strided frame view and one real FFT for a whole batch of segments;
the mel matrix is applied band group by band group, each group only to the FFT bins its
triangles cover (an eighth of the dense product's work, same values up to float rounding).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import scipy.fft

from ..core.errors import ConfigError, ParameterError
from ..core.segment import HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE, SEGMENT_FRAMES, SEGMENT_SAMPLES

__all__ = ["COMPRESSIONS", "FeatureParams", "MEL_GROUP", "compress", "data_params", "log_mel",
           "mel_basis", "mel_blocks", "mel_magnitude", "mel_settings"]

COMPRESSIONS = ("log1p10", "db", "none")


@dataclasses.dataclass(frozen=True)
class FeatureParams:
    """The "features" config section.

    Attributes
    ----------
    compression : "log1p10" | "db" | "none"
        ``log10(1 + 10 * mel)`` (the authors'), ``20 * log10(max(mel, amin))`` with
        ``amin`` below, or the linear magnitude mel spectrogram.
    amin : float
        Floor of the magnitude before the dB conversion.
    batch_size : int
        Segments per STFT batch; does not change the values.  Small batches keep the
        frames and spectra (~1 MB per segment) in the CPU cache: 8 ran at ~9,000x realtime
        per core, 64 at ~5,000x (bench/bench_mashup.py).
    """

    compression: str = "log1p10"
    amin: float = 1e-5
    batch_size: int = 8

    def __post_init__(self):
        if self.compression not in COMPRESSIONS:
            raise ConfigError(f"features.compression: {self.compression!r} is not one of "
                              f"{list(COMPRESSIONS)}")
        if not self.amin > 0:
            raise ConfigError(f"features.amin must be > 0, got {self.amin}")
        if int(self.batch_size) < 1:
            raise ConfigError(f"features.batch_size must be >= 1, got {self.batch_size}")


def data_params(params: FeatureParams) -> dict:
    """The parameters that change the feature values (``batch_size`` does not)."""
    return {"compression": params.compression, "amin": params.amin}


def mel_settings(params: FeatureParams) -> dict:
    """The full mel definition for the dataset card."""
    return {"sample_rate": SAMPLE_RATE, "n_fft": N_FFT, "hop_length": HOP_LENGTH,
            "window": "hann", "center": True, "pad_mode": "constant", "n_mels": N_MELS,
            "fmin": 0.0, "fmax": SAMPLE_RATE / 2, "htk": False, "norm": "slaney",
            "magnitude": "abs (power 1)", "frames": SEGMENT_FRAMES,
            "layout": "(segments, frames, bands)", **data_params(params)}


@functools.lru_cache(maxsize=1)
def mel_basis() -> np.ndarray:
    """Mel matrix transposed for right-multiplication: float32 (N_FFT // 2 + 1, N_MELS)."""
    import librosa

    mel = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS)
    return np.ascontiguousarray(mel.T, dtype=np.float32)


MEL_GROUP = 16  # bands per block of the banded mel product


@functools.lru_cache(maxsize=1)
def mel_blocks() -> tuple[tuple[int, int, int, int, np.ndarray], ...]:
    """The mel matrix as blocks (first band, end band, first bin, end bin, weights) covering
    every nonzero weight, ``MEL_GROUP`` bands each."""
    basis = mel_basis()
    nonzero = basis != 0
    blocks = []
    for b0 in range(0, N_MELS, MEL_GROUP):
        b1 = min(b0 + MEL_GROUP, N_MELS)
        rows = np.flatnonzero(nonzero[:, b0:b1].any(axis=1))
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        blocks.append((b0, b1, lo, hi, np.ascontiguousarray(basis[lo:hi, b0:b1])))
    return tuple(blocks)


@functools.lru_cache(maxsize=1)
def _window() -> np.ndarray:
    n = np.arange(N_FFT)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)).astype(np.float32)  # periodic Hann


def mel_magnitude(segments: np.ndarray) -> np.ndarray:
    """Magnitude mel spectrogram of a batch of segments.

    Parameters
    ----------
    segments : np.ndarray [shape=(n, n_samples)]
        Audio at 22,050 Hz; cast to float32.

    Returns
    -------
    np.ndarray [shape=(n, 1 + n_samples // 512, 128), float32]
        (segments, frames, bands).
    """
    x = np.asarray(segments, dtype=np.float32)
    if x.ndim != 2:
        raise ParameterError(f"segments must be 2-D (n, samples), got shape {x.shape}")
    pad = N_FFT // 2
    padded = np.pad(x, ((0, 0), (pad, pad)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT, axis=-1)[:, ::HOP_LENGTH]
    spectrum = scipy.fft.rfft(frames * _window(), axis=-1, workers=1)
    n, t, f = spectrum.shape
    magnitude = np.abs(spectrum).reshape(n * t, f)
    mel = np.empty((n * t, N_MELS), dtype=np.float32)
    for b0, b1, lo, hi, weights in mel_blocks():
        np.matmul(magnitude[:, lo:hi], weights, out=mel[:, b0:b1])
    return mel.reshape(n, t, N_MELS)


def compress(mel: np.ndarray, *, params: FeatureParams) -> np.ndarray:
    """Apply the configured compression to a magnitude mel spectrogram (float32)."""
    if params.compression == "log1p10":
        return np.log10(1 + 10 * mel, dtype=np.float32)
    if params.compression == "db":
        return (20 * np.log10(np.maximum(mel, np.float32(params.amin)))).astype(np.float32)
    return mel.astype(np.float32, copy=False)


def log_mel(segments: np.ndarray, *, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """Log-mel features of a batch of segments.

    Parameters
    ----------
    segments : np.ndarray [shape=(n, SEGMENT_SAMPLES)]
        Mono audio at 22,050 Hz.
    params : FeatureParams

    Returns
    -------
    np.ndarray [shape=(n, 129, 128), float32]
        (segments, frames, bands).
    """
    x = np.asarray(segments)
    if x.ndim != 2 or x.shape[1] != SEGMENT_SAMPLES:
        raise ParameterError(f"segments must have shape (n, {SEGMENT_SAMPLES}), got {x.shape}")
    out = np.empty((len(x), SEGMENT_FRAMES, N_MELS), dtype=np.float32)
    step = int(params.batch_size)
    for i in range(0, len(x), step):
        out[i:i + step] = compress(mel_magnitude(x[i:i + step]), params=params)
    return out
