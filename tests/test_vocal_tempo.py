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


# --- vocal tempo from note onsets (#15 point 6, pipeline.analysis.vocal_tempo) -------------

def legato_melody(bpm: float, seconds: float = 30.0, seed: int = 0) -> np.ndarray:
    """Phrases of legato notes (quarters, eighths, halves, dotted quarters) with 2-beat rests.

    Inside a phrase the amplitude is constant and the phase continuous: a note starts only
    as a change of pitch, which the energy flux alone hardly sees.
    """
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    f0 = np.zeros(int(seconds * SR))
    t = beat
    while t < seconds - 4 * beat:
        for length in rng.choice([1.0, 0.5, 2.0, 1.5, 0.5, 1.0], size=8):
            a, b = int(t * SR), min(int((t + length * beat) * SR), len(f0))
            f0[a:b] = 220.0 * 2 ** (rng.choice([0, 2, 4, 5, 7, 9]) / 12)
            t += length * beat
        t += 2 * beat
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voiced = f0 > 0
    k = int(0.02 * SR)  # 20 ms fades at phrase edges only
    env = np.convolve(voiced.astype(float), np.ones(k) / k, mode="same")
    return (0.2 * env * sum(np.sin(h * phase) / h for h in (1, 2, 3, 4))).astype(np.float32)


def test_pitch_flux_marks_a_pitch_change_at_constant_loudness():
    from pipeline.analysis.chroma import spectrogram
    from pipeline.analysis.vocal_tempo import pitch_flux

    t = np.arange(2 * SR) / SR
    f0 = np.where(t < 1.0, 220.0, 262.0)
    y = 0.2 * np.sin(2 * np.pi * np.cumsum(f0) / SR)
    flux = pitch_flux(spectrogram(y, n_fft=2048, power=1.0), n_fft=2048)
    change = int(round(SR / 512))  # frame of t = 1 s
    assert abs(int(np.argmax(flux[5:-5])) + 5 - change) <= 2  # edges excluded
    steady = np.r_[flux[5:change - 4], flux[change + 4:-5]]
    assert flux[change - 2:change + 3].max() > 10 * steady.max()


def test_tempo_salience_of_a_pulse_train_peaks_at_its_tempo():
    from pipeline.analysis.vocal_tempo import tempo_salience

    onset = np.zeros(3000)
    onset[::25] = 1.0  # 103.4 BPM at hop 512
    bpm = 60.0 * SR / (512 * 25)
    sal = tempo_salience(onset, np.array([bpm, bpm / 2, 2 * bpm, 137.0]))
    assert sal[0] == pytest.approx(1.0, abs=0.02)  # every beat lag and its multiples
    assert sal[1] == pytest.approx(1.0, abs=0.02)  # half tempo: a pulse alone cannot tell
    # double tempo: only its even lags (2 and 4 half-beats) land on pulses; after the mean
    # (p = 1/25) is removed an off-pulse lag correlates -p / (1 - p)
    off = -(1 / 25) / (1 - 1 / 25)
    assert sal[2] == pytest.approx((0.5 + 0.25 + (1 + 1 / 3) * off) / (1 + 0.5 + 1 / 3 + 0.25),
                                   abs=0.005)
    assert sal[3] < 0.1


@pytest.mark.parametrize("bpm, octave_ok", [(88.0, False), (100.0, False), (60.0, True),
                                             (72.0, True), (150.0, True)])
def test_legato_melodies(bpm, octave_ok):
    """Within 4 % at 88 and 100 BPM; at 60, 72 and 150 BPM the melodies (eighths to halves)
    are read at double or half tempo, which the octave-tolerant join tier accepts.  Known
    miss, not tested: 165 BPM reads as 110 (2/3)."""
    from pipeline.analysis.tempo import vocal_tempo

    est = vocal_tempo(legato_melody(bpm, seed=int(bpm)), vocal_source="estimate")
    ratios = (1.0, 2.0, 0.5) if octave_ok else (1.0,)
    assert any(abs(est.tempo_bpm / (bpm * r) - 1) <= 0.04 for r in ratios), est.tempo_bpm
    assert est.confidence >= TempoParams().min_confidence
    assert len(est.beat_samples) > 10


@pytest.fixture(scope="module")
def tempo_corpus(tmp_path_factory):
    """24 demo performances of 30-40 s at 80, 100 and 150 BPM (away from the 120 BPM prior)."""
    from pipeline.demo import generate_corpus
    from pipeline.demo.params import DemoParams

    root = tmp_path_factory.mktemp("tempo_corpus")
    generate_corpus(root, DemoParams(
        singers=6, performances_per_singer=4, singers_per_song=2, duration_s=(30.0, 40.0),
        m4a_share=0.0, tracks=3, track_duration_s=(26.0, 30.0), stems_tracks=0,
        tempo_classes=(80.0, 100.0, 150.0), keys_per_class=4, min_section_s=6.0, seed=5),
        workers=1)
    return root


ONSETS_FLOOR = 0.75  # measured 0.875 (21 of 24); the beat tracker on the same audio: 0.417


def test_vocal_tempo_accuracy_floor_on_ground_truth(tempo_corpus):
    """Within-4 % accuracy floor on the true tempi.  The previous estimator (the beat tracker,
    ``vocal_method="beats"``) stays below it, so the floor catches a regression to it."""
    from pipeline.analysis.tempo import vocal_tempo
    from pipeline.core.audio import load_audio

    truth = pd.read_parquet(tempo_corpus / "truth" / "vocals.parquet")
    hits = {"onsets": [], "beats": []}
    for r in truth.to_dict("records"):
        y = load_audio(tempo_corpus / r["path"])
        for method in hits:
            b = vocal_tempo(y, vocal_source="estimate", vocal_method=method)
            hits[method].append(abs(b.tempo_bpm / r["tempo_bpm"] - 1) <= 0.04)
    assert len(truth) == 24 and set(truth["tempo_bpm"]) == {80.0, 100.0, 150.0}
    assert np.mean(hits["onsets"]) >= ONSETS_FLOOR
    assert np.mean(hits["beats"]) < ONSETS_FLOOR


def test_vocal_method_validated():
    with pytest.raises(ConfigError, match="vocal_method"):
        TempoParams(vocal_method="guess")
