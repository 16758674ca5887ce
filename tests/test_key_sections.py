import numpy as np
import pytest
from synth_signals import cadence

from pipeline.analysis.chroma import compute_chroma
from pipeline.analysis.key_params import KeyParams
from pipeline.analysis.key_sections import change_margins, key_path, key_sections
from pipeline.analysis.keys import segment_keys
from pipeline.core.errors import ConfigError
from pipeline.core.music import key_index
from pipeline.core.segment import SAMPLE_RATE as SR
from pipeline.core.segment import SEGMENT_SAMPLES

SHARP = {"n_fft": 4096, "power": 1.0}


def test_key_path_pays_the_penalty_only_for_a_lasting_change():
    # key 0 wins blocks 0-4, key 1 wins blocks 5-9 (by 0.5 each), and block 2 flips to key 1
    scores = np.zeros((2, 10))
    scores[0, :5], scores[1, 5:] = 0.5, 0.5
    scores[:, 2] = [0.0, 0.5]
    np.testing.assert_array_equal(key_path(scores, 1.0), [0] * 5 + [1] * 5)
    # without a penalty every block takes its best key
    np.testing.assert_array_equal(key_path(scores, 0.0), [0, 0, 1, 0, 0] + [1] * 5)
    # a penalty above the gain of changing keeps the key of the larger total (1: 3.0 > 2.0)
    np.testing.assert_array_equal(key_path(scores, 3.0), [1] * 10)


def test_change_margins_hand_computed():
    bounds = np.array([0, 100_000, 300_000])
    starts = np.array([0, 100_000 - SEGMENT_SAMPLES - SR, 90_000, 100_000 + SR // 2])
    got = change_margins(bounds, starts)
    np.testing.assert_allclose(got, [(100_000 - SEGMENT_SAMPLES) / SR, 1.0,
                                     -min(10_000, SEGMENT_SAMPLES - 10_000) / SR, 0.5])
    assert np.all(np.isinf(change_margins(np.array([0, 300_000]), starts)))


def _two_keys(a, b, repeats=4):
    """Cadences in key ``a`` then key ``b`` (each 3 s x repeats / 1)."""
    first, second = cadence(a, repeats=repeats), cadence(b, repeats=repeats)
    return np.concatenate([first, second]), len(first)


@pytest.mark.parametrize("a,b", [("C major", "F# major"), ("A minor", "E major"),
                                 ("D major", "B minor")])
def test_sections_find_the_key_change_and_both_keys(a, b):
    a, b = key_index(a), key_index(b)
    y, change = _two_keys(a, b)
    params = KeyParams(context="sections", **SHARP)
    chroma = compute_chroma(y, **params.chroma_kwargs())
    sections = key_sections(chroma.frames, hop=chroma.hop, n_samples=len(y))
    assert len(sections.bounds) == 3, sections.bounds  # exactly one change
    assert abs(sections.bounds[1] - change) <= SR  # found within a second
    starts = np.array([0, change - SEGMENT_SAMPLES - SR, change - SEGMENT_SAMPLES // 2,
                       change + SR, len(y) - SEGMENT_SAMPLES])
    keys = segment_keys(chroma, starts, n_samples=len(y), **params.key_kwargs())
    assert keys.key[[0, 1]].tolist() == [a, a] and keys.key[[3, 4]].tolist() == [b, b]
    assert keys.change_margin_s[2] < 0  # spans the change
    assert np.all(keys.change_margin_s[[0, 4]] > 1.0)
    assert np.all(keys.margin > 0)


def test_one_key_gives_one_section():
    k = key_index("E minor")
    y = cadence(k, repeats=6)
    params = KeyParams(context="sections", **SHARP)
    chroma = compute_chroma(y, **params.chroma_kwargs())
    keys = segment_keys(chroma, np.array([0, SR * 5]), n_samples=len(y), **params.key_kwargs())
    assert keys.key.tolist() == [k, k] and np.all(np.isinf(keys.change_margin_s))


@pytest.mark.parametrize("bad", [{"section_block_s": 0}, {"section_context_s": -1},
                                 {"change_penalty": -0.5}])
def test_section_params_validation(bad):
    with pytest.raises(ConfigError, match="key."):
        KeyParams(**bad)
