"""Reliability: kill -9 and rerun, a full disk, a refused rename (tests/test_bad_inputs.py:
broken inputs and bad config; tests/test_random_kills.py: kills of whole snakemake runs).

Each long stage's CLI is killed with SIGKILL part-way through, checked for outputs under
their final names, run again, and compared byte for byte with an uninterrupted run. The
analysis and mix stages write their outputs at the end, so their kills land inside a write:
the atomic writer's fault-injection hook (``pipeline.core.atomic``) makes the process SIGKILL
itself after half the bytes of one output's temporary, with the outputs before it complete.
Training is killed between epochs (its checkpoint), on a pseudo-terminal.
"""

import errno
import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
TMP_NAME = re.compile(r"^\..+\.tmp$")  # pipeline.core.atomic's temporary names


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "pipeline", *map(str, args)]


def run(args, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=600, **kwargs)
    assert proc.returncode == 0, f"{args[3:5]} failed:\n{proc.stderr[-3000:]}"
    return proc


def run_and_kill(args, until, *, timeout: float = 300) -> str:
    """Run ``args`` on a pty and SIGKILL it as soon as ``until(output_so_far)`` is true."""
    master, slave = pty.openpty()
    # a terminal of 0 columns would make tqdm print empty bars
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=ROOT)
    os.close(slave)
    out, deadline = "", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    out += os.read(master, 65536).decode(errors="replace")
                except OSError:  # EIO: the child closed the terminal (it ended)
                    break
            if until(out):
                proc.send_signal(signal.SIGKILL)
                break
            if proc.poll() is not None:
                break
    finally:
        if proc.poll() is None and time.monotonic() >= deadline:
            proc.kill()
        proc.wait()
        os.close(master)
    assert proc.returncode == -signal.SIGKILL, \
        f"not killed mid-way (rc {proc.returncode}):\n{out[-2000:]}"
    return out


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` except atomic temporaries: relative path -> bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not TMP_NAME.match(p.name)}


# ----------------------------------------------------------------------------------------------
# The small demo corpus, ingested, with one vocal and one accompaniment shard analysed and
# one dataset shard mixed without interruption: the references of the kill tests.

@pytest.fixture(scope="module")
def staged(small_corpus, tmp_path_factory):
    work = tmp_path_factory.mktemp("staged")
    source = json.dumps({"type": "demo", "root": str(small_corpus)})
    m, a, ref = work / "manifests", work / "analysis", work / "reference"
    run(cli("ingest", "--vocals", source, "--accompaniments", source, "--shards",
            json.dumps({"vocal_performances": 10, "accompaniment_tracks": 6}), "--out", m))
    run(cli("split", "--manifest", m / "vocals.parquet", "--out", m / "split.parquet",
            "--seed", 7, "--params", json.dumps({"unseen_singers": 4})))
    run(cli("analyze-accompaniments", "--manifest", m / "accompaniments.parquet", "--shard", 0,
            "--out-prefix", a / "accompaniments" / "0"))
    run(cli("analyze-vocals", "--manifest", m / "vocals.parquet", "--shard", 0,
            "--out-prefix", ref / "vocals" / "0"))
    run(cli("join", "--windows", ref / "vocals" / "0.windows.parquet",
            "--segments", a / "accompaniments" / "0.segments.parquet",
            "--tracks", a / "accompaniments" / "0.tracks.parquet", "--vocals", m / "vocals.parquet",
            "--accompaniments", m / "accompaniments.parquet", "--split", m / "split.parquet",
            "--vocals-root", small_corpus, "--accompaniments-root", small_corpus,
            "--out", work / "recipe", "--seed", 7))
    run(mix_args(work, ref / "dataset"))
    return work


def mix_args(work: Path, out: Path) -> list[str]:
    return cli("mix", "--pairs", work / "recipe" / "pairs.parquet",
               "--vocals", work / "manifests" / "vocals.parquet",
               "--tracks", work / "analysis" / "accompaniments" / "0.tracks.parquet",
               "--audio", work / "analysis" / "accompaniments" / "0.audio.npy",
               "--shard", 0, "--out", out)


def run_killed_in_write(args, name: str, at: int) -> None:
    """Run ``args``; the atomic writer SIGKILLs the process once ``at`` bytes of the temporary
    of the output called ``name`` are written."""
    from pipeline.core.atomic import KILL_AFTER_BYTES, KILL_NAME

    env = {**os.environ, KILL_AFTER_BYTES: str(at), KILL_NAME: name}
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert proc.returncode == -signal.SIGKILL, \
        f"not killed in the write of {name} (rc {proc.returncode}):\n{proc.stderr[-2000:]}"


def assert_killed_in_write(out: Path, reference: dict, order: list[str], name: str, at: int):
    """At the kill: the outputs written before ``name`` complete, ``name`` only a temporary of
    ``at`` bytes, nothing after it."""
    assert files(out) == {n: reference[n] for n in order[: order.index(name)]}
    (temporary,) = [p for p in out.rglob("*") if TMP_NAME.match(p.name)]
    assert re.fullmatch(rf"\.{re.escape(name)}\.\w+\.tmp", temporary.name), temporary
    assert temporary.stat().st_size == at


VOCAL_OUTPUTS = ["0.windows.parquet", "0.skipped.parquet"]  # the order analyze-vocals writes


@pytest.mark.slow
@pytest.mark.parametrize("killed_in", VOCAL_OUTPUTS)
def test_vocal_analysis_killed_in_a_write_reruns_to_identical_outputs(staged, tmp_path,
                                                                       killed_in):
    out = tmp_path / "vocals"
    args = cli("analyze-vocals", "--manifest", staged / "manifests" / "vocals.parquet",
               "--shard", 0, "--out-prefix", out / "0")
    reference = files(staged / "reference" / "vocals")
    assert set(reference) == set(VOCAL_OUTPUTS)
    at = len(reference[killed_in]) // 2
    run_killed_in_write(args, killed_in, at)
    assert_killed_in_write(out, reference, VOCAL_OUTPUTS, killed_in, at)
    run(args)
    assert files(out) == reference


# The order mix writes a shard: the index, the shard's commit record, after its arrays.
SHARD_OUTPUTS = ["mono-000000.npy", "mix-000000.npy", "index-000000.parquet",
                 "skipped-000000.parquet"]


@pytest.mark.slow
@pytest.mark.parametrize("killed_in", SHARD_OUTPUTS)
def test_mix_killed_in_a_write_reruns_to_identical_shards(staged, tmp_path, killed_in):
    """A kill inside the write of a shard file leaves that file under no final name, and no
    index of a shard whose arrays are not both complete."""
    out = tmp_path / "dataset"
    reference = files(staged / "reference" / "dataset")
    order = SHARD_OUTPUTS + sorted(set(reference) - set(SHARD_OUTPUTS))  # then the examples
    assert set(SHARD_OUTPUTS) <= set(reference)
    at = len(reference[killed_in]) // 2
    run_killed_in_write(mix_args(staged, out), killed_in, at)
    assert_killed_in_write(out, reference, order, killed_in, at)
    run(mix_args(staged, out))
    assert files(out) == reference


@pytest.mark.slow
def test_stray_temporaries_are_not_taken_as_shards(staged, tmp_path):
    """A kill during a write leaves ``.<name>.<random>.tmp``; card and verify ignore it."""
    dataset = tmp_path / "dataset"
    shutil.copytree(staged / "reference" / "dataset", dataset)
    clean = tmp_path / "clean"
    shutil.copytree(staged / "reference" / "dataset", clean)
    half = (dataset / "index-000000.parquet").read_bytes()[:100]
    (dataset / ".index-000001.parquet.k9x2ab.tmp").write_bytes(half)
    (dataset / ".mono-000001.npy.k9x2ab.tmp").write_bytes(b"\x93NUMPY")
    for d in (dataset, clean):
        run(cli("card", d))
    card, reference = (json.loads((d / "card.json").read_text()) for d in (dataset, clean))
    assert card["shards"] == reference["shards"]
    assert sorted(s["file"] for s in card["shards"]) == ["index-000000.parquet", "mix-000000.npy",
                                                         "mono-000000.npy"]
    assert (dataset / "index.parquet").read_bytes() == (clean / "index.parquet").read_bytes()
    run(cli("verify", dataset))


@pytest.fixture(scope="module")
def synthetic_dataset(tmp_path_factory):
    from test_data import write_dataset

    return write_dataset(tmp_path_factory.mktemp("ds") / "v1", np.random.default_rng(0),
                         separation=0.6)


TRAIN_FAST = {"items_per_epoch": 64, "batch_size": 16, "valid_items": 48, "centroid_segments": 8,
              "threads": 1, "epochs": 3, "pretrain_epochs": 3}


@pytest.mark.parametrize("command", [
    ["pretrain", "--domain", "mono"],
    pytest.param(["train", "--kind", "cross"], marks=pytest.mark.slow),
])
def test_killed_training_resumes_from_a_valid_checkpoint(synthetic_dataset, tmp_path, command):
    import torch

    def args(out):
        return cli(*command, "--dataset", synthetic_dataset, "--out", out, "--seed", 5,
                   "--params", json.dumps(TRAIN_FAST))

    run(args(tmp_path / "whole"))
    killed = tmp_path / "killed"
    checkpoint = killed / "checkpoint.pt"
    run_and_kill(args(killed), lambda out: (killed / "train_log.csv").exists())
    assert not (killed / "model.pt").exists() and not (killed / "metrics.json").exists()
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert 1 <= ckpt["state"]["epoch"] < 3 and not ckpt["state"]["done"]
    assert set(ckpt) >= {"model", "optimizer", "scheduler", "rng", "state", "key"}
    rerun = run(args(killed))
    assert f"resuming after epoch {ckpt['state']['epoch']}" in rerun.stderr
    for name in ("model.pt", "model.json", "metrics.json"):
        assert (killed / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    a, b = (pd.read_csv(d / "train_log.csv") for d in (tmp_path / "whole", killed))
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))
    assert set(files(killed)) == set(files(tmp_path / "whole"))  # a kill's temporaries aside


def test_training_killed_after_its_last_checkpoint_rewrites_every_output(synthetic_dataset,
                                                                         tmp_path):
    """Killed after the last epoch's checkpoint, before the model: Snakemake deletes the job's
    outputs (model, info, metrics, train log) and reruns it, which finds nothing left to train
    and must still write all four (tests/test_random_kills.py met this case)."""
    outputs = ("model.pt", "model.json", "metrics.json", "train_log.csv")
    args = cli("pretrain", "--domain", "mono", "--dataset", synthetic_dataset, "--out", tmp_path,
               "--seed", 5, "--params", json.dumps(TRAIN_FAST))
    run(args)
    whole = {name: (tmp_path / name).read_bytes() for name in outputs}
    for name in outputs:
        (tmp_path / name).unlink()
    rerun = run(args)
    assert "resuming after epoch 3" in rerun.stderr
    for name in outputs:
        assert (tmp_path / name).read_bytes() == whole[name], name


# ----------------------------------------------------------------------------------------------
# A full disk or a read-only folder while a shard is written: a clear error, nothing left.

class FullDisk:
    """A folder whose writes fail with the kernel's ENOSPC, and how that was arranged."""

    def __init__(self, path: Path, how: str):
        self.path, self.how = path, how

    def command(self, args: list[str]) -> list[str]:
        """``args`` (a ``python -m pipeline`` command) run so that its writes hit this disk."""
        if self.how == "tmpfs":
            return args
        return [sys.executable, "-c", DEV_FULL_SHIM, *args[3:]]


# The writer's temporaries opened on /dev/full, whose writes the kernel fails with ENOSPC
# (the temporary itself is still created, and must be removed, in the folder).
DEV_FULL_SHIM = """\
import runpy, sys
import pipeline.core.atomic as atomic
atomic._open_tmp = lambda tmp, final: open("/dev/full", "wb")
sys.argv = ["pipeline", *sys.argv[1:]]
runpy.run_module("pipeline", run_name="__main__")
"""


@pytest.fixture(params=["tmpfs", "/dev/full"])
def full_disk(request, tmp_path, monkeypatch, record_property):
    """A full disk, never skipped: a 64 KiB tmpfs where mounting one is allowed (root),
    else, and always for the second parameter, /dev/full under the atomic writer. The way
    taken is in the test's properties and its warnings summary."""
    from pipeline.core import atomic

    disk = tmp_path / "disk"
    disk.mkdir()
    how, why = request.param, ""
    if how == "tmpfs" and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                                          str(disk)], capture_output=True).returncode != 0:
        how, why = "/dev/full", " (mounting a tmpfs was refused)"
    record_property("enospc", how)
    warnings.warn(f"ENOSPC via {how}{why}", stacklevel=1)
    if how == "/dev/full":
        monkeypatch.setattr(atomic, "_open_tmp", lambda tmp, final: open("/dev/full", "wb"))
    try:
        yield FullDisk(disk, how)
    finally:
        if how == "tmpfs":
            subprocess.run(["umount", str(disk)], check=True)


def _shard(rows: int = 4):
    from pipeline.dataset.shards import index_frame

    rng = np.random.default_rng(3)
    mono = rng.standard_normal((rows, 129, 128)).astype(np.float16)
    index = index_frame([{"segment_id": f"p-w{i:03d}-m0", "subset": "train", "singer": "u",
                          "perf_id": "p", "song": "s", "window_index": i, "mix_index": 0,
                          "vocal_start": 0, "acc_track": "t", "acc_start": 0, "tempo_bpm": 100.0,
                          "acc_tempo_bpm": 100.0, "key": 0, "acc_key": 0, "vocal_gain": 1.0,
                          "acc_gain": 1.0, "snr_db": 0.0} for i in range(rows)])
    return mono, mono + 1, index


def test_a_full_disk_leaves_no_shard_and_no_temporary(full_disk):
    from pipeline.dataset.shards import write_shard

    mono, mix, index = _shard()  # 4 x 129 x 128 float16 = 129 KiB per array > 64 KiB
    with pytest.raises(OSError):
        write_shard(full_disk.path, 0, mono=mono, mix=mix, index=index)
    assert sorted(p.name for p in full_disk.path.iterdir()) == []


def test_a_full_disk_error_says_the_disk_is_full(full_disk):
    from pipeline.dataset.shards import write_shard

    mono, mix, index = _shard()
    with pytest.raises(OSError) as info:
        write_shard(full_disk.path, 0, mono=mono, mix=mix, index=index)
    assert info.value.errno == errno.ENOSPC and "No space left on device" in str(info.value)
    assert info.value.filename == str(full_disk.path / "mono-000000.npy")  # the final name


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_a_failing_rename_leaves_no_shard(tmp_path, monkeypatch, error):
    from pipeline.core import atomic
    from pipeline.dataset.shards import write_shard

    def refuse(src, dst):
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(atomic.os, "replace", refuse)
    mono, mix, index = _shard(rows=2)
    with pytest.raises(OSError) as info:
        write_shard(tmp_path, 0, mono=mono, mix=mix, index=index)
    assert info.value.errno == error and info.value.filename == str(tmp_path / "mono-000000.npy")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_mix_onto_a_full_disk_fails_clearly_without_a_corrupt_shard(staged, full_disk):
    proc = subprocess.run(full_disk.command(mix_args(staged, full_disk.path)),
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 1, proc.stderr[-2000:]  # the CLI's clean error exit
    assert "No space left on device" in proc.stderr and "mono-000000.npy" in proc.stderr
    left = [p.name for p in full_disk.path.rglob("*") if p.is_file()]
    assert not any(TMP_NAME.match(n) for n in left), left
    assert not any(re.match(r"(mono|mix|index)-\d+\.", n) for n in left), left


def test_remove_temporaries_takes_only_atomic_temporaries_of_that_folder(tmp_path):
    from pipeline.core.atomic import atomic_path, remove_temporaries

    with atomic_path(tmp_path / "model.pt") as tmp:  # the name a killed writer leaves
        tmp.write_bytes(b"x")
        stale = tmp_path / tmp.name.replace("model", "other")
        stale.write_bytes(b"y")
    (tmp_path / "deeper").mkdir()
    nested = tmp_path / "deeper" / ".model.pt.abcdefgh.tmp"
    nested.write_bytes(b"z")
    for name in ("model.pt.tmp", ".hidden", "notes.tmp.txt"):
        (tmp_path / name).write_bytes(b"keep")
    assert TMP_NAME.match(stale.name)
    removed = remove_temporaries(tmp_path)
    assert removed == [stale] and not stale.exists()
    assert nested.exists() and (tmp_path / "model.pt").read_bytes() == b"x"
    assert all((tmp_path / n).exists() for n in ("model.pt.tmp", ".hidden", "notes.tmp.txt"))
    assert remove_temporaries(tmp_path / "missing") == []
