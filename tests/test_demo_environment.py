"""A singer's home recording environment in the demo corpus (``pipeline.demo.environment``)."""

import numpy as np
import pytest
from demo_chains import chain, plans

from pipeline.core.errors import ConfigError
from pipeline.core.random import rng_for
from pipeline.demo import preset
from pipeline.demo.corpus import SR, VOICE_SR, synthesise_performance
from pipeline.demo.environment import draw_environment, room_tone

SMALL = dict(singers=4, performances_per_singer=3, singers_per_song=1, duration_s=(4.0, 5.0),
             tracks=2, stems_tracks=0, tempo_classes=(108.0, 136.0), keys_per_class=2,
             min_section_s=4.0)


def test_strength_zero_is_the_old_chain_byte_for_byte():
    params = preset("default", **SMALL, environment_strength=0.0)
    for plan in plans(params)[:3]:
        y, _ = synthesise_performance(plan, params)
        assert y.tobytes() == chain(plan, params, homes=False).tobytes()
    assert preset("default").environment_strength == 1.0  # homes are on by default


def test_the_environment_keeps_the_performance_and_adds_its_room_tone():
    off, on = preset("default", **SMALL, environment_strength=0.0), preset("default", **SMALL)
    plan = plans(off)[0]
    (y0, t0), (y1, t1) = synthesise_performance(plan, off), synthesise_performance(plan, on)
    assert t0 == t1  # same notes, timing and length: the render stream is not shifted
    assert y0.tobytes() != y1.tobytes()


def _lead_in_spectrum(plan, params) -> np.ndarray:
    """Log power spectrum (dB, 64 bands up to 8 kHz) of the silence before the first note."""
    y, truth = synthesise_performance(plan, params)
    quiet = y[: int((truth["voiced_start_s"][0] - 0.05) * SR)].astype(np.float64)
    f, pxx = __import__("scipy.signal", fromlist=["welch"]).welch(quiet, SR, nperseg=2048)
    bands = np.array_split(pxx[(f > 40) & (f < 8000)], 64)
    return 10 * np.log10(np.array([b.mean() for b in bands]) + 1e-30)


def test_room_tone_is_shared_within_a_singer_and_differs_between_singers():
    # strength 10: the room tone 20 dB above its realistic level, above the phone's own
    # noise floor, so the silences show it
    params = preset("default", **SMALL, environment_strength=10.0)
    spectra, singers = [], []
    for plan in plans(params):
        spectra.append(_lead_in_spectrum(plan, params))
        singers.append(plan.user_id)
    s = np.array(spectra)
    s -= s.mean(axis=1, keepdims=True)  # shape only: the level varies per recording
    r = np.corrcoef(s)
    same = np.array(singers)[:, None] == np.array(singers)[None, :]
    off_diag = ~np.eye(len(s), dtype=bool)
    within, between = r[same & off_diag], r[~same]
    assert within.mean() > between.mean() + 0.2, (within.mean(), between.mean())
    # and without the environment the silences' spectra do not name the singer
    params0 = preset("default", **SMALL, environment_strength=0.0)
    s0 = np.array([_lead_in_spectrum(p, params0) for p in plans(params0)])
    r0 = np.corrcoef(s0 - s0.mean(axis=1, keepdims=True))
    assert abs(r0[same & off_diag].mean() - r0[~same].mean()) < 0.15


def test_room_tone_has_unit_rms_and_the_singers_hum():
    env = draw_environment(rng_for(1, "environment", "u"))
    env = type(env)(**{**env.__dict__, "hum_share": 1.0, "hum_db": (0.0,), "mains_hz": 60.0})
    y = room_tone(env, 2 ** 16, sr=VOICE_SR, rng=np.random.default_rng(0)).astype(np.float64)
    f, pxx = __import__("scipy.signal", fromlist=["welch"]).welch(y, VOICE_SR, nperseg=8192)
    assert abs(f[np.argmax(pxx)] - 60.0) < 2.0  # the hum, at 0 dB, towers over the noise
    assert np.isclose(np.sqrt(np.mean(y * y)), np.sqrt(2.0), rtol=0.05)  # noise 1 + hum 1


@pytest.mark.parametrize("value", [-0.1, 11.0])
def test_bad_environment_strength_names_the_key(value):
    with pytest.raises(ConfigError, match="demo.params.environment_strength"):
        preset("default", environment_strength=value)


def test_the_recipe_holds_the_generator_version_and_every_resolved_parameter():
    import json

    from pipeline.demo.params import GENERATOR_VERSION, SMALL, DemoParams, recipe

    r = recipe("small", {"singers": 5}, seed=7)
    assert r["generator"] == GENERATOR_VERSION and r["singers"] == 5 and r["seed"] == 7
    assert r["tracks"] == SMALL["tracks"] != DemoParams().tracks  # the preset, resolved
    assert r["environment_strength"] == DemoParams().environment_strength  # a default, resolved
    assert recipe("default", {}, seed=7) != recipe("small", {}, seed=7)
    assert json.loads(json.dumps(r)) == r  # the rule passes it as JSON


def test_loud_frames_rms_is_hand_computed_and_ignores_silences():
    from pipeline.core.signal import loud_frames_rms

    y = np.full(4096, 0.5, np.float32)  # 9 centred frames of 1024, hop 512
    # the two edge frames are half zero padding: mean square (2 x 0.125 + 7 x 0.25) / 9
    assert loud_frames_rms(y) == pytest.approx(np.sqrt(2 / 9), rel=1e-12)
    # appended silence does not lower the level, nor a hum 54 dB under it, unless in range
    assert loud_frames_rms(np.r_[y, np.zeros(8192, np.float32)]) == loud_frames_rms(y)
    hum = np.r_[y, np.full(8192, 1e-3, np.float32)]
    assert loud_frames_rms(hum) == pytest.approx(loud_frames_rms(y), rel=0.02)
    assert loud_frames_rms(hum, range_db=60.0) < 0.3
