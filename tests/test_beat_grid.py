import numpy as np
import pytest

from pipeline.analysis.beat_grid import beat_grid_starts, spectral_flux
from pipeline.analysis.chroma import PITCH_N_FFT, spectrogram
from pipeline.core.segment import HOP_LENGTH, SAMPLE_RATE, SEGMENT_SAMPLES


def _notes(n, onsets, rng, freqs=(330.0, 392.0, 262.0), dur=6000, gains=None):
    """Decaying sine notes (cycling pitches) at the given sample positions, over faint noise."""
    y = 1e-3 * rng.standard_normal(n)
    t = np.arange(dur) / SAMPLE_RATE
    for i, s in enumerate(onsets):
        g = 0.3 if gains is None else gains[i]
        note = g * np.sin(2 * np.pi * freqs[i % len(freqs)] * t) * np.exp(-t * 8)
        y[s:s + dur] += note[: max(0, min(dur, n - s))]
    return y.astype(np.float32)


def _onset(y):
    return spectral_flux(spectrogram(y, n_fft=PITCH_N_FFT, power=1.0), n_fft=PITCH_N_FFT)


def test_flux_peaks_at_note_onsets(rng):
    onsets = np.arange(5000, 10 * SAMPLE_RATE, 15000)
    flux = _onset(_notes(10 * SAMPLE_RATE, onsets, rng))
    peaks = np.flatnonzero((flux > np.r_[0, flux[:-1]]) & (flux >= np.r_[flux[1:], 0])
                           & (flux > 0.3 * flux.max()))
    nearest = np.array([np.min(np.abs(peaks * HOP_LENGTH - s)) for s in onsets])
    assert np.all(nearest <= 2 * HOP_LENGTH), nearest  # within ~46 ms of each note


@pytest.mark.parametrize("tempo", [72.0, 120.0, 151.0])
def test_windows_move_onto_the_nearest_beat(rng, tempo):
    period = 60 * SAMPLE_RATE / tempo
    beats = np.rint(3000 + np.arange(0, 40) * period).astype(np.int64)
    n = int(beats[-1]) + SEGMENT_SAMPLES
    y = _notes(n, beats, rng)
    starts = np.array([40000, 52000, 100000, 130001, 200000])
    got = beat_grid_starts(_onset(y), starts, tempo_bpm=tempo, n_samples=n)
    for s, g in zip(starts, got):
        assert np.min(np.abs(beats - g)) <= 2 * HOP_LENGTH, (s, g)  # on a beat (46 ms)
        assert abs(g - s) <= period / 2 + HOP_LENGTH  # moved by at most half a beat
        assert g % HOP_LENGTH == 0
        distance = np.sort(np.abs(beats - s))
        if distance[0] < 0.35 * period:  # clearly nearer one beat: that one
            assert abs(g - beats[np.argmin(np.abs(beats - s))]) <= 2 * HOP_LENGTH, (s, g)


def test_the_grid_wins_over_a_louder_off_beat_note(rng):
    period = 60 * SAMPLE_RATE / 100.0
    beats = np.rint(2000 + np.arange(30) * period).astype(np.int64)
    start = int(beats[10] + period / 4)
    onsets = np.sort(np.r_[beats, start + 200])
    gains = np.where(onsets == start + 200, 0.9, 0.3)  # one loud syncopated note
    y = _notes(int(beats[-1]) + SEGMENT_SAMPLES, onsets, rng, gains=gains)
    got = beat_grid_starts(_onset(y), [start], tempo_bpm=100.0, n_samples=len(y))[0]
    assert abs(got - beats[10]) <= 2 * HOP_LENGTH


def test_windows_stay_inside_the_recording(rng):
    n = SEGMENT_SAMPLES + 5000
    y = _notes(n, [100, 6000], rng)
    got = beat_grid_starts(_onset(y), [0, 2000, 5000], tempo_bpm=90.0, n_samples=n)
    assert np.all((got >= 0) & (got <= n - SEGMENT_SAMPLES))
    assert beat_grid_starts(_onset(y[:SEGMENT_SAMPLES]), [0], tempo_bpm=90.0,
                            n_samples=SEGMENT_SAMPLES)[0] == 0


def test_no_tempo_or_no_onsets_leaves_starts_unchanged(rng):
    y = _notes(4 * SEGMENT_SAMPLES, np.arange(1000, 4 * SEGMENT_SAMPLES, 11025), rng)
    starts = np.array([1234, 70001])
    onset = _onset(y)
    assert np.array_equal(beat_grid_starts(onset, starts, tempo_bpm=np.nan, n_samples=len(y)),
                          starts)
    flat = np.zeros_like(onset)
    assert np.array_equal(beat_grid_starts(flat, starts, tempo_bpm=120.0, n_samples=len(y)),
                          starts)


def test_each_window_is_aligned_independently(rng):
    """Vectorised over windows: one call equals one call per window."""
    period = 60 * SAMPLE_RATE / 97.0
    y = _notes(12 * SEGMENT_SAMPLES, np.rint(np.arange(1500, 12 * SEGMENT_SAMPLES, period / 2))
               .astype(np.int64), rng)
    onset = _onset(y)
    starts = np.array([3000, 200000, 11 * SEGMENT_SAMPLES - 9000])
    for context in (0, 4, 16):
        together = beat_grid_starts(onset, starts, tempo_bpm=97.0, n_samples=len(y),
                                    context_beats=context)
        alone = [beat_grid_starts(onset, [s], tempo_bpm=97.0, n_samples=len(y),
                                  context_beats=context)[0] for s in starts]
        assert together.tolist() == alone
