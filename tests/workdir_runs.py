"""Run the DAG on a corpus laid out elsewhere: a config file in a work folder, one target."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def run_target(work: Path, config: dict, target: str = "card", cores: int = 2) -> Path:
    """Write ``config`` to ``work/config.yaml`` and run ``snakemake <target>`` in ``work``.

    Returns the one dataset folder of the run's results; fails the test with Snakemake's
    stderr when the run fails.
    """
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", target, "--cores", str(cores), "--snakefile",
           str(ROOT / "Snakefile"), "--directory", str(work), "--configfile",
           str(work / "config.yaml")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (dataset,) = [p for p in (work / config["results"] / "datasets").iterdir() if p.is_dir()]
    return dataset
