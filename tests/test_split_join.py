"""The split drawn among the performances the join pairs (pipeline.mashup.split_join)."""

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import ConfigError, PipelineError
from pipeline.core.segment import SEGMENT_SAMPLES
from pipeline.mashup.split_join import check_unseen, join_with_split
from pipeline.sources.split import SplitParams

KW = dict(policy="strict", max_segment_uses=0)


def tables(n_singers=8, perfs=12):
    """Singer k's performances j: tempo 100 + j, so only the tempi present among the tracks
    (100..109: the first 10) reach the dataset; singer 0 sings out of key."""
    rows = []
    for s in range(n_singers):
        for j in range(perfs):
            for i in range(3):
                rows.append({"perf_id": f"s{s}-{j:02d}", "singer": f"s{s}", "song": "x",
                             "start": i * SEGMENT_SAMPLES, "key": 5 if s == 0 else 0,
                             "tempo_bpm": 100.0 + j})
    w = pd.DataFrame(rows)
    seg = pd.DataFrame({"track_id": [f"t{b}" for b in range(10)], "beat_index": 0, "start": 0,
                        "key": 0, "tempo_bpm": 100.0 + np.arange(10)})
    tr = pd.DataFrame({"track_id": [f"t{b}" for b in range(10)], "audio_length": SEGMENT_SAMPLES})
    manifest = w.drop_duplicates("perf_id").rename(columns={"perf_id": "id"})[["id", "singer"]]
    return w, seg, tr, manifest


def test_unseen_singers_have_their_tracks_and_lost_performances_keep_their_reason():
    w, seg, tr, manifest = tables()
    res, split, summary = join_with_split(w, seg, tr, manifest, SplitParams(unseen_singers=3),
                                          seed=1, **KW)
    assert summary["singers_reached"] == 7 and summary["eligible_unseen"] == 7
    assert summary["performances_reached"] == 70 and summary["subsets"]["test_query"]["singers"] == 3
    test = split[split["subset"].isin(["test_model", "test_query"])]
    assert test["id"].isin(set(res.pairs["perf_id"])).all()
    assert (test.groupby("singer").size() == 10).all()
    # out of key (singer 0) or out of tempo (j >= 10): unused, with the join's reason
    lost = split[split["subset"] == "unused"]
    assert set(lost["id"]) == set(manifest["id"]) - set(res.pairs["perf_id"])
    why = res.unmatched.groupby("perf_id")["reason"].first()
    assert why["s0-00"] == "no key match" and why["s3-11"] == "no tempo match"
    cov = res.coverage.set_index("subset")
    assert cov.loc["all", "matched"] == 70 * 3 and cov.loc["all", "not_in_split"] == 0


def test_shortfall_and_lost_pairs_are_errors():
    w, seg, tr, manifest = tables()
    with pytest.raises(ConfigError, match="1 short"):
        join_with_split(w, seg, tr, manifest, SplitParams(unseen_singers=8), seed=1, **KW)
    split = pd.DataFrame({"id": ["a", "b", "c"], "singer": ["x", "x", "y"],
                          "subset": ["test_model", "test_query", "train"]})
    check_unseen(pd.DataFrame({"perf_id": ["a", "b"]}), split)
    with pytest.raises(PipelineError, match="1 model/query performances of 1 unseen singers \\(x\\)"):
        check_unseen(pd.DataFrame({"perf_id": ["a", "c"]}), split)
