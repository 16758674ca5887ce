"""Singer split: training singers (with validation tracks) and unseen test singers.

The paper: 1000 training singers and 300 unseen singers; each unseen singer contributes
6 model tracks (to build the singer model / the retrieval database) and 4 query tracks.
Deterministic by seed: singers and tracks are ordered by a seeded permutation of their
sorted ids, so the split does not depend on manifest order.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..core.errors import ConfigError
from ..core.random import rng_for

__all__ = ["SUBSETS", "SplitParams", "split_singers"]

SUBSETS = ("train", "valid", "test_model", "test_query")


@dataclasses.dataclass(frozen=True)
class SplitParams:
    """The ``split`` config section."""

    unseen_singers: int = 20
    train_singers: int | None = None  # None: every singer not held out
    model_tracks: int = 6
    query_tracks: int = 4
    valid_share: float = 0.1  # share of each training singer's tracks kept for validation


def split_singers(manifest: pd.DataFrame, params: SplitParams, seed: int) -> pd.DataFrame:
    """Assign each performance to a subset: columns ``id, singer, subset``.

    Unseen singers are drawn among singers with at least ``model_tracks + query_tracks``
    performances; training singers keep ``ceil(valid_share * n)`` tracks (at least one when
    they have two or more) for validation.  Singers beyond the requested counts are left out
    (subset "unused").
    """
    rng = rng_for(seed)
    tracks = {s: sorted(g["id"]) for s, g in manifest.groupby("singer", sort=True)}
    singers = sorted(tracks)
    order = [singers[i] for i in rng.permutation(len(singers))]
    need = params.model_tracks + params.query_tracks
    eligible = [s for s in order if len(tracks[s]) >= need]
    if len(eligible) < params.unseen_singers:
        raise ConfigError(
            f"split.unseen_singers: {params.unseen_singers} unseen singers need "
            f"{need} performances each, but only {len(eligible)} singers have that many")
    unseen = eligible[: params.unseen_singers]
    held_out = set(unseen)
    rest = [s for s in order if s not in held_out]
    n_train = len(rest) if params.train_singers is None else params.train_singers
    if n_train > len(rest) or n_train < 2:
        raise ConfigError(
            f"split.train_singers: asked for {params.train_singers}, but {len(rest)} singers "
            f"remain after holding out {len(unseen)} unseen singers (need at least 2)")
    train = rest[:n_train]

    rows = []
    for s in unseen:
        ids = [tracks[s][i] for i in rng.permutation(len(tracks[s]))]
        rows += [(i, s, "test_model") for i in ids[: params.model_tracks]]
        rows += [(i, s, "test_query") for i in ids[params.model_tracks:need]]
        rows += [(i, s, "unused") for i in ids[need:]]
    for s in train:
        ids = [tracks[s][i] for i in rng.permutation(len(tracks[s]))]
        n_valid = int(np.ceil(params.valid_share * len(ids))) if len(ids) > 1 else 0
        rows += [(i, s, "valid") for i in ids[:n_valid]]
        rows += [(i, s, "train") for i in ids[n_valid:]]
    for s in rest[n_train:]:
        rows += [(i, s, "unused") for i in tracks[s]]
    out = pd.DataFrame(rows, columns=["id", "singer", "subset"])
    return out.sort_values("id", kind="stable").reset_index(drop=True)
