"""End to end on a tiny synthetic corpus: join -> mix -> card -> verify -> regenerate."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pipeline.cli import main
from pipeline.core.hashing import sha256_file
from pipeline.core.segment import SAMPLE_RATE, SEGMENT_SAMPLES
from pipeline.dataset.features import FeatureParams
from pipeline.mashup.mix import MashupParams, mix_shard
from pipeline.mashup.mixing import mix_pair
from pipeline.mashup.recipe import run_join
from pipeline.sources.accompaniments import load_accompaniment
from pipeline.sources.cache import CachedAccompaniments

TEMPO = 120.0
PERIOD = int(60 * SAMPLE_RATE / TEMPO)


def _notes(n, phase, rng, level):
    y = level * 0.01 * rng.standard_normal(n)
    t = np.arange(4000) / SAMPLE_RATE
    note = level * np.sin(2 * np.pi * 300 * t) * np.exp(-6 * t)
    for s in range(phase, n - 4000, PERIOD):
        y[s:s + 4000] += note
    return y.astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Vocal and accompaniment WAVs, manifests, split and hand-made analysis tables."""
    rng = np.random.default_rng(5)
    root = tmp_path_factory.mktemp("mash")
    vocal_rows, windows = [], []
    for p in range(6):
        perf = f"perf{p}"
        path = root / "DAMP" / "sing" / f"user {p // 2}" / f"{perf}.wav"  # nested, as DAMP
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, _notes(4 * SEGMENT_SAMPLES, 700 * p, rng, 0.2), SAMPLE_RATE, subtype="FLOAT")
        vocal_rows.append({"id": perf, "path": str(path), "singer": f"s{p // 2}", "song": "x",
                           "sha256": sha256_file(path), "shard": p % 2})
        # window starts on the vocal's beat grid, as the analysis stage writes them
        for j, start in enumerate([700 * p + PERIOD, 700 * p + 10 * PERIOD]):
            windows.append({"perf_id": perf, "singer": f"s{p // 2}", "song": "x", "start": start,
                            "voiced_ratio": 1.0, "rms": 0.1, "key": 4 if p < 5 else 9,
                            "key_strength": 0.8, "track_key": 4, "tempo_bpm": TEMPO if p else 97.0,
                            "tempo_source": "table", "tempo_confidence": 1.0, "shard": p % 2})
    acc_rows, segs, tracks, audio = [], [], [], []
    offset = 0
    for t in range(3):
        path = root / "musdb" / "train" / f"track{t}.wav"  # one split of the corpus
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, _notes(6 * SEGMENT_SAMPLES, 300, rng, 0.5), SAMPLE_RATE, subtype="FLOAT")
        row = {"id": f"track{t}", "path": str(path), "format": "file", "sha256": sha256_file(path)}
        acc_rows.append(row)
        y = load_accompaniment(row).astype(np.float32)
        beats = np.arange(300, len(y), PERIOD)
        tracks.append({"track_id": row["id"], "tempo_bpm": TEMPO, "tempo_confidence": 1.0,
                       "beat_samples": beats.tolist(), "track_key": 4, "audio_offset": offset,
                       "audio_length": len(y)})
        for b, s in enumerate(beats[::4]):
            segs.append({"track_id": row["id"], "beat_index": 4 * b, "start": int(s), "key": 4,
                         "key_strength": 0.9, "track_key": 4, "tempo_bpm": TEMPO + 0.3})
        audio.append(y)
        offset += len(y)
    ana = root / "analysis"
    (ana / "vocals").mkdir(parents=True)
    (ana / "accompaniments").mkdir(parents=True)
    w = pd.DataFrame(windows)
    for k in (0, 1):
        w[w["shard"] == k].drop(columns="shard").to_parquet(ana / "vocals" / f"{k}.windows.parquet")
    pd.DataFrame(segs).to_parquet(ana / "accompaniments" / "0.segments.parquet")
    pd.DataFrame(tracks).to_parquet(ana / "accompaniments" / "0.tracks.parquet")
    np.save(ana / "accompaniments" / "0.audio.npy", np.concatenate(audio))
    man = root / "manifests"
    man.mkdir()
    pd.DataFrame(vocal_rows).to_parquet(man / "vocals.parquet")
    pd.DataFrame(acc_rows).to_parquet(man / "accompaniments.parquet")
    pd.DataFrame({"id": [r["id"] for r in vocal_rows], "singer": [r["singer"] for r in vocal_rows],
                  "subset": ["train", "train", "valid", "train", "test_model", "test_query"]}
                 ).to_parquet(man / "split.parquet")
    return root


PARAMS = MashupParams(mixes_per_window=2, max_segment_uses=2, flac_per_singer=1)


def _cache(folder, shards=(0,)):
    return CachedAccompaniments(tracks=[folder / f"{k}.tracks.parquet" for k in shards],
                                audio=[folder / f"{k}.audio.npy" for k in shards])


def _build(corpus, out, params=PARAMS, snr_db=None):
    ana = corpus / "analysis"
    pairs = run_join(windows=sorted((ana / "vocals").glob("*.windows.parquet")),
                     segments=[ana / "accompaniments/0.segments.parquet"],
                     tracks=[ana / "accompaniments/0.tracks.parquet"],
                     vocals=corpus / "manifests/vocals.parquet",
                     accompaniments=corpus / "manifests/accompaniments.parquet",
                     split=corpus / "manifests/split.parquet", out=out, seed=3, params=params,
                     vocals_root=corpus / "DAMP", accompaniments_root=corpus / "musdb")
    vocals = pd.read_parquet(corpus / "manifests/vocals.parquet")
    for k in (0, 1):
        mix_shard(pairs=pairs, vocal_paths=dict(zip(vocals["id"], vocals["path"])),
                  accompaniments=_cache(ana / "accompaniments"), shard=k, out=out,
                  params=params, features=FeatureParams(), snr_db=snr_db)
    given = {"seed": 3, "mashup": {"mixes_per_window": 2, "max_segment_uses": 2, "flac_per_singer": 1}}
    assert main(["card", str(out), "--params", json.dumps(given)]) == 0
    return json.loads((out / "card.json").read_text())


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    return out, _build(corpus, out)


def _files(d):
    return {p.name: p.read_bytes() for p in sorted(d.glob("*-0000*.*"))}


def test_mixes_hold_tempo_key_and_snr(built):
    out, card = built
    assert card["effective_params"]["mashup"]["mixes_per_window"] == 2
    assert card["effective_params"]["mashup"]["snr_db"] == 0.0  # a default, filled in
    index = pd.read_parquet(out / "index.parquet")
    assert len(index) == card["counts"]["all"]["segments"] > 0
    assert (np.floor(index["tempo_bpm"] + 0.5) == np.floor(index["acc_tempo_bpm"] + 0.5)).all()
    assert (index["key"] == index["acc_key"]).all()
    assert (np.abs(index["snr_db"] - 0.0) < 0.5).all()
    assert "perf0" not in set(index["perf_id"])  # tempo 97: no accompaniment
    unmatched = pd.read_parquet(out / "unmatched.parquet")
    assert set(unmatched["reason"]) == {"no tempo match", "no key match"}
    assert len(list((out / "examples").rglob("*.flac"))) >= 3


def test_mixes_start_on_beats_and_never_clip(built, corpus):
    out, _ = built
    index = pd.read_parquet(out / "index.parquet")
    pairs = pd.read_parquet(out / "pairs.parquet").set_index("segment_id")
    # both sources start on a beat: the vocal window where analysis put it, the
    # accompaniment segment at a tracked beat (phase 300)
    assert (index["vocal_start"].to_numpy() == pairs.loc[index["segment_id"], "vocal_start"]).all()
    phase = {f"perf{p}": 700 * p for p in range(6)}
    assert all((r.vocal_start - phase[r.perf_id]) % PERIOD == 0 for r in index.itertuples())
    assert ((index["acc_start"] - 300) % PERIOD == 0).all()
    pairs = pairs.reset_index()
    r = pairs.iloc[0]
    audio = np.load(corpus / "analysis/accompaniments/0.audio.npy")
    row = index.set_index("segment_id").loc[r["segment_id"]]
    y, _ = sf.read(corpus / "DAMP" / r["vocal_path"], dtype="float32")
    tracks = pd.read_parquet(corpus / "analysis/accompaniments/0.tracks.parquet").set_index("track_id")
    acc = audio[tracks.loc[r["acc_track"], "audio_offset"] + r["acc_start"]:][:SEGMENT_SAMPLES]
    res = mix_pair(y[row["vocal_start"]:row["vocal_start"] + SEGMENT_SAMPLES], acc)
    assert np.max(np.abs(res.mix)) <= 0.99 + 1e-6
    assert res.vocal_gain == pytest.approx(row["vocal_gain"])


def test_two_runs_are_byte_identical(built, corpus, tmp_path):
    out, _ = built
    _build(corpus, tmp_path)
    assert _files(tmp_path) == _files(out)
    assert (tmp_path / "pairs.parquet").read_bytes() == (out / "pairs.parquet").read_bytes()


def test_snr_override_through_the_cli(built, corpus, tmp_path):
    out, _ = built
    ana = corpus / "analysis"
    code = main(["mix", "--pairs", str(out / "pairs.parquet"), "--vocals",
                 str(corpus / "manifests/vocals.parquet"),
                 "--tracks", str(ana / "accompaniments/0.tracks.parquet"),
                 "--audio", str(ana / "accompaniments/0.audio.npy"),
                 "--shard", "000000", "--out", str(tmp_path), "--subsets", "test_model", "test_query",
                 "--snr-db", "-5"])
    assert code == 0
    index = pd.read_parquet(tmp_path / "index-000000.parquet")
    assert set(index["subset"]) <= {"test_model", "test_query"} and len(index) > 0
    assert (np.abs(index["snr_db"] + 5) < 0.5).all()


def test_recipe_paths_are_relative_to_the_corpus_roots(built):
    out, _ = built
    recipe = pd.read_parquet(out / "pairs.parquet")
    assert set(recipe["vocal_path"].str.split("/").str[0]) == {"sing"}
    assert recipe["vocal_path"].str.match(r"^sing/user \d/perf\d\.wav$").all()
    assert set(recipe["acc_path"].str.split("/").str[0]) == {"train"}


def test_recipe_regenerates_identical_shards_from_copies_elsewhere(built, corpus, tmp_path):
    """Another lab: the same corpora, nested the same way, under other roots."""
    import shutil

    out, _ = built
    shutil.copytree(corpus / "DAMP", tmp_path / "data" / "DAMP")
    shutil.copytree(corpus / "musdb", tmp_path / "data" / "musdb18hq")
    code = main(["regenerate", "--recipe", str(out / "pairs.parquet"), "--vocals-root",
                 str(tmp_path / "data" / "DAMP"), "--accompaniments-root",
                 str(tmp_path / "data" / "musdb18hq"), "--out", str(tmp_path / "re"),
                 "--card", str(out / "card.json")])
    assert code == 0
    assert _files(tmp_path / "re") == _files(out)
    assert main(["verify", str(tmp_path / "re")]) == 0


def test_regenerate_refuses_a_changed_source(built, corpus, tmp_path):
    out, _ = built
    import shutil

    copy = tmp_path / "DAMP"
    shutil.copytree(corpus / "DAMP", copy)
    changed = copy / "sing" / "user 1" / "perf3.wav"
    y, sr = sf.read(changed, dtype="float32")
    sf.write(changed, y * 0.5, sr, subtype="FLOAT")
    code = main(["regenerate", "--recipe", str(out / "pairs.parquet"), "--vocals-root", str(copy),
                 "--accompaniments-root", str(corpus / "musdb"), "--out", str(tmp_path / "re")])
    assert code == 2
    assert not (tmp_path / "re" / "mono-000000.npy").exists()


def test_mix_reads_only_the_analysis_shards_it_is_given(built, corpus, tmp_path):
    """A stale shard of an earlier, larger shard count (same track ids, other audio) left in
    the analysis folder does not change the mixes: the mix job reads the files it is given."""
    import shutil

    out, _ = built
    ana = tmp_path / "accompaniments"
    shutil.copytree(corpus / "analysis/accompaniments", ana)
    tracks = pd.read_parquet(ana / "0.tracks.parquet")
    np.save(ana / "1.audio.npy", np.zeros(int(tracks["audio_length"].sum()), np.float32))
    tracks.to_parquet(ana / "1.tracks.parquet")  # the same tracks, silent: stale
    code = main(["mix", "--pairs", str(out / "pairs.parquet"), "--vocals",
                 str(corpus / "manifests/vocals.parquet"),
                 "--tracks", str(ana / "0.tracks.parquet"), "--audio", str(ana / "0.audio.npy"),
                 "--shard", "0", "--out", str(tmp_path / "ds"),
                 "--params", json.dumps(dataclasses.asdict(PARAMS))])
    assert code == 0
    for name in ("mono-000000.npy", "mix-000000.npy", "index-000000.parquet"):
        assert (tmp_path / "ds" / name).read_bytes() == (out / name).read_bytes(), name
