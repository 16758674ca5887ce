import numpy as np
import pytest
from synth_signals import cadence

from pipeline.analysis.chroma import compute_chroma
from pipeline.analysis.key_params import KeyParams
from pipeline.analysis.key_profiles import key_profile_scores, key_profiles
from pipeline.analysis.keys import context_bounds, keys_of_sums, segment_keys, track_key
from pipeline.core.errors import ConfigError
from pipeline.core.music import key_index
from pipeline.core.segment import SAMPLE_RATE as SR
from pipeline.core.segment import SEGMENT_SAMPLES


def test_profile_scores_identify_every_key_from_its_own_profile():
    profiles = key_profiles()
    scores = key_profile_scores(profiles.T)  # (24, 24)
    assert scores.shape == (24, 24)
    np.testing.assert_array_equal(np.argmax(scores, axis=0), np.arange(24))
    np.testing.assert_allclose(np.diag(scores), 1.0)
    key, strength, margin = keys_of_sums(profiles[[13]].T, profile="krumhansl")
    assert key[0] == 13 and strength[0] == pytest.approx(1.0)
    assert margin[0] == pytest.approx(1.0 - np.sort(scores[:, 13])[-2])


def test_profile_scores_flat_chroma_is_zero():
    assert key_profile_scores(np.ones(12)).shape == (24,)
    np.testing.assert_allclose(key_profile_scores(np.ones(12)), 0.0)


def test_c_major_triad_chroma_scores_c_major_first():
    chroma = np.zeros(12)
    chroma[[0, 4, 7]] = 1.0
    assert keys_of_sums(chroma[:, None], profile="krumhansl")[0][0] == 0


SHARP = {"n_fft": 2048, "power": 1.0}  # chroma_stft settings that resolve low notes


@pytest.mark.parametrize("name", ["D major", "E minor", "A# minor", "F# major"])
@pytest.mark.parametrize("chroma", [{"chroma": "cqt"}, {"chroma": "stft", **SHARP}])
def test_cadences_give_their_key(name, chroma):
    k = key_index(name)
    y = cadence(k)
    params = KeyParams(context="segment", **chroma)
    c = compute_chroma(y, **params.chroma_kwargs())
    assert track_key(c, **params.profile_kwargs())[0] == k
    keys = segment_keys(c, np.array([0]), **params.key_kwargs())
    assert keys.key[0] == k and 0.5 < keys.strength[0] <= 1.0 and keys.margin[0] > 0


def test_essentia_krumhansl_profile_matches():
    k = key_index("E minor")
    params = KeyParams(method="essentia", essentia_profile="krumhansl")
    c = compute_chroma(cadence(k), **params.chroma_kwargs())
    assert track_key(c, **params.profile_kwargs())[0] == k


def test_context_bounds_hand_computed():
    starts = np.array([0, 10 * 512])
    lo, hi = context_bounds(starts, 1000, 512, context="segment")
    np.testing.assert_array_equal(lo, [0, 10])
    np.testing.assert_array_equal(hi, [129, 139])
    lo, hi = context_bounds(starts, 1000, 512, context="track")
    np.testing.assert_array_equal(lo, [0, 0]) and np.testing.assert_array_equal(hi, [1000, 1000])
    lo, hi = context_bounds(np.array([SR * 20]), 5000, 512,
                            context="window", window_seconds=10.0)
    centre = (SR * 20 + SEGMENT_SAMPLES // 2) / 512
    assert lo[0] == round(centre - SR * 5 / 512) and hi[0] == round(centre + SR * 5 / 512) + 1


def test_segment_context_follows_a_key_change_track_does_not():
    a, b = key_index("C major"), key_index("F# major")
    y = np.concatenate([cadence(a, repeats=3), cadence(b, repeats=3)])
    starts = np.array([0, len(y) - SEGMENT_SAMPLES])
    seg = KeyParams(context="segment", **SHARP)
    c = compute_chroma(y, **seg.chroma_kwargs())
    np.testing.assert_array_equal(segment_keys(c, starts, **seg.key_kwargs()).key, [a, b])
    whole = KeyParams(context="track", **SHARP)
    keys = segment_keys(c, starts, **whole.key_kwargs()).key
    assert keys[0] == keys[1]


def test_weights_exclude_frames():
    a, b = key_index("C major"), key_index("F# major")
    y = np.concatenate([cadence(a, repeats=3), cadence(b, repeats=3)])
    params = KeyParams(context="track", **SHARP)
    c = compute_chroma(y, **params.chroma_kwargs())
    weights = np.zeros(c.frames.shape[1])
    weights[: c.frames.shape[1] // 2 - 20] = 1.0
    assert track_key(c, weights=weights, **params.profile_kwargs())[0] == a


@pytest.mark.parametrize("bad", [{"method": "x"}, {"chroma": "mel"}, {"context": "bar"},
                                 {"window_seconds": 0}, {"n_fft": 1000}, {"power": 0}])
def test_params_validation(bad):
    with pytest.raises(ConfigError, match="key."):
        KeyParams(**bad)


def test_pitch_chroma_finds_a_minor_melody_of_harmonic_rich_tones():
    from synth_signals import note

    from pipeline.analysis.chroma import PITCH_N_FFT, pitch_chroma, spectrogram
    from pipeline.core.music import scale_pitch_classes

    k = key_index("A minor")
    pcs = scale_pitch_classes(k)
    tune = [0, 2, 4, 2, 0, 4, 6, 5, 4, 0, 1, 0]  # scale degrees, tonic-heavy
    y = np.concatenate([note(57 + (pcs[d] - 9) % 12, 0.4, 0.2, harmonics=12)
                        for d in tune * 2])
    chroma = pitch_chroma(spectrogram(y, n_fft=PITCH_N_FFT, power=1.0), n_fft=PITCH_N_FFT)
    assert set(np.flatnonzero(chroma.sum(axis=1))) <= set(pcs)
    params = KeyParams(chroma="pitch", context="track")
    c = compute_chroma(y, **params.chroma_kwargs())
    np.testing.assert_array_equal(c.frames, chroma)
    assert track_key(c, **params.profile_kwargs())[0] == k


def test_numpy_stft_and_chroma_equal_librosa(small_corpus):
    """The STFT and STFT chroma replacing librosa's (pipeline.analysis.chroma), on the demo's
    accompaniments: the same frames to float rounding and the same segment keys."""
    import librosa
    import pandas as pd

    from pipeline.analysis.chroma import Chroma, chroma_filters, spectrogram
    from pipeline.sources import load_accompaniment

    truth = pd.read_parquet(small_corpus / "truth" / "accompaniments.parquet")
    params = KeyParams()
    same = total = 0
    for r in truth.to_dict("records"):
        r["path"] = str(small_corpus / r["path"])
        y = load_accompaniment(r)
        ref_mag = np.abs(librosa.stft(y, n_fft=params.n_fft, hop_length=512))
        mag = spectrogram(y, n_fft=params.n_fft, power=1.0)
        assert mag.dtype == ref_mag.dtype and mag.shape == ref_mag.shape
        np.testing.assert_allclose(mag, ref_mag, rtol=1e-4, atol=1e-6 * ref_mag.max())
        ref = librosa.feature.chroma_stft(S=ref_mag, sr=SR, n_fft=params.n_fft, tuning=0.0,
                                          norm=None)
        ours = compute_chroma(y, **params.chroma_kwargs())
        np.testing.assert_allclose(ours.frames, ref, rtol=1e-4, atol=1e-6 * ref.max())
        starts = np.arange(0, len(y) - 65536, SR // 2)
        a = segment_keys(ours, starts, n_samples=len(y), **params.key_kwargs())
        b = segment_keys(Chroma(ref.astype(np.float64), 512), starts, n_samples=len(y),
                         **params.key_kwargs())
        same += int(np.sum(a.key == b.key))
        total += len(starts)
    assert total > 100 and same == total
    np.testing.assert_allclose(chroma_filters(SR, 2048),
                               librosa.filters.chroma(sr=SR, n_fft=2048, tuning=0.0), atol=1e-7)
