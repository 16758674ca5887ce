"""Collection and projection arithmetic of the scale run (bench/bench_scale_run.py).

Pure functions over tables: read Snakemake ``benchmark:`` TSVs and the exact per-process
CPU log (``bench/rusage/sitecustomize.py``), sum them per stage, split each sharded stage's
CPU time into a per-job fixed cost and a per-unit rate, and project to DAMP in CPU-hours and
in wall time on N cores.  ``tests/test_scale_model.py`` checks the arithmetic on constructed
cases.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
from pathlib import Path

import pandas as pd

__all__ = ["CLI_STAGES", "STAGES", "UNITS", "Corpus", "fit_fixed_cost", "makespan",
           "project", "read_benchmarks", "read_rusage", "stage_table", "wall_time"]

# The DAG's data stages, ingest -> card, in DAG order; each stage's CLI command.
STAGES = ("ingest", "split", "analyze_vocals", "analyze_accompaniments", "join", "mix", "card")
CLI_STAGES = {s.replace("_", "-"): s for s in STAGES}
# What a stage's variable cost grows with (a field of Corpus).  mix also decodes the vocal
# files once more, in part (its windows only): its decoding part grows with vocal_hours times
# the corpus's mix_decode_fraction (see project).
UNITS = {"ingest": "performances", "split": "performances", "analyze_vocals": "vocal_hours",
         "analyze_accompaniments": "accompaniment_hours", "join": "pairs", "mix": "pairs",
         "card": "pairs"}
# Stages run as one job per shard; the others are one job whatever the corpus size.
SHARDED = {"analyze_vocals": "vocal_shards", "analyze_accompaniments": "accompaniment_shards",
           "mix": "vocal_shards"}


@dataclasses.dataclass(frozen=True)
class Corpus:
    """The sizes a stage's cost grows with.

    Attributes
    ----------
    performances : int
    vocal_hours : float  total duration of the a-cappella performances (h)
    tracks : int
    accompaniment_hours : float
    pairs : int  mixes (rows of the recipe)
    vocal_shards, accompaniment_shards : int  jobs of the sharded stages
    mix_decode_fraction : float  CPU of the mix stage's decoding (its vocal windows only,
        ``audio_windows.load_windows``) as a share of decoding the same files whole; 1.0 is
        whole files.  It depends on the performances' length: at most ``svd.max_windows``
        windows of ~3 s are decoded whatever the length.
    """

    performances: int
    vocal_hours: float
    tracks: int
    accompaniment_hours: float
    pairs: int
    vocal_shards: int
    accompaniment_shards: int
    mix_decode_fraction: float = 1.0


def read_benchmarks(folder) -> pd.DataFrame:
    """Every Snakemake benchmark TSV under ``folder`` of a data stage, one row per job.

    The stage is the file's stem (``join.tsv``) or its parent folder (``mix/3.tsv``);
    other rules' files (``mix_snr``, training) are left out.

    Returns
    -------
    pd.DataFrame  columns stage, job (file stem), wall_s, cpu_s, max_rss_mb
    """
    rows = []
    for path in sorted(Path(folder).rglob("*.tsv")):
        stage = path.stem if path.stem in STAGES else path.parent.name
        if stage not in STAGES:
            continue
        tsv = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
        for _, r in tsv.iterrows():
            rows.append({"stage": stage, "job": path.stem, "wall_s": float(r["s"]),
                         "cpu_s": float(r["cpu_time"]), "max_rss_mb": float(r["max_rss"])})
    return pd.DataFrame(rows, columns=["stage", "job", "wall_s", "cpu_s", "max_rss_mb"])


def read_rusage(path) -> pd.DataFrame:
    """The stage jobs of a rusage log (JSON lines), with their exact CPU time and peak memory.

    A job's CPU time is its own plus that of the children it waited for.

    Returns
    -------
    pd.DataFrame  columns stage, cpu_s, peak_rss_mb
    """
    rows = []
    for line in Path(path).read_text().splitlines():
        r = json.loads(line)
        argv = r["argv"]
        if len(argv) > 1 and Path(argv[0]).parent.name == "pipeline" and argv[1] in CLI_STAGES:
            rows.append({"stage": CLI_STAGES[argv[1]], "cpu_s": r["cpu_s"] + r["children_cpu_s"],
                         "peak_rss_mb": max(r["maxrss_mb"], r["children_maxrss_mb"])})
    return pd.DataFrame(rows, columns=["stage", "cpu_s", "peak_rss_mb"])


def stage_table(benchmarks: pd.DataFrame, rusage: pd.DataFrame) -> pd.DataFrame:
    """Per stage: jobs, CPU seconds (benchmark files and exact), wall seconds, peak memory.

    Returns
    -------
    pd.DataFrame  indexed by stage (DAG order, stages present only): jobs, cpu_bench_s,
        cpu_s (exact), wall_s, max_rss_mb (benchmark files' largest), peak_rss_mb (exact)
    """
    b = benchmarks.groupby("stage").agg(bench_jobs=("job", "size"), cpu_bench_s=("cpu_s", "sum"),
                                        wall_s=("wall_s", "sum"), max_rss_mb=("max_rss_mb", "max"))
    u = rusage.groupby("stage").agg(jobs=("cpu_s", "size"), cpu_s=("cpu_s", "sum"),
                                    peak_rss_mb=("peak_rss_mb", "max"))
    out = u.join(b, how="outer")
    return out.reindex([s for s in STAGES if s in out.index])


def fit_fixed_cost(total_s: float, jobs: int, units: float, one_s: float,
                   one_units: float) -> tuple[float, float]:
    """Per-job fixed cost and per-unit rate from a stage's total and a one-item job.

    Solves ``total_s = jobs * fixed + rate * units`` and ``one_s = fixed + rate * one_units``.

    Parameters
    ----------
    total_s : float  CPU seconds of all the stage's jobs
    jobs : int  how many jobs ran
    units : float  the stage's units in all its jobs
    one_s : float  CPU seconds of one job on a one-item input
    one_units : float  units of that item

    Returns
    -------
    fixed_s : float  CPU seconds a job pays whatever its input
    rate : float  CPU seconds per unit
    """
    if not units > jobs * one_units:
        raise ValueError("the one-item job must be smaller than the stage's average job")
    rate = (total_s - jobs * one_s) / (units - jobs * one_units)
    return one_s - rate * one_units, rate


def project(table: pd.DataFrame, fixed_s: dict, ours: Corpus, damp: Corpus, *,
            decode_s_per_hour: float) -> pd.DataFrame:
    """Each stage's CPU time at DAMP size from its CPU time here.

    A stage's cost is ``jobs * fixed + variable``.  ``fixed_s`` gives each stage's per-job
    cost (a stage missing from it: 0, i.e. the whole cost scales).  The variable part scales
    with the stage's unit (``UNITS``); mix's variable part is decoding
    (``decode_s_per_hour * vocal_hours * mix_decode_fraction`` of each corpus), and the rest,
    which scales with pairs.

    Returns
    -------
    pd.DataFrame  per stage: jobs_damp, fixed_s, variable_s (here), scale, damp_cpu_s
    """
    rows = {}
    for stage, r in table.iterrows():
        fixed = float(fixed_s.get(stage, 0.0))
        jobs = int(r["jobs"])
        jobs_damp = getattr(damp, SHARDED[stage]) if stage in SHARDED else 1
        variable = float(r["cpu_s"]) - jobs * fixed
        unit = UNITS[stage]
        scale = getattr(damp, unit) / getattr(ours, unit)
        damp_s = jobs_damp * fixed + variable * scale
        if stage == "mix":
            decode = decode_s_per_hour * ours.vocal_hours * ours.mix_decode_fraction
            damp_s = (jobs_damp * fixed
                      + decode_s_per_hour * damp.vocal_hours * damp.mix_decode_fraction
                      + (variable - decode) * scale)
        rows[stage] = {"jobs_damp": jobs_damp, "fixed_s": fixed, "variable_s": variable,
                       "scale": scale, "damp_cpu_s": damp_s}
    return pd.DataFrame.from_dict(rows, orient="index")


def makespan(durations, cores: int) -> float:
    """Finish time of ``durations`` (s) on ``cores`` by longest-job-first greedy scheduling."""
    loads = [0.0] * cores
    for d in sorted(durations, reverse=True):
        heapq.heapreplace(loads, loads[0] + d)
    return max(loads)


def wall_time(projection: pd.DataFrame, cores: int) -> float:
    """Wall seconds of the projected data stages on ``cores`` single-threaded slots.

    The DAG's phases run one after another: ingest; split with both analyses (every shard
    job at once); join; mix; card.  Within a sharded stage the projected CPU time is split
    evenly over its jobs, and each job's wall time is taken to equal its CPU time.
    """
    def jobs(stage):
        if stage not in projection.index:
            return []
        r = projection.loc[stage]
        return [r["damp_cpu_s"] / r["jobs_damp"]] * int(r["jobs_damp"])

    phases = [["ingest"], ["split", "analyze_vocals", "analyze_accompaniments"], ["join"],
              ["mix"], ["card"]]
    return sum(makespan([d for s in phase for d in jobs(s)], cores) for phase in phases)
