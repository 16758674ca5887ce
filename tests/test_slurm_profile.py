"""The SLURM profile: it plans the DAG, and sbatch gets the resources the rules declare.

The submissions go to fake SLURM tools (tests/fake_slurm: sbatch records its argv and runs
the wrapped job step synchronously, sacct/squeue report the recorded state, sinfo offers a
default partition ``debug``), driven by the real snakemake-executor-plugin-slurm.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
FAKE_SLURM = Path(__file__).resolve().parent / "fake_slurm"
PROFILE = ROOT / "workflow" / "profiles" / "slurm"
FAST_POLLING = ["--latency-wait", "1", "--slurm-init-seconds-before-status-checks", "1",
                "--seconds-between-status-checks", "1"]


def rule_declarations() -> dict[str, dict]:
    """``{rule: {threads, mem_mb, runtime, gpu}}`` read from the text of rules/*.smk.

    ``use rule A as B with:`` inherits A's declarations; ``threads: TRAIN_THREADS`` is the
    test config's ``train.threads`` (at least 1), as rules/common.smk computes it.
    """
    import yaml

    train_threads = max(1, yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
                        ["train"].get("threads", 0))
    rules, uses = {}, []
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        blocks = re.split(r"^(?:(?:rule|checkpoint) (\w+)|use rule (\w+) as (\w+) with):\n",
                          smk.read_text(), flags=re.M)
        for name, base, alias, body in zip(blocks[1::4], blocks[2::4], blocks[3::4],
                                           blocks[4::4]):
            decl = {}
            if m := re.search(r"^    threads: (\d+|TRAIN_THREADS)$", body, flags=re.M):
                decl["threads"] = train_threads if m.group(1) == "TRAIN_THREADS" else int(m.group(1))
            for key in ("mem_mb", "runtime", "gpu"):
                if m := re.search(rf"^        {key}=(\d+),", body, flags=re.M):
                    decl[key] = int(m.group(1))
            if name:
                rules[name] = {"threads": 1, **decl}
            else:
                uses.append((base, alias, decl))
    for base, alias, decl in uses:
        rules[alias] = {**rules[base], **decl}
    return rules


def snakemake(workdir: Path, *args: str, profile: Path = PROFILE, state: Path | None = None,
              run_jobs: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["PATH"] = os.pathsep.join([str(FAKE_SLURM), str(Path(sys.executable).parent), env["PATH"]])
    env["FAKE_SLURM_DIR"] = str(state or workdir / "fake-slurm-state")
    env["FAKE_SBATCH_RUN"] = "1" if run_jobs else "0"
    cmd = [sys.executable, "-m", "snakemake", "--profile", str(profile), "--snakefile",
           str(ROOT / "Snakefile"), "--directory", str(workdir), "--configfile",
           str(ROOT / "config" / "test.yaml"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)


def submissions(state: Path) -> list[dict]:
    """The recorded sbatch calls as ``{rule, options, argv}``."""
    out = []
    path = state / "sbatch.jsonl"
    for line in (path.read_text().splitlines() if path.exists() else []):
        argv = json.loads(line)["argv"]
        opts, i = {}, 0
        while i < len(argv):
            a = argv[i]
            if a.startswith("--") and "=" in a:
                k, v = a.split("=", 1)
                opts.setdefault(k, []).append(v)
            elif a.startswith("-") and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                opts.setdefault(a, []).append(argv[i + 1])
                i += 1
            else:
                opts.setdefault(a, []).append("")
            i += 1
        rule = re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", opts["--comment"][0]).group(1)
        out.append({"rule": rule, "options": opts, "argv": argv})
    return out


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("slurm-dry")
    proc = snakemake(workdir, "-n", "all")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_profile_plans_the_whole_dag(dry_run):
    stats = re.search(r"Job stats:\n(.*?)\n\s*total\s+(\d+)", dry_run, flags=re.S)
    assert stats is not None, dry_run[-2000:]
    planned = set(re.findall(r"^(\w+)\s+\d+$", stats.group(1), flags=re.M))
    # everything before the ingest checkpoint, and the model / evaluation rules after it
    assert {"demo_corpus", "ingest", "card", "pretrain", "train", "account",
            "report", "all"} <= planned


def test_planned_resources_are_the_declared_ones(dry_run):
    declared = rule_declarations()
    jobs = re.findall(r"^(?:rule|checkpoint) (\w+):\n(.*?)^    resources: (.*?)$", dry_run,
                      flags=re.M | re.S)
    assert len(jobs) >= 10
    for name, _, resources in jobs:
        res = dict(kv.split("=", 1) for kv in resources.split(", ") if "=" in kv)
        decl = declared.get(name, {})  # rule all lives in the Snakefile
        if "mem_mb" in decl:
            assert int(res["mem_mb"]) == decl["mem_mb"], name
        if "runtime" in decl:
            assert int(res["runtime"]) == decl["runtime"], name


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    """demo_corpus -> ingest submitted through the plugin to the fake SLURM."""
    workdir = tmp_path_factory.mktemp("slurm-run")
    state = workdir / "fake-slurm-state"
    proc = snakemake(workdir, "--until", "ingest", *FAST_POLLING, "all", state=state)
    logs = "\n".join(p.read_text()[-1500:]
                     for p in (workdir / ".snakemake").rglob("slurm_logs/**/*.log"))
    assert proc.returncode == 0, proc.stderr[-4000:] + logs
    return workdir, state


@pytest.mark.slow
def test_jobs_run_through_sbatch_and_complete(slurm_run):
    workdir, state = slurm_run
    subs = submissions(state)
    assert sorted(s["rule"] for s in subs) == ["demo_corpus", "ingest"]
    states = [line.split("|")[2] for line in (state / "jobs.tsv").read_text().splitlines()]
    assert states == ["COMPLETED"] * 2
    assert (workdir / "results-test" / "manifests" / "vocals.parquet").stat().st_size > 0
    # one run id names every job (the plugin's status queries filter on it)
    assert len({s["options"]["--job-name"][0] for s in subs}) == 1


@pytest.mark.slow
def test_sbatch_requests_the_declared_memory_and_runtime(slurm_run):
    _, state = slurm_run
    declared = rule_declarations()
    for sub in submissions(state):
        decl, opts = declared[sub["rule"]], sub["options"]
        assert opts["--mem"] == [str(decl["mem_mb"])], sub["rule"]
        assert opts["-t"] == [str(decl["runtime"])], sub["rule"]
        assert opts["-p"] == ["debug"]  # the site default partition (sinfo's '*')
        assert opts["--ntasks"] == ["1"]


@pytest.mark.slow
def test_sbatch_requests_as_many_cpus_as_the_rule_has_threads(slurm_run):
    _, state = slurm_run
    declared = rule_declarations()
    for sub in submissions(state):
        threads = declared[sub["rule"]]["threads"]
        assert sub["options"]["--cpus-per-task"] == [str(threads)], sub["rule"]


def _record_only_submission(tmp_path, dry_run, profile=PROFILE):
    """Submit pretrain and train (scratch) on placeholder inputs; record, do not run."""
    (version,) = set(re.findall(r"results-test/datasets/([0-9a-f]{10})/", dry_run))
    dataset = tmp_path / "results-test" / "datasets" / version
    dataset.mkdir(parents=True)
    (dataset / "card.json").write_text("{}")
    (dataset / "index.parquet").write_bytes(b"")
    # the shard files a training job reads, for a one-shard manifest
    manifests = tmp_path / "results-test" / "manifests"
    manifests.mkdir(parents=True)
    pd.DataFrame({"shard": [0]}).to_parquet(manifests / "vocals.parquet")
    for name in ("mono-000000.npy", "mix-000000.npy", "index-000000.parquet"):
        (dataset / name).write_bytes(b"")
    models = f"results-test/models/{version}"
    state = tmp_path / "fake-slurm-state"
    proc = snakemake(tmp_path, "--allowed-rules", "pretrain", "train", *FAST_POLLING,
                     "--latency-wait", "0", f"{models}/pretrain-mono/model.pt",
                     f"{models}/cross-scratch/model.pt", profile=profile, state=state,
                     run_jobs=False)
    return proc, submissions(state)


def test_gpu_rules_are_submitted_with_one_gpu(tmp_path, dry_run):
    proc, subs = _record_only_submission(tmp_path, dry_run)
    declared = rule_declarations()
    assert sorted(s["rule"] for s in subs) == ["pretrain", "train"], proc.stderr[-3000:]
    for sub in subs:
        decl, opts = declared[sub["rule"]], sub["options"]
        assert opts["--mem"] == [str(decl["mem_mb"])] and opts["-t"] == [str(decl["runtime"])]
        gpu_flags = [a for a in sub["argv"] if a.startswith(("--gpus", "--gres"))]
        assert gpu_flags == [f"--gpus={decl['gpu']}"], gpu_flags

