"""Reliability: kill -9 and rerun, a full disk, and broken inputs through the whole DAG.

Each long stage's CLI is started in a subprocess on a pseudo-terminal (so its tqdm progress
bar is on), killed with SIGKILL part-way through, checked for outputs under their final
names, run again, and compared byte for byte with an uninterrupted run.
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
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
TMP_NAME = re.compile(r"^\..+\.tmp$")  # pipeline.atomic's temporary names


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


def progress_at_least(desc: str, share: float):
    """A predicate on tqdm output: the bar ``desc`` is past ``share`` but not finished."""
    bar = re.compile(rf"{desc}:\s*\d+%\|[^|\r\n]*\|\s*(\d+)/(\d+)")

    def reached(out: str) -> bool:
        return any(0 < int(n) < int(total) and int(n) >= share * int(total)
                   for n, total in bar.findall(out))

    return reached


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
            "--out", work / "recipe", "--seed", 7))
    run(mix_args(work, ref / "dataset"))
    return work


def mix_args(work: Path, out: Path) -> list[str]:
    return cli("mix", "--pairs", work / "recipe" / "pairs.parquet",
               "--vocals", work / "manifests" / "vocals.parquet",
               "--analysis", work / "analysis" / "accompaniments", "--shard", 0, "--out", out)


@pytest.mark.slow
def test_killed_vocal_analysis_reruns_to_identical_outputs(staged, tmp_path):
    args = cli("analyze-vocals", "--manifest", staged / "manifests" / "vocals.parquet",
               "--shard", 0, "--out-prefix", tmp_path / "vocals" / "0")
    run_and_kill(args, progress_at_least("vocals", 0.3))
    assert list(files(tmp_path)) == []  # nothing under a final name
    run(args)
    assert files(tmp_path / "vocals") == files(staged / "reference" / "vocals")
    assert set(files(tmp_path / "vocals")) == {"0.windows.parquet", "0.skipped.parquet"}


@pytest.mark.slow
def test_killed_mix_reruns_to_identical_shards(staged, tmp_path):
    out = tmp_path / "dataset"
    run_and_kill(mix_args(staged, out), progress_at_least("mix", 0.3))
    assert not any(re.match(r"(mono|mix|index)-\d+\.(npy|parquet)$", name) for name in files(out))
    run(mix_args(staged, out))
    reference = files(staged / "reference" / "dataset")
    assert {"mono-000000.npy", "mix-000000.npy", "index-000000.parquet"} <= set(reference)
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


# ----------------------------------------------------------------------------------------------
# A full disk or a read-only folder while a shard is written: a clear error, nothing left.

@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs (root only); skipped where mounting is not allowed."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def _shard(rows: int = 4):
    from pipeline.shards import index_frame

    rng = np.random.default_rng(3)
    mono = rng.standard_normal((rows, 129, 128)).astype(np.float16)
    index = index_frame([{"segment_id": f"p-w{i:03d}-m0", "subset": "train", "singer": "u",
                          "perf_id": "p", "song": "s", "window_index": i, "mix_index": 0,
                          "vocal_start": 0, "acc_track": "t", "acc_start": 0, "tempo_bpm": 100.0,
                          "acc_tempo_bpm": 100.0, "key": 0, "acc_key": 0, "vocal_gain": 1.0,
                          "acc_gain": 1.0, "snr_db": 0.0} for i in range(rows)])
    return mono, mono + 1, index


def test_a_full_disk_leaves_no_shard_and_no_temporary(tiny_disk):
    from pipeline.shards import write_shard

    mono, mix, index = _shard()  # 4 x 129 x 128 float16 = 129 KiB per array > 64 KiB
    with pytest.raises(OSError):
        write_shard(tiny_disk, 0, mono=mono, mix=mix, index=index)
    assert sorted(p.name for p in tiny_disk.iterdir()) == []


def test_a_full_disk_error_says_the_disk_is_full(tiny_disk):
    from pipeline.shards import write_shard

    mono, mix, index = _shard()
    with pytest.raises(OSError) as info:
        write_shard(tiny_disk, 0, mono=mono, mix=mix, index=index)
    assert info.value.errno == errno.ENOSPC and "No space left on device" in str(info.value)
    assert info.value.filename == str(tiny_disk / "mono-000000.npy")  # the final name


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_a_failing_rename_leaves_no_shard(tmp_path, monkeypatch, error):
    from pipeline import atomic
    from pipeline.shards import write_shard

    def refuse(src, dst):
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(atomic.os, "replace", refuse)
    mono, mix, index = _shard(rows=2)
    with pytest.raises(OSError) as info:
        write_shard(tmp_path, 0, mono=mono, mix=mix, index=index)
    assert info.value.errno == error and info.value.filename == str(tmp_path / "mono-000000.npy")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_mix_onto_a_full_disk_fails_clearly_without_a_corrupt_shard(staged, tiny_disk):
    proc = subprocess.run(mix_args(staged, tiny_disk), capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert proc.returncode != 0
    assert "No space left on device" in proc.stderr and "mono-000000.npy" in proc.stderr
    left = [p.name for p in tiny_disk.rglob("*") if p.is_file()]
    assert not any(TMP_NAME.match(n) for n in left), left
    assert not any(re.match(r"(mono|mix|index)-\d+\.", n) for n in left), left


# ----------------------------------------------------------------------------------------------
# Broken inputs through snakemake up to the accounting table: each appears once, skipped with
# a reason; the counts add up.

SALTED = {  # file -> the skip reasons that are right for it (None: decodes, may be used)
    "zero.wav": {"empty file"},
    "junk.m4a": {"undecodable"},
    "trunc.m4a": {"undecodable", "too short", "empty audio"},
    "short.wav": {"too short"},
    "silent.wav": {"silent", "no voiced window"},
    "rate8k.wav": None,
    "six.wav": None,
    "sïngér_é.wav": None,
}


def salt_corpus(corpus: Path, out: Path) -> dict:
    """A copy of the demo corpus in DAMP / musdb layout with broken and odd inputs added."""
    import soundfile as sf
    import soxr

    from audio_fixtures import tone, write_aac

    shutil.copytree(corpus, out, ignore=shutil.ignore_patterns("truth"))  # corpus.json: demo marker
    damp = out / "damp"
    perfs = pd.read_csv(damp / "perfs.csv", dtype=str)
    tempo = pd.read_csv(damp / "tempo.csv", dtype={"perf_key": str})
    donor = perfs.iloc[0]
    y, sr = sf.read(next((damp / "audio").glob(f"{donor.perf_key}.*")), dtype="float32")
    audio = damp / "audio"
    (audio / "zero.wav").write_bytes(b"")
    (audio / "junk.m4a").write_bytes(b"this is not audio, only bytes with an m4a name " * 40)
    m4a = sorted(audio.glob("*.m4a"))[0]
    (audio / "trunc.m4a").write_bytes(m4a.read_bytes()[:400])
    sf.write(audio / "short.wav", y[: sr // 2], sr)
    sf.write(audio / "silent.wav", np.zeros_like(y), sr)
    sf.write(audio / "rate8k.wav", soxr.resample(y, sr, 8000), 8000)
    sf.write(audio / "six.wav", np.repeat(y[:, None], 6, axis=1), sr)
    sf.write(audio / "sïngér_é.wav", y, sr)
    sf.write(audio / "orphan.wav", y, sr)  # no metadata row
    ids = [Path(name).stem for name in SALTED] + ["ghost"]  # ghost: a row without audio
    rows = pd.DataFrame({"perf_key": ids, "user_id": donor.user_id, "song_id": donor.song_id})
    pd.concat([perfs, rows]).to_csv(damp / "perfs.csv", index=False)
    bpm = tempo.loc[tempo.perf_key == donor.perf_key, "tempo_bpm"].iloc[0]
    pd.concat([tempo, pd.DataFrame({"perf_key": ids, "tempo_bpm": bpm})]).to_csv(
        damp / "tempo.csv", index=False)
    write_aac(out / "musdb" / "test" / "broken.stem.mp4",  # 3 of the 5 stem streams
              [tone(5.0, channels=2, freq=f) for f in (110, 220, 330)])
    return {"metadata_ids": set(perfs.perf_key) | set(ids), "files": sorted(audio.iterdir())}


@pytest.fixture(scope="module")
def salted_run(small_corpus, tmp_path_factory):
    work = tmp_path_factory.mktemp("salted")
    salted = salt_corpus(small_corpus, work / "corpus")
    config = {"results": "results-salted", "seed": 7,
              "sources": {"vocals": {"type": "damp", "root": str(work / "corpus" / "damp"),
                                     "metadata": "perfs.csv", "tempo_table": "tempo.csv"},
                          "accompaniments": {"type": "demo", "root": str(work / "corpus")}},
              "shards": {"vocal_performances": 50, "accompaniment_tracks": 3},
              "split": {"unseen_singers": 4}}
    (work / "salted.yaml").write_text(json.dumps(config))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "account", "--cores", "2", "--snakefile",
         str(ROOT / "Snakefile"), "--directory", str(work / "run"), "--configfile",
         str(ROOT / "config" / "test.yaml"), str(work / "salted.yaml")],
        capture_output=True, text=True, cwd=ROOT, timeout=1200)
    logs = "".join(f"--- {p}\n{p.read_text()[-1500:]}" for p in (work / "run").rglob("*.log")
                   if "Traceback" in p.read_text())
    assert proc.returncode == 0, proc.stderr[-4000:] + logs
    (table_path,) = (work / "run" / "results-salted" / "accounting").rglob("accounting.parquet")
    return work, salted, pd.read_parquet(table_path)


@pytest.mark.slow
def test_every_input_appears_once_in_the_accounting_table(salted_run):
    work, salted, table = salted_run
    vocals = table[table["corpus"] == "vocals"]
    assert vocals["id"].is_unique
    assert set(vocals["id"]) == salted["metadata_ids"] | {"orphan"}
    files = {str(p.resolve()) for p in salted["files"]}
    assert set(vocals.loc[vocals["path"] != "", "path"]) == files
    acc = table[table["corpus"] == "accompaniments"]
    musdb = work / "corpus" / "musdb"
    tracks = {f"{p.parent.name}/{p.name.removesuffix('.stem.mp4')}"
              for p in musdb.glob("*/*.stem.mp4")}
    tracks |= {f"{p.parent.name}/{p.name}" for p in musdb.glob("*/*") if p.is_dir()}
    assert acc["id"].is_unique and set(acc["id"]) == tracks


@pytest.mark.slow
def test_broken_inputs_are_skipped_with_a_sensible_reason(salted_run):
    _, _, table = salted_run
    rows = table.set_index(["corpus", "id"])
    for name, reasons in SALTED.items():
        row = rows.loc[("vocals", Path(name).stem)]
        if reasons is None:  # odd but valid audio: decoded and analysed like any other
            assert row["status"] == "used" or row["stage"] in ("split", "join"), (name, dict(row))
        else:
            assert row["status"] == "skipped" and row["reason"] in reasons, (name, dict(row))
    assert rows.loc[("vocals", "orphan"), "reason"] == "missing metadata"
    assert rows.loc[("vocals", "ghost"), "reason"] == "missing file"
    assert rows.loc[("accompaniments", "test/broken"), "reason"] == "missing stream"
    assert (table.loc[table["status"] == "skipped", "reason"] != "").all()
    assert (table.loc[table["status"] == "used", "segments"] > 0).all()


@pytest.mark.slow
def test_accounting_counts_add_up(salted_run):
    work, _, table = salted_run
    assert set(table["status"]) == {"used", "skipped"}
    (csv,) = (work / "run" / "results-salted" / "accounting").rglob("accounting.csv")
    assert len(pd.read_csv(csv)) == len(table)
    (index,) = (work / "run" / "results-salted" / "datasets").rglob("index.parquet")
    index = pd.read_parquet(index)
    used = table[table["corpus"] == "vocals"].set_index("id")["segments"]
    assert used.sum() == len(index)
    assert (index.groupby("perf_id").size() == used[used > 0]).all()


# ----------------------------------------------------------------------------------------------
# Bad config: fails before any job, naming the key or the file (see also tests/test_config.py).

def _dry_run(tmp_path, config: dict) -> subprocess.CompletedProcess:
    (tmp_path / "bad.yaml").write_text(json.dumps(config))
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--snakefile",
         str(ROOT / "Snakefile"), "--directory", str(tmp_path / "run"), "--configfile",
         str(ROOT / "config" / "test.yaml"), str(tmp_path / "bad.yaml")],
        capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("sources, named", [
    ({"vocals": {"type": "damp", "root": "{tmp}", "metadata": "nope.csv"}},
     ["sources.vocals.metadata", "nope.csv"]),
    ({"vocals": {"type": "damp", "root": "{tmp}", "tempo_table": "tempi.csv"}},
     ["sources.vocals.tempo_table", "tempi.csv"]),
    ({"accompaniments": {"type": "musdb", "root": "{tmp}/no-musdb"}},
     ["sources.accompaniments.root", "no-musdb"]),
])
def test_missing_corpus_files_fail_before_any_job(tmp_path, sources, named):
    (tmp_path / "perfs.csv").write_text("perf_key,user_id,song_id\n")
    sources = json.loads(json.dumps(sources).replace("{tmp}", str(tmp_path)))
    proc = _dry_run(tmp_path, {"sources": sources})
    assert proc.returncode != 0
    for text in named:
        assert text in proc.stdout + proc.stderr
    assert not (tmp_path / "run" / "results-test").exists()


@pytest.mark.parametrize("section", ["svd", "tempo", "key", "mashup", "features", "train",
                                     "evaluate"])
def test_unknown_stage_parameter_fails_before_any_job(tmp_path, section):
    """A typo in e.g. train would otherwise surface only when training starts, hours in."""
    proc = _dry_run(tmp_path, {section: {"no_such_parameter": 1}})
    assert proc.returncode != 0 and "no_such_parameter" in proc.stdout + proc.stderr
