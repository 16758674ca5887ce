import numpy as np
import pytest

from pipeline.mixing import (SilentSegmentError, active_frames, active_rms, beat_aligned_offset,
                             frame_rms, mix_pair)
from pipeline.segment import SAMPLE_RATE, SEGMENT_SAMPLES


def _notes(n, onsets, rng, freq=330.0, dur=4000):
    """Decaying sine notes starting at the given sample positions, over faint noise."""
    y = 1e-3 * rng.standard_normal(n)
    t = np.arange(dur) / SAMPLE_RATE
    note = 0.3 * np.sin(2 * np.pi * freq * t) * np.exp(-t * 8)
    for s in onsets:
        y[s:s + dur] += note[: max(0, min(dur, n - s))]
    return y.astype(np.float32)


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


def test_beat_aligned_offset_finds_nearest_onset(rng):
    tempo = 120.0
    period = int(60 * SAMPLE_RATE / tempo)  # 11025 samples
    phase = 3000
    onsets = np.arange(phase, 10 * SEGMENT_SAMPLES, period)
    y = _notes(10 * SEGMENT_SAMPLES, onsets, rng)
    for start in (40000, 52000, 100000):
        got = beat_aligned_offset(y, start=start, tempo_bpm=tempo)
        nearest = onsets[np.argmin(np.abs(onsets - start))]
        assert abs(got - nearest) <= 384, (start, got, nearest)
        assert abs(got - start) <= period // 2 + 1


def test_beat_aligned_offset_stays_inside_audio(rng):
    y = _notes(SEGMENT_SAMPLES + 5000, [100, 6000], rng)
    got = beat_aligned_offset(y, start=2000, tempo_bpm=90.0)
    assert 0 <= got <= 5000
    assert beat_aligned_offset(y[:SEGMENT_SAMPLES], start=0, tempo_bpm=90.0) == 0


def test_beat_grid_wins_over_a_louder_off_beat_note(rng):
    period = int(60 * SAMPLE_RATE / 100.0)  # 13230 samples at 100 BPM
    beats = np.arange(2000, 8 * SEGMENT_SAMPLES, period)
    y = _notes(8 * SEGMENT_SAMPLES, beats, rng)
    start = int(beats[10]) + period // 4
    y += _notes(len(y), [start + 200], rng) * 2  # one loud syncopated note near the start
    got = beat_aligned_offset(y, start=start, tempo_bpm=100.0)
    assert abs(got - beats[10]) <= 384


def test_local_onset_envelope_gives_the_same_alignment(rng):
    from pipeline.mixing import onset_strength

    period = int(60 * SAMPLE_RATE / 97.0)
    y = _notes(12 * SEGMENT_SAMPLES, np.arange(1500, 12 * SEGMENT_SAMPLES, period // 2), rng)
    whole = onset_strength(y)
    for start in (3000, 200000, 11 * SEGMENT_SAMPLES - 9000):
        for context in (0, 4, 16):
            assert beat_aligned_offset(y, start=start, tempo_bpm=97.0, context_beats=context) == \
                beat_aligned_offset(y, start=start, tempo_bpm=97.0, context_beats=context, onset=whole)
