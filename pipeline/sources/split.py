"""Singer split: training singers (with validation tracks) and unseen test singers.

The paper: 1000 training singers and 300 unseen singers; each unseen singer contributes
6 model tracks (to build the singer model / the retrieval database) and 4 query tracks.
The split follows the data: singers are drawn among those whose performances *reach* the
dataset (the join pairs at least one of their windows, ``reached``), so an unseen singer
always has ``model_tracks + query_tracks`` usable tracks.  Deterministic by seed: singers
and tracks are ordered by a seeded permutation of their sorted ids, so the split does not
depend on manifest order.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..core.errors import ConfigError
from ..core.random import rng_for

__all__ = ["SUBSETS", "SplitParams", "eligibility", "split_singers"]

SUBSETS = ("train", "valid", "test_model", "test_query")


@dataclasses.dataclass(frozen=True)
class SplitParams:
    """The ``split`` config section."""

    unseen_singers: int = 20
    train_singers: int | None = None  # None: every singer not held out
    model_tracks: int = 6
    query_tracks: int = 4
    valid_share: float = 0.1  # share of each training singer's tracks kept for validation


def _reached_tracks(manifest: pd.DataFrame, reached) -> dict:
    """singer -> sorted ids of its performances that reach the dataset."""
    m = manifest if reached is None else manifest[manifest["id"].isin(set(reached))]
    return {s: sorted(g["id"]) for s, g in m.groupby("singer", sort=True)}


def eligibility(manifest: pd.DataFrame, params: SplitParams, reached=None) -> dict:
    """Counts behind a split: singers and performances in the manifest, those reaching the
    dataset, singers eligible as unseen (``model_tracks + query_tracks`` reached
    performances) and as training singers (one or more)."""
    tracks = _reached_tracks(manifest, reached)
    need = params.model_tracks + params.query_tracks
    return {"singers": int(manifest["singer"].nunique()), "performances": int(len(manifest)),
            "singers_reached": len(tracks),
            "performances_reached": int(sum(len(v) for v in tracks.values())),
            "tracks_per_unseen_singer": need,
            "eligible_unseen": int(sum(len(v) >= need for v in tracks.values()))}


def split_singers(manifest: pd.DataFrame, params: SplitParams, seed: int,
                  reached=None) -> pd.DataFrame:
    """Assign each performance to a subset: columns ``id, singer, subset``.

    Unseen singers are drawn among singers with at least ``model_tracks + query_tracks``
    performances in ``reached`` (perf ids that reach the dataset; None: every performance of
    the manifest), training singers among the other singers with one or more; training
    singers keep ``ceil(valid_share * n)`` tracks (at least one when they have two or more)
    for validation.  Performances that do not reach the dataset, and singers beyond the
    requested counts, are left out (subset "unused").

    Raises
    ------
    ConfigError
        When the corpus cannot supply the configured counts; the message names the shortfall.
    """
    rng = rng_for(seed)
    tracks = _reached_tracks(manifest, reached)
    singers = sorted(tracks)
    order = [singers[i] for i in rng.permutation(len(singers))]
    need = params.model_tracks + params.query_tracks
    eligible = [s for s in order if len(tracks[s]) >= need]
    where = ("in the manifest" if reached is None else
             f"in the dataset (of {manifest['singer'].nunique()} singers, {len(tracks)} have a "
             f"performance the join pairs; loosen mashup.policy or lower the counts)")
    if len(eligible) < params.unseen_singers:
        raise ConfigError(
            f"split.unseen_singers: {params.unseen_singers} unseen singers need "
            f"{need} performances each {where}, but only {len(eligible)} singers have that "
            f"many: {params.unseen_singers - len(eligible)} short")
    unseen = eligible[: params.unseen_singers]
    held_out = set(unseen)
    rest = [s for s in order if s not in held_out]
    n_train = len(rest) if params.train_singers is None else params.train_singers
    if n_train > len(rest) or n_train < 2:
        raise ConfigError(
            f"split.train_singers: asked for {params.train_singers}, but {len(rest)} singers "
            f"with a performance {where} remain after holding out {len(unseen)} unseen "
            f"singers (need at least 2): {max(n_train, 2) - len(rest)} short")
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
    placed = {r[0] for r in rows}
    rows += [(i, s, "unused") for i, s in zip(manifest["id"], manifest["singer"]) if i not in placed]
    out = pd.DataFrame(rows, columns=["id", "singer", "subset"])
    return out.sort_values("id", kind="stable").reset_index(drop=True)
