"""Per-job fixed cost: the wall time of one stage command on one short file, and where it goes.

A DAMP-scale run is hundreds of jobs; each pays Python start-up, imports and (before the
numpy beat tracker) numba's JIT before any audio.  This prints, median of ``--repeats``
fresh processes:

- ``python -c pass`` (the interpreter alone);
- ``python -m pipeline --help`` (the CLI, which imports no stage);
- ``python -m pipeline analyze --vocal FILE`` on a 5-s sung file (imports + the work);
- ``python -m pipeline analyze FILE`` on a 5-s accompaniment (drums and chords);
- the DAG's shard jobs on those files: ``analyze-vocals``, ``analyze-accompaniments`` and
  ``mix`` (one pair: the vocal's first window on the accompaniment's first beat);
- the vocal analysis in-process after a warm-up (the audio work alone);

whether a job imported librosa or numba, and the ten slowest imports of the analyze
command (``python -X importtime``).  Target of the performance issue: 1.5 s or less per job.

Usage: ``python bench/bench_job_overhead.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.core.segment import SAMPLE_RATE  # noqa: E402


def sung_file(folder: Path, seconds: float = 5.0) -> Path:
    """A 5-s vibrato melody with note onsets, as 16-bit WAV at 44.1 kHz."""
    import soundfile as sf

    sr = 44100
    t = np.arange(int(seconds * sr)) / sr
    notes = 220.0 * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12]) / 12)
    f0 = notes[(t * 2).astype(int) % len(notes)]  # two notes per second
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))) / sr
    envelope = 0.5 - 0.5 * np.cos(2 * np.pi * (t * 2 % 1))
    y = 0.3 * envelope * sum(np.sin(h * phase) / h for h in (1, 2, 3))
    path = folder / "take 1.wav"
    sf.write(path, y.astype(np.float32), sr, subtype="PCM_16")
    return path


def band_file(folder: Path, seconds: float = 5.0, bpm: float = 120.0) -> Path:
    """A 5-s accompaniment: kick and hi-hat on every beat over an A minor chord, 44.1 kHz."""
    import soundfile as sf

    sr = 44100
    t = np.arange(int(seconds * sr)) / sr
    since_beat = t % (60.0 / bpm)
    kick = np.sin(2 * np.pi * 60 * since_beat) * np.exp(-since_beat * 30)
    noise = np.random.default_rng(0).standard_normal(len(t))
    hat = noise * np.exp(-since_beat * 80) * 0.3
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63)) * 0.1
    path = folder / "band.wav"
    sf.write(path, (0.4 * (kick + hat + chord)).astype(np.float32), sr, subtype="PCM_16")
    return path


def shard_jobs(folder: Path, vocal: Path, band: Path) -> dict[str, list[str]]:
    """The analyze-vocals, analyze-accompaniments and mix commands on one file each, with
    their inputs written (the mix reads the accompaniment job's audio cache, so that job
    runs once here)."""
    import pandas as pd

    from pipeline.core.tables import ACCOMPANIMENT_MANIFEST, RECIPE, VOCAL_MANIFEST

    def table(columns: dict, row: dict) -> pd.DataFrame:
        return pd.DataFrame([{c: row.get(c, 0) for c in columns}])

    vocals = folder / "vocals.parquet"
    table(VOCAL_MANIFEST, {"id": "v0", "path": str(vocal), "singer": "s0", "song": "x",
                           "sha256": "", "tempo_bpm": 120.0}).to_parquet(vocals)
    accs = folder / "accompaniments.parquet"
    table(ACCOMPANIMENT_MANIFEST, {"id": "a0", "path": str(band), "format": "file",
                                   "split": "", "sha256": ""}).to_parquet(accs)
    py = sys.executable
    acc_job = [py, "-m", "pipeline", "analyze-accompaniments", "--manifest", str(accs),
               "--shard", "0", "--out-prefix", str(folder / "acc0")]
    subprocess.run(acc_job, check=True, capture_output=True, cwd=ROOT)
    pairs = folder / "pairs.parquet"
    table(RECIPE, {"segment_id": "v0_0", "perf_id": "v0", "singer": "s0", "song": "x",
                   "subset": "train", "acc_track": "a0", "tempo_bpm": 120.0,
                   "acc_tempo_bpm": 120.0, "tempo_relation": "exact",
                   "key_relation": "same", "tier": "exact", "tempo_ratio": 1.0,
                   "stretch_ratio": 1.0, "vocal_path": vocal.name, "vocal_sha256": "",
                   "acc_path": band.name, "acc_format": "file",
                   "acc_sha256": ""}).to_parquet(pairs)
    return {"analyze-vocals (one 5-s file)":
            [py, "-m", "pipeline", "analyze-vocals", "--manifest", str(vocals), "--shard", "0",
             "--out-prefix", str(folder / "voc0")],
            "analyze-accompaniments (one 5-s file)": acc_job,
            "mix (one pair)":
            [py, "-m", "pipeline", "mix", "--pairs", str(pairs), "--vocals", str(vocals),
             "--tracks", str(folder / "acc0.tracks.parquet"), "--audio",
             str(folder / "acc0.audio.npy"), "--shard", "0", "--out", str(folder / "dataset")]}


def heavy_imports(cmd: list[str]) -> list[str]:
    """The top-level packages among librosa, numba, torch that ``cmd`` imports."""
    done = subprocess.run([sys.executable, "-X", "importtime", *cmd[1:]], capture_output=True,
                          text=True, cwd=ROOT)
    names = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines()
             if line.startswith("import time:")}
    return sorted(names & {"librosa", "numba", "torch"})


def timed(cmd: list[str], repeats: int, trees: list[Path]) -> list[tuple[float, float]]:
    """Median (wall s, CPU s) of ``cmd`` in fresh processes, for each source tree.

    Each process runs in its tree (``python -m`` takes the package from the working
    directory) with ``PYTHONPATH`` set to it; the trees alternate within each repeat, so they
    share the machine's load.  CPU seconds (user + system of the child) are what a job costs
    on a busy machine; wall seconds equal them on an idle one (the jobs are single-threaded).
    """
    walls = [[] for _ in trees]
    cpus = [[] for _ in trees]
    for _ in range(repeats):
        for i, tree in enumerate(trees):
            env = dict(os.environ, PYTHONPATH=str(tree))
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=tree, env=env)
            walls[i].append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[i].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return [(statistics.median(w), statistics.median(c)) for w, c in zip(walls, cpus)]


def slowest_imports(cmd: list[str], n: int = 10) -> list[tuple[float, str]]:
    """(cumulative seconds, module) of the ``n`` slowest top-level imports of ``cmd``."""
    done = subprocess.run([sys.executable, "-X", "importtime", *cmd[1:]], capture_output=True,
                          text=True, cwd=ROOT)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or "cumulative" in line:
            continue
        name = parts[2].rstrip()
        if not name.startswith("  "):  # one space: a top-level import of the tree
            rows.append((int(parts[1]) / 1e6, name.strip()))
    return sorted(rows, reverse=True)[:n]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", default="", metavar="TREE",
                        help="another source tree (e.g. a checkout of the previous commit) "
                             "whose jobs are timed in the same run, alternating")
    args = parser.parse_args(argv)
    trees = [ROOT] + ([Path(args.compare).resolve()] if args.compare else [])
    with tempfile.TemporaryDirectory() as tmp:
        path = sung_file(Path(tmp))
        band = band_file(Path(tmp))
        py = sys.executable
        analyze = [py, "-m", "pipeline", "analyze", "--vocal", str(path)]
        jobs = {"python -c pass": [py, "-c", "pass"],
                "python -m pipeline --help": [py, "-m", "pipeline", "--help"],
                "python -m pipeline analyze --vocal (5-s file)": analyze,
                "python -m pipeline analyze (5-s accompaniment)":
                [py, "-m", "pipeline", "analyze", str(band)],
                **shard_jobs(Path(tmp), path, band)}
        from pipeline.analysis.stage import analyze_vocal
        from pipeline.core.audio import load_audio

        analyze_vocal(load_audio(path))  # warm-up
        t0 = time.perf_counter()
        for _ in range(args.repeats):
            analyze_vocal(load_audio(path))
        work = (time.perf_counter() - t0) / args.repeats
        print(f"per-job cost, median of {args.repeats} fresh processes ({os.cpu_count()} cores, "
              f"{SAMPLE_RATE} Hz analysis); wall and CPU seconds")
        header = f"  {'job':48s} {'wall':>6s} {'CPU':>6s}"
        if args.compare:
            header += f"  | {'wall':>6s} {'CPU':>6s} (--compare)  CPU ratio"
        print(header)
        baselines = ("python -c pass", "python -m pipeline --help")
        slowest = 0.0
        for name, cmd in jobs.items():
            times = timed(cmd, args.repeats, trees)
            if name not in baselines:
                slowest = max(slowest, times[0][0])
            line = f"  {name:48s} {times[0][0]:6.2f} {times[0][1]:6.2f}"
            if args.compare:
                ratio = times[1][1] / times[0][1] if times[0][1] > 0 else float("nan")
                line += f"  | {times[1][0]:6.2f} {times[1][1]:6.2f}              {ratio:5.1f}x"
            heavy = [] if name in baselines else heavy_imports(cmd)
            print(line + ("  imports " + ", ".join(heavy) if heavy else ""))
        print(f"  {'the vocal analysis in-process, warm':48s} {work:6.2f}")
        print(f"  slowest job {slowest:.2f} s wall (target for a whole job: 1.5 s); none imports "
              "librosa, numba or torch unless listed")
        print("slowest top-level imports of the analyze job (cumulative s):")
        for seconds, name in slowest_imports(analyze):
            print(f"  {name:40s} {seconds:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
