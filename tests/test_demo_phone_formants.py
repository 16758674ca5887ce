"""A singer's own phone and the formant spread between singers of one register."""

import numpy as np
import pytest
from demo_chains import chain, plans

import pipeline.demo.corpus as corpus
from pipeline.core.errors import ConfigError
from pipeline.core.random import rng_for
from pipeline.demo import preset
from pipeline.demo.channel import PHONE_JITTER, draw_channel, draw_phone_cut, own_phone
from pipeline.demo.voice import TRACT_RANGES, VOWEL_FORMANTS, draw_singer

SMALL = dict(singers=4, performances_per_singer=3, singers_per_song=1, duration_s=(8.0, 10.0),
             tracks=2, stems_tracks=0, tempo_classes=(108.0, 136.0), keys_per_class=2,
             min_section_s=4.0)


def test_defaults_are_the_chain_before_byte_for_byte():
    params = preset("default", **SMALL)
    assert (params.formant_spread, params.singer_phone) == (1.0, False)
    for plan in plans(params)[:3]:
        y, _ = corpus.synthesise_performance(plan, params)
        assert y.tobytes() == chain(plan, params, homes=True).tobytes()


def _low_cuts(params, monkeypatch):
    """{singer: [low cut of each of its recordings]} as the generator renders them."""
    seen = {}
    real = corpus.apply_channel

    def spy(y, channel, **kw):
        seen.setdefault("cut", []).append(channel.low_cut_hz)
        return real(y, channel, **kw)

    monkeypatch.setattr(corpus, "apply_channel", spy)
    cuts = {}
    for plan in plans(params):
        seen.clear()
        corpus.synthesise_performance(plan, params)
        cuts.setdefault(plan.user_id, []).append(seen["cut"][0])
    return cuts


def test_a_singer_records_on_one_phone(monkeypatch):
    on = preset("default", **SMALL, singer_phone=True)
    cuts = _low_cuts(on, monkeypatch)
    for user, values in cuts.items():
        phone = draw_phone_cut(rng_for(on.seed, "phone", user), strength=on.channel_strength)
        assert 60.0 <= phone <= 280.0
        ratio = np.log(np.asarray(values) / phone)  # the jitter alone, sd 0.05
        assert np.abs(ratio).max() < 4 * PHONE_JITTER, (user, values, phone)
    # without it each recording draws its own corner over the whole 60-280 Hz
    off = _low_cuts(preset("default", **SMALL), monkeypatch)
    spread = [np.ptp(np.log(v)) for v in off.values()]
    assert max(spread) > 8 * PHONE_JITTER


def test_own_phone_replaces_only_the_low_cut_with_a_lognormal_jitter():
    channel = draw_channel(np.random.default_rng(0))
    rng = np.random.default_rng(1)
    got = [own_phone(channel, 150.0, rng=rng) for _ in range(2000)]
    logs = np.log([c.low_cut_hz / 150.0 for c in got])
    assert np.std(logs) == pytest.approx(PHONE_JITTER, rel=0.1)
    assert abs(np.mean(logs)) < 0.005
    assert got[0].tilt_db == channel.tilt_db and got[0].noise_db == channel.noise_db


def test_formant_spread_zero_gives_one_set_of_vowels_per_register():
    for k in range(12):
        singer = draw_singer(rng_for(5, "singer", f"u{k:04d}"), formant_spread=0.0)
        high = singer.centre_midi > 57.0
        middle = sum(TRACT_RANGES[high]) / 2
        expect = np.maximum(np.sort(VOWEL_FORMANTS * middle, axis=1), np.arange(1, 6) * 200.0)
        np.testing.assert_allclose(singer.formants, expect, rtol=1e-12)


def test_formant_spread_scales_the_distance_to_the_register_and_keeps_the_rest():
    dist = {}
    for spread in (0.0, 0.5, 1.0):
        singers = [draw_singer(rng_for(5, "singer", f"u{k:04d}"), formant_spread=spread)
                   for k in range(40)]
        dist[spread] = np.array([s.formants for s in singers])
        if spread == 0.5:
            half = singers
    full = [draw_singer(rng_for(5, "singer", f"u{k:04d}")) for k in range(40)]
    np.testing.assert_array_equal(dist[1.0], [s.formants for s in full])  # 1 is the default
    d_half = np.log(dist[0.5] / dist[0.0])
    d_full = np.log(dist[1.0] / dist[0.0])
    slope = np.sum(d_half * d_full) / np.sum(d_full * d_full)
    assert slope == pytest.approx(0.5, abs=0.05)  # log formants: halfway to the register's
    assert [s.vibrato_hz for s in half] == [s.vibrato_hz for s in full]  # same draws


@pytest.mark.parametrize("key,value", [("formant_spread", -0.5), ("formant_spread", 3.0),
                                       ("singer_phone", "yes")])
def test_bad_values_name_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        preset("default", **{key: value})
