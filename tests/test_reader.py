"""The public dataset reader returns exactly the stored segments with their own index rows."""

import numpy as np
import pytest
from conftest import index_rows

from pipeline.core.errors import PipelineError
from pipeline.dataset import DatasetVersion
from pipeline.dataset.card import build_card
from pipeline.dataset.shards import index_frame, write_shard


@pytest.fixture
def version(tmp_path, rng):
    stored = {}
    for k, (n, subset) in enumerate([(3, "train"), (2, "valid"), (4, "train")]):
        mono = rng.normal(1.0, 0.5, (n, 129, 128)).astype(np.float16)
        mix = rng.normal(2.0, 0.25, (n, 129, 128)).astype(np.float16)
        mono[:, 0, 0] = np.arange(n) + 10 * k  # a tag: which stored row this is
        write_shard(tmp_path, k, mono=mono, mix=mix, index=index_frame(index_rows(k, n, subset, singers=3)))
        stored[k] = {"mono": mono, "mix": mix}
    build_card(tmp_path, params={"seed": 1}, mel={"n_mels": 128})
    return tmp_path, stored


def test_segments_come_with_their_own_index_rows(version):
    path, stored = version
    ds = DatasetVersion(path)
    seen = 0
    for row, mel in ds.segments("mono", batch_size=2):
        expect = stored[int(row["shard"])]["mono"][int(row["row"])].astype(np.float32)
        np.testing.assert_array_equal(mel, expect)
        assert row["segment_id"] == f"p{row['shard']}-w{row['window_index']:03d}-m0"
        seen += 1
    assert seen == 9
    assert [r["subset"] for r, _ in ds.segments("mix", subset="valid")] == ["valid", "valid"]


def test_normalise_uses_the_card_statistics(version):
    path, stored = version
    ds = DatasetVersion(path)
    train = np.concatenate([stored[0]["mix"], stored[2]["mix"]]).astype(np.float64)
    x = ds.normalise(stored[0]["mix"], "mix")
    np.testing.assert_allclose(x, (stored[0]["mix"] - train.mean()) / train.std(), rtol=1e-5,
                               atol=1e-5)


def test_torch_dataset_items_and_singer_codes(version):
    torch = pytest.importorskip("torch")
    path, stored = version
    ds = DatasetVersion(path)
    items = ds.torch_dataset("mono", subset="train", normalise=False)
    assert len(items) == 7 and items.singers == ("s0", "s1", "s2")
    mel, code = items[4]  # the 5th train row: shard 2, row 1 -> singer s0 ((2 + 1) % 3)
    assert isinstance(mel, torch.Tensor) and mel.shape == (129, 128)
    assert float(mel[0, 0]) == 21.0 and items.singers[code] == "s0"
    batch = next(iter(torch.utils.data.DataLoader(items, batch_size=4)))
    assert batch[0].shape == (4, 129, 128)


def test_a_missing_shard_is_named(version):
    path, _ = version
    (path / "mix-000001.npy").unlink()
    with pytest.raises(PipelineError, match="mix-000001.npy"):
        list(DatasetVersion(path).segments("mix", subset="valid"))
