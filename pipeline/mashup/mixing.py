"""Mixing one vocal window with one accompaniment segment: loudness balance and level.

Both inputs already start on a beat: accompaniment segments at tracked beats, vocal windows
on the vocal's beat grid (``pipeline.analysis.beat_grid``, in the analysis stage), so mixing them
sample-aligned puts the vocal beats on the accompaniment beats.

Loudness (``mix_pair``)
    Active frames are frames (1024 / 512, centred) whose RMS on the signal *as loaded*
    exceeds ``active_threshold`` (the authors' 0.02); a signal with no active frame uses all
    its frames.  The active RMS is the root of the mean frame power over those frames.  The
    vocal and accompaniment gains set the ratio of active RMS to ``snr_db`` (0 dB in the
    paper); both are then scaled together so that the mix's active RMS (over frames active in
    either input) is ``target_rms``, reduced if needed so the peak is at most ``peak_limit``
    (< 1: no clipping).  The realised SNR is measured on the scaled float32 signals with the
    same frame masks.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..core.errors import ParameterError, PipelineError
from ..core.signal import frame_rms, pairwise_row_sums

__all__ = ["MixResult", "SilentSegmentError", "active_frames", "active_rms", "mix_pair",
           "mix_pair_at"]


class SilentSegmentError(PipelineError):
    """A segment has no energy, so no gain can balance it."""


@dataclasses.dataclass(frozen=True)
class MixResult:
    """One mix and its gains: ``mix = vocal_gain * vocal + acc_gain * accompaniment`` (up to
    float32 rounding)."""

    mix: np.ndarray
    vocal_gain: float
    acc_gain: float
    snr_db: float


def active_frames(y: np.ndarray, *, threshold: float) -> np.ndarray:
    """Frames whose RMS exceeds ``threshold``; all frames when none does. Bool (frames,)."""
    return _active(frame_rms(y), threshold)


def _active(rms: np.ndarray, threshold: float) -> np.ndarray:
    mask = rms > threshold
    return mask if mask.any() else np.ones_like(mask)


def active_rms(y: np.ndarray, mask: np.ndarray) -> float:
    """Root of the mean frame power over the frames in ``mask``."""
    return _masked_rms(frame_rms(y), mask)


def _masked_rms(rms: np.ndarray, mask: np.ndarray) -> float:
    power = np.square(rms[mask])
    # a fixed-order sum: np.mean's accumulation order follows numpy's SIMD level
    return float(np.sqrt(pairwise_row_sums(power[None])[0] / len(power)))


def mix_pair(vocal: np.ndarray, accompaniment: np.ndarray, *, snr_db: float = 0.0,
             active_threshold: float = 0.02, target_rms: float = 0.1,
             peak_limit: float = 0.99) -> MixResult:
    """Mix a vocal and an accompaniment segment at a vocal-to-accompaniment ratio.

    Parameters
    ----------
    vocal, accompaniment : np.ndarray [shape=(n,)]
        Equal-length mono segments at 22,050 Hz, as loaded.
    snr_db : float
        Target ratio of active RMS, vocal over accompaniment (dB).
    active_threshold : float
        Frame-RMS threshold defining active frames (on the signals as loaded).
    target_rms : float
        Active RMS of the mix before the peak limit.
    peak_limit : float
        Maximum absolute sample value of the mix (< 1).

    Returns
    -------
    MixResult
        float32 mix and the gains; ``snr_db`` is the realised ratio.

    Raises
    ------
    SilentSegmentError
        When either input has zero energy.
    """
    return mix_pair_at(vocal, accompaniment, snr_dbs=[snr_db], active_threshold=active_threshold,
                       target_rms=target_rms, peak_limit=peak_limit)[0]


def mix_pair_at(vocal: np.ndarray, accompaniment: np.ndarray, *, snr_dbs,
                active_threshold: float = 0.02, target_rms: float = 0.1,
                peak_limit: float = 0.99) -> list[MixResult]:
    """``mix_pair`` at each ratio of ``snr_dbs``, measuring the inputs' active RMS once.

    Returns one ``MixResult`` per ratio, each the one ``mix_pair`` gives at that ratio.
    """
    v = np.asarray(vocal, dtype=np.float32)
    a = np.asarray(accompaniment, dtype=np.float32)
    if v.shape != a.shape or v.ndim != 1:
        raise ParameterError(f"vocal {v.shape} and accompaniment {a.shape} must be equal 1-D")
    frames_v, frames_a = frame_rms(v), frame_rms(a)
    mask_v = _active(frames_v, active_threshold)
    mask_a = _active(frames_a, active_threshold)
    rms_v, rms_a = _masked_rms(frames_v, mask_v), _masked_rms(frames_a, mask_a)
    if rms_v < 1e-9:
        raise SilentSegmentError("silent vocal segment")
    if rms_a < 1e-9:
        raise SilentSegmentError("silent accompaniment segment")
    return [_balance(v, a, mask_v | mask_a, rms_v, rms_a, snr_db=float(snr_db),
                     target_rms=target_rms, peak_limit=peak_limit) for snr_db in snr_dbs]


def _balance(v, a, mask, rms_v: float, rms_a: float, *, snr_db: float, target_rms: float,
             peak_limit: float) -> MixResult:
    gain_v, gain_a = np.float32(10 ** (snr_db / 20) / rms_v), np.float32(1.0 / rms_a)
    balanced = gain_v * v + gain_a * a
    scale = target_rms / max(active_rms(balanced, mask), 1e-12)
    peak = float(np.max(np.abs(balanced))) * scale
    if peak > peak_limit:
        scale *= peak_limit / peak
    scale = np.float32(scale)
    gain_v, gain_a = float(gain_v * scale), float(gain_a * scale)
    mix = balanced * scale
    # frame RMS scales with the gain, so the scaled signals' active RMS are the inputs' times
    # the float32 gains (up to float32 rounding of the products)
    # libm's scalar log10, not numpy's (its SIMD kernels round differently by CPU)
    realised = 20 * math.log10(gain_v * rms_v / (gain_a * rms_a))
    return MixResult(mix=mix, vocal_gain=gain_v, acc_gain=gain_a, snr_db=float(realised))
