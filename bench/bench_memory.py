"""Peak memory of each stage's CLI (one job each) at the default shard sizes.

Generates (or reuses) a demo corpus, then runs ingest, split, analyze-vocals (shard 0),
analyze-accompaniments (shard 0), join, mix (shard 0), card and a one-epoch pretrain, each
in its own process, and prints the child's peak resident set size (``ru_maxrss`` from
``os.wait4``) and wall time.  The target is < 2 GB per job (the SLURM profile's default).

    python bench/bench_memory.py                       # default demo corpus, default shards
    python bench/bench_memory.py --preset small        # a quick look
    python bench/bench_memory.py --corpus results/demo # reuse a corpus
    python bench/bench_memory.py --corpus DIR --preset small  # reuse a small one
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LIMIT_MB = 2000


def measure(args: list[str], *, repeats: int = 1) -> tuple[float, float]:
    """Median peak RSS (MB) and wall time (s) of ``python -m pipeline <args>``."""
    peaks, walls = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "pipeline", *map(str, args)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        walls.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{args[0]} failed:\n{err.decode()[-3000:]}")
        peaks.append(usage.ru_maxrss / 1024)  # Linux: KiB
    return statistics.median(peaks), statistics.median(walls)


def stages(corpus: Path, work: Path, shards: dict, split: dict,
           seed: int) -> list[tuple[str, list]]:
    m, a, ds, models = work / "manifests", work / "analysis", work / "dataset", work / "models"
    source = json.dumps({"type": "demo", "root": str(corpus)})
    train = json.dumps({"pretrain_epochs": 1, "threads": 1})
    return [
        ("ingest", ["ingest", "--vocals", source, "--accompaniments", source,
                    "--shards", json.dumps(shards), "--out", m]),
        ("split", ["split", "--manifest", m / "vocals.parquet", "--out", m / "split.parquet",
                   "--seed", seed, "--params", json.dumps(split)]),
        ("analyze-vocals", ["analyze-vocals", "--manifest", m / "vocals.parquet", "--shard", 0,
                            "--out-prefix", a / "vocals" / "0"]),
        ("analyze-accompaniments", ["analyze-accompaniments", "--manifest",
                                    m / "accompaniments.parquet", "--shard", 0,
                                    "--out-prefix", a / "accompaniments" / "0"]),
        ("join", ["join", "--windows", a / "vocals" / "0.windows.parquet",
                  "--segments", a / "accompaniments" / "0.segments.parquet",
                  "--tracks", a / "accompaniments" / "0.tracks.parquet",
                  "--vocals", m / "vocals.parquet",
                  "--accompaniments", m / "accompaniments.parquet",
                  "--split", m / "split.parquet", "--out", ds, "--seed", seed]),
        ("mix", ["mix", "--pairs", ds / "pairs.parquet", "--vocals", m / "vocals.parquet",
                 "--analysis", a / "accompaniments", "--shard", 0, "--out", ds]),
        ("card", ["card", ds]),
        ("pretrain (1 epoch)", ["pretrain", "--dataset", ds, "--domain", "mix",
                                "--out", models / "pretrain-mix", "--seed", seed,
                                "--params", train]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="existing demo corpus (else generated)")
    parser.add_argument("--preset", choices=["default", "small"], default="default")
    parser.add_argument("--vocal-performances", type=int, default=400, help="shard size")
    parser.add_argument("--accompaniment-tracks", type=int, default=8, help="shard size")
    parser.add_argument("--unseen-singers", type=int, default=None,
                        help="split.unseen_singers (default: 20, or 4 for the small preset)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per stage (median)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_memory_"))
    rows = []
    try:
        corpus = args.corpus
        if corpus is None:
            corpus = work / "demo"
            gen = ["demo-corpus", "--out", corpus, "--workers", "1"]
            gen += ["--small"] if args.preset == "small" else []
            rows.append(("demo-corpus", *measure(gen)))
        shards = {"vocal_performances": args.vocal_performances,
                  "accompaniment_tracks": args.accompaniment_tracks}
        split = {"unseen_singers": args.unseen_singers
                 or (4 if args.preset == "small" else 20)}
        for name, cmd in stages(corpus.resolve(), work, shards, split, seed=1234):
            rows.append((name, *measure(cmd, repeats=args.repeats)))
            print(f"  {name}: {rows[-1][1]:.0f} MB", file=sys.stderr, flush=True)
    finally:
        if args.keep:
            print(f"work folder: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\nPeak RSS per job (ru_maxrss of the child; shards of {args.vocal_performances} "
          f"performances / {args.accompaniment_tracks} tracks; median of {args.repeats})")
    print(f"{'stage':<24} {'peak MB':>8} {'wall s':>8}  < {LIMIT_MB} MB")
    for name, peak, wall in rows:
        print(f"{name:<24} {peak:>8.0f} {wall:>8.1f}  {'yes' if peak < LIMIT_MB else 'NO'}")


if __name__ == "__main__":
    main()
