"""The split follows the data: draw the singer split among performances the join can pair.

1. Join every window (no split): the performances with a paired window *reach* the dataset.
2. Draw the split among them (:func:`pipeline.sources.split.split_singers` with ``reached``):
   unseen singers need ``model_tracks + query_tracks`` reached performances.
3. Join again with that split, so the windows left out use no segment, and check that every
   unseen singer's model and query tracks still have a pair (only a ``max_segment_uses`` cap
   could take one away; that is an error naming the singers, never a silent shortfall).

Windows of performances that reach no pair keep the first join's reason (e.g. "no key
match"), not "not in split", so the accounting names why they were dropped.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..core.errors import PipelineError
from ..sources.split import SplitParams, eligibility, split_singers
from .join import JoinResult, coverage_table, join_windows, number_windows
from .tiers import parse_policy

__all__ = ["check_unseen", "join_with_split"]

log = logging.getLogger(__name__)


def join_with_split(windows: pd.DataFrame, segments: pd.DataFrame, tracks: pd.DataFrame,
                    manifest: pd.DataFrame, split_params: SplitParams, *, seed: int,
                    **join_kw) -> tuple[JoinResult, pd.DataFrame, dict]:
    """Join, draw the split among the performances that reach the dataset, join again.

    Parameters
    ----------
    windows, segments, tracks : pd.DataFrame
        As for :func:`pipeline.mashup.join.join_windows`.
    manifest : pd.DataFrame
        The vocal manifest (id, singer): every performance, reached or not.
    split_params : SplitParams
    seed : int
    **join_kw
        policy, mixes_per_window, max_segment_uses, key_change_margin_s, min_key_margin.

    Returns
    -------
    (JoinResult, split table (id, singer, subset), summary dict)
        The summary holds :func:`pipeline.sources.split.eligibility` plus the singers and
        performances per subset.
    """
    first = join_windows(windows, segments, tracks, None, seed=seed, **join_kw)
    reached = np.sort(first.pairs["perf_id"].unique())
    summary = eligibility(manifest, split_params, reached)
    log.info("split: %d of %d singers (%d of %d performances) reach the dataset; %d have the "
             "%d performances an unseen singer needs", summary["singers_reached"],
             summary["singers"], summary["performances_reached"], summary["performances"],
             summary["eligible_unseen"], summary["tracks_per_unseen_singer"])
    split = split_singers(manifest, split_params, seed, reached=reached)
    res = join_windows(windows, segments, tracks, split, seed=seed, **join_kw)
    check_unseen(res.pairs, split)
    unmatched = _first_reasons(res.unmatched, first.unmatched, reached)
    w = number_windows(windows)
    w["subset"] = w["perf_id"].map(split.set_index("id")["subset"])
    reason = w[["perf_id", "window_index"]].merge(
        unmatched[["perf_id", "window_index", "reason"]], how="left",
        on=["perf_id", "window_index"])["reason"].fillna("").to_numpy(object)
    tiers = [t.name for t in parse_policy(join_kw.get("policy", "strict"))]
    coverage = coverage_table(w, reason, res.pairs, tiers=tiers)
    counts = split.groupby("subset").agg(singers=("singer", "nunique"), performances=("id", "size"))
    summary["subsets"] = {k: {c: int(v) for c, v in row.items()} for k, row in counts.iterrows()}
    return JoinResult(res.pairs, unmatched, coverage, res.usage), split, summary


def _first_reasons(unmatched: pd.DataFrame, first: pd.DataFrame, reached) -> pd.DataFrame:
    """Pass-2 unmatched rows, with the first join's reason for windows of performances that
    reached nothing (they are "not in split" only because nothing of theirs was paired)."""
    out = unmatched.copy()
    lost = ~out["perf_id"].isin(set(reached)) & (out["reason"] == "not in split")
    why = first.set_index(["perf_id", "window_index"])["reason"]
    keys = pd.MultiIndex.from_frame(out.loc[lost, ["perf_id", "window_index"]])
    out.loc[lost, "reason"] = why.reindex(keys).to_numpy()
    return out


def check_unseen(pairs: pd.DataFrame, split: pd.DataFrame) -> None:
    """Every test_model / test_query performance has a pair, else PipelineError naming them."""
    test = split[split["subset"].isin(["test_model", "test_query"])]
    missing = test[~test["id"].isin(set(pairs["perf_id"]))]
    if len(missing):
        singers = sorted(missing["singer"].unique())
        raise PipelineError(
            f"{len(missing)} model/query performances of {len(singers)} unseen singers "
            f"({', '.join(map(str, singers[:5]))}{', ...' if len(singers) > 5 else ''}) lost "
            "their pairs when the join was rerun with the split (segments exhausted); raise "
            "mashup.max_segment_uses or loosen mashup.policy")
