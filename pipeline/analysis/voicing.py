"""Singing-voice detection: frame RMS against a threshold, then voiced 3-second windows.

The authors thresholded frame RMS (1024 / 512, centred) at an absolute 0.04 on the audio as
loaded.  That depends on the recording level, so the default here is relative: a frame is
voiced when its RMS is within ``relative_db`` dB of the recording's ``percentile``-th
percentile of frame RMS (never below the absolute ``floor``).  Candidate windows of
``SEGMENT_SAMPLES`` step by ``hop_samples``; a window is kept when at least
``min_voiced_ratio`` of its frames are voiced (the paper: 70 %), and at most ``max_windows``
kept windows are chosen evenly over the recording.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.errors import ConfigError, ParameterError
from ..core.segment import HOP_LENGTH, SEGMENT_FRAMES, SEGMENT_SAMPLES
from ..core.signal import frame_rms

__all__ = ["SvdParams", "THRESHOLD_MODES", "VoicedWindows", "candidate_starts",
           "detect_voiced_windows", "frame_rms", "rms_threshold", "spread_evenly",
           "voiced_frames", "window_means"]

THRESHOLD_MODES = ("absolute", "relative")
THRESHOLD_KEYS = ("threshold_mode", "threshold", "relative_db", "percentile", "floor")


@dataclasses.dataclass(frozen=True)
class SvdParams:
    """The ``svd`` config section.

    Attributes
    ----------
    threshold_mode : "relative" | "absolute"
    threshold : float
        Absolute frame-RMS threshold (linear amplitude) used in "absolute" mode (authors: 0.04).
    relative_db : float
        In "relative" mode, frames within this many dB of the reference RMS are voiced.
    percentile : float
        Percentile (0..100) of the recording's frame RMS taken as the reference level.
    floor : float
        Frame RMS below this is never voiced; a recording whose loudest frame is below it
        is silent.
    hop_samples : int
        Step between candidate windows in samples (default half a segment).
    min_voiced_ratio : float
        Minimum share of voiced frames in a kept window (the paper: 0.7).
    max_windows : int
        Most windows kept per recording, spread evenly over the qualifying candidates.
    """

    threshold_mode: str = "relative"
    threshold: float = 0.04
    relative_db: float = 20.0
    percentile: float = 95.0
    floor: float = 1e-3
    hop_samples: int = SEGMENT_SAMPLES // 2
    min_voiced_ratio: float = 0.7
    max_windows: int = 20

    def __post_init__(self):
        if self.threshold_mode not in THRESHOLD_MODES:
            raise ConfigError(f"svd.threshold_mode: {self.threshold_mode!r} not in "
                              f"{THRESHOLD_MODES}")
        if self.hop_samples <= 0 or self.hop_samples % HOP_LENGTH:
            raise ConfigError(f"svd.hop_samples: {self.hop_samples} must be a positive "
                              f"multiple of {HOP_LENGTH}")
        if not 0.0 <= self.min_voiced_ratio <= 1.0:
            raise ConfigError(f"svd.min_voiced_ratio: {self.min_voiced_ratio} not in [0, 1]")
        if self.max_windows < 1:
            raise ConfigError(f"svd.max_windows: {self.max_windows} must be >= 1")
        if not 0.0 < self.percentile <= 100.0:
            raise ConfigError(f"svd.percentile: {self.percentile} not in (0, 100]")

    def threshold_kwargs(self) -> dict:
        """The keyword arguments of ``rms_threshold`` from this section."""
        return {k: getattr(self, k) for k in THRESHOLD_KEYS}


@dataclasses.dataclass(frozen=True)
class VoicedWindows:
    """Kept windows of one recording.

    Attributes
    ----------
    starts : np.ndarray [shape=(n,), int64]  window starts (samples)
    index : np.ndarray [shape=(n,), int64]   position of each kept window among the candidates
    voiced_ratio : np.ndarray [shape=(n,)]   share of voiced frames per window
    rms : np.ndarray [shape=(n,)]            mean frame RMS per window
    voiced : np.ndarray [shape=(n_frames,), bool]  frame-level decision
    threshold : float                        the frame-RMS threshold used
    """

    starts: np.ndarray
    index: np.ndarray
    voiced_ratio: np.ndarray
    rms: np.ndarray
    voiced: np.ndarray
    threshold: float


def rms_threshold(rms: np.ndarray, *, threshold_mode: str = "relative", threshold: float = 0.04,
                  relative_db: float = 20.0, percentile: float = 95.0, floor: float = 1e-3
                  ) -> float:
    """The frame-RMS threshold (linear amplitude) for one recording's ``rms`` frames.

    Parameters
    ----------
    rms : np.ndarray [shape=(n_frames,)]  frame RMS (linear amplitude)
    threshold_mode : "relative" | "absolute"
    threshold : float  the "absolute" threshold (linear amplitude; the authors': 0.04)
    relative_db : float  "relative": this many dB below the reference level (dB)
    percentile : float  "relative": the reference level, a percentile (0..100] of ``rms``
    floor : float  "relative": the lowest threshold (linear amplitude)

    Examples
    --------
    >>> rms_threshold(np.array([0.0, 0.5, 1.0]), percentile=100.0)  # 20 dB below the peak
    0.1
    """
    if threshold_mode not in THRESHOLD_MODES:
        raise ParameterError(f"threshold_mode {threshold_mode!r} not in {THRESHOLD_MODES}")
    if threshold_mode == "absolute":
        return float(threshold)
    reference = float(np.percentile(rms, percentile)) if len(rms) else 0.0
    return max(reference * 10.0 ** (-relative_db / 20.0), floor)


def voiced_frames(rms: np.ndarray, threshold: float) -> np.ndarray:
    """Frames whose RMS is at least ``threshold``: bool array of ``rms``'s shape."""
    return np.asarray(rms) >= threshold


def candidate_starts(n_samples: int, hop_samples: int,
                     segment_samples: int = SEGMENT_SAMPLES) -> np.ndarray:
    """Starts (samples) of every whole segment from 0 stepping by ``hop_samples``."""
    if n_samples < segment_samples:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_samples - segment_samples + 1, hop_samples, dtype=np.int64)


def window_means(values: np.ndarray, start_frames: np.ndarray,
                 n_frames: int = SEGMENT_FRAMES) -> np.ndarray:
    """Mean of ``values`` (per frame) over ``n_frames`` frames from each start frame."""
    csum = np.concatenate([[0.0], np.cumsum(np.asarray(values, dtype=np.float64))])
    stop = np.minimum(start_frames + n_frames, len(values))
    return (csum[stop] - csum[start_frames]) / n_frames


def spread_evenly(n: int, k: int) -> np.ndarray:
    """Indices of ``min(n, k)`` items chosen evenly from ``n`` (first and last included)."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(np.int64))


def detect_voiced_windows(y: np.ndarray | None = None, *, rms: np.ndarray | None = None,
                          n_samples: int | None = None, starts: np.ndarray | None = None,
                          hop_samples: int = SEGMENT_SAMPLES // 2, min_voiced_ratio: float = 0.7,
                          max_windows: int = 20, hop_length: int = HOP_LENGTH,
                          **threshold) -> VoicedWindows:
    """Voiced windows of one recording.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)] or None
        Mono samples at 22,050 Hz; may be omitted when ``rms`` and ``n_samples`` are given.
    hop_samples : int
        Step between candidate windows (samples), when ``starts`` is not given.
    min_voiced_ratio : float
        Least share of voiced frames in a kept window (the paper: 0.7).
    max_windows : int
        Most windows kept, spread evenly over the qualifying candidates.
    hop_length : int
        Samples between RMS frames.
    **threshold
        Keyword arguments of ``rms_threshold`` (``SvdParams.threshold_kwargs()``).
    rms : np.ndarray [shape=(1 + n // hop_length,)] or None
        Precomputed ``frame_rms(y)``.
    n_samples : int or None
        ``len(y)`` when ``y`` is omitted.
    starts : np.ndarray [shape=(n,)] or None
        Candidate window starts (samples, increasing, each window inside the recording);
        by default every ``hop_samples`` from 0 (``candidate_starts``).

    Returns
    -------
    VoicedWindows
        Empty arrays when no candidate qualifies (the recording is too short or unvoiced).
    """
    if rms is None:
        rms = frame_rms(y, frame_length=2 * hop_length, hop_length=hop_length)
    n_samples = len(y) if n_samples is None else n_samples
    level = rms_threshold(rms, **threshold)
    voiced = voiced_frames(rms, level)
    if starts is None:
        starts = candidate_starts(n_samples, hop_samples)
    starts = np.asarray(starts, dtype=np.int64)
    start_frames = starts // hop_length
    ratio = window_means(voiced, start_frames)
    ok = np.flatnonzero(ratio >= min_voiced_ratio - 1e-12)
    keep = ok[spread_evenly(len(ok), max_windows)]
    return VoicedWindows(starts=starts[keep], index=keep.astype(np.int64),
                         voiced_ratio=ratio[keep], rms=window_means(rms, start_frames[keep]), voiced=voiced,
                         threshold=level)
