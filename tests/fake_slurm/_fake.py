"""A stand-in for the SLURM client tools, enough for snakemake-executor-plugin-slurm 2.x.

Installed on PATH under the names sbatch, srun, sacct, squeue, scontrol, sinfo (see the
wrappers beside this file).  State lives in $FAKE_SLURM_DIR:

- sbatch.jsonl: one JSON object per submission (argv, cwd, job id);
- srun.jsonl: one per job step (argv);
- jobs.tsv: ``<job id>|<job name>|<state>``, read by sacct and squeue.

sbatch runs the ``--wrap``ped command synchronously with bash (in ``-D``, log to ``--output``)
unless FAKE_SBATCH_RUN=0, in which case it only records the call.
"""

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

STATE = Path(os.environ.get("FAKE_SLURM_DIR", "/tmp/fake_slurm"))


def _append(name: str, text: str) -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / name, "a") as f:
        f.write(text + "\n")


def _jobs() -> list[list[str]]:
    path = STATE / "jobs.tsv"
    return [line.split("|") for line in path.read_text().splitlines()] if path.exists() else []


def _option(argv: list[str], *names: str) -> str | None:
    for i, a in enumerate(argv):
        for n in names:
            if a == n and i + 1 < len(argv):
                return argv[i + 1]
            if a.startswith(n + "="):
                return a[len(n) + 1:]
    return None


def _next_job_id() -> str:
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / "counter", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        n = int(f.read() or 1000) + 1
        f.seek(0)
        f.truncate()
        f.write(str(n))
    return str(n)


def sbatch(argv: list[str]) -> int:
    job_id = _next_job_id()
    name = _option(argv, "--job-name", "-J") or ""
    _append("sbatch.jsonl", json.dumps({"argv": argv, "cwd": os.getcwd(), "job_id": job_id}))
    state = "COMPLETED"
    wrap = _option(argv, "--wrap")
    if wrap is not None and os.environ.get("FAKE_SBATCH_RUN", "1") == "1":
        workdir = _option(argv, "-D", "--chdir") or os.getcwd()
        log = (_option(argv, "--output", "-o") or os.devnull).replace("%j", job_id)
        env = dict(os.environ, SLURM_JOB_ID=job_id, SLURM_JOBID=job_id)
        with open(log, "w") as out:
            rc = subprocess.run(["bash", "-c", wrap], cwd=workdir, env=env,
                                stdout=out, stderr=subprocess.STDOUT).returncode
        state = "COMPLETED" if rc == 0 else "FAILED"
    _append("jobs.tsv", f"{job_id}|{name}|{state}")
    print(job_id)
    return 0


def srun(argv: list[str]) -> int:
    _append("srun.jsonl", json.dumps({"argv": argv}))
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 1
    if i == len(argv):
        return 0
    return subprocess.run(argv[i:]).returncode


def sacct(argv: list[str]) -> int:
    name = _option(argv, "--name")
    if name is None:  # e.g. the account guess `sacct -nu <user> -o Account`: no history
        return 0
    for job_id, job_name, state in _jobs():
        if job_name == name:
            print(f"{job_id}|{state}")
    return 0


def squeue(argv: list[str]) -> int:
    return sacct(argv)


def scontrol(argv: list[str]) -> int:
    if argv[:2] == ["show", "config"]:
        print("MinJobAge               = 300 sec\nMaxArraySize            = 1001")
    return 0


def sinfo(argv: list[str]) -> int:
    print("PARTITION\ndebug*\ngpu")
    return 0


if __name__ == "__main__":
    tool = Path(sys.argv[1]).name
    sys.exit({"sbatch": sbatch, "srun": srun, "sacct": sacct, "squeue": squeue,
              "scontrol": scontrol, "sinfo": sinfo}[tool](sys.argv[2:]))
