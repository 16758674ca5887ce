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
