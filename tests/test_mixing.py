import numpy as np
import pytest

from pipeline.core.segment import SEGMENT_SAMPLES
from pipeline.mashup.mixing import (
    SilentSegmentError,
    active_frames,
    active_rms,
    frame_rms,
    mix_pair,
    mix_pair_at,
)


def _realised_snr(v, a, gv, ga, threshold):
    # independent reference: RMS over frames active on the unscaled inputs
    mv = frame_rms(v) > threshold
    ma = frame_rms(a) > threshold
    pv = np.mean(frame_rms(gv * v)[mv] ** 2)
    pa = np.mean(frame_rms(ga * a)[ma] ** 2)
    return 10 * np.log10(pv / pa)


@pytest.mark.parametrize("snr", [-5.0, 0.0, 5.0, 10.0])
def test_mix_realises_target_snr_and_never_clips(rng, snr):
    v = (0.05 * rng.standard_normal(SEGMENT_SAMPLES)).astype(np.float32)
    v[:20000] *= 0.01  # a quiet stretch that must not count
    a = (0.4 * rng.standard_normal(SEGMENT_SAMPLES)).astype(np.float32)
    a[1000] = 3.0  # a spike that forces the peak limit
    res = mix_pair(v, a, snr_db=snr, active_threshold=0.02, target_rms=0.3, peak_limit=0.99)
    assert res.mix.dtype == np.float32
    assert np.max(np.abs(res.mix)) <= 0.99 + 1e-6
    assert abs(res.snr_db - snr) < 0.5
    assert abs(_realised_snr(v, a, res.vocal_gain, res.acc_gain, 0.02) - snr) < 0.5
    np.testing.assert_allclose(res.mix, res.vocal_gain * v + res.acc_gain * a, atol=1e-5)


def test_several_ratios_from_one_measurement_realise_each_ratio(rng):
    v = (0.05 * rng.standard_normal(SEGMENT_SAMPLES)).astype(np.float32)
    v[:20000] *= 0.01
    a = (0.4 * rng.standard_normal(SEGMENT_SAMPLES)).astype(np.float32)
    results = mix_pair_at(v, a, snr_dbs=[-5.0, 10.0], target_rms=0.3)
    for snr, res in zip([-5.0, 10.0], results):
        assert abs(_realised_snr(v, a, res.vocal_gain, res.acc_gain, 0.02) - snr) < 0.5
        np.testing.assert_allclose(res.mix, res.vocal_gain * v + res.acc_gain * a, atol=1e-5)
    with pytest.raises(SilentSegmentError, match="silent vocal"):
        mix_pair_at(np.zeros_like(v), a, snr_dbs=[0.0, 5.0])


def test_mix_reaches_target_rms_when_peak_allows(rng):
    v = (0.1 * rng.standard_normal(SEGMENT_SAMPLES)).astype(np.float32)
    a = (0.1 * rng.standard_normal(SEGMENT_SAMPLES)).astype(np.float32)
    res = mix_pair(v, a, snr_db=0.0, target_rms=0.05)
    mask = active_frames(v, threshold=0.02) | active_frames(a, threshold=0.02)
    assert active_rms(res.mix, mask) == pytest.approx(0.05, rel=1e-3)


def test_active_rms_hand_computed():
    y = np.zeros(SEGMENT_SAMPLES, np.float32)
    y[32768:] = 0.5  # constant half: frame RMS 0.5 where fully covered
    mask = active_frames(y, threshold=0.4)
    assert active_rms(y, mask) == pytest.approx(0.5, abs=0.02)
    silent = np.zeros(SEGMENT_SAMPLES, np.float32)
    assert active_frames(silent, threshold=0.02).all()  # fallback: all frames


def test_silent_accompaniment_is_an_error(rng):
    v = (0.1 * rng.standard_normal(SEGMENT_SAMPLES)).astype(np.float32)
    with pytest.raises(SilentSegmentError, match="accompaniment"):
        mix_pair(v, np.zeros_like(v))
