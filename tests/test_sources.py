"""Ingest: adapters, probing, skip records, shards; every input accounted for."""

import numpy as np
import pandas as pd
import pytest
from audio_fixtures import tone, write_aac, write_wav

from pipeline.core import audio
from pipeline.core.errors import AudioError, PipelineError
from pipeline.core.segment import SAMPLE_RATE
from pipeline.sources.accompaniments import AccompanimentSource, load_accompaniment
from pipeline.sources.ingest import ShardParams, build_manifests
from pipeline.sources.vocals import VocalSource


@pytest.fixture()
def corpora(tmp_path):
    damp = tmp_path / "damp"
    rows = []
    for s in range(3):
        for p in range(4):
            key = f"p{s}{p}"
            rows.append((key, f"u{s}", f"song{p}"))
            y = tone(4.0, freq=200 + 20 * s + 5 * p)
            if p == 0:
                write_aac(damp / "audio" / f"{key}.m4a", [y])
            else:
                write_wav(damp / "audio" / f"{key}.wav", y)
    # Broken inputs: zero bytes, non-audio bytes, too short, truncated m4a, unicode name,
    # 6 channels at 8 kHz, and an audio file without a metadata row.
    (damp / "audio" / "zero.wav").write_bytes(b"")
    (damp / "audio" / "junk.m4a").write_bytes(b"this is not audio" * 50)
    write_wav(damp / "audio" / "short.wav", tone(1.0))
    good = write_aac(damp / "audio" / "trunc.m4a", [tone(4.0)])
    good.write_bytes(good.read_bytes()[:300])
    write_wav(damp / "audio" / "sïngér_é.wav", tone(4.0))
    write_wav(damp / "audio" / "six.wav", tone(4.0, sr=8000, channels=6), sr=8000)
    write_wav(damp / "audio" / "orphan.wav", tone(4.0))
    for key in ("zero", "junk", "short", "trunc", "sïngér_é", "six"):
        rows.append((key, "u9", "songx"))
    pd.DataFrame(rows, columns=["perf_key", "user_id", "song_id"]).to_csv(damp / "perfs.csv", index=False)
    pd.DataFrame({"perf_key": [r[0] for r in rows], "tempo_bpm": 100.0}).to_csv(damp / "tempo.csv", index=False)

    musdb = tmp_path / "musdb"
    for t in range(2):
        for stem in ("mixture", "drums", "bass", "other", "vocals"):
            write_wav(musdb / "train" / f"hq{t}" / f"{stem}.wav", tone(5.0, freq=110 * (t + 1), channels=2))
    write_aac(musdb / "test" / "st.stem.mp4", [tone(5.0, channels=2, freq=f) for f in (100, 200, 300, 400, 500)])
    write_aac(musdb / "test" / "broken.stem.mp4", [tone(5.0, channels=2) for _ in range(3)])
    (musdb / "train" / "nostems").mkdir()
    (musdb / "train" / "nostems" / "mixture.wav").write_bytes(b"")
    return tmp_path


def test_ingest_accounts_for_every_input(corpora):
    vs = VocalSource(type="damp", root=str(corpora / "damp"), metadata="perfs.csv", tempo_table="tempo.csv")
    acs = AccompanimentSource(type="musdb", root=str(corpora / "musdb"))
    v, a, skipped = build_manifests(vs, acs, ShardParams(vocal_performances=5))
    assert sorted(v["id"]) == sorted([f"p{s}{p}" for s in range(3) for p in range(4)] + ["sïngér_é", "six"])
    assert set(v["shard"]) == {0, 1, 2} and v.groupby("shard").size().max() == 5
    reasons = dict(zip(skipped["id"], skipped["reason"]))
    assert reasons["zero"] == "empty file"
    assert reasons["junk"] == "undecodable"
    assert reasons["short"] == "too short"
    assert reasons["trunc"] in ("undecodable", "too short", "empty audio")
    assert reasons["orphan"] == "missing metadata"
    assert reasons["test/broken"] == "missing stream"
    # every vocal input (12 good + 7 odd files) appears exactly once
    vocal_ids = list(v["id"]) + list(skipped.loc[skipped["corpus"] == "vocals", "id"])
    assert len(vocal_ids) == len(set(vocal_ids)) == 19
    assert list(a["id"]) == ["test/st"]
    six = v.set_index("id").loc["six"]
    assert six["channels"] == 6 and six["sample_rate"] == 8000
    assert v["tempo_bpm"].eq(100.0).all() and v["sha256"].str.len().eq(64).all()


def test_musdb_hq_and_stems_decode_to_the_accompaniment(corpora):
    acs = AccompanimentSource(type="demo", root=str(corpora))
    (corpora / "musdb").rename(corpora / "musdb")
    v_src = VocalSource(type="damp", root=str(corpora / "damp"))
    _, a, skipped = build_manifests(v_src, acs, ShardParams())
    assert set(a["format"]) == {"hq", "stems"}
    assert skipped.set_index("id").loc["train/nostems", "reason"] == "missing stem"
    row = a.set_index("id").loc["test/st"].to_dict() | {"id": "test/st"}
    y = load_accompaniment(row)
    # drums+bass+other = 200+300+400 Hz tones: the spectrum peaks there, not at 100 or 500 Hz
    spec = np.abs(np.fft.rfft(y[: SAMPLE_RATE * 2]))
    freqs = np.fft.rfftfreq(SAMPLE_RATE * 2, 1 / SAMPLE_RATE)
    power = {f: spec[np.argmin(np.abs(freqs - f))] for f in (100, 200, 300, 400, 500)}
    assert min(power[200], power[300], power[400]) > 20 * max(power[100], power[500])


def test_duplicate_ids_and_missing_columns_are_clear_errors(tmp_path):
    write_wav(tmp_path / "a.wav", tone(4.0))
    pd.DataFrame({"perf_key": ["a", "a"], "user_id": ["u", "v"], "song_id": ["s", "s"]}).to_csv(tmp_path / "perfs.csv", index=False)
    with pytest.raises(PipelineError, match="duplicate performance id"):
        build_manifests(VocalSource(type="damp", root=str(tmp_path)),
                        AccompanimentSource(type="folder", root=str(tmp_path)), ShardParams())
    pd.DataFrame({"key": ["a"], "user": ["u"]}).to_csv(tmp_path / "perfs.csv", index=False)
    with pytest.raises(PipelineError, match="missing column"):
        build_manifests(VocalSource(type="damp", root=str(tmp_path)),
                        AccompanimentSource(type="folder", root=str(tmp_path)), ShardParams())


def test_load_audio_resamples_and_downmixes(tmp_path):
    p = write_wav(tmp_path / "x.wav", tone(2.0, sr=8000, freq=440, channels=6), sr=8000)
    y = audio.load_audio(p)
    assert y.dtype == np.float32 and abs(len(y) - 2 * SAMPLE_RATE) <= 1
    spec = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spec) * SAMPLE_RATE / len(y) - 440) < 2
    m = write_aac(tmp_path / "x.m4a", [tone(2.0, freq=440)])
    assert abs(audio.probe_audio(m).duration_s - 2.0) < 0.1
    with pytest.raises(AudioError, match="empty file"):
        (tmp_path / "e.m4a").write_bytes(b"")
        audio.load_audio(tmp_path / "e.m4a")
