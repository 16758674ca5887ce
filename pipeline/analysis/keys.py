"""Key finding: Krumhansl-Schmuckler on chroma, per segment, window or whole track.

Chroma is computed once per file (frames on the segment grid: hop 512 at 22,050 Hz), summed
over the frames of each segment's *context* (the segment itself, a longer window centred on
it, its one-key section, or the whole track) and correlated with 24 rotated key profiles
(Albrecht-Shanahan by default, Krumhansl-Kessler as in the paper); the estimate is the best-correlated key, its strength the
winning correlation and its margin the lead over the second-best key.  Essentia's
HPCP + ``Key`` is the selectable alternative (``method="essentia"``).

Key indices follow ``pipeline.core.music``: 0..11 major by tonic, 12..23 minor.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.music import KEY_NAMES, key_index
from ..core.segment import HOP_LENGTH, SAMPLE_RATE, SEGMENT_SAMPLES
from .chroma import Chroma
from .key_profiles import key_profile_scores
from .key_sections import change_margins, key_sections

__all__ = ["SegmentKeys", "context_bounds", "key_names", "keys_of_sums", "segment_keys",
           "track_key"]


def context_bounds(starts: np.ndarray, n_frames: int, hop: int, *, context: str = "segment",
                   window_seconds: float = 8.0, sr: int = SAMPLE_RATE,
                   segment_samples: int = SEGMENT_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last chroma frame of each segment's key context.

    Parameters
    ----------
    starts : np.ndarray [shape=(n,)]  segment starts (samples)
    n_frames : int  chroma frames in the file
    hop : int  samples per chroma frame
    context : "segment" | "window" | "track"  the segment, a window centred on it, the file
    window_seconds : float  length of the "window" context (s)
    sr : int  sample rate (Hz)
    segment_samples : int  segment length (samples)

    Returns
    -------
    lo, hi : np.ndarray [shape=(n,), int64]
    """
    starts = np.asarray(starts, dtype=np.int64)
    if context == "track":
        return np.zeros_like(starts), np.full_like(starts, n_frames)
    if context == "window":
        half = int(round(window_seconds * sr / 2))
        centre = starts + segment_samples // 2
        first, last = centre - half, centre + half
    else:
        first, last = starts, starts + segment_samples
    lo = np.clip(np.round(first / hop).astype(np.int64), 0, n_frames)
    hi = np.clip(np.round(last / hop).astype(np.int64) + 1, 0, n_frames)
    return lo, np.maximum(hi, lo)


@dataclasses.dataclass(frozen=True)
class SegmentKeys:
    """Keys of segments, arrays of shape (n,).

    Attributes
    ----------
    key : int64 key index (``pipeline.core.music``)
    strength : the winning profile correlation (essentia: its key strength)
    margin : winning minus second-best correlation: how clearly the key wins
    change_margin_s : seconds from the segment to the nearest detected key change (negative
        when a change falls inside it); +inf unless ``context="sections"`` found changes
    """

    key: np.ndarray
    strength: np.ndarray
    margin: np.ndarray
    change_margin_s: np.ndarray


def segment_keys(chroma: Chroma, starts: np.ndarray, *, method: str = "ks",
                 profile: str = "albrecht", essentia_profile: str = "krumhansl",
                 context: str = "sections", window_seconds: float = 8.0,
                 section_block_s: float = 0.5, section_context_s: float = 2.0,
                 change_penalty: float = 2.0, weights: np.ndarray | None = None,
                 n_samples: int | None = None) -> SegmentKeys:
    """Keys of the segments starting at ``starts`` (samples).

    Parameters
    ----------
    chroma : Chroma  of the whole file
    starts : np.ndarray [shape=(n,)]  segment starts (samples)
    method, profile, essentia_profile : see ``keys_of_sums``
    context : "segment" | "window" | "sections" | "track"
        What each segment's key is found over: itself, ``window_seconds`` (s) centred on it,
        its one-key section (``key_sections`` with ``section_block_s`` / ``section_context_s``
        seconds and ``change_penalty``), or the whole file.
    weights : np.ndarray [shape=(n_frames,)] or None
        Per-frame weights on the segment grid (hop 512), e.g. the voiced-frame mask, so
        unvoiced frames do not count.
    n_samples : int or None
        Length of the file (samples); by default that of the chroma frames.

    Returns
    -------
    SegmentKeys
    """
    frames = _weighted(chroma, weights)
    starts = np.asarray(starts, dtype=np.int64)
    n_samples = frames.shape[1] * chroma.hop if n_samples is None else int(n_samples)
    keys = {"method": method, "profile": profile, "essentia_profile": essentia_profile}
    if context == "sections":
        sections = key_sections(frames, hop=chroma.hop, n_samples=n_samples,
                                block_s=section_block_s, context_s=section_context_s,
                                change_penalty=change_penalty, profile=profile)
        key, strength, margin = keys_of_sums(sections.sums, **keys)
        mid = np.searchsorted(sections.bounds, starts + SEGMENT_SAMPLES // 2, side="right") - 1
        mid = np.clip(mid, 0, len(key) - 1)
        return SegmentKeys(key[mid], strength[mid], margin[mid],
                           change_margins(sections.bounds, starts))
    lo, hi = context_bounds(starts, frames.shape[1], chroma.hop, context=context,
                            window_seconds=window_seconds)
    csum = np.concatenate([np.zeros((12, 1)), np.cumsum(frames, axis=1)], axis=1)
    key, strength, margin = keys_of_sums(csum[:, hi] - csum[:, lo], **keys)
    return SegmentKeys(key, strength, margin, np.full(len(starts), np.inf))


def keys_of_sums(sums: np.ndarray, *, method: str = "ks", profile: str = "albrecht",
                 essentia_profile: str = "krumhansl") -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """Key, strength and margin of each summed chroma vector.

    Parameters
    ----------
    sums : np.ndarray [shape=(12, n)]  summed chroma
    method : "ks" | "essentia"  Krumhansl-Schmuckler with ``profile`` (a key of
        ``key_profiles.PROFILES``), or essentia's ``Key`` with ``essentia_profile``

    Returns
    -------
    key : np.ndarray [shape=(n,), int64]  key index (``pipeline.core.music``)
    strength, margin : np.ndarray [shape=(n,)]  winning correlation; its lead on the second
    """
    if method == "essentia":
        return _essentia_keys(sums, essentia_profile)
    scores = key_profile_scores(sums, profile)
    top2 = np.sort(scores, axis=0)[-2:]
    return (np.argmax(scores, axis=0).astype(np.int64), top2[1].astype(np.float64),
            (top2[1] - top2[0]).astype(np.float64))


def track_key(chroma: Chroma, *, method: str = "ks", profile: str = "albrecht",
              essentia_profile: str = "krumhansl", weights: np.ndarray | None = None
              ) -> tuple[int, float]:
    """Key and strength of a whole file from its summed chroma (``weights`` per frame)."""
    total = _weighted(chroma, weights).sum(axis=1, keepdims=True)
    key, strength, _ = keys_of_sums(total, method=method, profile=profile,
                                    essentia_profile=essentia_profile)
    return int(key[0]), float(strength[0])


def _weighted(chroma: Chroma, weights) -> np.ndarray:
    frames = np.asarray(chroma.frames, dtype=np.float64)
    if weights is None:
        return frames
    w = np.asarray(weights, dtype=np.float64)
    if chroma.hop != HOP_LENGTH:  # resample the mask onto the chroma grid
        idx = np.minimum(np.arange(frames.shape[1]) * chroma.hop // HOP_LENGTH, len(w) - 1)
        w = w[idx]
    n = min(len(w), frames.shape[1])
    out = np.zeros_like(frames)
    out[:, :n] = frames[:, :n] * w[:n]
    return out


def _essentia_keys(sums: np.ndarray, profile: str) -> tuple[np.ndarray, np.ndarray,
                                                           np.ndarray]:
    """Key, strength and margin (strength times essentia's first-to-second relative
    strength, i.e. first minus second) per summed HPCP vector."""
    import essentia.standard as es

    key_algo = es.Key(profileType=profile, pcpSize=12)
    rows = []
    for col in np.asarray(sums, dtype=np.float64).T:
        peak = col.max()
        if peak <= 0:
            rows.append((0, 0.0, 0.0))
            continue
        # Back to essentia's A-first bin order.
        pcp = np.roll(col / peak, 3).astype(np.float32)
        tonic, scale, strength, relative = key_algo(pcp)
        rows.append((key_index(f"{tonic} {scale}"), float(strength), float(strength * relative)))
    keys, strengths, margins = zip(*rows) if rows else ((), (), ())
    return (np.array(keys, dtype=np.int64), np.array(strengths, dtype=np.float64),
            np.array(margins, dtype=np.float64))


def key_names(keys) -> list[str]:
    """Names ("C# minor") of key indices."""
    return [KEY_NAMES[int(k)] for k in np.atleast_1d(keys)]
