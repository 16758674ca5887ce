"""Two runs on one results folder: the second stops before any job, saying why; the first
finishes with the results an undisturbed run gives.

From one working directory Snakemake's own lock (``.snakemake/locks``) stops the second run;
from two working directories whose configs name one absolute ``results`` folder, the lock of
``pipeline.core.runlock`` (taken in ``onstart``, rules/common.smk) does.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, snakemake_command
from test_random_kills import assert_same_results

from pipeline.core.runlock import LOCK_NAME, ResultsInUse, hold_results_lock

FIRST_JOB = "localrule demo_corpus:"
TARGET = "join"  # the demo corpus, ingest, analysis: the first run outlasts the second's start
SHARED = {"demo", "manifests", "analysis"}  # what the first run writes, compared


def started(cmd, until: str = FIRST_JOB) -> subprocess.Popen:
    """Start ``cmd``; return once its output shows ``until`` (it holds its locks by then)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=ROOT)
    out = ""
    for line in proc.stdout:
        out += line
        if line.startswith(until):
            proc.seen = out
            return proc
    raise AssertionError(f"the first run ended before its first job:\n{out[-3000:]}")


def finish(proc: subprocess.Popen) -> str:
    out = proc.seen + proc.stdout.read()
    assert proc.wait() == 0, out[-3000:]
    return out


@pytest.mark.slow
def test_a_second_run_in_the_same_directory_stops_at_once(demo_dag_run, tmp_path):
    workdir = tmp_path / "shared"
    first = started(snakemake_command(workdir, TARGET))
    second = subprocess.run(snakemake_command(workdir, TARGET), capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    running = first.poll() is None
    finish(first)
    assert running, "the second run did not stop while the first was running"
    assert second.returncode == 1
    assert "Directory cannot be locked" in second.stderr and "--unlock" in second.stderr
    assert "localrule" not in second.stdout + second.stderr  # it ran no job
    assert_same_results(workdir / "results-test", demo_dag_run / "results-test",
                        only=SHARED)


@pytest.mark.slow
def test_a_second_run_from_another_directory_on_the_same_results_stops_at_once(demo_dag_run,
                                                                                 tmp_path):
    results = tmp_path / "results"
    override = tmp_path / "shared.yaml"
    override.write_text(json.dumps({"results": str(results), "sources": {
        corpus: {"type": "demo", "root": str(results / "demo")}
        for corpus in ("vocals", "accompaniments")}}))

    def command(workdir):
        return snakemake_command(workdir, TARGET, extra=["--configfile",
                                                          str(ROOT / "config" / "test.yaml"),
                                                          str(override)])

    first = started(command(tmp_path / "a"))
    second = subprocess.run(command(tmp_path / "b"), capture_output=True, text=True, cwd=ROOT,
                            timeout=300)
    running = first.poll() is None
    finish(first)
    assert running, "the second run did not stop while the first was running"
    assert second.returncode == 1, second.stderr[-3000:]
    message = second.stderr
    assert f"{results}: this results folder is in use by another snakemake run" in message
    assert f"pid {first.pid}" in message and str(tmp_path / "a") in message
    assert "localrule" not in second.stdout + message
    assert_same_results(results, demo_dag_run / "results-test", only=SHARED)


HOLD = """\
import sys, time
from pipeline.core.runlock import hold_results_lock
hold_results_lock(sys.argv[1], workdir="/somewhere")
print("held", flush=True)
time.sleep(600)
"""


def test_the_results_lock_names_its_holder_and_dies_with_it(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(ResultsInUse) as info:
            hold_results_lock(tmp_path)
        assert str(tmp_path) in str(info.value) and f"pid {holder.pid} " in str(info.value)
        assert "working directory /somewhere" in str(info.value)
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # a crash: the kernel drops the lock
        holder.wait()
    time.sleep(0.05)
    assert hold_results_lock(tmp_path) == tmp_path / LOCK_NAME  # no stale lock to remove
    assert f"pid {os.getpid()} " in (tmp_path / LOCK_NAME).read_text()
    assert hold_results_lock(tmp_path) == tmp_path / LOCK_NAME  # held already: a no-op
