"""Segment pools, triplet sampling and batch loading over a synthetic dataset version."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import complete_index

from pipeline.core.errors import PipelineError
from pipeline.core.random import rng_for
from pipeline.dataset.reader import ShardReader, read_card, read_index
from pipeline.dataset.shards import shard_name
from pipeline.train import sampling as data

FRAMES, BANDS = 129, 128


def write_dataset(path, rng, *, train_singers=6, test_singers=2, train_perfs=3, windows=4,
                  mixes=2, separation=1.5):
    """A dataset version in the mashup stage's format, with singers separable by design.

    Each singer has a fixed spectral profile (a random vector over the mel bands) added to
    every one of its a-cappella segments; a mix adds an accompaniment profile of its own and
    noise.  Train singers get ``train_perfs`` "train" performances and one "valid" one;
    test singers get one "test_model" and one "test_query" performance.  Mono rows repeat
    for each ``mix_index`` (row-aligned with their mixes); rows alternate over two shards.
    """
    n_singers = train_singers + test_singers
    profiles = separation * rng.standard_normal((n_singers, BANDS))
    records, mono, mix = [], [], []
    for s in range(n_singers):
        subsets = (["train"] * train_perfs + ["valid"] if s < train_singers
                   else ["test_model", "test_query"])
        for t, subset in enumerate(subsets):
            for w in range(windows):
                vocal = profiles[s] + rng.standard_normal((FRAMES, BANDS))
                for m in range(mixes):
                    acc = rng.standard_normal(BANDS) + 0.5 * rng.standard_normal((FRAMES, BANDS))
                    mono.append(vocal + 2.0)
                    mix.append(0.8 * vocal + acc + 3.0)
                    records.append({"segment_id": f"u{s:02d}-p{t}-w{w}-m{m}", "subset": subset,
                                    "singer": f"u{s:02d}", "perf_id": f"u{s:02d}-p{t}",
                                    "song": f"song{t}", "window_index": w, "mix_index": m,
                                    "snr_db": 0.0})
    index = pd.DataFrame.from_records(records)
    index["shard"] = np.arange(len(index)) % 2
    index["row"] = index.groupby("shard").cumcount()
    mono, mix = np.stack(mono).astype(np.float16), np.stack(mix).astype(np.float16)
    path.mkdir(parents=True, exist_ok=True)
    for k in (0, 1):
        sel = index["shard"].to_numpy() == k
        np.save(path / shard_name("mono", k), mono[sel])
        np.save(path / shard_name("mix", k), mix[sel])
    complete_index(index).to_parquet(path / "index.parquet")
    card = {"version": "synthetic-v1",
            "normalisation": {d: {"mean": float(a.astype(np.float64).mean()),
                                  "std": float(a.astype(np.float64).std())}
                              for d, a in (("mono", mono), ("mix", mix))},
            "mel": {"sample_rate": 22050, "n_fft": 1024, "hop_length": 512, "n_mels": 128}}
    (path / "card.json").write_text(json.dumps(card))
    return path


def training_index(dataset):
    index = read_index(dataset)
    index["window"] = data.window_codes(index)
    return index


@pytest.fixture
def dataset(tmp_path, rng):
    return write_dataset(tmp_path / "v1", rng)


def test_reader_returns_the_indexed_segments_in_request_order(dataset):
    index = training_index(dataset)
    reader = ShardReader(dataset)
    pick = index.sample(10, random_state=1)
    got = reader.gather("mix", pick["shard"].to_numpy(), pick["row"].to_numpy())
    assert got.dtype == np.float32 and got.shape == (10, FRAMES, BANDS)
    for i, (k, r) in enumerate(zip(pick["shard"], pick["row"])):
        np.testing.assert_array_equal(got[i], np.load(dataset / f"mix-{k:06d}.npy")[r])


def test_pools_are_singer_blocks_and_mono_keeps_each_window_once(dataset):
    index = training_index(dataset)
    singers = tuple(sorted(index.loc[index["subset"] == "train", "singer"].unique()))
    mono = data.make_pool(index, domain="mono", subsets=["train"], singers=singers)
    mix = data.make_pool(index, domain="mix", subsets=["train"], singers=singers)
    assert len(singers) == 6
    assert len(mono) == 6 * 3 * 4 and len(mix) == 2 * len(mono)
    assert len(np.unique(mono.window)) == len(mono)
    assert np.all(np.diff(mono.singer) >= 0)
    for s in range(len(singers)):
        block = mix.singer[mix.offsets[s]:mix.offsets[s + 1]]
        assert len(block) == 24 and np.all(block == s)


def test_sampler_never_draws_a_negative_of_the_anchors_singer(dataset):
    index = training_index(dataset)
    singers = tuple(sorted(index.loc[index["subset"] == "train", "singer"].unique()))
    anchors = data.make_pool(index, domain="mono", subsets=["train"], singers=singers)
    targets = data.make_pool(index, domain="mix", subsets=["train"], singers=singers)
    plan = data.plan_triplets(anchors, targets, n_items=5000, negatives=4,
                              rng=rng_for(3, 0, 1))
    a_singer = anchors.singer[plan.anchor]
    assert plan.negatives.shape == (5000, 4)
    assert not np.any(targets.singer[plan.negatives] == a_singer[:, None])
    assert np.all(targets.singer[plan.positive] == a_singer)
    assert not np.any(targets.window[plan.positive] == anchors.window[plan.anchor])
    # every other singer is drawn as a negative, roughly uniformly
    counts = np.bincount(targets.singer[plan.negatives].ravel(), minlength=6)
    assert counts.min() > 0.8 * counts.mean()


def test_plans_are_pure_functions_of_seed_and_epoch(dataset):
    index = training_index(dataset)
    singers = tuple(sorted(index["singer"].unique()))[:6]
    pool = data.make_pool(index, domain="mix", subsets=["train"], singers=singers)
    draw = lambda seed, epoch: data.plan_triplets(pool, pool, n_items=100, negatives=4,
                                                  rng=rng_for(seed, 0, epoch))
    a, b, c = draw(1, 2), draw(1, 2), draw(1, 3)
    np.testing.assert_array_equal(a.negatives, b.negatives)
    assert not np.array_equal(a.anchor, c.anchor)
    # one pass covers every anchor exactly once
    full = data.plan_triplets(pool, pool, n_items=None, negatives=4, rng=rng_for(0, 0, 0))
    assert sorted(full.anchor) == list(range(len(pool)))


def test_triplet_batches_hold_the_planned_segments(dataset):
    index = training_index(dataset)
    singers = tuple(sorted(index.loc[index["subset"] == "train", "singer"].unique()))
    anchors = data.make_pool(index, domain="mono", subsets=["train"], singers=singers)
    targets = data.make_pool(index, domain="mix", subsets=["train"], singers=singers)
    plan = data.plan_triplets(anchors, targets, n_items=10, negatives=4,
                              rng=rng_for(0, 0, 0))
    reader = ShardReader(dataset)
    batches = data.TripletBatches(reader, anchors, targets, plan, batch_size=4)
    assert len(batches) == 3
    a, p, n = batches[1]
    assert a.shape == (4, FRAMES, BANDS) and n.shape == (4, 4, FRAMES, BANDS)
    j = plan.negatives[6, 2]
    expect = np.load(dataset / f"mix-{targets.shard[j]:06d}.npy")[targets.row[j]]
    np.testing.assert_array_equal(n[2, 2].numpy(), expect.astype(np.float32))


def test_in_batch_negatives_are_other_singers_positives_of_the_same_batch(dataset):
    index = training_index(dataset)
    singers = tuple(sorted(index.loc[index["subset"] == "train", "singer"].unique()))
    anchors = data.make_pool(index, domain="mono", subsets=["train"], singers=singers)
    targets = data.make_pool(index, domain="mix", subsets=["train"], singers=singers)
    plan = data.plan_triplets(anchors, targets, n_items=70, negatives=3, rng=rng_for(0, 0, 0),
                              in_batch=16)
    assert plan.in_batch and plan.negatives.shape == (70, 3)
    a_singer, p_singer = anchors.singer[plan.anchor], targets.singer[plan.positive]
    assert np.all(p_singer == a_singer)
    for i in range(70):
        b0 = i // 16 * 16
        slots = plan.negatives[i]
        assert len(set(slots)) == 3 and slots.min() >= 0 and b0 + slots.max() < min(b0 + 16, 70)
        assert not np.any(p_singer[b0 + slots] == a_singer[i])
    # every eligible position is drawn, roughly uniformly: the 6 singers fill a batch evenly
    again = data.plan_triplets(anchors, targets, n_items=70, negatives=3, rng=rng_for(0, 0, 0),
                               in_batch=16)
    np.testing.assert_array_equal(plan.negatives, again.negatives)
    big = data.plan_triplets(anchors, targets, n_items=4000, negatives=3,
                             rng=rng_for(0, 0, 1), in_batch=16)
    counts = np.bincount(big.negatives.ravel(), minlength=16)
    assert counts.min() > 0.8 * counts.mean()
    # the batch holds the positives; the negatives are their positions, not segments
    a, p, n = data.TripletBatches(ShardReader(dataset), anchors, targets, plan, 16)[4]
    assert p.shape == (6, FRAMES, BANDS) and n.dtype == torch.int64 and n.shape == (6, 3)
    with pytest.raises(PipelineError, match="batches of 8"):
        data.TripletBatches(ShardReader(dataset), anchors, targets, plan, 8)


def test_in_batch_negatives_fail_when_a_batch_lacks_other_singers():
    singer = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    slots = data.in_batch_negatives(singer, singer, batch_size=4, negatives=1,
                                    rng=np.random.default_rng(0))
    assert np.all(singer[slots[:4, 0]] != singer[:4]) and np.all(slots < 4)
    with pytest.raises(PipelineError, match="fewer than 2 other singers"):
        data.in_batch_negatives(singer, singer, batch_size=4, negatives=2,
                                rng=np.random.default_rng(0))


def test_missing_card_or_shard_is_an_error_naming_the_file(dataset):
    (dataset / "card.json").unlink()
    with pytest.raises(PipelineError, match="card.json"):
        read_card(dataset)
    with pytest.raises(PipelineError, match="mono-000007.npy"):
        ShardReader(dataset).shard("mono", 7)


def test_singers_without_target_segments_are_neither_anchors_nor_negatives(dataset):
    index = training_index(dataset)
    singers = tuple(sorted(index.loc[index["subset"] == "train", "singer"].unique()))
    anchors = data.make_pool(index, domain="mono", subsets=["train"], singers=singers)
    targets = data.make_pool(index[index["singer"] != "u02"], domain="mix", subsets=["train"],
                             singers=singers)
    plan = data.plan_triplets(anchors, targets, n_items=2000, negatives=4,
                              rng=rng_for(0, 0, 0))
    assert 2 not in set(anchors.singer[plan.anchor])
    assert 2 not in set(targets.singer[plan.negatives].ravel())
    assert not np.any(targets.singer[plan.negatives] == anchors.singer[plan.anchor][:, None])
