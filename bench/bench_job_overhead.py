"""Per-job fixed cost: the wall time of one stage command on one short file, and where it goes.

A DAMP-scale run is hundreds of jobs; each pays Python start-up, imports and numba's JIT
before any audio.  This prints, median of ``--repeats`` fresh processes:

- ``python -c pass`` (the interpreter alone);
- ``python -m pipeline --help`` (the CLI, which imports no stage);
- ``python -m pipeline analyze --vocal FILE`` on a 5-s file (imports + JIT + the work);
- the same work in-process after a warm-up (the audio work alone);

and the ten slowest imports of the analyze command (``python -X importtime``).  Target of the
performance issue: 1.5 s or less for the analyze job.

Usage: ``python bench/bench_job_overhead.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
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


def wall(cmd: list[str], repeats: int) -> float:
    """Median wall seconds of ``cmd`` in fresh processes."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = sung_file(Path(tmp))
        py = sys.executable
        analyze = [py, "-m", "pipeline", "analyze", "--vocal", str(path)]
        rows = [("python -c pass", wall([py, "-c", "pass"], args.repeats)),
                ("python -m pipeline --help", wall([py, "-m", "pipeline", "--help"],
                                                   args.repeats)),
                ("python -m pipeline analyze --vocal (5-s file)", wall(analyze, args.repeats))]
        from pipeline.analysis.stage import analyze_vocal
        from pipeline.core.audio import load_audio

        analyze_vocal(load_audio(path))  # warm-up: imports and JIT
        t0 = time.perf_counter()
        for _ in range(args.repeats):
            analyze_vocal(load_audio(path))
        rows.append(("the same work in-process, warm", (time.perf_counter() - t0) / args.repeats))
        print(f"per-job fixed cost, median of {args.repeats} (wall s, {os.cpu_count()} cores, "
              f"{SAMPLE_RATE} Hz analysis):")
        for name, seconds in rows:
            print(f"  {name:50s} {seconds:6.2f} s")
        job, work = rows[2][1], rows[3][1]
        print(f"  fixed cost of the analyze job: {job - work:.2f} s of {job:.2f} s "
              f"(target for the whole job: 1.5 s)")
        print("slowest top-level imports of the analyze job (cumulative s):")
        for seconds, name in slowest_imports(analyze):
            print(f"  {name:40s} {seconds:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
