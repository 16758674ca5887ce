"""The scale run: generate a big demo corpus, run the DAG's data stages, project to DAMP.

1. Writes ``WORKDIR/scale.yaml`` (``config/scale.yaml`` with the size arguments) and
   generates the corpus with the DAG's own ``demo_corpus`` rule (timed, not part of the
   measure).
2. Runs ``snakemake card`` (ingest -> split -> analyses -> join -> mix -> card) with
   ``--cores JOBS``.  Every rule of these stages writes a ``benchmark:`` TSV; in addition
   ``bench/rusage/sitecustomize.py`` logs each job's exact CPU time and peak memory (the
   benchmark files sample CPU time, at 0.5 s and then 30 s intervals, and miss a job's tail).
3. Runs each sharded stage once more on a one-item input (one performance or one track) to
   split its cost into a per-job fixed cost and a per-unit rate, and times decoding alone:
   whole files (analysis) and the mix's windows only, here and on DAMP-like 3-min files.
4. Prints per stage: jobs, CPU seconds (benchmark files / exact), CPU-s per vocal audio-hour,
   peak memory per job, and the projection to DAMP in CPU-hours and in wall time on
   ``--cores-damp`` cores (``bench/scale_model.py``).

Usage: python bench/bench_scale_run.py --workdir /tmp/scale [--singers 200] [--tracks 60]
       [--jobs 2] [--step all|generate|run|collect]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale_model import (  # noqa: E402
    Corpus,
    fit_fixed_cost,
    project,
    read_benchmarks,
    read_rusage,
    stage_table,
    wall_time,
)

# DAMP (reference-notes.md) and musdb18 (150 tracks, about 10 h).
DAMP = dict(performances=34620, vocal_hours=1700.0, tracks=150, accompaniment_hours=10.0)


def write_config(workdir: Path, args) -> Path:
    """config/scale.yaml with the results under ``workdir`` and the size arguments."""
    config = yaml.safe_load((ROOT / "config/scale.yaml").read_text())
    results = str(workdir / "results")
    config["results"] = results
    for corpus in ("vocals", "accompaniments"):
        config["sources"][corpus]["root"] = f"{results}/demo"
    config["demo"]["params"].update(singers=args.singers, tracks=args.tracks,
                                    stems_tracks=args.tracks,
                                    duration_s=list(args.duration_s),
                                    performances_per_singer=args.performances_per_singer)
    if args.unseen_singers:
        config["split"]["unseen_singers"] = args.unseen_singers
    if args.corpus:  # an existing corpus in the DAMP and musdb18 layouts
        config.pop("demo")
        config["sources"] = {
            "vocals": {"type": "damp", "root": str(args.corpus / "damp"),
                       "metadata": "perfs.csv", "tempo_table": "tempo.csv",
                       "columns": {"id": "perf_key", "singer": "user_id", "song": "song_id"}},
            "accompaniments": {"type": "musdb", "root": str(args.corpus / "musdb")}}
    if args.partial:  # longest performances first: no singer has all 10 yet
        config["split"].update(unseen_singers=2, model_tracks=3, query_tracks=2)
    path = workdir / "scale.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def partial_demo_metadata(root: Path, params: dict) -> int:
    """perfs.csv and tempo.csv of a demo corpus whose generation was stopped early.

    The generator writes its tables last; this recomputes them from its plan (deterministic
    in the params) for the performances whose audio is complete (writes are atomic: a file
    under its final name is whole).  Returns how many performances have audio.
    """
    from pipeline.demo.params import preset
    from pipeline.demo.plan import covered_pairs, plan_performances, plan_songs, plan_tracks

    demo = preset("default", **params)
    perfs = plan_performances(demo, plan_songs(demo, covered_pairs(plan_tracks(demo))))
    audio = root / "damp/audio"
    rows = [(p.perf_key, p.user_id, p.song.song_id, p.song.tempo_bpm) for p in perfs
            if (audio / f"{p.perf_key}.{p.format}").exists()]
    table = pd.DataFrame(rows, columns=["perf_key", "user_id", "song_id", "tempo_bpm"])
    table[["perf_key", "user_id", "song_id"]].to_csv(root / "damp/perfs.csv", index=False)
    table[["perf_key", "tempo_bpm"]].to_csv(root / "damp/tempo.csv", index=False)
    return len(table)


def environment(rusage_log: Path) -> dict:
    env = dict(os.environ, BENCH_RUSAGE_LOG=str(rusage_log))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bench/rusage"), str(ROOT),
                                         env.get("PYTHONPATH", "")])
    return env


def snakemake(config: Path, target: str, jobs: int, log: Path, env: dict) -> float:
    """Run one snakemake target; returns its wall seconds."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(ROOT), "--cores", str(jobs), "--configfile", str(config),
           "--rerun-incomplete", "--printshellcmds", target]
    start = time.perf_counter()
    with open(log, "a") as f:
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    return time.perf_counter() - start


def child_cpu(cmd: list[str], env: dict) -> float:
    """Exact CPU seconds of one command (it and the children it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def one_item_costs(results: Path, version: str, config: dict, tmp: Path, env: dict) -> dict:
    """(CPU seconds, units, vocal hours decoded) of each sharded stage on one item.

    The commands are the rules' (rules/analysis.smk, rules/mashup.smk) on one-row copies of
    shard 0's inputs.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    m = results / "manifests"
    vocals = pd.read_parquet(m / "vocals.parquet")
    acc = pd.read_parquet(m / "accompaniments.parquet")
    pairs = pd.read_parquet(results / "datasets" / version / "pairs.parquet")
    perf = sorted(pairs.loc[pairs["vocal_shard"] == 0, "perf_id"])[0]
    vocals[vocals["id"] == perf].to_parquet(tmp / "vocals.parquet")
    acc[acc["shard"] == 0].head(1).to_parquet(tmp / "acc.parquet")
    one_pairs = pairs[pairs["perf_id"] == perf]
    one_pairs.to_parquet(tmp / "pairs.parquet")
    py = [sys.executable, "-m", "pipeline"]
    analysis = json.dumps({k: config[k] for k in ("svd", "key", "tempo")})
    an = results / "analysis/accompaniments"
    hours = float(vocals.loc[vocals["id"] == perf, "duration_s"].iloc[0]) / 3600
    out = {}
    out["analyze_vocals"] = (child_cpu(py + [
        "analyze-vocals", "--manifest", str(tmp / "vocals.parquet"), "--shard", "0",
        "--out-prefix", str(tmp / "v0"), "--params", analysis], env), hours, hours)
    out["analyze_accompaniments"] = (child_cpu(py + [
        "analyze-accompaniments", "--manifest", str(tmp / "acc.parquet"), "--shard", "0",
        "--out-prefix", str(tmp / "a0"), "--params",
        json.dumps({k: config[k] for k in ("key", "tempo")})], env),
        float(acc[acc["shard"] == 0]["duration_s"].iloc[0]) / 3600, 0.0)
    tracks = sorted(str(p) for p in an.glob("*.tracks.parquet"))
    audio = [t.replace(".tracks.parquet", ".audio.npy") for t in tracks]
    out["mix"] = (child_cpu(py + [
        "mix", "--pairs", str(tmp / "pairs.parquet"), "--vocals", str(m / "vocals.parquet"),
        "--tracks", *tracks, "--audio", *audio, "--shard", "0", "--out", str(tmp / "ds"),
        "--params", json.dumps(config["mashup"]), "--features",
        json.dumps(config["features"])], env), float(len(one_pairs)), hours)
    return out


def decode_rate(paths, n: int = 40) -> float:
    """CPU seconds per audio-hour of ``load_audio`` (decode, downmix, resample) on ``n`` files."""
    from pipeline.core.audio import load_audio
    from pipeline.core.segment import SAMPLE_RATE

    paths = list(paths)[:n]
    load_audio(paths[0])  # warm-up
    start, samples = time.process_time(), 0
    for p in paths:
        samples += len(load_audio(p))
    return (time.process_time() - start) / (samples / SAMPLE_RATE / 3600)


def mix_decode_fraction(starts_of: dict, n: int = 40) -> float:
    """CPU of the mix's windowed decoding over decoding whole, on ``n`` of ``starts_of``'s files.

    ``starts_of`` maps a vocal file to its recipe's window starts (bench/bench_decode.py).
    """
    from bench_decode import mix_decode_costs

    paths = list(starts_of)[:n]
    m = mix_decode_costs(paths, starts_of, repeats=1)
    return m["windowed_s"] / m["full_s"]


def damp_mix_decode_fraction(files: int = 6, minutes: float = 2.95) -> float:
    """The same on DAMP-like performances (``files`` mono AAC of ``minutes``, <= 20 windows)."""
    import tempfile

    from bench_decode import damp_like_performances, window_starts

    from pipeline.core.audio import load_audio

    with tempfile.TemporaryDirectory() as tmp:
        paths = damp_like_performances(Path(tmp), files, minutes)
        return mix_decode_fraction({p: window_starts(load_audio(p)) for p in paths}, n=files)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--singers", type=int, default=200)
    parser.add_argument("--performances-per-singer", type=int, default=10)
    parser.add_argument("--duration-s", type=float, nargs=2, default=(20.0, 40.0))
    parser.add_argument("--tracks", type=int, default=60)
    parser.add_argument("--unseen-singers", type=int, default=0,
                        help="split.unseen_singers (default: config/scale.yaml's)")
    parser.add_argument("--corpus", type=Path,
                        help="run on this demo corpus root (DAMP + musdb18 layouts) instead of "
                             "generating one")
    parser.add_argument("--partial", action="store_true",
                        help="with --corpus: its generation was stopped early; rebuild its "
                             "perfs.csv and tempo.csv from the generator's plan (size arguments)")
    parser.add_argument("--jobs", type=int, default=2, help="snakemake --cores")
    parser.add_argument("--cores-damp", type=int, default=32)
    parser.add_argument("--step", choices=("all", "generate", "run", "collect"), default="all",
                        help="generate: the corpus only; run: the data stages and collect (the "
                             "corpus already there); collect: a previous run's files")
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if args.corpus:
        args.corpus = args.corpus.resolve()
        if args.partial:
            params = yaml.safe_load((ROOT / "config/scale.yaml").read_text())["demo"]["params"]
            params.update(singers=args.singers, tracks=args.tracks, stems_tracks=args.tracks,
                          duration_s=tuple(args.duration_s),
                          performances_per_singer=args.performances_per_singer)
            print(f"partial corpus: {partial_demo_metadata(args.corpus, params)} performances")
    rusage_log, times_path = workdir / "rusage.jsonl", workdir / "times.json"
    config_path = write_config(workdir, args)
    from pipeline.cli.plan_training import merged_config
    from pipeline.core.config import dataset_version

    config = merged_config([ROOT / "config/config.yaml", config_path])
    version, results = dataset_version(config), Path(config["results"])
    times = json.loads(times_path.read_text()) if times_path.exists() else {}
    if args.step in ("all", "generate") and not args.corpus:
        times["generate_wall_s"] = snakemake(config_path, f"{results}/demo/corpus.json",
                                             args.jobs, workdir / "snakemake.log",
                                             environment(workdir / "generate.jsonl"))
        times_path.write_text(json.dumps(times))
        if args.step == "generate":
            return 0
    if args.step in ("all", "run"):
        rusage_log.unlink(missing_ok=True)
        times["run_wall_s"] = snakemake(config_path, "card", args.jobs,
                                        workdir / "snakemake.log", environment(rusage_log))
        times["one_item"] = one_item_costs(results, version, config, workdir / "one",
                                           environment(workdir / "one.jsonl"))
        times["load"] = os.getloadavg()
        times_path.write_text(json.dumps(times))
    times = json.loads(times_path.read_text())
    vocals = pd.read_parquet(results / "manifests/vocals.parquet")
    acc = pd.read_parquet(results / "manifests/accompaniments.parquet")
    pairs = pd.read_parquet(results / "datasets" / version / "pairs.parquet",
                            columns=["perf_id", "vocal_start"])
    windows = sum(len(pd.read_parquet(p, columns=["perf_id"]))
                  for p in (results / "analysis/vocals").glob("*.windows.parquet"))
    m4a = vocals["path"][vocals["path"].str.endswith(".m4a")]
    decode_s = decode_rate(m4a)
    starts = pairs.groupby("perf_id")["vocal_start"].agg(list)
    fraction = mix_decode_fraction({Path(p): starts[i] for i, p in zip(vocals["id"], vocals["path"])
                                    if i in starts.index and p.endswith(".m4a")})
    damp_fraction = damp_mix_decode_fraction()
    ours = Corpus(len(vocals), vocals["duration_s"].sum() / 3600, len(acc),
                  acc["duration_s"].sum() / 3600, len(pairs), int(vocals["shard"].max()) + 1,
                  int(acc["shard"].max()) + 1, mix_decode_fraction=fraction)
    per_perf = config["svd"]["max_windows"] * len(pairs) / windows  # matched share of windows
    damp = Corpus(**DAMP, pairs=round(DAMP["performances"] * per_perf),
                  vocal_shards=math.ceil(DAMP["performances"] / config["shards"]["vocal_performances"]),
                  accompaniment_shards=math.ceil(DAMP["tracks"]
                                                 / config["shards"]["accompaniment_tracks"]),
                  mix_decode_fraction=damp_fraction)
    table = stage_table(read_benchmarks(results / "benchmarks"), read_rusage(rusage_log))
    fixed = {}
    for stage, (one_s, one_units, one_hours) in times["one_item"].items():
        unit = {"analyze_vocals": ours.vocal_hours, "analyze_accompaniments":
                ours.accompaniment_hours, "mix": ours.pairs}[stage]
        total = table.loc[stage, "cpu_s"]
        if stage == "mix":  # its decoding part is known; the fit splits the rest
            total -= decode_s * ours.vocal_hours * fraction
            one_s -= decode_s * one_hours * fraction
        fixed[stage] = fit_fixed_cost(total, int(table.loc[stage, "jobs"]), unit, one_s,
                                      one_units)[0]
    proj = project(table, fixed, ours, damp, decode_s_per_hour=decode_s)
    snake = [json.loads(line) for line in rusage_log.read_text().splitlines()]
    snake = [r for r in snake if "snakemake" in (Path(r["argv"][0]).parent.name,
                                                 Path(r["argv"][0]).name)]
    print(f"corpus: {ours.performances} performances, {ours.vocal_hours:.2f} h of vocals "
          f"({len(m4a)} .m4a), {ours.tracks} tracks ({ours.accompaniment_hours:.2f} h), "
          f"{windows} voiced windows, {ours.pairs} pairs; dataset {version}")
    print(f"generation {times.get('generate_wall_s', float('nan')):.0f} s wall; data stages "
          f"{times.get('run_wall_s', float('nan')):.0f} s wall with --cores {args.jobs}; "
          f"load average at the end {times.get('load')}")
    if snake:
        total = snake[-1]["cpu_s"] + snake[-1]["children_cpu_s"]
        print(f"whole snakemake run, exact: {total:.0f} CPU-s (Snakemake itself "
              f"{snake[-1]['cpu_s']:.0f}), sum of benchmark files {table['cpu_bench_s'].sum():.0f}")
    print(f"decode + resample of the .m4a vocals: {decode_s:.1f} CPU-s per audio-hour "
          f"({3600 / decode_s:.0f}x realtime per core); the mix decodes its windows only, "
          f"{fraction:.2f} of that CPU here, {damp_fraction:.2f} on DAMP-like 3-min files")
    print("\n| stage | jobs | CPU-s (benchmark files) | CPU-s (exact) | CPU-s per vocal "
          "audio-hour | peak RSS per job, MB | fixed CPU-s per job | DAMP jobs | "
          "DAMP CPU-hours |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for stage, r in table.iterrows():
        p = proj.loc[stage]
        print(f"| {stage} | {int(r['jobs'])} | {r['cpu_bench_s']:.1f} | {r['cpu_s']:.1f} | "
              f"{r['cpu_s'] / ours.vocal_hours:.1f} | {r['peak_rss_mb']:.0f} | "
              f"{p['fixed_s']:.1f} | {int(p['jobs_damp'])} | {p['damp_cpu_s'] / 3600:.2f} |")
    cpu_h = proj["damp_cpu_s"].sum() / 3600
    print(f"| **total** | {int(table['jobs'].sum())} | {table['cpu_bench_s'].sum():.1f} | "
          f"{table['cpu_s'].sum():.1f} | {table['cpu_s'].sum() / ours.vocal_hours:.1f} | "
          f"{table['peak_rss_mb'].max():.0f} | | {int(proj['jobs_damp'].sum())} | "
          f"**{cpu_h:.2f}** |")
    print(f"\nDAMP ({damp.performances} performances, {damp.vocal_hours:.0f} h, {damp.tracks} "
          f"tracks, {damp.pairs} pairs): {cpu_h:.2f} CPU-hours; "
          f"{wall_time(proj, args.cores_damp) / 60:.0f} min wall on {args.cores_damp} cores; "
          f"decoding alone {decode_s * damp.vocal_hours / 3600:.2f} (analysis) + "
          f"{decode_s * damp.vocal_hours * damp_fraction / 3600:.2f} (mix) CPU-hours")
    return 0


if __name__ == "__main__":
    sys.exit(main())
