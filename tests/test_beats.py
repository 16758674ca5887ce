import math

import numpy as np
import pytest
from synth_signals import clicks

from pipeline.analysis.tempo import (
    TempoParams,
    periodicity,
    refine_tempo,
    track_beats,
    vocal_tempo,
)
from pipeline.core.errors import ConfigError
from pipeline.core.segment import SAMPLE_RATE as SR


@pytest.mark.parametrize("bpm", [84.0, 120.0, 143.0])
def test_librosa_click_track_tempo_and_beats(bpm, rng):
    b = track_beats(clicks(bpm, 30.0, rng))
    assert b.tempo_bpm == pytest.approx(bpm, rel=0.01)
    # Beats fall on clicks (0.5 s + n * period) within two frames.
    period = 60.0 / bpm
    times = b.beat_samples / SR
    phase = (times - 0.5) / period
    assert np.all(np.abs(phase - np.round(phase)) * period < 0.05)
    assert b.confidence > 0.5 and b.source == "estimated"


def test_essentia_click_track_tempo(rng):
    b = track_beats(clicks(100.0, 20.0, rng), method="essentia")
    assert b.tempo_bpm == pytest.approx(100.0, rel=0.01)
    assert 0.0 <= b.confidence <= 1.0


def test_silence_has_no_tempo():
    b = track_beats(np.zeros(SR * 10, dtype=np.float32))
    assert math.isnan(b.tempo_bpm) and len(b.beat_samples) == 0


def test_noise_has_low_periodicity(rng):
    onset = np.abs(rng.standard_normal(2000))
    assert periodicity(onset, 120.0) < 0.2
    pulse = np.zeros(2000)
    pulse[::43] = 1.0  # 43 frames ~ 60.1 BPM at hop 512
    assert periodicity(pulse, 60.0 * SR / (512 * 43)) > 0.9


def test_refine_tempo_counts_a_skipped_beat():
    period = 60.0 / 123.4
    times = np.arange(40) * period
    times = np.delete(times, 17)  # the tracker missed one beat
    beats = np.round(times * SR).astype(int)
    assert refine_tempo(beats, 120.0) == pytest.approx(123.4, abs=0.05)


def test_vocal_tempo_table_and_estimate(rng):
    y = clicks(90.0, 20.0, rng)
    table = vocal_tempo(y, table_bpm=97.0)
    assert (table.tempo_bpm, table.source, table.confidence) == (97.0, "table", 1.0)
    est = vocal_tempo(y, table_bpm=math.nan)
    assert est.source == "estimated" and est.tempo_bpm == pytest.approx(90.0, rel=0.01)
    forced = vocal_tempo(y, table_bpm=97.0, vocal_source="estimate")
    assert forced.source == "estimated"


@pytest.mark.parametrize("bad", [{"method": "madmom"}, {"vocal_source": "guess"},
                                 {"min_bpm": 200.0, "max_bpm": 100.0}])
def test_params_validation(bad):
    with pytest.raises(ConfigError, match="tempo."):
        TempoParams(**bad)


# --- the numpy beat tracker against librosa's (pipeline.analysis.onset) ---------------------

MUSDB_NAME = "The Easton Ellises - Falcon 69"


def _musdb_streams() -> dict:
    """Mixture and vocal stream of the real MUSDB18 excerpt in the stempeg wheel, mono 22,050 Hz."""
    import importlib.util
    from pathlib import Path

    import soxr

    from pipeline.core.audio import decode

    spec = importlib.util.find_spec("stempeg")
    assert spec is not None, "stempeg (a test dependency) is not installed"
    path = Path(spec.origin).parent / "data" / f"{MUSDB_NAME}.stem.mp4"
    out = {}
    for stream, name in ((0, "musdb mixture"), (4, "musdb vocals")):
        x, sr = decode(path, stream=stream)
        out[name] = soxr.resample(x.mean(axis=0), sr, SR).astype(np.float32)
    return out


@pytest.fixture(scope="module")
def real_and_demo(small_corpus) -> dict:
    """The small demo corpus's accompaniments (drums, bass, chords) and the MUSDB18 file."""
    import pandas as pd

    from pipeline.sources import load_accompaniment

    truth = pd.read_parquet(small_corpus / "truth" / "accompaniments.parquet")
    signals = {}
    for r in truth.to_dict("records"):
        r["path"] = str(small_corpus / r["path"])
        signals[r["track"]] = load_accompaniment(r)
    return {**signals, **_musdb_streams()}


def test_numpy_beat_tracker_agrees_with_librosa(real_and_demo, rng):
    from pipeline.analysis.scoring import beat_f_measure

    signals = dict(real_and_demo, clicks=clicks(97.0, 20.0, rng))
    for name, y in signals.items():
        ours = track_beats(y, method="numpy")
        ref = track_beats(y, method="librosa")
        assert ours.tempo_bpm == pytest.approx(ref.tempo_bpm, rel=1e-6), name
        f = beat_f_measure(ref.beat_samples / SR, ours.beat_samples / SR)
        assert f >= 0.98, (name, f)
        assert ours.confidence == pytest.approx(ref.confidence, abs=0.01), name
    assert len(signals) >= 6  # the demo tracks and both MUSDB streams were compared


def test_numpy_onset_strength_equals_librosa(real_and_demo):
    import librosa

    from pipeline.analysis.chroma import spectrogram
    from pipeline.analysis.onset import ONSET_N_FFT, mel_onset_strength

    y = real_and_demo["musdb mixture"]
    ref = librosa.onset.onset_strength(y=y, sr=SR, hop_length=512)
    ours = mel_onset_strength(spectrogram(y, n_fft=ONSET_N_FFT, power=1.0))
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-3 * ref.max())
    # the tempogram and prior pick librosa's tempo from the same envelope
    from pipeline.analysis.onset import autocorrelation_tempogram, tempo_from_tempogram

    tg = autocorrelation_tempogram(ref, win_length=344)
    np.testing.assert_allclose(tg, librosa.feature.tempogram(onset_envelope=ref, sr=SR,
                                                             win_length=344), atol=1e-9)
    assert tempo_from_tempogram(tg) == pytest.approx(
        float(librosa.feature.tempo(onset_envelope=ref, sr=SR)[0]))


def test_beat_dp_on_a_hand_built_envelope():
    from pipeline.analysis.onset import beat_track

    onset = np.zeros(400)
    onset[10::20] = 1.0  # a pulse every 20 frames: 129.2 BPM at hop 512
    onset[215] = 0.8  # one off-beat onset the grid must ignore
    beats = beat_track(onset, bpm=60.0 * SR / (512 * 20))
    # every pulse from the second on (librosa drops the first too: its only predecessor
    # candidate is frame 0), never the off-beat
    np.testing.assert_array_equal(beats, np.arange(30, 400, 20))
    assert len(beat_track(np.zeros(100), bpm=120.0)) == 0


def test_fast_fft_length():
    from pipeline.analysis.onset import fast_fft_length

    assert [fast_fft_length(n) for n in (1, 7, 687, 1000, 1001)] == [1, 8, 720, 1000, 1024]
