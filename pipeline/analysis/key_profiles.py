"""Key profiles and their correlation with chroma (the Krumhansl-Schmuckler score).

Key indices follow ``pipeline.core.music``: 0..11 major by tonic, 12..23 minor.

>>> import numpy as np
>>> c_major = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], dtype=float)  # C major scale
>>> int(np.argmax(key_profile_scores(c_major, "krumhansl")))  # 0 = C major
0
"""

from __future__ import annotations

import numpy as np

__all__ = ["PROFILES", "key_profile_scores", "key_profiles"]

# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Temperley (1999) and Albrecht & Shanahan (2013, pitch-class distributions of 490 pieces):
# near-zero weights off the scale, so a melody's fifth-related keys separate better.
PROFILES = {
    "krumhansl": (KK_MAJOR, KK_MINOR),
    "temperley": (np.array([5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0]),
                  np.array([5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0])),
    "albrecht": (np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009,
                           0.080, 0.008, 0.081]),
                 np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062,
                           0.022, 0.061, 0.052])),
}


def key_profiles(profile: str = "krumhansl") -> np.ndarray:
    """The 24 rotated key profiles of ``PROFILES[profile]``, shape (24, 12), row = key index."""
    major_profile, minor_profile = PROFILES[profile]
    major = np.stack([np.roll(major_profile, t) for t in range(12)])
    minor = np.stack([np.roll(minor_profile, t) for t in range(12)])
    return np.concatenate([major, minor])


def key_profile_scores(chroma: np.ndarray, profile: str = "krumhansl") -> np.ndarray:
    """Pearson correlation of chroma with each of the 24 key profiles.

    Parameters
    ----------
    chroma : np.ndarray [shape=(12,) or (12, n)]  summed chroma vector(s)
    profile : str  a key of ``PROFILES``

    Returns
    -------
    scores : np.ndarray [shape=(24,) or (24, n)]  in [-1, 1]; 0 for a flat chroma
    """
    chroma = np.asarray(chroma, dtype=np.float64)
    profiles = key_profiles(profile)
    p = profiles - profiles.mean(axis=1, keepdims=True)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    c = chroma - chroma.mean(axis=0, keepdims=True)
    norm = np.linalg.norm(c, axis=0, keepdims=True)
    c = np.divide(c, norm, out=np.zeros_like(c), where=norm > 0)
    return p @ c
