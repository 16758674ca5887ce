"""Log-mel features of segments: the one definition training, evaluation and embedding use.

A segment of ``SEGMENT_SAMPLES`` samples at 22,050 Hz gives exactly 129 centred frames
(Hann window 1024, hop 512, zero padding of 512 at each end as librosa's ``center=True,
pad_mode="constant"``).  As in the authors' code the mel spectrogram is of the STFT
*magnitude* (not power), 128 Slaney-normalised bands from 0 Hz to 11,025 Hz
(``librosa.filters.mel`` defaults), compressed by ``log10(1 + 10 * mel)`` by default.

The STFT is batched (one strided frame view and one real FFT per batch) and everything is
float64 until the one rounding to the output dtype; the mel sum is a fixed-order gather over
each band's FFT bins, so the values, and the float16 shard bytes, do not depend on the batch
size, the thread count, the BLAS kernel or numpy's SIMD level (``mel_magnitude``).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..core.config import SPEED_KEYS
from ..core.errors import ConfigError, ParameterError
from ..core.segment import HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE, SEGMENT_FRAMES

__all__ = ["COMPRESSIONS", "FeatureParams", "MEL_GROUP", "compress", "hann_window",
           "hz_to_mel", "log_mel", "mel_basis", "mel_blocks", "mel_magnitude", "mel_settings",
           "mel_to_hz", "value_params"]

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


def value_params(params: FeatureParams) -> dict:
    """The parameters that change the feature values: all but ``core.config.SPEED_KEYS``."""
    speed = SPEED_KEYS.get("features", ())
    return {k: v for k, v in dataclasses.asdict(params).items() if k not in speed}


def mel_settings(params: FeatureParams) -> dict:
    """The full mel definition for the dataset card."""
    return {"sample_rate": SAMPLE_RATE, "n_fft": N_FFT, "hop_length": HOP_LENGTH,
            "window": "hann", "center": True, "pad_mode": "constant", "n_mels": N_MELS,
            "fmin": 0.0, "fmax": SAMPLE_RATE / 2, "htk": False, "norm": "slaney",
            "magnitude": "abs (power 1)", "frames": SEGMENT_FRAMES,
            "layout": "(segments, frames, bands)", **value_params(params)}


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa ``hz_to_mel(htk=False)``): linear below 1 kHz, log above.

    ``hz`` in Hz (1-D array); returns mels, float64.
    """
    hz = np.atleast_1d(np.asarray(hz, dtype=np.float64))
    f_sp = 200.0 / 3  # Hz per mel in the linear part
    min_log_mel, logstep = 1000.0 / f_sp, np.log(6.4) / 27.0
    mels = hz / f_sp
    log_t = hz >= 1000.0
    mels[log_t] = min_log_mel + np.log(hz[log_t] / 1000.0) / logstep
    return mels


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    """Inverse of ``hz_to_mel``: mels (1-D array) to Hz, float64."""
    mels = np.atleast_1d(np.asarray(mels, dtype=np.float64))
    f_sp = 200.0 / 3
    min_log_mel, logstep = 1000.0 / f_sp, np.log(6.4) / 27.0
    hz = f_sp * mels
    log_t = mels >= min_log_mel
    hz[log_t] = 1000.0 * np.exp(logstep * (mels[log_t] - min_log_mel))
    return hz


@functools.lru_cache(maxsize=8)
def mel_basis(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Slaney mel matrix, transposed: float64 (n_fft // 2 + 1, n_mels), read-only.

    ``sr`` in Hz, ``n_fft`` in samples.  Triangles between ``n_mels + 2`` points evenly
    spaced in mels from 0 Hz to ``sr / 2``, each scaled by 2 / its width in Hz: the same
    float64 operations as ``librosa.filters.mel`` at its defaults (the values are equal
    bit for bit, tests/test_features.py), without importing librosa, whose import pulls in
    scipy.signal and numba (about 1 s per process).
    """
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    low, high = hz_to_mel(np.array([0.0, float(sr) / 2]))
    mel_f = mel_to_hz(np.linspace(low, high, n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.maximum(0, np.minimum(-ramps[:-2] / fdiff[:-1, None],
                                       ramps[2:] / fdiff[1:, None]))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    out = np.ascontiguousarray(weights.T)
    out.flags.writeable = False
    return out


MEL_GROUP = 16  # bands per block of the banded mel product


@functools.lru_cache(maxsize=4)
def mel_blocks(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS
               ) -> tuple[tuple[int, int, np.ndarray, np.ndarray], ...]:
    """The mel matrix as gather blocks of ``MEL_GROUP`` bands.

    Each block is (first band, end band, bins, weights): ``bins`` and ``weights`` have shape
    (support, bands); row ``j`` holds, for every band of the block, the ``j``-th FFT bin of
    its triangle and that bin's weight (0 past the triangle's end).
    """
    basis = mel_basis(sr, n_fft, n_mels)
    blocks = []
    for b0 in range(0, n_mels, MEL_GROUP):
        b1 = min(b0 + MEL_GROUP, n_mels)
        support = [np.flatnonzero(basis[:, b]) for b in range(b0, b1)]
        width = max(len(s) for s in support)
        bins = np.zeros((width, b1 - b0), dtype=np.intp)
        weights = np.zeros((width, b1 - b0))
        for i, s in enumerate(support):
            bins[:len(s), i] = s
            bins[len(s):, i] = s[-1]
            weights[:len(s), i] = basis[s, b0 + i]
        blocks.append((b0, b1, bins, weights))
    return tuple(blocks)


@functools.lru_cache(maxsize=8)
def hann_window(n_fft: int = N_FFT) -> np.ndarray:
    """Periodic Hann window of ``n_fft`` samples (as ``scipy.signal.get_window("hann")``),
    float64, read-only."""
    n = np.arange(n_fft)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)
    w.flags.writeable = False
    return w


def mel_magnitude(segments: np.ndarray, *, sr: int = SAMPLE_RATE, n_fft: int = N_FFT,
                  hop_length: int = HOP_LENGTH, n_mels: int = N_MELS) -> np.ndarray:
    """Magnitude mel spectrogram of a batch of segments, in float64.

    The value of every (segment, frame, band) is a fixed sequence of IEEE float64 operations
    on that segment's samples alone: a float64 FFT (pocketfft, no runtime CPU dispatch), the
    magnitude as ``sqrt(re**2 + im**2)`` and the mel sum as elementwise multiply-adds over
    the band's FFT bins in ascending order (no BLAS, whose blocking depends on the batch
    size and the CPU).  So the result does not depend on the batch size, the thread count,
    the BLAS kernel or numpy's SIMD level.

    Parameters
    ----------
    segments : np.ndarray [shape=(n, n_samples)]
        Audio at ``sr`` Hz.
    sr : int  sample rate (Hz)
    n_fft : int  Hann window and FFT length (samples); frames are centred (zero padding)
    hop_length : int  samples between frames
    n_mels : int  mel bands

    Returns
    -------
    np.ndarray [shape=(n, 1 + n_samples // hop_length, n_mels), float64]
        (segments, frames, bands).

    Examples
    --------
    >>> mel_magnitude(np.zeros((2, 65536))).shape
    (2, 129, 128)
    """
    import scipy.fft  # not at module level: the analysis jobs import this module, not the FFT

    x = np.asarray(segments, dtype=np.float64)
    if x.ndim != 2:
        raise ParameterError(f"segments must be 2-D (n, samples), got shape {x.shape}")
    pad = n_fft // 2
    padded = np.pad(x, ((0, 0), (pad, pad)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[:, ::hop_length]
    spectrum = scipy.fft.rfft(frames * hann_window(n_fft), axis=-1, workers=1)
    n, t, f = spectrum.shape
    spectrum = spectrum.reshape(n * t, f)
    magnitude = np.sqrt(np.square(spectrum.real) + np.square(spectrum.imag))  # (n*t, f)
    mel = np.empty((n * t, n_mels))
    for b0, b1, bins, weights in mel_blocks(sr, n_fft, n_mels):
        acc = magnitude[:, bins[0]] * weights[0]  # (n*t, bands)
        for j in range(1, len(bins)):
            acc += magnitude[:, bins[j]] * weights[j]
        mel[:, b0:b1] = acc
    return mel.reshape(n, t, n_mels)


def compress(mel: np.ndarray, *, compression: str = "log1p10", amin: float = 1e-5
             ) -> np.ndarray:
    """Compress a magnitude mel spectrogram (float64).

    ``compression``: "log1p10" -> ``log10(1 + 10 * mel)``, "db" -> ``20 * log10(max(mel,
    amin))``, "none" -> ``mel``; ``amin`` is a linear magnitude.
    """
    if compression not in COMPRESSIONS:
        raise ParameterError(f"compression {compression!r} not in {COMPRESSIONS}")
    mel = np.asarray(mel, dtype=np.float64)
    if compression == "log1p10":
        return np.log10(1 + 10 * mel)
    if compression == "db":
        return 20 * np.log10(np.maximum(mel, amin))
    return mel


def log_mel(segments: np.ndarray, *, sr: int = SAMPLE_RATE, n_fft: int = N_FFT,
            hop_length: int = HOP_LENGTH, n_mels: int = N_MELS, compression: str = "log1p10",
            amin: float = 1e-5, batch_size: int = 8, dtype=np.float32) -> np.ndarray:
    """Log-mel features of a batch of segments, computed in float64 and rounded once.

    Parameters
    ----------
    segments : np.ndarray [shape=(n, hop_length * (SEGMENT_FRAMES - 1))]
        Mono audio at ``sr`` Hz: 65,536 samples at the defaults.
    sr, n_fft, hop_length, n_mels : int
        Sample rate (Hz), window and FFT length (samples), hop (samples), mel bands.
    compression, amin
        See ``compress``.
    batch_size : int
        Segments per FFT batch; the values do not depend on it.
    dtype : numpy float dtype
        Of the result: float16 for shards (one rounding from float64), float32 otherwise.

    Returns
    -------
    np.ndarray [shape=(n, SEGMENT_FRAMES, n_mels)]
        (segments, frames, bands): 129 frames.

    Examples
    --------
    >>> log_mel(np.zeros((1, 65536)), dtype=np.float16).shape
    (1, 129, 128)
    """
    x = np.asarray(segments)
    n_samples = hop_length * (SEGMENT_FRAMES - 1)
    if x.ndim != 2 or x.shape[1] != n_samples:
        raise ParameterError(f"segments must have shape (n, {n_samples}), got {x.shape}")
    if int(batch_size) < 1:
        raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
    out = np.empty((len(x), SEGMENT_FRAMES, n_mels), dtype=dtype)
    step = int(batch_size)
    for i in range(0, len(x), step):
        mel = mel_magnitude(x[i:i + step], sr=sr, n_fft=n_fft, hop_length=hop_length,
                            n_mels=n_mels)
        out[i:i + step] = compress(mel, compression=compression, amin=amin)
    return out
