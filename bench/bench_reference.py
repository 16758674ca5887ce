"""Our data stages side by side with a reference-style implementation, on the same files.

1. Links the first ``--singers`` singers and ``--tracks`` tracks of a demo corpus (e.g. the
   scale run's) into ``WORKDIR/corpus`` in the DAMP and musdb18 layouts.
2. Ours: ``snakemake card`` on that corpus (ingest -> card, ``--cores JOBS``), each job's
   exact CPU time from ``bench/rusage/sitecustomize.py`` (per-job imports and JIT included).
3. Reference: ``bench/reference_impl.py`` on the same files (the manifests' paths and tempi)
   in this process, CPU time per stage (its imports and JIT once, as one script pays them).
4. The ``analyze`` CLI on ``--analyze-files`` vocal files and on the tracks, each against the
   reference analysis of the same files run the same way (one fresh process each).

Prints CPU seconds per stage for both, the ratio per stage and overall, and per pair.

Usage: python bench/bench_reference.py --corpus /work/scale-run/big/results/demo \\
       --workdir /tmp/ref [--singers 40] [--tracks 16] [--jobs 2] [--analyze-files 24]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_scale_run import environment, snakemake  # noqa: E402
from scale_model import read_rusage  # noqa: E402

# our stage -> the reference's stage that does the same job (ingest, split: ours only)
PAIRED = {"analyze_vocals": "vocals", "analyze_accompaniments": "accompaniments",
          "join": "join", "mix": "mix", "card": "statistics"}


def link_subcorpus(corpus: Path, out: Path, singers: int, tracks: int) -> None:
    """Symlink the first ``singers`` singers' performances and the first ``tracks`` tracks."""
    perfs = pd.read_csv(corpus / "damp/perfs.csv")
    keep = perfs[perfs["user_id"].isin(sorted(perfs["user_id"].unique())[:singers])]
    audio = out / "damp/audio"
    audio.mkdir(parents=True, exist_ok=True)
    for key in keep["perf_key"]:
        (src,) = (corpus / "damp/audio").glob(f"{key}.*")
        (audio / src.name).unlink(missing_ok=True)
        (audio / src.name).symlink_to(src)
    keep.to_csv(out / "damp/perfs.csv", index=False)
    tempo = pd.read_csv(corpus / "damp/tempo.csv")
    tempo[tempo["perf_key"].isin(keep["perf_key"])].to_csv(out / "damp/tempo.csv", index=False)
    stems = sorted((corpus / "musdb").glob("*/*.stem.mp4"), key=lambda p: p.name)[:tracks]
    for src in stems:
        dst = out / "musdb" / src.parent.name / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.unlink(missing_ok=True)
        dst.symlink_to(src)


def write_config(workdir: Path, corpus: Path, split: dict) -> Path:
    config = yaml.safe_load((ROOT / "config/scale.yaml").read_text())
    config["results"] = str(workdir / "results")
    config.pop("demo")
    config["sources"] = {
        "vocals": {"type": "damp", "root": str(corpus / "damp"), "metadata": "perfs.csv",
                   "tempo_table": "tempo.csv",
                   "columns": {"id": "perf_key", "singer": "user_id", "song": "song_id"}},
        "accompaniments": {"type": "musdb", "root": str(corpus / "musdb")}}
    config["split"].update(split)
    path = workdir / "reference.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def reference_stages(vocals: pd.DataFrame, tracks: pd.DataFrame, out: Path) -> tuple[dict, int]:
    """CPU seconds of each reference stage on the manifests' files; also the pair count."""
    import reference_impl as ref

    cpu, t = {}, time.process_time()
    windows = []
    for r in vocals.itertuples():
        windows += ref.vocal_windows(r.id, ref.load(r.path), r.tempo_bpm)
    cpu["vocals"], t = time.process_time() - t, time.process_time()
    acc, segments = {}, []
    for r in tracks.itertuples():
        acc[r.id] = ref.load_stems(r.path)
        tempo, segs = ref.beat_segments(r.id, acc[r.id])
        segments += [s + (tempo,) for s in segs]
    cpu["accompaniments"], t = time.process_time() - t, time.process_time()
    pairs = ref.join_loop(windows, segments)
    cpu["join"], t = time.process_time() - t, time.process_time()
    out.mkdir(parents=True, exist_ok=True)
    paths = dict(zip(vocals["id"], vocals["path"]))
    by_perf: dict = {}
    for w, s in pairs:
        by_perf.setdefault(w.perf, []).append((w, s))
    for perf, items in by_perf.items():
        y, mono, mix = ref.load(paths[perf]), [], []
        for w, (track, start, _, _) in items:
            vocal = y[w.start:w.start + ref.SEGMENT]
            mixed = ref.balance_and_mix(vocal, acc[track][start:start + ref.SEGMENT])
            if mixed is not None:
                mono.append(ref.log_mel(vocal)), mix.append(ref.log_mel(mixed))
        np.save(out / f"{perf}.mono.npy", np.stack(mono))
        np.save(out / f"{perf}.mix.npy", np.stack(mix))
    cpu["mix"], t = time.process_time() - t, time.process_time()
    stats = {}
    for domain in ("mono", "mix"):  # the normalisation statistics, from the files
        x = np.concatenate([np.load(p) for p in sorted(out.glob(f"*.{domain}.npy"))])
        stats[domain] = (float(x.mean()), float(x.std()))
    cpu["statistics"] = time.process_time() - t
    return cpu, len(pairs)


def analyze_reference(files: list[str], vocal: bool) -> None:
    """The reference analysis of each file as JSON lines (the ``analyze`` CLI's job)."""
    import librosa
    import reference_impl as ref

    for path in files:
        y = ref.load(path)
        tempo, beats = librosa.beat.beat_track(y=y, sr=ref.SR, hop_length=ref.HOP)
        tempo = float(np.atleast_1d(tempo)[0])
        if vocal:
            keys = [(w.start, w.key) for w in ref.vocal_windows(path, y, tempo)]
        else:
            keys = [(s, k) for _, s, k in ref.beat_segments(path, y)[1]]
        print(json.dumps({"path": path, "tempo_bpm": tempo, "segment_keys": keys}))


def child_run(cmd: list[str], env: dict) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, files reported as errors) of a command in a fresh process.

    Exit status 1 is the analyze CLI's "some file could not be analysed" (its JSON line
    says why, e.g. a low tempo confidence); anything else fails.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[:4]}: exit {res.returncode}\n{res.stderr[-2000:]}")
    errors = sum('"error"' in line for line in res.stdout.splitlines())
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), wall, errors


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="a demo corpus root")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--singers", type=int, default=40)
    parser.add_argument("--tracks", type=int, default=16)
    parser.add_argument("--unseen-singers", type=int, default=8)
    parser.add_argument("--model-tracks", type=int, default=6)
    parser.add_argument("--query-tracks", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--analyze-files", type=int, default=24)
    parser.add_argument("--analyze-reference", nargs="+", metavar="FILE",
                        help="(internal) run the reference analysis on FILEs and exit")
    parser.add_argument("--vocal", action="store_true", help="with --analyze-reference")
    args = parser.parse_args(argv)
    if args.analyze_reference:
        analyze_reference(args.analyze_reference, args.vocal)
        return 0
    workdir = args.workdir.resolve()
    corpus = workdir / "corpus"
    link_subcorpus(args.corpus.resolve(), corpus, args.singers, args.tracks)
    config = write_config(workdir, corpus, {"unseen_singers": args.unseen_singers,
                                            "model_tracks": args.model_tracks,
                                            "query_tracks": args.query_tracks})
    rusage_log = workdir / "rusage.jsonl"
    rusage_log.unlink(missing_ok=True)
    wall_ours = snakemake(config, "card", args.jobs, workdir / "snakemake.log",
                          environment(rusage_log))
    ours = read_rusage(rusage_log).groupby("stage")["cpu_s"].sum()
    results = workdir / "results"
    vocals = pd.read_parquet(results / "manifests/vocals.parquet")
    tracks = pd.read_parquet(results / "manifests/accompaniments.parquet")
    (pairs_path,) = results.glob("datasets/*/pairs.parquet")
    our_pairs = len(pd.read_parquet(pairs_path, columns=["perf_id"]))
    start = time.perf_counter()
    ref_cpu, ref_pairs = reference_stages(vocals, tracks, workdir / "reference-npy")
    wall_ref = time.perf_counter() - start
    hours = vocals["duration_s"].sum() / 3600
    print(f"same files: {len(vocals)} performances ({hours:.2f} h, "
          f"{vocals['path'].str.endswith('.m4a').sum()} .m4a), {len(tracks)} .stem.mp4 tracks "
          f"({tracks['duration_s'].sum() / 3600:.2f} h); pairs: ours {our_pairs}, "
          f"reference {ref_pairs}; load average {os.getloadavg()[0]:.1f}")
    print(f"wall: ours {wall_ours:.0f} s (snakemake --cores {args.jobs}), reference "
          f"{wall_ref:.0f} s (one process)\n")
    print("| stage | ours CPU-s | reference CPU-s | reference / ours |")
    print("|---|---:|---:|---:|")
    for stage in ("ingest", "split"):
        print(f"| {stage} | {ours.get(stage, 0):.1f} | - | - |")
    for stage, r in PAIRED.items():
        print(f"| {stage} / {r} | {ours[stage]:.1f} | {ref_cpu[r]:.1f} | "
              f"{ref_cpu[r] / ours[stage]:.1f}x |")
    total_ours, total_ref = ours.sum(), sum(ref_cpu.values())
    print(f"| **all data stages** | {total_ours:.1f} | {total_ref:.1f} | "
          f"**{total_ref / total_ours:.1f}x** |")
    print(f"\nper pair: ours {1000 * total_ours / our_pairs:.1f} ms, reference "
          f"{1000 * total_ref / ref_pairs:.1f} ms = {total_ref / ref_pairs / (total_ours / our_pairs):.1f}x")
    env = environment(workdir / "analyze.jsonl")
    py = [sys.executable]
    print("\n| analyze CLI, one process per folder | files | ours CPU-s (wall) | "
          "reference CPU-s (wall) | reference / ours (CPU) | files ours reported as errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, files, vocal in (("vocals (--vocal)", list(vocals["path"][:args.analyze_files]),
                                 True), ("tracks (stream 0, the mixture)",
                                         list(tracks["path"]), False)):
        flag = ["--vocal"] if vocal else []
        o = child_run(py + ["-m", "pipeline", "analyze", *flag, *files], env)
        r = child_run(py + [str(ROOT / "bench/bench_reference.py"), *flag,
                            "--analyze-reference", *files], env)
        print(f"| {label} | {len(files)} | {o[0]:.1f} ({o[1]:.1f}) | {r[0]:.1f} ({r[1]:.1f}) | "
              f"{r[0] / o[0]:.1f}x | {o[2]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
