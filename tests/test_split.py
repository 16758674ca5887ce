import pandas as pd
import pytest

from pipeline.core.errors import ConfigError
from pipeline.sources.split import SplitParams, split_singers


def manifest(n_singers=12, tracks=10):
    return pd.DataFrame([{"id": f"s{s:02d}-{t}", "singer": f"s{s:02d}"}
                         for s in range(n_singers) for t in range(tracks)])


def test_split_counts_disjoint_and_deterministic():
    m = manifest()
    a = split_singers(m, SplitParams(unseen_singers=4), seed=7)
    b = split_singers(m.sample(frac=1, random_state=3), SplitParams(unseen_singers=4), seed=7)
    pd.testing.assert_frame_equal(a, b)
    by = a.groupby("subset")
    assert by["singer"].nunique()["test_model"] == 4
    test_singers = set(a.loc[a.subset.str.startswith("test"), "singer"])
    train_singers = set(a.loc[a.subset.isin(["train", "valid"]), "singer"])
    assert not test_singers & train_singers and len(train_singers) == 8
    per = a[a.subset.str.startswith("test")].groupby(["singer", "subset"]).size().unstack()
    assert (per["test_model"] == 6).all() and (per["test_query"] == 4).all()
    assert (a[a.subset == "valid"].groupby("singer").size() == 1).all()
    assert split_singers(m, SplitParams(unseen_singers=4), seed=8)["subset"].tolist() != a["subset"].tolist()


def test_too_small_corpus_is_a_clear_error():
    with pytest.raises(ConfigError, match="split.unseen_singers"):
        split_singers(manifest(3, 10), SplitParams(unseen_singers=4), seed=0)
    with pytest.raises(ConfigError, match="split.unseen_singers"):
        split_singers(manifest(12, 9), SplitParams(unseen_singers=1), seed=0)
    with pytest.raises(ConfigError, match="split.train_singers"):
        split_singers(manifest(6, 10), SplitParams(unseen_singers=4, train_singers=5), seed=0)


def test_train_singers_caps_the_training_singers_and_leaves_the_rest_unused():
    # the paper's 1000 training + 300 unseen of ~3,460 DAMP users, scaled: 5 + 3 of 12
    m = manifest(12, 10)
    a = split_singers(m, SplitParams(unseen_singers=3, train_singers=5), seed=7)
    per = a.groupby("singer")["subset"].agg(set)
    train = per[per.apply(lambda s: bool(s & {"train", "valid"}))].index
    unseen = per[per.apply(lambda s: "test_model" in s)].index
    unused = per[per.apply(lambda s: s == {"unused"})].index
    assert (len(train), len(unseen), len(unused)) == (5, 3, 4)
    assert (a[a.singer.isin(train)].groupby("singer")["subset"].value_counts().unstack()
            .reindex(columns=["train", "valid"]).values.tolist() == [[9, 1]] * 5)
    everyone = split_singers(m, SplitParams(unseen_singers=3), seed=7)
    assert everyone.loc[everyone.singer.isin(unused), "subset"].isin(["train", "valid"]).all()
    # the unseen singers do not depend on how many singers train
    assert set(everyone.loc[everyone.subset == "test_model", "singer"]) == set(unseen)


def test_the_split_follows_the_performances_that_reach_the_dataset():
    m = manifest(20, 10)
    # singers s00..s09 lose 1..10 of their performances; the others keep all 10
    lost = {f"s{s:02d}-{t}" for s in range(10) for t in range(s + 1)}
    reached = [i for i in m["id"] if i not in lost]
    params = SplitParams(unseen_singers=6, model_tracks=6, query_tracks=4)
    for seed in range(5):
        split = split_singers(m, params, seed=seed, reached=reached)
        assert len(split) == len(m) and set(split["id"]) == set(m["id"])
        test = split[split["subset"].isin(["test_model", "test_query"])]
        assert not set(test["id"]) & lost
        per = test.groupby(["singer", "subset"]).size().unstack()
        assert len(per) == 6 and (per["test_model"] == 6).all() and (per["test_query"] == 4).all()
        assert set(split.loc[split["id"].isin(lost), "subset"]) == {"unused"}
        assert not set(split.loc[split["subset"].isin(["train", "valid"]), "id"]) & lost
    assert split_singers(m, params, seed=3, reached=reached).equals(
        split_singers(m.iloc[::-1], params, seed=3, reached=reached[::-1]))


def test_a_shortfall_names_it():
    m = manifest(20, 10)
    reached = [i for i in m["id"] if not i.endswith("-9") or i < "s12"]  # 12 singers keep 10
    with pytest.raises(ConfigError, match=r"13 unseen singers need 10 performances each in the "
                                          r"dataset .* only 12 singers have that many: 1 short"):
        split_singers(m, SplitParams(unseen_singers=13), seed=0, reached=reached)
    with pytest.raises(ConfigError, match=r"train_singers: asked for 9, but 8 singers .* 1 short"):
        split_singers(m, SplitParams(unseen_singers=12, train_singers=9), seed=0, reached=reached)


def test_eligibility_counts():
    from pipeline.sources.split import eligibility

    m = manifest(4, 10)
    reached = [i for i in m["id"] if not (i.startswith("s00") and i.endswith("-0")) and
               not i.startswith("s01")]
    e = eligibility(m, SplitParams(), reached)
    assert e == {"singers": 4, "performances": 40, "singers_reached": 3,
                 "performances_reached": 29, "tracks_per_unseen_singer": 10, "eligible_unseen": 2}
