"""Broken inputs and bad config: every input accounted for, bad values fail before any job.

A salted copy of the small demo corpus (truncated, empty, silent and junk files, missing
metadata, and odd but valid 8 kHz, 6-channel and unicode-named files) runs through snakemake
up to the accounting table: the broken ones are skipped with a reason, the odd ones reach the
dataset. Bad config values and missing corpus paths must fail at once, naming the key or the
file.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


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


SALTED_SINGER = "u_salted"
ODD = [Path(name).stem for name, reasons in SALTED.items() if reasons is None]


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
    # A singer of their own: with fewer tracks than an unseen singer needs, the split makes
    # it a training singer and keeps every track (under the donor's singer an odd file could
    # lose the draw for that singer's test tracks and never reach the dataset).
    rows = pd.DataFrame({"perf_key": ids, "user_id": SALTED_SINGER, "song_id": donor.song_id})
    pd.concat([perfs, rows]).to_csv(damp / "perfs.csv", index=False)
    bpm = tempo.loc[tempo.perf_key == donor.perf_key, "tempo_bpm"].iloc[0]
    pd.concat([tempo, pd.DataFrame({"perf_key": ids, "tempo_bpm": bpm})]).to_csv(
        damp / "tempo.csv", index=False)
    write_aac(out / "musdb" / "test" / "broken.stem.mp4",  # 3 of the 5 stem streams
              [tone(5.0, channels=2, freq=f) for f in (110, 220, 330)])
    return {"metadata_ids": set(perfs.perf_key) | set(ids), "files": sorted(audio.iterdir()),
            "donor": donor.perf_key}


@pytest.fixture(scope="module")
def salted_run(small_corpus, tmp_path_factory):
    work = tmp_path_factory.mktemp("salted")
    salted = salt_corpus(small_corpus, work / "corpus")
    config = {"results": "results-salted", "seed": 7,
              "sources": {"vocals": {"type": "damp", "root": str(work / "corpus" / "damp"),
                                     "metadata": "perfs.csv", "tempo_table": "tempo.csv"},
                          "accompaniments": {"type": "demo", "root": str(work / "corpus")}},
              "shards": {"vocal_performances": 50, "accompaniment_tracks": 3},
              "split": {"unseen_singers": 2}}  # 2 singers have 10 paired performances (3 before the homes)
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
        if reasons is None:  # odd but valid audio: used like any other (next test)
            assert row["status"] == "used" and row["segments"] > 0, (name, dict(row))
        else:
            assert row["status"] == "skipped" and row["reason"] in reasons, (name, dict(row))
    assert rows.loc[("vocals", "orphan"), "reason"] == "missing metadata"
    assert rows.loc[("vocals", "ghost"), "reason"] == "missing file"
    assert rows.loc[("accompaniments", "test/broken"), "reason"] == "missing stream"
    assert (table.loc[table["status"] == "skipped", "reason"] != "").all()
    assert (table.loc[table["status"] == "used", "segments"] > 0).all()


@pytest.mark.slow
def test_odd_but_valid_inputs_yield_the_donors_windows_and_reach_the_dataset(salted_run):
    """The 8 kHz, 6-channel and unicode-named files carry the donor's audio (resampled,
    repeated on 6 channels, copied): analysis must find the donor's windows in the last two
    (and at least half as many in the band-limited one), and each must have index rows."""
    work, salted, _ = salted_run
    results = work / "run" / "results-salted"
    windows = pd.concat([pd.read_parquet(p) for p in
                         sorted((results / "analysis" / "vocals").glob("*.windows.parquet"))])
    donor = windows.loc[windows["perf_id"] == salted["donor"], "start"].tolist()
    assert len(donor) >= 3
    (index,) = (results / "datasets").rglob("index.parquet")
    rows = pd.read_parquet(index).groupby("perf_id").size()
    for odd in ODD:
        found = windows.loc[windows["perf_id"] == odd, "start"].tolist()
        if odd == "rate8k":  # no band above 4 kHz any more: the same voice, windows may move
            assert len(found) >= len(donor) // 2, (odd, found, donor)
        else:  # the same samples (a copy; six equal channels averaged)
            assert found == donor, odd
        assert rows.get(odd, 0) > 0, (odd, "no dataset rows")
    assert set(pd.read_parquet(index).set_index("perf_id").loc[ODD, "singer"]) == {SALTED_SINGER}


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
