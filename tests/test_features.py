import librosa
import numpy as np
import pytest

from pipeline.core.errors import ConfigError
from pipeline.core.segment import (
    HOP_LENGTH,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
    SEGMENT_FRAMES,
    SEGMENT_SAMPLES,
)
from pipeline.dataset.features import FeatureParams, log_mel, mel_basis, mel_magnitude


def _librosa_mel(x):
    """librosa's magnitude mel spectrogram, all in float64 (its filters default to float32)."""
    magnitude = np.abs(librosa.stft(x.astype(np.float64), n_fft=N_FFT, hop_length=HOP_LENGTH,
                                    pad_mode="constant"))
    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, dtype=np.float64)
    return (basis @ magnitude).T


def test_mel_magnitude_matches_librosa_power_one(rng):
    x = rng.standard_normal((3, SEGMENT_SAMPLES)).astype(np.float32) * 0.1
    got = mel_magnitude(x)
    assert got.shape == (3, SEGMENT_FRAMES, N_MELS)
    for i in range(3):
        ref = _librosa_mel(x[i])
        np.testing.assert_allclose(got[i], ref, rtol=1e-9, atol=1e-12)


def test_log_mel_shape_dtype_and_default_compression(rng):
    x = rng.standard_normal((5, SEGMENT_SAMPLES)).astype(np.float32) * 0.1
    out = log_mel(x, batch_size=2)
    assert out.shape == (5, 129, 128) and out.dtype == np.float32
    ref = np.log10(1 + 10 * _librosa_mel(x[4]))
    np.testing.assert_allclose(out[4], ref, rtol=1e-4, atol=1e-5)


def test_batch_size_does_not_change_values(rng):
    """In-process check; tests/test_determinism.py runs it across BLAS kernels and SIMD levels."""
    x = rng.standard_normal((7, SEGMENT_SAMPLES)).astype(np.float32)
    a = log_mel(x, batch_size=1, dtype=np.float64)
    b = log_mel(x, batch_size=7, dtype=np.float64)
    np.testing.assert_array_equal(a, b)


def test_float16_output_is_one_rounding_of_the_float64_values(rng):
    x = rng.standard_normal((2, SEGMENT_SAMPLES)).astype(np.float32)
    exact = log_mel(x, dtype=np.float64)
    np.testing.assert_array_equal(log_mel(x, dtype=np.float16), exact.astype(np.float16))


def test_db_compression_and_sine_peak_band():
    t = np.arange(SEGMENT_SAMPLES) / SAMPLE_RATE
    x = (0.5 * np.sin(2 * np.pi * 1000 * t))[None]
    out = log_mel(x, compression="db")
    centres = librosa.mel_frequencies(n_mels=N_MELS + 2, fmax=SAMPLE_RATE / 2)[1:-1]
    peak = int(np.argmax(out[0, 64]))
    assert abs(centres[peak] - 1000) < 60
    ref = 20 * np.log10(np.maximum(_librosa_mel(x[0]), 1e-5))
    loud = ref > -60  # float32 vs float64 differ in relative terms only near the floor
    np.testing.assert_allclose(out[0][loud], ref[loud], atol=1e-3)


def test_rejects_wrong_length_and_unknown_compression(rng):
    with pytest.raises(ValueError, match="65536"):
        log_mel(np.zeros((1, 66150), np.float32))
    with pytest.raises(ConfigError, match="features.compression"):
        FeatureParams(compression="power")


def test_banded_mel_blocks_cover_every_weight():
    from pipeline.dataset.features import mel_blocks

    rebuilt = np.zeros_like(mel_basis())
    for b0, b1, bins, weights in mel_blocks():
        for j in range(len(bins)):
            np.add.at(rebuilt, (bins[j], np.arange(b0, b1)), weights[j])
    np.testing.assert_array_equal(rebuilt, mel_basis())


def test_mel_basis_is_librosas_bit_for_bit():
    """features.mel_basis no longer imports librosa; the matrix (and so every shard) is the same."""
    for sr, n_fft, n_mels in ((SAMPLE_RATE, N_FFT, N_MELS), (SAMPLE_RATE, 2048, 128),
                              (44100, 2048, 40), (16000, 512, 64)):
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, dtype=np.float64).T
        np.testing.assert_array_equal(mel_basis(sr, n_fft, n_mels), ref)
