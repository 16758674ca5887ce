"""Frame-level signal measures shared by voicing detection and mixing.

>>> import numpy as np
>>> pairwise_row_sums(np.array([[1.0, 2.0, 3.0]])).tolist()  # (1 + 3) + (2 + 0)
[6.0]

>>> import numpy as np
>>> frame_rms(np.ones(2048), frame_length=1024, hop_length=512).round(3).tolist()
[0.707, 1.0, 1.0, 1.0, 0.707]
"""

from __future__ import annotations

import numpy as np

from .segment import HOP_LENGTH, N_FFT

__all__ = ["frame_rms", "loud_frames_rms", "pairwise_row_sums"]


def pairwise_row_sums(x: np.ndarray) -> np.ndarray:
    """Sum of each row of ``x`` by a fixed binary tree of elementwise float64 additions.

    Every addition is one correctly rounded IEEE operation in the same order on every
    machine, unlike ``np.sum`` (SIMD-dispatched accumulation) or BLAS (blocking by CPU).

    Parameters
    ----------
    x : np.ndarray [shape=(n, m)]

    Returns
    -------
    np.ndarray [shape=(n,), float64]
    """
    x = np.asarray(x, dtype=np.float64)
    width = 1 << max(int(x.shape[1]) - 1, 0).bit_length()
    if width != x.shape[1]:  # zeros added to a sum leave it unchanged
        x = np.pad(x, ((0, 0), (0, width - x.shape[1])))
    while x.shape[1] > 1:
        half = x.shape[1] // 2
        x = x[:, :half] + x[:, half:]
    return x[:, 0]


def loud_frames_rms(y: np.ndarray, *, range_db: float = 30.0) -> float:
    """RMS over the frames (``frame_rms``) within ``range_db`` dB of the loudest: a level that
    the silences between phrases do not lower.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]  mono samples (taken as float32)
    range_db : float  frames this far under the loudest frame are left out (dB)

    Returns
    -------
    float  linear amplitude
    """
    rms = frame_rms(np.asarray(y, np.float32))
    active = rms[rms > rms.max() * 10 ** (-range_db / 20)]
    return float(np.sqrt(np.mean(active.astype(np.float64) ** 2)))


def frame_rms(y: np.ndarray, *, frame_length: int = N_FFT,
              hop_length: int = HOP_LENGTH) -> np.ndarray:
    """RMS of centred frames (zero padding), as ``librosa.feature.rms(y=y, center=True)``.

    Squares are exact in float64 for float32 input; frame energies are sums in a fixed order
    (``pairwise_row_sums`` over hop-sized blocks when ``frame_length == 2 * hop_length``,
    else a sequential cumulative sum), so the voicing decisions and the mix gains that use
    them are the same on every machine.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]  mono samples
    frame_length, hop_length : int  in samples

    Returns
    -------
    rms : np.ndarray [shape=(1 + n // hop_length,), float64]
    """
    y = np.asarray(y)
    n_frames = 1 + len(y) // hop_length
    if frame_length == 2 * hop_length:
        # Frame i spans hop blocks i - 1 and i (block -1 and the block after the tail are the
        # zero padding); float32 squares are exact in float64.
        power = np.square(y.astype(np.float64))
        n_full = len(y) // hop_length
        full = pairwise_row_sums(power[:n_full * hop_length].reshape(n_full, hop_length))
        tail = pairwise_row_sums(power[n_full * hop_length:][None]) if len(y) % hop_length \
            else np.zeros(1)
        blocks = np.concatenate([[0.0], full, tail])
        energy = blocks[:-1] + blocks[1:]
    else:
        padded = np.pad(y.astype(np.float64), frame_length // 2)
        csum = np.concatenate([[0.0], np.cumsum(np.square(padded))])
        starts = np.arange(n_frames) * hop_length
        energy = csum[starts + frame_length] - csum[starts]
    return np.sqrt(np.maximum(energy, 0.0) / frame_length)
