import numpy as np
import pytest

from pipeline.analysis.scoring import (
    frame_f1,
    intervals_to_frames,
    key_at,
    key_relation,
    mirex_key_score,
    tempo_match,
    tempo_octave_error,
)
from pipeline.core.music import key_index as k


def test_frame_f1_hand_computed():
    est = np.array([1, 1, 0, 0, 1], dtype=bool)
    ref = np.array([1, 0, 0, 1, 1], dtype=bool)
    assert frame_f1(est, ref) == pytest.approx(2 * 2 / (3 + 3))
    assert frame_f1(np.zeros(3, bool), np.zeros(3, bool)) == 1.0


def test_intervals_to_frames_uses_frame_centres():
    mask = intervals_to_frames([0.0], [1024 / 22050], 4)  # centres at 0, 512, 1024, 1536
    np.testing.assert_array_equal(mask, [True, True, False, False])


@pytest.mark.parametrize("est, relation, score", [
    ("C major", "same", 1.0), ("G major", "fifth", 0.5), ("F major", "other", 0.0),
    ("A minor", "relative", 0.3), ("C minor", "parallel", 0.2), ("D major", "other", 0.0)])
def test_mirex_relations_against_c_major(est, relation, score):
    assert key_relation(k(est), k("C major")) == relation
    assert mirex_key_score(k(est), k("C major"))[0] == score


def test_mirex_minor_reference_and_descending_fifths():
    assert key_relation(k("C major"), k("A minor")) == "relative"
    assert key_relation(k("E minor"), k("A minor")) == "fifth"
    assert key_relation(k("D minor"), k("A minor"), descending_fifths=True) == "fifth"
    np.testing.assert_allclose(mirex_key_score([0, 7, 21], [0, 0, 0]), [1.0, 0.5, 0.3])


def test_tempo_match_and_octave_errors():
    est = np.array([100.0, 103.9, 104.5, 200.0, 50.0, 150.0, np.nan])
    ref = np.full(7, 100.0)
    np.testing.assert_array_equal(tempo_match(est, ref),
                                  [True, True, False, False, False, False, False])
    np.testing.assert_array_equal(tempo_octave_error(est, ref),
                                  [False, False, False, True, True, True, False])


def test_key_at_last_change():
    np.testing.assert_array_equal(key_at([0.0, 9.9, 10.0, 30.0], [0.0, 10.0], ["A", "B"]),
                                  ["A", "A", "B", "B"])
