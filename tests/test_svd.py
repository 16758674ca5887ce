import dataclasses

import librosa
import numpy as np
import pytest
from synth_signals import note

from pipeline.analysis.voicing import (
    SvdParams,
    candidate_starts,
    detect_voiced_windows,
    rms_threshold,
    spread_evenly,
    voiced_frames,
    window_means,
)
from pipeline.core.errors import ConfigError
from pipeline.core.segment import HOP_LENGTH, SEGMENT_SAMPLES
from pipeline.core.segment import SAMPLE_RATE as SR
from pipeline.core.signal import frame_rms


def test_frame_rms_matches_librosa(rng):
    y = rng.standard_normal(30_001).astype(np.float32) * 0.3
    ours = frame_rms(y)
    ref = librosa.feature.rms(y=y, frame_length=1024, hop_length=512, center=True)[0]
    assert ours.shape == (1 + len(y) // HOP_LENGTH,) == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-7)


def test_voiced_frames_threshold_is_inclusive():
    rms = np.array([0.0, 0.039, 0.04, 0.5])
    np.testing.assert_array_equal(voiced_frames(rms, 0.04), [False, False, True, True])


def test_candidate_starts_whole_segments_only():
    starts = candidate_starts(3 * SEGMENT_SAMPLES, SEGMENT_SAMPLES // 2)
    np.testing.assert_array_equal(starts, np.arange(5) * SEGMENT_SAMPLES // 2)
    assert len(candidate_starts(SEGMENT_SAMPLES - 1, 512)) == 0


def test_window_means_hand_computed():
    values = np.array([1, 1, 0, 0, 1, 1], dtype=float)
    np.testing.assert_allclose(window_means(values, np.array([0, 2]), n_frames=4), [0.5, 0.5])


def test_spread_evenly_keeps_ends_and_count():
    idx = spread_evenly(50, 20)
    assert len(idx) == 20 and idx[0] == 0 and idx[-1] == 49
    assert np.all(np.diff(idx) >= 2)
    np.testing.assert_array_equal(spread_evenly(5, 20), np.arange(5))


def _tone_between(start_s, end_s, total_s, amp=0.2):
    y = np.zeros(int(total_s * SR), dtype=np.float32)
    y[int(start_s * SR):int(start_s * SR) + int((end_s - start_s) * SR)] = note(
        64, end_s - start_s, amp)
    return y


def test_windows_inside_voiced_region_only():
    y = _tone_between(5.0, 15.0, 20.0)
    w = detect_voiced_windows(y, threshold_mode="absolute", threshold=0.04)
    assert len(w.starts) > 0
    # Every kept window has >= 70 % of its 129 frames inside [5, 15] s.
    centres = (w.starts[:, None] + np.arange(129)[None] * HOP_LENGTH) / SR
    inside = ((centres >= 5.0) & (centres < 15.0)).mean(axis=1)
    assert np.all(inside >= 0.69)
    np.testing.assert_allclose(w.voiced_ratio, inside, atol=0.02)
    # All candidates that are fully inside the voiced region are kept.
    full = [s for s in candidate_starts(len(y), SEGMENT_SAMPLES // 2)
            if s / SR >= 5.05 and (s + SEGMENT_SAMPLES) / SR <= 14.95]
    assert set(full) <= set(w.starts.tolist())


def test_relative_threshold_is_level_invariant_absolute_is_not():
    y = _tone_between(5.0, 15.0, 20.0)
    rel = SvdParams()
    loud = detect_voiced_windows(y, **dataclasses.asdict(rel))
    quiet = detect_voiced_windows(y * 0.05, **dataclasses.asdict(rel))
    np.testing.assert_array_equal(loud.starts, quiet.starts)
    absolute = SvdParams(threshold_mode="absolute")
    assert len(detect_voiced_windows(y, **dataclasses.asdict(absolute)).starts) > 0
    assert len(detect_voiced_windows(y * 0.05, **dataclasses.asdict(absolute)).starts) == 0


def test_relative_threshold_value_and_floor():
    rms = np.linspace(0, 1, 101)
    p = SvdParams(relative_db=20.0, percentile=100.0, floor=1e-3)
    assert rms_threshold(rms, **p.threshold_kwargs()) == pytest.approx(0.1)
    assert rms_threshold(np.zeros(10), **p.threshold_kwargs()) == pytest.approx(1e-3)


def test_max_windows_and_min_ratio():
    y = note(64, 60.0, 0.2)
    w = detect_voiced_windows(y, max_windows=5)
    assert len(w.starts) == 5 and w.starts[0] == 0
    assert w.starts[-1] == candidate_starts(len(y), SEGMENT_SAMPLES // 2)[-1]
    strict = detect_voiced_windows(_tone_between(5, 15, 20),
                                   min_voiced_ratio=1.0)
    assert np.all(strict.voiced_ratio == 1.0)


def test_silence_gives_no_window():
    w = detect_voiced_windows(np.zeros(SR * 10, dtype=np.float32))
    assert len(w.starts) == 0 and not w.voiced.any()


@pytest.mark.parametrize("bad", [{"threshold_mode": "loud"}, {"hop_samples": 1000},
                                 {"min_voiced_ratio": 1.5}, {"max_windows": 0}])
def test_params_validation(bad):
    with pytest.raises(ConfigError, match="svd."):
        SvdParams(**bad)
