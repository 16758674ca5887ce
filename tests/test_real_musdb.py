"""A real MUSDB18 file, made by nobody here: the 6-s excerpt that ships in the stempeg wheel.

``The Easton Ellises - Falcon 69.stem.mp4``: five AAC streams (mixture, drums, bass, other,
vocals) and a cover-picture stream; a name with spaces and a hyphen.
"""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from pipeline.core.audio import decode, load_stems_sum, probe_audio
from pipeline.core.errors import AudioError
from pipeline.core.segment import SAMPLE_RATE
from pipeline.sources.accompaniments import (
    AccompanimentSource,
    accompaniment_candidates,
    load_accompaniment,
)

NAME = "The Easton Ellises - Falcon 69"


@pytest.fixture(scope="module")
def stem_file() -> Path:
    spec = importlib.util.find_spec("stempeg")  # locates the package without importing it
    assert spec is not None, "stempeg (a test dependency) is not installed"
    path = Path(spec.origin).parent / "data" / f"{NAME}.stem.mp4"
    assert path.exists(), path
    return path


def test_five_audio_streams_the_picture_ignored(stem_file):
    info = probe_audio(stem_file)
    assert info.n_streams == 5 and info.sample_rate == 44100 and info.channels == 2
    assert 6.0 < info.duration_s < 6.2
    with pytest.raises(AudioError, match="missing stream"):
        decode(stem_file, stream=5)  # the sixth stream is the PNG cover, not audio


def test_streams_decode_time_aligned_and_the_stems_add_up_to_the_mixture(stem_file):
    parts = [decode(stem_file, stream=s)[0].mean(axis=0) for s in range(5)]
    assert len({len(p) for p in parts}) == 1
    mixture, stems = parts[0], parts[1] + parts[2] + parts[3] + parts[4]
    inner = slice(3000, len(mixture) - 3000)

    def residual(lag):
        return np.sqrt(np.mean((np.roll(mixture, -lag)[inner] - stems[inner]) ** 2))

    lags = range(-1024, 1025, 8)
    best = min(lags, key=residual)
    assert best == 0  # no stream is shifted against the others (e.g. by its AAC priming)
    level = np.sqrt(np.mean(mixture[inner] ** 2))
    assert residual(0) < 0.1 * level  # -20 dB: what five separate AAC encodings leave
    assert residual(512) > 0.5 * level  # a real misalignment would show


def test_musdb_adapter_reads_it_through_a_symlink(stem_file, tmp_path):
    """musdb layout <root>/train/<track>.stem.mp4, the file itself elsewhere (a symlink)."""
    (tmp_path / "musdb18" / "train").mkdir(parents=True)
    link = tmp_path / "musdb18" / "train" / f"{NAME}.stem.mp4"
    os.symlink(stem_file, link)
    rows, skipped = accompaniment_candidates(
        AccompanimentSource(type="musdb", root=str(tmp_path / "musdb18"), splits=("train",)))
    assert skipped.empty and rows["id"].tolist() == [f"train/{NAME}"]
    row = rows.iloc[0]
    assert row["path"] == str(link)  # stays under the corpus root: recipes are relative to it
    y = load_accompaniment(row)
    assert y.dtype == np.float32 and abs(len(y) / SAMPLE_RATE - 6.08) < 0.05
    np.testing.assert_array_equal(y, load_stems_sum(link, streams=(1, 2, 3)))
    vocals = decode(link, stream=4)[0].mean(axis=0)
    mixture = decode(link, stream=0)[0].mean(axis=0)
    assert np.sqrt(np.mean(y ** 2)) > 0.5 * np.sqrt(np.mean(vocals ** 2))
    assert not np.allclose(y[:1000], 0) and np.max(np.abs(mixture)) <= 1.0
