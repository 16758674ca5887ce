"""Shared fixtures: a seeded ``rng`` and the small demo corpus (generated once per session)."""

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator, fresh for each test."""
    return np.random.default_rng(20190101)


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """The ``--small`` demo corpus (seed 1234), written once into a temporary folder."""
    from pipeline.demo import generate_corpus, preset

    root = tmp_path_factory.mktemp("demo_corpus")
    generate_corpus(root, preset("small", seed=1234), workers=2)
    return root


def complete_index(index):
    """A synthetic test index with every dataset index column (missing ones at neutral values)."""
    from pipeline.core.tables import DATASET_INDEX

    index = index.copy()
    for column, dtype in DATASET_INDEX.items():
        if column not in index:
            index[column] = "" if dtype == "str" else 0
    return index[list(DATASET_INDEX)].astype(DATASET_INDEX)


def index_rows(k, n, subset, *, singers=2):
    """``n`` complete index rows of shard ``k`` (one performance ``p{k}``, windows 0..n-1)."""
    return [{"segment_id": f"p{k}-w{i:03d}-m0", "subset": subset, "singer": f"s{(k + i) % singers}",
             "perf_id": f"p{k}", "song": "x", "window_index": i, "mix_index": 0,
             "vocal_start": 1000 * i, "acc_track": "t", "acc_start": 0, "tempo_bpm": 100.0,
             "acc_tempo_bpm": 100.0, "key": 3, "acc_key": 3, "vocal_gain": 1.0,
             "acc_gain": 0.5, "snr_db": 0.0, "shard": -1, "row": -1} for i in range(n)]
