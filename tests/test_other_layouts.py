"""The data DAG on corpora laid out as a user's, not as our demo writes them.

Vocals: a ``folder`` corpus listed by a CSV, each singer's performances named ``take1``,
``take1-2``, ``take1 (2)``, ``take1+3``, ... (ids that sort one way as performance ids and
another inside segment ids).  Accompaniments: the ``musdb-hq`` layout, one split only.
Slow: one snakemake run up to the dataset card, shared by the tests here.  Every shard row is
checked against the log-mel of the audio its index row names.
"""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workdir_runs import run_target

from pipeline.core.audio import load_audio
from pipeline.core.segment import SEGMENT_SAMPLES
from pipeline.dataset.features import FeatureParams, log_mel
from pipeline.dataset.reader import DatasetVersion
from pipeline.mashup.mixing import mix_pair
from pipeline.sources.accompaniments import load_accompaniment

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
TAKES = ["take1", "take1-2", "take1 (2)", "take1+3", "take10", "Take 2", "take_3", "tåke4",
         "take1.5", "take#6"]


@pytest.fixture(scope="module")
def layout(small_corpus, tmp_path_factory):
    """Our small demo audio, re-laid out: folder vocals with awkward names, musdb-hq train."""
    work = tmp_path_factory.mktemp("layouts")
    perfs = pd.read_csv(small_corpus / "damp" / "perfs.csv", dtype=str)
    tempo = pd.read_csv(small_corpus / "damp" / "tempo.csv", dtype={"perf_key": str})
    perfs = perfs.merge(tempo, on="perf_key")
    rows = []
    for singer, group in perfs.groupby("user_id", sort=True):
        for take, rec in zip(TAKES, group.sort_values("perf_key").to_dict("records")):
            (src,) = (small_corpus / "damp" / "audio").glob(f"{rec['perf_key']}.*")
            rel = Path(f"singer {singer}") / f"{take}{src.suffix}"
            (work / "vocals" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, work / "vocals" / rel)
            rows.append({"path": rel.as_posix(), "singer": singer, "song": rec["song_id"],
                         "tempo_bpm": rec["tempo_bpm"], "id": f"{singer}/{take}",
                         "demo_key": rec["perf_key"]})
    listing = pd.DataFrame(rows)
    listing.drop(columns="demo_key").to_csv(work / "vocals" / "listing.csv", index=False)
    shutil.copytree(small_corpus / "musdb" / "train", work / "musdb18hq" / "train",
                    ignore=shutil.ignore_patterns("*.stem.mp4"))
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    config["results"] = "results-layouts"
    # 10 takes a singer, so unseen singers with 3 + 2 of them paired (the split draws among
    # the performances the join pairs; this test is about layouts, not the protocol)
    config["split"].update(unseen_singers=2, model_tracks=3, query_tracks=2)
    config["sources"] = {
        "vocals": {"type": "folder", "root": str(work / "vocals"), "metadata": "listing.csv"},
        "accompaniments": {"type": "musdb-hq", "root": str(work / "musdb18hq"),
                           "splits": ["train"]}}
    results = work / "results-layouts"
    dataset = run_target(work, config)
    return work, results, dataset, listing


def test_every_shard_row_is_the_log_mel_of_the_audio_its_index_row_names(layout):
    work, results, dataset, _ = layout
    ds = DatasetVersion(dataset)
    vocals = pd.read_parquet(results / "manifests" / "vocals.parquet").set_index("id")
    accs = pd.read_parquet(results / "manifests" / "accompaniments.parquet").set_index("id")
    card = json.loads((dataset / "card.json").read_text())
    features = FeatureParams(**{k: card["mel"][k] for k in ("compression", "amin")})
    mashup = card["effective_params"]["mashup"]
    index = ds.index
    assert len(index) > 200
    assert index["perf_id"].str.contains(r"take1 \(2\)|take1-2|take1\+3", regex=True).sum() > 0
    audio, acc_audio = {}, {}
    checked = 0
    for (domain_rows, mono, mix) in _rows_with_mels(ds):
        for row, mono_mel, mix_mel in zip(domain_rows.itertuples(), mono, mix):
            if row.perf_id not in audio:
                audio[row.perf_id] = load_audio(vocals.loc[row.perf_id, "path"])
            if row.acc_track not in acc_audio:
                acc_audio[row.acc_track] = load_accompaniment(
                    accs.loc[row.acc_track].to_dict() | {"id": row.acc_track})
            vocal = audio[row.perf_id][row.vocal_start:row.vocal_start + SEGMENT_SAMPLES]
            acc = acc_audio[row.acc_track][row.acc_start:row.acc_start + SEGMENT_SAMPLES]
            expect_mono = log_mel(vocal[None], **dataclasses.asdict(features), dtype=np.float16)[0]
            assert np.array_equal(mono_mel, expect_mono), row.segment_id
            mixed = mix_pair(vocal, acc, snr_db=mashup["snr_db"],
                             active_threshold=mashup["active_threshold"],
                             target_rms=mashup["target_rms"], peak_limit=mashup["peak_limit"])
            assert mixed.vocal_gain == row.vocal_gain and mixed.snr_db == row.snr_db
            expect_mix = log_mel(mixed.mix[None], **dataclasses.asdict(features), dtype=np.float16)[0]
            assert np.array_equal(mix_mel, expect_mix), row.segment_id
            checked += 1
    assert checked == len(index)


def _rows_with_mels(ds, chunk=256):
    """(index rows, stored mono float16, stored mix float16) in chunks, every row once."""
    index = ds.index
    for start in range(0, len(index), chunk):
        part = index.iloc[start:start + chunk]
        shards, rows = part["shard"].to_numpy(), part["row"].to_numpy()
        mono = np.stack([ds.reader.shard("mono", k)[r] for k, r in zip(shards, rows)])
        mix = np.stack([ds.reader.shard("mix", k)[r] for k, r in zip(shards, rows)])
        yield part, mono, mix


def test_awkward_names_are_ingested_and_reach_the_dataset(layout):
    _, results, dataset, listing = layout
    manifest = pd.read_parquet(results / "manifests" / "vocals.parquet")
    assert sorted(manifest["id"]) == sorted(listing["id"])  # every take, none renamed
    index = pd.read_parquet(dataset / "index.parquet")
    used = set(index["perf_id"].str.split("/").str[1])
    assert {"take1", "take1-2", "take1 (2)", "take1+3"} <= used
    # within a shard, rows are in segment_id order, which is not performance order here
    for _, shard in index.groupby("shard"):
        assert list(shard["segment_id"]) == sorted(shard["segment_id"])
    order = index.sort_values("segment_id")["perf_id"].drop_duplicates().tolist()
    assert order != sorted(order)


def test_recipe_paths_are_relative_to_the_configured_roots(layout):
    work, _, dataset, listing = layout
    recipe = pd.read_parquet(dataset / "pairs.parquet")
    assert set(recipe["vocal_path"]) <= set(listing["path"])
    assert recipe["acc_path"].str.startswith("train/").all()
    for rel in recipe["acc_path"].unique():
        assert (work / "musdb18hq" / rel).is_dir()
