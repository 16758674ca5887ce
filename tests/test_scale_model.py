"""The scale run's collection and projection arithmetic on hand-built benchmark files."""

import dataclasses
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from scale_model import (  # noqa: E402
    Corpus,
    fit_fixed_cost,
    makespan,
    project,
    read_benchmarks,
    read_rusage,
    stage_table,
    wall_time,
)

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def tsv(path: Path, s: float, rss: float, cpu: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{s}\t0:00:{int(s):02d}\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n")


def rusage_line(argv, cpu, children=0.0, rss=100.0):
    return json.dumps({"argv": argv, "pid": 1, "end": 0, "cpu_s": cpu,
                       "children_cpu_s": children, "maxrss_mb": rss,
                       "children_maxrss_mb": 0.0})


def test_benchmarks_and_rusage_sum_per_stage(tmp_path):
    b = tmp_path / "benchmarks"
    tsv(b / "ingest.tsv", 3.0, 150.0, 2.5)
    tsv(b / "analyze_vocals/0.tsv", 40.0, 300.0, 15.5)   # sampled: misses the tail
    tsv(b / "analyze_vocals/1.tsv", 20.0, 350.0, 18.0)
    tsv(b / "v1/mix/0.tsv", 30.0, 500.0, 29.0)
    tsv(b / "v1/mix_snr/0.tsv", 9.0, 900.0, 9.0)          # not a data stage of the run
    tsv(b / "v1/card.tsv", 2.0, 120.0, 1.5)
    log = tmp_path / "rusage.jsonl"
    log.write_text("\n".join([
        rusage_line(["/x/snakemake/__main__.py", "card"], 5.0, children=110.0),
        rusage_line(["/x/pipeline/__main__.py", "ingest"], 2.6),
        rusage_line(["/x/pipeline/__main__.py", "analyze-vocals"], 39.0, children=1.0, rss=310),
        rusage_line(["/x/pipeline/__main__.py", "analyze-vocals"], 19.0, rss=360),
        rusage_line(["/x/pipeline/__main__.py", "mix"], 29.5, rss=520),
        rusage_line(["/x/pipeline/__main__.py", "card"], 1.6),
        rusage_line(["-c", "from multiprocessing.spawn import spawn_main"], 7.0),
    ]) + "\n")
    bench = read_benchmarks(b)
    assert sorted(bench["stage"]) == ["analyze_vocals", "analyze_vocals", "card", "ingest", "mix"]
    table = stage_table(bench, read_rusage(log))
    assert list(table.index) == ["ingest", "analyze_vocals", "mix", "card"]  # DAG order
    av = table.loc["analyze_vocals"]
    assert av["jobs"] == 2 and av["bench_jobs"] == 2
    assert av["cpu_s"] == pytest.approx(59.0) and av["cpu_bench_s"] == pytest.approx(33.5)
    assert av["wall_s"] == pytest.approx(60.0)
    assert av["max_rss_mb"] == 350.0 and av["peak_rss_mb"] == 360.0
    assert table.loc["mix", "cpu_s"] == pytest.approx(29.5)


def test_fixed_cost_fit_recovers_the_line():
    # 5 jobs of fixed 3 s + 10 s per hour over 16 h; one job on 0.01 h
    fixed, rate = fit_fixed_cost(5 * 3 + 10 * 16, 5, 16.0, 3 + 10 * 0.01, 0.01)
    assert fixed == pytest.approx(3.0) and rate == pytest.approx(10.0)
    with pytest.raises(ValueError):
        fit_fixed_cost(10.0, 5, 0.05, 3.0, 0.01)


def test_projection_scales_each_stage_by_its_unit():
    ours = Corpus(performances=2000, vocal_hours=16.0, tracks=60, accompaniment_hours=1.25,
                  pairs=24000, vocal_shards=5, accompaniment_shards=8)
    damp = Corpus(performances=34620, vocal_hours=1700.0, tracks=150, accompaniment_hours=10.0,
                  pairs=692400, vocal_shards=87, accompaniment_shards=19)
    table = pd.DataFrame({"jobs": [1, 5, 8, 5], "cpu_s": [10.0, 5 * 3 + 160.0, 8 * 2 + 20.0,
                                                          5 * 3 + 16 * 6 + 120.0]},
                         index=["ingest", "analyze_vocals", "analyze_accompaniments", "mix"])
    fixed = {"analyze_vocals": 3.0, "analyze_accompaniments": 2.0, "mix": 3.0}
    p = project(table, fixed, ours, damp, decode_s_per_hour=6.0)
    assert p.loc["ingest", "damp_cpu_s"] == pytest.approx(10.0 * 34620 / 2000)
    assert p.loc["analyze_vocals", "damp_cpu_s"] == pytest.approx(87 * 3 + 160 * 1700 / 16)
    assert p.loc["analyze_accompaniments", "damp_cpu_s"] == pytest.approx(19 * 2 + 20 * 8)
    # mix: fixed per job + decoding per hour + the rest per pair
    assert p.loc["mix", "damp_cpu_s"] == pytest.approx(87 * 3 + 6 * 1700 + 120 * 692400 / 24000)
    assert list(p["jobs_damp"]) == [1, 87, 19, 87]


def test_projection_takes_the_mix_decode_fraction_of_each_corpus():
    """Windowed mixing: the decoding part is hours x rate x each corpus's own fraction."""
    base = dict(performances=2000, tracks=60, accompaniment_hours=1.25, pairs=24000,
                vocal_shards=5, accompaniment_shards=8)
    ours = Corpus(vocal_hours=16.0, mix_decode_fraction=0.8, **base)
    damp = Corpus(**{**base, "pairs": 692400, "vocal_shards": 87}, vocal_hours=1700.0,
                  mix_decode_fraction=0.5)
    # 5 jobs x 3 s fixed + decoding 16 h x 6 s x 0.8 + 120 s of mixing proper
    table = pd.DataFrame({"jobs": [5], "cpu_s": [5 * 3 + 16 * 6 * 0.8 + 120.0]}, index=["mix"])
    p = project(table, {"mix": 3.0}, ours, damp, decode_s_per_hour=6.0)
    assert p.loc["mix", "damp_cpu_s"] == pytest.approx(87 * 3 + 1700 * 6 * 0.5
                                                       + 120 * 692400 / 24000)
    whole = project(table, {"mix": 3.0}, dataclasses.replace(ours, mix_decode_fraction=1.0),
                    dataclasses.replace(damp, mix_decode_fraction=1.0), decode_s_per_hour=6.0)
    # whole-file decoding: the same CPU here holds less mixing proper, and DAMP decodes more
    assert whole.loc["mix", "damp_cpu_s"] == pytest.approx(
        87 * 3 + 1700 * 6 + (120 - 16 * 6 * 0.2) * 692400 / 24000)


def test_makespan_and_wall_time():
    assert makespan([4, 3, 3, 2, 2, 2], 3) == 6       # LPT: {4,2}, {3,3}... = 6
    assert makespan([5.0] * 87, 32) == 15.0           # three rounds of 5 s
    assert makespan([], 4) == 0.0
    proj = pd.DataFrame({"damp_cpu_s": [10.0, 87 * 100.0, 19 * 50.0, 4.0, 87 * 60.0, 2.0],
                         "jobs_damp": [1, 87, 19, 1, 87, 1]},
                        index=["ingest", "analyze_vocals", "analyze_accompaniments", "join",
                               "mix", "card"])
    # analyses: 87 x 100 s on 32 cores leave 23 cores at 300 s and 9 at 200 s; the 19
    # 50-s tracks fill the 9 twice (to 300 s) and the last one ends at 350 s
    assert wall_time(proj, 32) == pytest.approx(10 + makespan([100] * 87 + [50] * 19, 32)
                                                + 4 + 3 * 60 + 2)
    assert makespan([100] * 87 + [50] * 19, 32) == 350.0
