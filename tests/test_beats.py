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
