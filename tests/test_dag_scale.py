"""At DAMP scale the DAG stays small: per-shard jobs, not per-file jobs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from bench_dag_scale import dry_run, write_damp_scale_workdir  # noqa: E402


def test_damp_scale_dag_plans_under_2000_jobs(tmp_path):
    config = write_damp_scale_workdir(tmp_path)
    jobs, _, out = dry_run(tmp_path, config)
    assert 0 < jobs < 2000, out[-2000:]
    # one analysis and one mixing job per shard of 400 performances
    assert "analyze_vocals                87" in out or "analyze_vocals 87" in " ".join(out.split())
