"""Shared fixtures: a seeded ``rng``, the small demo corpus and one whole-DAG run of
config/test.yaml (each made once per session)."""

import subprocess
import sys
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


ROOT = Path(__file__).resolve().parent.parent


def snakemake_command(workdir, *targets, extra=()) -> list[str]:
    """The suite's snakemake command: config/test.yaml, 2 cores, results under ``workdir``."""
    return [sys.executable, "-m", "snakemake", *targets, "--cores", "2", "--snakefile",
            str(ROOT / "Snakefile"), "--directory", str(workdir), "--configfile",
            str(ROOT / "config" / "test.yaml"), *extra]


def failed_logs(workdir: Path) -> str:
    """The tails of the job logs under ``workdir`` that show an error."""
    return "\n".join(f"--- {p}\n{p.read_text()[-2000:]}" for p in sorted(workdir.rglob("*.log"))
                     if "error" in p.read_text().lower() or "Traceback" in p.read_text())


@pytest.fixture(scope="session")
def demo_dag_run(tmp_path_factory) -> Path:
    """The working directory of one uninterrupted ``snakemake all`` on config/test.yaml.

    Shared by tests/test_workflow.py and the reference of tests/test_random_kills.py; tests
    must not write into it (its ``.snakemake/log`` holds the run's job timeline).
    """
    workdir = tmp_path_factory.mktemp("e2e")
    proc = subprocess.run(snakemake_command(workdir, "all"), capture_output=True, text=True,
                          cwd=ROOT)
    if proc.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{proc.stderr[-4000:]}\n{failed_logs(workdir)}")
    return workdir


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
