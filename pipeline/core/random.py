"""Seeded random streams, one per item: the pipeline's only source of randomness.

Every random choice draws from a generator derived from the global seed and the item's
stable keys, so a result depends neither on job order, sharding nor on other items.

>>> a = rng_for(1234, "window", "perf-7:512").integers(1000)
>>> b = rng_for(1234, "window", "perf-7:512").integers(1000)
>>> bool(a == b)
True
"""

from __future__ import annotations

import zlib

import numpy as np

from .errors import ParameterError

__all__ = ["rng_for", "stream_words"]


def stream_words(seed: int, *keys) -> list[int]:
    """The ``SeedSequence`` entropy of ``(seed, *keys)``.

    Parameters
    ----------
    seed : int
        Global seed, 0 <= seed < 2**32.
    *keys : int or str
        An ``int`` (0 <= k < 2**32, e.g. an epoch) is used as it is; anything else is
        hashed as the CRC-32 of its ``str`` (stable across runs, unlike Python's ``hash``).

    Returns
    -------
    list of int
        ``[seed, k_1, ..., k_n]``, each < 2**32.
    """
    words = []
    for value in (seed, *keys):
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            if not 0 <= int(value) < 2 ** 32:
                raise ParameterError(f"random stream key {value} is not in [0, 2**32)")
            words.append(int(value))
        else:
            words.append(zlib.crc32(str(value).encode("utf-8")))
    return words


def rng_for(seed: int, *keys) -> np.random.Generator:
    """The generator of one item: ``default_rng(SeedSequence(stream_words(seed, *keys)))``.

    ``rng_for(seed)`` equals ``np.random.default_rng(seed)``.

    Parameters
    ----------
    seed : int
        Global seed, 0 <= seed < 2**32.
    *keys : int or str
        The item's stable keys (see ``stream_words``).

    Returns
    -------
    numpy.random.Generator
    """
    return np.random.default_rng(np.random.SeedSequence(stream_words(seed, *keys)))
