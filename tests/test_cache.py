"""The accompaniment audio cache (pipeline.sources.cache): written by analysis, read by mix."""

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import PipelineError
from pipeline.sources.cache import AudioCacheBuilder, CachedAccompaniments, write_audio


def _write_shard(folder, k, tracks: dict):
    """Shard ``k`` of a cache holding ``tracks`` (track_id -> audio), as analysis writes it."""
    builder, rows = AudioCacheBuilder(), []
    for track_id, y in tracks.items():
        offset, length = builder.add(y)
        rows.append({"track_id": track_id, "audio_offset": offset, "audio_length": length})
    write_audio(folder / f"{k}.audio.npy", builder.audio())
    pd.DataFrame(rows).to_parquet(folder / f"{k}.tracks.parquet")


def test_builder_concatenates_float32_and_reports_offsets(rng):
    b = AudioCacheBuilder()
    assert b.audio().dtype == np.float32 and len(b.audio()) == 0
    a, c = rng.standard_normal(5), rng.standard_normal(3).astype(np.float32)
    assert b.add(a) == (0, 5) and b.add(c) == (5, 3)
    np.testing.assert_array_equal(b.audio(), np.concatenate([a.astype(np.float32), c]))


def test_a_stale_shard_left_in_the_folder_is_not_read(tmp_path, rng):
    """Two shards now; an earlier run with three shards left 2.* behind, in which track "b"
    had other audio and a track "stale" existed.  Only the files given are read."""
    fresh = {"a": rng.standard_normal(1000), "b": rng.standard_normal(1000)}
    _write_shard(tmp_path, 0, {"a": fresh["a"]})
    _write_shard(tmp_path, 1, {"b": fresh["b"]})
    _write_shard(tmp_path, 2, {"b": np.zeros(1000), "stale": np.ones(1000)})  # stale
    cache = CachedAccompaniments(tracks=[tmp_path / f"{k}.tracks.parquet" for k in (0, 1)],
                                 audio=[tmp_path / f"{k}.audio.npy" for k in (0, 1)])
    np.testing.assert_array_equal(cache.segment("b", 10, 100),
                                  fresh["b"][10:110].astype(np.float32))
    with pytest.raises(PipelineError, match="stale"):
        cache.segment("stale", 0, 100)
    # What the old reader did (every *.tracks.parquet of the folder): it read the stale
    # shard, and its "b" won.
    globbed = sorted(tmp_path.glob("*.tracks.parquet"))
    old = CachedAccompaniments(tracks=globbed,
                               audio=[tmp_path / f"{k}.audio.npy" for k in (0, 1, 2)])
    assert not old.segment("b", 10, 100).any()


def test_a_tracks_table_without_its_audio_is_an_error(tmp_path, rng):
    _write_shard(tmp_path, 0, {"a": rng.standard_normal(10)})
    with pytest.raises(PipelineError, match="0.audio.npy"):
        CachedAccompaniments(tracks=[tmp_path / "0.tracks.parquet"], audio=[])
