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
