"""Vocal tempo (#14 defect 7): the authors' DAMP tempo table as published, and the
confidence gate on tempi estimated from a-cappella audio."""

import numpy as np
import pandas as pd
import pytest
from audio_fixtures import tone, write_wav
from synth_signals import sung_phrases

from pipeline.analysis.stage import analyze_vocal, analyze_vocal_shard
from pipeline.analysis.tempo import TempoParams
from pipeline.core.errors import AudioError, ConfigError, PipelineError
from pipeline.core.music import key_index
from pipeline.core.segment import SAMPLE_RATE as SR
from pipeline.report.accounting import account
from pipeline.sources.vocals import VocalSource, damp_candidates

# DAMP names each file by its perf_key, <plyrid>_<performance>
KEYS = ["360_35435057", "360_26934219", "67982109_30599969", "67982109_30565735"]


def _damp(tmp_path, tempo_csv: str, *, tempo_name="damp_tempo.csv"):
    for k in KEYS:
        write_wav(tmp_path / "sing" / k.split("_")[0] / f"{k}.wav", tone(0.5))
    pd.DataFrame({"perf_key": KEYS, "plyrid": [k.split("_")[0] for k in KEYS],
                  "songid": ["s1", "s2", "s3", "s4"]}).to_csv(tmp_path / "perfs.csv", index=False)
    (tmp_path / tempo_name).write_text(tempo_csv, encoding="utf-8")
    return tmp_path


META = {"id": "perf_key", "singer": "plyrid", "song": "songid"}


def test_authors_published_table_is_read_as_it_is(tmp_path):
    # The authors' header and style (vocalMashup/damp_tempo.csv): perf_key,song_name,tempo,
    # three decimals, song names with spaces and a trailing blank; a spreadsheet's BOM; a row
    # for a performance this copy lacks; one performance absent from the table.
    csv = ("\ufeffperf_key,song_name,tempo\n"
           "360_35435057,hey there delilah,103.973\n"
           "360_26934219,kiss me ,149.936\n"
           "67982109_30599969,\"super bass, remix\",126.991\n"
           "99999999_1,not in this copy,80.0\n")
    root = _damp(tmp_path, csv)
    src = VocalSource(type="damp", root=str(root), metadata="perfs.csv",
                      tempo_table="damp_tempo.csv", columns=META, tempo_columns={"bpm": "tempo"})
    rows, skipped = damp_candidates(src)
    tempo = rows.set_index("id")["tempo_bpm"]
    assert tempo["360_35435057"] == 103.973 and tempo["360_26934219"] == 149.936
    assert tempo["67982109_30599969"] == 126.991
    assert np.isnan(tempo["67982109_30565735"])  # not in the table: estimated later
    assert skipped.empty and len(rows) == 4


def test_tempo_table_with_its_own_column_names(tmp_path):
    csv = ("Song , Performance Key , BPM , source\n"
           "a, 360_35435057 , 98.5 ,spotify\n"
           "b,360_26934219,,spotify\n"  # an empty cell: no table tempo
           "a,360_35435057,98.50,musicbrainz\n")  # an identical repeat is accepted
    root = _damp(tmp_path, csv, tempo_name="tempi.csv")
    src = VocalSource(type="damp", root=str(root), metadata="perfs.csv", tempo_table="tempi.csv",
                      columns=META, tempo_columns={"id": "Performance Key", "bpm": "BPM"})
    tempo = damp_candidates(src)[0].set_index("id")["tempo_bpm"]
    assert tempo["360_35435057"] == 98.5 and tempo.drop("360_35435057").isna().all()


@pytest.mark.parametrize("csv, match", [
    ("perf_key,song_name\n360_35435057,x\n", r"damp_tempo\.csv: tempo table missing column.*tempo_bpm"),
    ("perf_key,tempo_bpm\n360_35435057,fast\n360_26934219,120\n", r"damp_tempo\.csv: .*line 2 .*'fast'"),
    ("perf_key,tempo_bpm\n360_35435057,120\n360_26934219,0\n", r"damp_tempo\.csv: .*line 3 .*'0'"),
    ("perf_key,tempo_bpm\n360_35435057,120\n360_35435057,98\n", r"damp_tempo\.csv: 1 performance id.*different tempi"),
])
def test_bad_tempo_table_is_a_clear_error(tmp_path, csv, match):
    root = _damp(tmp_path, csv)
    src = VocalSource(type="damp", root=str(root), metadata="perfs.csv",
                      tempo_table="damp_tempo.csv", columns=META)
    with pytest.raises(PipelineError, match=match):
        damp_candidates(src)


def sustained(seconds: float = 20.0) -> np.ndarray:
    """Held notes joined by 0.3 s glides, one continuous phase: no onsets, no tempo."""
    t = np.arange(int(seconds * SR)) / SR
    f = np.array([220.0, 247.0, 262.0, 220.0, 196.0])[np.minimum((t / 4.0).astype(int), 4)]
    k = int(0.3 * SR)
    f = np.convolve(np.pad(f, (k // 2, k - k // 2 - 1), mode="edge"), np.ones(k) / k, "valid")
    phase = 2 * np.pi * np.cumsum(f) / SR
    return sum(0.2 / h * np.sin(h * phase) for h in (1, 2, 3)).astype(np.float32)


def clear_onsets() -> np.ndarray:
    return sung_phrases(key_index("E minor"), 24.0, phrase_s=8.0, gap_s=1.0)[0]  # 120 BPM


def test_low_confidence_estimate_is_rejected_clear_one_kept():
    with pytest.raises(AudioError) as err:
        analyze_vocal(sustained())
    assert err.value.reason == "low tempo confidence" and "< tempo.min_confidence" in err.value.detail
    res = analyze_vocal(clear_onsets())
    assert res.tempo_source == "estimated" and res.tempo_confidence >= TempoParams().min_confidence
    assert res.tempo_bpm == pytest.approx(120.0, rel=0.04)
    # a table tempo has confidence 1 and is never rejected; 0 turns the gate off
    table = analyze_vocal(sustained(), table_bpm=100.0)
    assert table.tempo_source == "table" and table.tempo_confidence == 1.0
    assert analyze_vocal(sustained(), tempo=TempoParams(min_confidence=0.0)).tempo_source == "estimated"
    with pytest.raises(ConfigError, match="min_confidence"):
        TempoParams(min_confidence=1.5)


def test_low_confidence_reason_reaches_skipped_table_and_accounting(tmp_path):
    paths = [write_wav(tmp_path / "held.wav", sustained()[:, None], sr=SR),
             write_wav(tmp_path / "sung.wav", clear_onsets()[:, None], sr=SR)]
    manifest = pd.DataFrame({"id": ["held", "sung"], "path": [str(p) for p in paths],
                             "singer": "s", "song": "x", "tempo_bpm": np.nan, "shard": 0})
    windows, skipped = analyze_vocal_shard(manifest)
    assert set(windows["perf_id"]) == {"sung"}
    row = skipped.set_index("id").loc["held"]
    assert row["reason"] == "low tempo confidence" and row["stage"] == "analysis"
    assert "confidence" in row["detail"]
    acc = account(manifest, pd.DataFrame(columns=["id", "path"]), skipped,
                  pd.DataFrame({"id": ["held", "sung"], "subset": "train"}), pd.DataFrame())
    held = acc.set_index("id").loc["held"]
    assert (held["status"], held["stage"], held["reason"]) == ("skipped", "analysis",
                                                               "low tempo confidence")
