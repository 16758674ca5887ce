"""End to end: the whole DAG on the small demo corpus through snakemake (config/test.yaml).

Slow (a few minutes): one run, shared by the tests in this module.  A second run of the
data stages in another folder checks that the same config gives byte-identical shards.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *targets: str, extra=()) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", *targets, "--cores", "2", "--snakefile",
           str(ROOT / "Snakefile"), "--directory", str(workdir), "--configfile",
           str(ROOT / "config" / "test.yaml"), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        logs = "\n".join(f"--- {p}\n{p.read_text()[-2000:]}" for p in sorted(workdir.rglob("*.log"))
                         if "error" in p.read_text().lower() or "Traceback" in p.read_text())
        raise AssertionError(f"snakemake failed:\n{proc.stderr[-4000:]}\n{logs}")
    return proc


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("e2e")
    snakemake(workdir, "all")
    results = workdir / "results-test"
    (dataset,) = [p for p in (results / "datasets").iterdir() if p.is_dir()]
    (evaluation,) = [p for p in (results / "evaluation").iterdir() if p.is_dir()]
    return workdir, results, dataset, evaluation


def test_report_and_metrics_exist(run):
    _, _, _, evaluation = run
    html = (evaluation / "report.html").read_text()
    assert "Mono2Mix" in html and "<img" in html
    metrics = pd.read_parquet(evaluation / "metrics.parquet")
    assert {"model", "pretrained", "scenario", "metric", "value", "n"} <= set(metrics.columns)
    assert set(metrics["scenario"]) >= {"Mono2Mono", "Mix2Mix", "Mono2Mix", "Mix2Mono"}


def test_every_input_is_accounted_for(run):
    _, results, _, _ = run
    (acc,) = list((results / "accounting").rglob("accounting.parquet"))
    table = pd.read_parquet(acc)
    truth = pd.read_parquet(results / "demo" / "truth" / "vocals.parquet")
    vocals = table[table["corpus"] == "vocals"]
    assert sorted(vocals["id"]) == sorted(truth["perf_key"])
    assert set(table["status"]) <= {"used", "skipped"}
    assert (table.loc[table.status == "skipped", "reason"] != "").all()


def test_shards_are_readable_with_numpy_and_pyarrow_alone(run):
    _, _, dataset, _ = run
    card = json.loads((dataset / "card.json").read_text())
    index = pq.read_table(dataset / "index.parquet").to_pandas()
    row = index.iloc[0]
    mono = np.load(dataset / f"mono-{int(row['shard']):06d}.npy", mmap_mode="r")
    mix = np.load(dataset / f"mix-{int(row['shard']):06d}.npy", mmap_mode="r")
    assert mono.dtype == np.float16 and mono.shape[1:] == (129, 128) and mono.shape == mix.shape
    assert np.isfinite(mono[int(row["row"])]).all()
    assert sum(s["rows"] for s in card["shards"]) == 2 * len(index)


def test_verify_passes_and_data_stages_are_deterministic(run, tmp_path):
    workdir, _, dataset, _ = run
    proc = subprocess.run([sys.executable, "-m", "pipeline", "verify", str(dataset)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    other = tmp_path / "again"
    rel = dataset.relative_to(workdir)
    snakemake(other, str(rel / "card.json"))
    a = json.loads((dataset / "card.json").read_text())["shards"]
    b = json.loads((other / rel / "card.json").read_text())["shards"]
    assert a == b
