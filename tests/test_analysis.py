import json

import numpy as np
import pandas as pd
import pytest
from audio_fixtures import write_aac, write_wav
from synth_signals import cadence, clicks, sung_phrases

from pipeline.analysis.key_params import KeyParams
from pipeline.analysis.stage import (
    analysis_params,
    analyze_accompaniment_shard,
    analyze_vocal_shard,
)
from pipeline.cli import main
from pipeline.core.errors import ConfigError
from pipeline.core.music import key_index
from pipeline.core.segment import SAMPLE_RATE as SR
from pipeline.core.segment import SEGMENT_SAMPLES
from pipeline.core.tables import ACC_SEGMENTS, ACC_TRACKS, SKIPPED, VOCAL_WINDOWS

KEY = KeyParams(n_fft=2048, power=1.0)


@pytest.fixture(scope="module")
def vocal_files(tmp_path_factory):
    """A good m4a vocal in E minor, plus a silent, an empty, a truncated and a short file."""
    d = tmp_path_factory.mktemp("vocals")
    y, _ = sung_phrases(key_index("E minor"), 24.0, phrase_s=8.0, gap_s=1.0)
    write_aac(d / "good.m4a", [y[:, None]], sr=SR)
    broken = write_aac(d / "whole.m4a", [y[:, None]], sr=SR)
    (d / "truncated.m4a").write_bytes(broken.read_bytes()[: broken.stat().st_size // 3])
    write_wav(d / "silent.wav", np.zeros((SR * 5, 1), np.float32), sr=SR)
    (d / "empty.wav").write_bytes(b"")
    write_wav(d / "short.wav", y[: SR, None], sr=SR)
    names = ["good.m4a", "silent.wav", "empty.wav", "truncated.m4a", "short.wav"]
    return [d / n for n in names]


@pytest.fixture(scope="module")
def accompaniment_dir(tmp_path_factory):
    """An hq folder (drums/bass/other at 120 BPM in D major) and a single file at 90 BPM."""
    d = tmp_path_factory.mktemp("acc")
    rng = np.random.default_rng(5)
    harmony = np.tile(cadence(key_index("D major")), 3)[: SR * 16]
    drums = clicks(120.0, 16.0, rng)
    for name, y in (("drums", drums), ("bass", 0.0 * drums), ("other", harmony)):
        write_wav(d / "hq" / f"{name}.wav", np.repeat(y[:, None], 2, axis=1), sr=SR)
    single = clicks(90.0, 10.0, rng) + np.tile(cadence(key_index("G major")), 2)[: SR * 10]
    write_wav(d / "single.wav", single[:, None], sr=SR)
    write_wav(d / "tiny.wav", single[: SR, None], sr=SR)
    return d


def test_vocal_shard_windows_and_skips(vocal_files):
    manifest = pd.DataFrame({"id": [p.stem for p in vocal_files],
                             "path": [str(p) for p in vocal_files],
                             "singer": "s1", "song": "song1",
                             "tempo_bpm": [96.0, np.nan, np.nan, np.nan, np.nan], "shard": 0})
    windows, skipped = analyze_vocal_shard(manifest, key=KEY)
    assert list(windows.columns) == list(VOCAL_WINDOWS)
    assert list(skipped.columns) == list(SKIPPED)
    assert set(windows["perf_id"]) == {"good"}
    assert len(windows) >= 3
    assert (windows["start"] % 512 == 0).all() and (windows["voiced_ratio"] >= 0.7).all()
    assert (windows["tempo_bpm"] == 96.0).all() and (windows["tempo_source"] == "table").all()
    assert (windows["track_key"] == key_index("E minor")).all()
    assert (windows["key"] == key_index("E minor")).mean() >= 0.8
    reasons = dict(zip(skipped["id"], skipped["reason"]))
    assert reasons == {"silent": "silent", "empty": "empty file",
                       "truncated": "undecodable", "short": "too short"}
    assert (skipped["stage"] == "analysis").all() and (skipped["corpus"] == "vocals").all()


def test_vocal_shard_is_deterministic(vocal_files):
    manifest = pd.DataFrame({"id": ["good"], "path": [str(vocal_files[0])], "singer": "s",
                             "song": "x", "tempo_bpm": [np.nan], "shard": 0})
    a, _ = analyze_vocal_shard(manifest, key=KEY)
    b, _ = analyze_vocal_shard(manifest, key=KEY)
    pd.testing.assert_frame_equal(a, b)
    assert (a["tempo_source"] == "estimated").all()


def test_accompaniment_shard(accompaniment_dir):
    d = accompaniment_dir
    manifest = pd.DataFrame({"id": ["hq", "single", "tiny"],
                             "path": [str(d / "hq"), str(d / "single.wav"), str(d / "tiny.wav")],
                             "format": ["hq", "file", "file"], "shard": 0})
    segments, tracks, audio, skipped = analyze_accompaniment_shard(manifest, key=KEY)
    assert list(segments.columns) == list(ACC_SEGMENTS)
    assert list(tracks.columns) == list(ACC_TRACKS)
    assert skipped[["id", "reason"]].values.tolist() == [["tiny", "too short"]]
    t = tracks.set_index("track_id")
    assert t.loc["hq", "tempo_bpm"] == pytest.approx(120.0, rel=0.02)
    assert t.loc["single", "tempo_bpm"] == pytest.approx(90.0, rel=0.02)
    # The audio cache holds each track at its offset.
    assert audio.dtype == np.float32 and len(audio) == t["audio_length"].sum()
    assert t.loc["single", "audio_offset"] == t.loc["hq", "audio_length"]
    assert t.loc["single", "audio_length"] == SR * 10
    for track_id, seg in segments.groupby("track_id"):
        beats = np.asarray(t.loc[track_id, "beat_samples"])
        np.testing.assert_array_equal(seg["start"], beats[seg["beat_index"]])
        assert (seg["start"] + SEGMENT_SAMPLES <= t.loc[track_id, "audio_length"]).all()
        # Only the beats whose segment would run past the end are dropped.
        n_fit = np.sum(beats + SEGMENT_SAMPLES <= t.loc[track_id, "audio_length"])
        assert len(seg) == n_fit
    hq = segments[segments["track_id"] == "hq"]
    assert (hq["key"] == key_index("D major")).mean() >= 0.8
    assert (segments[segments["track_id"] == "single"]["track_key"] == key_index("G major")).all()


def test_analysis_params_sections():
    svd, key, tempo = analysis_params({"svd": {"max_windows": 3}, "key": {"context": "track"}})
    assert svd.max_windows == 3 and key.context == "track" and tempo.method == "numpy"
    with pytest.raises(ConfigError, match="mashup"):
        analysis_params({"mashup": {}})
    with pytest.raises(ConfigError, match="nonsense"):
        analysis_params({"svd": {"nonsense": 1}})


def test_analyze_cli_json_lines(vocal_files, accompaniment_dir, capsys):
    params = json.dumps({"key": {"n_fft": 2048, "power": 1.0}})
    good, silent, empty = (str(p) for p in vocal_files[:3])
    assert main(["analyze", "--vocal", "--params", params, good, silent, empty]) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["path"] for x in lines] == [good, silent, empty]
    ok = lines[0]
    assert ok["duration_s"] == pytest.approx(24.0, abs=0.1)
    assert ok["voiced_windows"] and 0.5 < ok["voiced_rate"] < 1.0
    window_starts = [w["start_s"] for w in ok["voiced_windows"]]
    assert window_starts == [s["start_s"] for s in ok["segment_keys"]]
    assert all(s["key"].endswith(("major", "minor")) for s in ok["segment_keys"])
    assert ok["track_key"] == "E minor"
    assert "silent" in lines[1]["error"] and "empty file" in lines[2]["error"]
    assert all("\n" not in x.get("error", "") for x in lines)
    single = str(accompaniment_dir / "single.wav")
    assert main(["analyze", "--params", params, single]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tempo_bpm"] == pytest.approx(90.0, rel=0.02)
    beats = np.array(out["beat_times_s"])
    assert np.median(np.diff(beats)) == pytest.approx(60 / 90, rel=0.03)
    assert {s["start_s"] for s in out["segment_keys"]} <= set(out["beat_times_s"])
    assert out["segment_keys"][0]["key"] == "G major"



def test_shard_commands_write_their_files(vocal_files, accompaniment_dir, tmp_path):
    vocals = pd.DataFrame({"id": ["good", "silent"], "path": [str(p) for p in vocal_files[:2]],
                           "singer": "s", "song": "x", "tempo_bpm": [100.0, np.nan],
                           "shard": [3, 3]})
    vocals = pd.concat([vocals, vocals.assign(id=["other", "other2"], shard=4)])
    vocals.to_parquet(tmp_path / "vocals.parquet")
    accs = pd.DataFrame({"id": ["single"], "path": [str(accompaniment_dir / "single.wav")],
                         "format": ["file"], "shard": [0]})
    accs.to_parquet(tmp_path / "accs.parquet")
    params = json.dumps({"svd": {"max_windows": 2}, "key": {"n_fft": 2048}})
    assert main(["analyze-vocals", "--manifest", str(tmp_path / "vocals.parquet"), "--shard",
                 "3", "--out-prefix", str(tmp_path / "v" / "3"), "--params", params]) == 0
    windows = pd.read_parquet(tmp_path / "v" / "3.windows.parquet")
    skipped = pd.read_parquet(tmp_path / "v" / "3.skipped.parquet")
    assert set(windows["perf_id"]) == {"good"} and len(windows) == 2
    assert skipped["id"].tolist() == ["silent"]
    assert main(["analyze-accompaniments", "--manifest", str(tmp_path / "accs.parquet"),
                 "--shard", "0", "--out-prefix", str(tmp_path / "a" / "0")]) == 0
    tracks = pd.read_parquet(tmp_path / "a" / "0.tracks.parquet")
    audio = np.load(tmp_path / "a" / "0.audio.npy")
    assert audio.dtype == np.float32 and len(audio) == tracks["audio_length"].sum() == SR * 10
    assert len(pd.read_parquet(tmp_path / "a" / "0.segments.parquet")) > 0
    assert not any(p.name.startswith(".") for p in (tmp_path / "a").iterdir())  # no temp files
    assert main(["analyze-vocals", "--manifest", str(tmp_path / "vocals.parquet"), "--shard",
                 "3", "--out-prefix", str(tmp_path / "v" / "3"),
                 "--params", '{"svd": {"bogus": 1}}']) == 2

# Against the small demo corpus's ground truth (figures for the default corpus:
# bench/bench_analysis.py).

def _truth(corpus, name):
    table = pd.read_parquet(corpus / "truth" / f"{name}.parquet")
    table["path"] = [str(corpus / p) for p in table["path"]]
    return table


@pytest.fixture(scope="module")
def corpus_vocals(small_corpus):
    from pipeline.core import audio

    truth = _truth(small_corpus, "vocals")
    return truth, [audio.load_audio(p) for p in truth["path"]]


@pytest.fixture(scope="module")
def corpus_accompaniments(small_corpus):
    from pipeline.analysis.scoring import score_accompaniment
    from pipeline.sources import load_accompaniment

    truth = _truth(small_corpus, "accompaniments")
    scored = [score_accompaniment(r, load_accompaniment(r))
              for r in truth.to_dict("records")]
    return pd.DataFrame([t for t, _ in scored]), [s for _, s in scored]


def test_svd_frame_f1_on_demo_truth(corpus_vocals):
    from pipeline.analysis.scoring import frame_f1, intervals_to_frames
    from pipeline.analysis.voicing import rms_threshold, voiced_frames
    from pipeline.core.signal import frame_rms

    truth, ys = corpus_vocals
    f1 = []
    for row, y in zip(truth.to_dict("records"), ys):
        rms = frame_rms(y)
        ref = intervals_to_frames(row["voiced_start_s"], row["voiced_end_s"], len(rms))
        f1.append(frame_f1(voiced_frames(rms, rms_threshold(rms)), ref))
    print(f"SVD frame F1 mean {np.mean(f1):.3f}, min {np.min(f1):.3f} over {len(f1)} vocals")
    assert np.mean(f1) >= 0.9 and np.median(f1) >= 0.9


def test_accompaniment_tempo_on_demo_truth(corpus_accompaniments):
    tracks, _ = corpus_accompaniments
    print(tracks[["id", "tempo_est", "tempo_ref", "tempo_ok", "octave_error"]].to_string())
    # 90 % on the default corpus; the small one has 6 tracks, so allow one miss.
    assert tracks["tempo_ok"].mean() >= 5 / 6


def test_accompaniment_segment_keys_on_demo_truth(corpus_accompaniments):
    _, segments = corpus_accompaniments
    score = np.concatenate([s["score"] for s in segments])
    clean = np.concatenate([s["score"][~s["straddles"]] for s in segments])
    print(f"segment keys MIREX {score.mean():.3f}, not spanning a change {clean.mean():.3f} "
          f"(n={len(score)})")
    # keys by section (Viterbi key changes, Albrecht-Shanahan profiles): 0.935 / 0.956 on the
    # small corpus, whose 6-9 s sections change key to unrelated keys
    assert clean.mean() >= 0.9 and score.mean() >= 0.88


def _vocal_key_scores(corpus_vocals, key):
    from pipeline.analysis.scoring import score_vocal

    truth, ys = corpus_vocals
    scores = [score_vocal(r, y, key=key) for r, y in zip(truth.to_dict("records"), ys)]
    return np.array([s["key_score"] for s in scores if not s["error"]])


@pytest.fixture(scope="module")
def pitch_key_scores(corpus_vocals):
    return _vocal_key_scores(corpus_vocals, KeyParams())


def test_vocal_pitch_keys_beat_chroma_on_demo_truth(corpus_vocals, pitch_key_scores):
    pitch = pitch_key_scores
    authors = _vocal_key_scores(corpus_vocals, KeyParams(n_fft=1024, power=2.0,
                                                         vocal_profile="krumhansl",
                                                         vocal_chroma="stft",
                                                         vocal_context="segment"))
    krumhansl = _vocal_key_scores(corpus_vocals, KeyParams(vocal_profile="krumhansl"))
    print(f"vocal window keys MIREX: f0 pitch classes, track {pitch.mean():.3f} (Krumhansl-"
          f"Kessler profiles {krumhansl.mean():.3f}); chroma_stft per segment (authors) "
          f"{authors.mean():.3f}")
    # the profiles tie within this small corpus's noise (default corpus, exact keys:
    # Albrecht-Shanahan 0.988, Krumhansl-Kessler 0.958; fluidsynth melodies: 1.00 / 0.74)
    assert pitch.mean() > authors.mean() + 0.1 and krumhansl.mean() > authors.mean() + 0.1


def test_vocal_window_keys_on_demo_truth(pitch_key_scores):
    assert pitch_key_scores.mean() >= 0.9  # 0.951


def test_vocal_windows_start_on_true_beats(corpus_vocals):
    from pipeline.analysis.stage import analyze_vocal
    from pipeline.core.errors import AudioError

    truth, ys = corpus_vocals
    aligned, unaligned = [], []
    for row, y in zip(truth.to_dict("records"), ys):
        try:
            res = analyze_vocal(y, table_bpm=row["tempo_bpm"])
        except AudioError:  # the corpus's deliberately unusable recordings
            continue
        beats = np.asarray(row["beat_times_s"]) * SR
        period = 60 * SR / row["tempo_bpm"]
        for start, shift in zip(res.starts, res.grid_shift):
            aligned.append(np.min(np.abs(beats - start)) / period)
            unaligned.append(np.min(np.abs(beats - (start - shift))) / period)
    aligned, unaligned = np.array(aligned), np.array(unaligned)
    print(f"window start to nearest true beat (beats): aligned median {np.median(aligned):.3f}, "
          f"within 0.1 beat {np.mean(aligned < 0.1):.2f}; candidates {np.median(unaligned):.3f}, "
          f"{np.mean(unaligned < 0.1):.2f} (n={len(aligned)})")
    # default corpus: median 0.02 beat, 0.77 within 0.1 beat (small: 0.63); most others fall
    # on the half beat of eighth-note melodies
    assert np.median(aligned) <= 0.05 and np.mean(aligned < 0.1) >= 0.55
    assert np.mean(aligned < 0.1) >= np.mean(unaligned < 0.1) + 0.3


def test_analysis_and_mix_jobs_import_no_librosa_or_numba():
    """The per-job fixed cost (#17): importing librosa's onset/beat/spectral modules compiled
    numba kernels for ~3 s in every job.  Run both analyses (default parameters: numpy beat
    tracker, STFT and pitch chroma) in a fresh interpreter with the stage modules of the
    analysis and mix jobs imported, and list what came in."""
    import subprocess
    import sys
    from pathlib import Path

    code = """
import json, sys
import numpy as np
import pipeline.cli.analyze, pipeline.cli.analyze_vocals, pipeline.cli.analyze_accompaniments
import pipeline.cli.mix
from pipeline.analysis.stage import analyze_accompaniment, analyze_vocal
sys.path.insert(0, "tests")
from synth_signals import cadence, clicks, sung_phrases
rng = np.random.default_rng(0)
v = analyze_vocal(sung_phrases(0, 24.0, phrase_s=8.0, gap_s=1.0)[0])
a = analyze_accompaniment(np.tile(cadence(0), 4) + clicks(120.0, 4 * len(cadence(0)) / 22050, rng)[:4 * len(cadence(0))])
def heavy():
    return sorted({m.split(".")[0] for m in sys.modules} & {"librosa", "numba", "llvmlite", "torch"})
before = heavy()
from pipeline.analysis.tempo import track_beats
track_beats(np.asarray(clicks(120.0, 5.0, rng)), method="librosa")  # the check can fire
print(json.dumps({"heavy": before, "after_librosa": heavy(), "vocal_bpm": v.tempo_bpm,
                  "acc_bpm": a.tempo_bpm}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parent.parent)
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["heavy"] == []
    assert {"librosa", "numba"} <= set(result["after_librosa"])
    assert result["vocal_bpm"] == pytest.approx(120.0, rel=0.04)  # the work really ran
    assert result["acc_bpm"] == pytest.approx(120.0, rel=0.04)
