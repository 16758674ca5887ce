import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import index_rows

from pipeline.cli import main
from pipeline.core.config import dataset_version
from pipeline.core.tables import DATASET_INDEX
from pipeline.dataset.card import build_card
from pipeline.dataset.shards import index_frame, write_shard
from pipeline.dataset.verify import verify


@pytest.fixture
def dataset(tmp_path, rng):
    data = {}
    for k, (n, subset) in enumerate([(3, "train"), (0, "train"), (4, "test_model")]):
        mono = rng.normal(1.0, 0.5, (n, 129, 128)).astype(np.float16)
        mix = rng.normal(2.0, 0.25, (n, 129, 128)).astype(np.float16)
        write_shard(tmp_path, k, mono=mono, mix=mix, index=index_frame(index_rows(k, n, subset, singers=2)))
        data[k] = (mono, mix)
    card = build_card(tmp_path, params={"mashup": {"snr_db": 0}}, mel={"n_mels": 128})
    return tmp_path, data, card


def test_shard_readable_with_numpy_and_pyarrow_only(dataset):
    root, data, _ = dataset
    mono = np.load(root / "mono-000002.npy", mmap_mode="r")
    mix = np.load(root / "mix-000002.npy", mmap_mode="r")
    index = pq.read_table(root / "index-000002.parquet").to_pydict()
    assert mono.dtype == np.float16 and mono.shape == (4, 129, 128) == mix.shape
    assert list(index) == list(DATASET_INDEX)
    assert index["row"] == [0, 1, 2, 3] and set(index["shard"]) == {2}
    np.testing.assert_array_equal(mono, data[2][0])
    empty = np.load(root / "mono-000001.npy")
    assert empty.shape == (0, 129, 128)


def test_card_counts_normalisation_and_index(dataset):
    root, data, card = dataset
    train = np.concatenate([data[0][0], data[1][0]]).astype(np.float64)
    assert card["normalisation"]["mono"]["mean"] == pytest.approx(train.mean(), rel=1e-12)
    assert card["normalisation"]["mono"]["std"] == pytest.approx(train.std(), rel=1e-9)
    mix = data[0][1].astype(np.float64)
    assert card["normalisation"]["mix"]["std"] == pytest.approx(mix.std(), rel=1e-9)
    assert card["counts"]["all"]["segments"] == 7 and card["counts"]["train"]["segments"] == 3
    assert card["version"] == dataset_version({"mashup": {"snr_db": 0}})
    assert len(card["shards"]) == 9
    index = pd.read_parquet(root / "index.parquet")
    assert list(index["shard"]) == [0, 0, 0, 2, 2, 2, 2]
    assert json.loads((root / "card.json").read_text()) == json.loads(json.dumps(card))


def test_verify_catches_a_flipped_byte(dataset, capsys):
    root, _, _ = dataset
    assert verify(root) == []
    assert main(["verify", str(root)]) == 0
    path = root / "mix-000002.npy"
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0x01
    path.write_bytes(bytes(raw))
    problems = verify(root)
    assert len(problems) == 1 and "mix-000002.npy: sha256" in problems[0]
    assert main(["verify", str(root)]) == 1
    assert "mix-000002.npy" in capsys.readouterr().err


def test_verify_catches_missing_and_truncated(dataset):
    root, _, _ = dataset
    (root / "index-000000.parquet").unlink()
    path = root / "mono-000002.npy"
    path.write_bytes(path.read_bytes()[:-129 * 128 * 2])
    problems = "\n".join(verify(root))
    assert "index-000000.parquet: missing" in problems
    assert "mono-000002.npy" in problems


def test_dataset_version_is_canonical():
    a = dataset_version({"seed": 1, "mashup": {"y": 2, "x": [1, 2]}})
    assert a == dataset_version({"mashup": {"x": [1, 2], "y": 2}, "seed": 1, "train": {"lr": 1}})
    assert len(a) == 10 and a != dataset_version({"seed": 2, "mashup": {"y": 2, "x": [1, 2]}})


def test_write_shard_rejects_misaligned(tmp_path):
    from pipeline.core.errors import PipelineError

    with pytest.raises(PipelineError, match="shape"):
        write_shard(tmp_path, 0, mono=np.zeros((2, 129, 128)), mix=np.zeros((3, 129, 128)),
                    index=index_frame(index_rows(0, 2, "train")))


def test_card_of_the_given_shards_ignores_a_stale_larger_shard_count(tmp_path, rng):
    """A folder that held 3 shards and is regenerated with 2: shard 2 is stale."""
    for k in range(3):
        mono = rng.normal(1.0, 0.5, (2, 129, 128)).astype(np.float16)
        write_shard(tmp_path, k, mono=mono, mix=mono, index=index_frame(index_rows(k, 2, "train")))
    everything = build_card(tmp_path, params={"seed": 1}, mel={})
    assert everything["counts"]["all"]["segments"] == 6  # what a folder glob sees
    card = build_card(tmp_path, params={"seed": 1}, mel={}, shards=[0, 1])
    assert card["counts"]["all"]["segments"] == 4 and len(card["shards"]) == 6
    index = pd.read_parquet(tmp_path / "index.parquet")
    assert sorted(index["shard"].unique()) == [0, 1]
    assert any("mono-000002.npy: not listed" in p for p in verify(tmp_path))
