"""Consonants at sung syllables' onsets (``pipeline.demo.consonants``)."""

import numpy as np
import pytest
from demo_chains import chain, plans

from pipeline.core.errors import ConfigError
from pipeline.core.random import rng_for
from pipeline.demo import preset
from pipeline.demo.consonants import Diction, add_consonants, consonant_noise, draw_diction
from pipeline.demo.corpus import SR, VOICE_SR, synthesise_performance
from pipeline.demo.melody import Performance

SMALL = dict(singers=4, performances_per_singer=3, singers_per_song=1, duration_s=(8.0, 10.0),
             tracks=2, stems_tracks=0, tempo_classes=(108.0, 136.0), keys_per_class=2,
             min_section_s=4.0)


def test_strength_zero_is_the_chain_before_byte_for_byte():
    params = preset("default", **SMALL)
    for plan in plans(params)[:3]:
        y, _ = synthesise_performance(plan, params)
        assert y.tobytes() == chain(plan, params, homes=True).tobytes()
    assert preset("default").consonant_strength == 0.0  # off by default


def test_consonants_keep_the_performance_and_are_deterministic():
    off, on = preset("default", **SMALL), preset("default", **SMALL, consonant_strength=1.0)
    plan = plans(off)[0]
    (y0, t0), (y1, t1) = synthesise_performance(plan, off), synthesise_performance(plan, on)
    assert t0 == t1  # same notes, timing and length: the render stream is not shifted
    assert y0.tobytes() != y1.tobytes()
    assert synthesise_performance(plan, on)[0].tobytes() == y1.tobytes()


def _timeline(onsets, phrase):
    onsets = np.asarray(onsets, float)
    return Performance(onset_s=onsets, end_s=onsets + 0.4, midi=np.full(len(onsets), 60.0),
                       vowel=np.zeros(len(onsets), int), phrase=np.asarray(phrase),
                       beat_times_s=onsets, voiced_start_s=onsets[:1],
                       voiced_end_s=onsets[-1:] + 0.4, duration_s=4.0)


def _band_share(y, lo, hi, sr):
    p = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / sr)
    return p[(f >= lo) & (f < hi)].sum() / p.sum()


def test_fricatives_sit_at_the_onsets_in_the_singers_sibilance_band():
    sr = VOICE_SR
    perf = _timeline([0.5, 1.0, 1.5, 2.0, 2.5, 3.0], [0, 0, 0, 1, 1, 1])
    hiss = Diction(consonant_share=1.0, fricative_share=1.0, sibilance_hz=6000.0, level_db=0.0)
    y = consonant_noise(perf, hiss, 4 * sr, sr=sr, rng=np.random.default_rng(0))
    since = np.arange(len(y))[:, None] / sr - perf.onset_s[None, :]
    near = ((since > -0.075) & (since < 0.115)).any(axis=1)  # 140 ms at most, from -30 ms
    assert np.all(y[~near] == 0.0)  # nothing between syllables' onsets
    assert np.sqrt(np.mean(y[y != 0] ** 2)) == pytest.approx(1.0, rel=0.35)
    # /s/, /sh/ and /f/ bands around 6 kHz, 3.6 kHz and 7.8 kHz: the energy lies above 2.5 kHz
    assert _band_share(y, 2500, sr / 2, sr) > 0.9
    dull = consonant_noise(perf, Diction(1.0, 1.0, 4500.0, 0.0), 4 * sr, sr=sr,
                           rng=np.random.default_rng(0))
    assert _band_share(dull, 5000, sr / 2, sr) < _band_share(y, 5000, sr / 2, sr)


def test_plosives_are_short_bursts_and_share_zero_is_silence():
    sr = VOICE_SR
    perf = _timeline([0.5, 1.5, 2.5], [0, 1, 2])
    bursts = consonant_noise(perf, Diction(1.0, 0.0, 6000.0, 0.0), 4 * sr, sr=sr,
                             rng=np.random.default_rng(1))
    on = np.flatnonzero(bursts)
    assert len(on) > 0 and np.all(np.diff(on)[np.diff(on) > 1] > 0.5 * sr)  # three bursts
    assert all(0.0 <= on[on >= int(o * sr)][0] / sr - o < 0.01 for o in perf.onset_s)
    assert (np.abs(bursts) > 0).sum() < 3 * 0.075 * sr + 3  # each at most 3 x 25 ms
    silent = consonant_noise(perf, Diction(0.0, 0.5, 6000.0, 0.0), 4 * sr, sr=sr,
                             rng=np.random.default_rng(1))
    assert not silent.any()


def test_consonants_are_added_at_the_dictions_level_under_the_active_rms():
    sr = VOICE_SR
    perf = _timeline([0.5, 1.0, 1.5, 2.0, 2.5, 3.0], [0, 0, 0, 0, 0, 0])
    t = np.arange(4 * sr) / sr
    vowel = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    diction = Diction(1.0, 1.0, 6000.0, level_db=-10.0)
    y = add_consonants(vowel, perf, diction, sr=sr, rng=np.random.default_rng(2))
    added = y - vowel
    expected = consonant_noise(perf, diction, len(t), sr=sr, rng=np.random.default_rng(2))
    active_rms = 0.5 / np.sqrt(2)  # the sine's RMS; its frames are all within 30 dB
    gain = np.sqrt(np.mean(added ** 2) / np.mean(expected ** 2))
    assert gain == pytest.approx(active_rms * 10 ** (-10 / 20), rel=0.01)
    np.testing.assert_allclose(added, gain * expected, atol=1e-6)


def test_the_voices_gain_the_high_octaves_a_real_voice_has():
    """The 8 kHz octave under the total power: real MUSDB18 stem -20 dB (bench_masking)."""
    off, on = preset("default", **SMALL), preset("default", **SMALL, consonant_strength=1.0)

    def octave_db(y, centre):
        return 10 * np.log10(_band_share(y, centre / np.sqrt(2), centre * np.sqrt(2), SR))

    first = plans(off)[:4]
    before = np.median([octave_db(synthesise_performance(p, off)[0], 8000.0) for p in first])
    after = np.median([octave_db(synthesise_performance(p, on)[0], 8000.0) for p in first])
    # measured -54.9 -> -23.8 dB on these four; vowels alone leave the octave nearly empty
    assert before < -40.0 and -30.0 < after < -15.0, (before, after)


def test_draw_diction_ranges():
    d = [draw_diction(rng_for(1234, "diction", f"u{k}")) for k in range(50)]
    assert all(0.4 <= x.consonant_share <= 0.8 and -12.0 <= x.level_db <= -2.0 for x in d)
    assert all(4500.0 <= x.sibilance_hz <= 8000.0 for x in d)


@pytest.mark.parametrize("value", [-0.1, 11.0])
def test_bad_consonant_strength_names_the_key(value):
    with pytest.raises(ConfigError, match="demo.params.consonant_strength"):
        preset("default", consonant_strength=value)
