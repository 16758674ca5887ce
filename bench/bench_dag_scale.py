"""DAG size and build time at DAMP scale.

Writes a synthetic manifest of 34,620 performances by 3,462 singers and 150 accompaniments
(the checkpoint's outputs, as after ingest), then times `snakemake -n all` and counts jobs.
Target: under 2,000 jobs, DAG built in under 30 s.

    python bench/bench_dag_scale.py [--performances 34620] [--singers 3462] [--tracks 150]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent


def write_damp_scale_workdir(workdir: Path, performances=34620, singers=3462, tracks=150) -> Path:
    """Create manifests and a config for a DAMP-sized dry run; return the config path."""
    workdir = Path(workdir)
    m = workdir / "results" / "manifests"
    m.mkdir(parents=True, exist_ok=True)
    ids = [f"perf{i:06d}" for i in range(performances)]
    vocals = pd.DataFrame({
        "id": ids, "path": [f"/data/damp/{i}.m4a" for i in ids],
        "singer": [f"user{i % singers:05d}" for i in range(performances)],
        "song": [f"song{i % 500}" for i in range(performances)], "duration_s": 180.0,
        "sample_rate": 44100, "channels": 1, "size_bytes": 1, "sha256": "0" * 64,
        "tempo_bpm": np.nan})
    vocals["shard"] = np.arange(performances) // 400
    acc = pd.DataFrame({
        "id": [f"train/t{i:03d}" for i in range(tracks)], "path": "/data/musdb", "format": "stems",
        "split": "train", "duration_s": 240.0, "sample_rate": 44100, "channels": 2,
        "size_bytes": 1, "sha256": "0" * 64})
    acc["shard"] = np.arange(tracks) // 8
    vocals.to_parquet(m / "vocals.parquet", index=False)
    acc.to_parquet(m / "accompaniments.parquet", index=False)
    pd.DataFrame(columns=["corpus", "path", "id", "stage", "reason", "detail"]).to_parquet(
        m / "skipped.parquet", index=False)
    (workdir / "corpus").mkdir(exist_ok=True)
    config = {
        "results": "results",
        "sources": {"vocals": {"type": "manifest", "root": str(m / "vocals.parquet")},
                    "accompaniments": {"type": "folder", "root": str(workdir / "corpus")}},
        "shards": {"vocal_performances": 400, "accompaniment_tracks": 8},
        "split": {"unseen_singers": 300, "train_singers": 1000},
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def dry_run(workdir: Path, config: Path) -> tuple[int, float, str]:
    """Run `snakemake -n all`; return (jobs, seconds, output)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "all", "-n", "--cores", "1", "--quiet", "rules",
         "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(config)],
        capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(out[-3000:])
    match = re.search(r"^total\s+(\d+)", out, re.M)
    return (int(match.group(1)) if match else -1), seconds, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--performances", type=int, default=34620)
    parser.add_argument("--singers", type=int, default=3462)
    parser.add_argument("--tracks", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_damp_scale_workdir(Path(tmp), args.performances, args.singers, args.tracks)
        runs = [dry_run(Path(tmp), config) for _ in range(args.repeats)]
    jobs = runs[0][0]
    print(f"DAMP scale: {args.performances} performances, {args.singers} singers, "
          f"{args.tracks} accompaniments")
    print(f"jobs planned: {jobs} (target < 2000)")
    print(f"snakemake -n all: median {statistics.median(r[1] for r in runs):.1f} s "
          f"over {args.repeats} runs (target < 30 s)")
    print(runs[0][2][-1500:])


if __name__ == "__main__":
    main()
