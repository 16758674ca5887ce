"""Shift to match (pipeline/mashup/shift.py and its use in the mixer), on ground truth.

Demo accompaniments are rendered at a known tempo and key (``pipeline.demo``); a shifted
render, re-analysed by the pipeline's own accompaniment analysis, must have the target's
whole-BPM tempo and the target key in every segment, by a margin the join accepts, where the
unshifted render has neither.

The sources are renders whose key the analysis finds clearly (median margin 0.23 and 0.19
over the second-best key; shifted, at least 0.15).  On a weakly keyed render (margin 0.02 on
the bass and chord stems of one made by the demo generator before its #16 instruments) every
shifter tried, ours, librosa's and Signalsmith Stretch, turned some cases into the relative
key: that is the estimator's relative-key ambiguity, not the shift.
"""

import hashlib
import math

import numpy as np
import pandas as pd
import pytest
from test_determinism import MACHINES, run

from pipeline.analysis.chroma import compute_chroma
from pipeline.analysis.key_params import KeyParams
from pipeline.analysis.keys import track_key
from pipeline.analysis.stage import analyze_accompaniment
from pipeline.core.audio import to_mono
from pipeline.core.errors import ParameterError, PipelineError
from pipeline.core.music import is_minor, tonic
from pipeline.core.segment import SAMPLE_RATE, SEGMENT_SAMPLES
from pipeline.dataset.features import FeatureParams
from pipeline.mashup import shift
from pipeline.mashup.join import tempo_bucket
from pipeline.mashup.mix import MashupParams, accompaniment_segment, mix_pairs
from pipeline.mashup.mixing import mix_pair
from pipeline.sources import cache as acc_cache

SR = SAMPLE_RATE
SOURCE_BPM, SOURCE_KEY = 100.0, 9  # A major
SOURCES = [(9, 6), (16, 6)]  # (key, seed): A major, E minor
# the brief's ranges: +-1..3 semitones, +-4..8 % stretch; targets at whole BPM
CASES = [(1, 1.04), (-2, 0.96), (3, 1.08), (-3, 0.92), (2, 0.94), (-1, 1.06)]


def render(tempo: float, key: int, *, seconds: float, seed: int = 6) -> np.ndarray:
    """A one-key demo accompaniment of about ``seconds`` s (mono float32)."""
    from pipeline.demo.accompaniment import render_track
    from pipeline.demo.plan import TrackPlan

    bars = int(math.ceil(seconds * tempo / 240.0)) + 2
    plan = TrackPlan(name="t", split="train", format="hq", tempo_bpm=float(tempo),
                     section_keys=(int(key),), section_bars=bars, lead_in_s=30.0 / tempo)
    stems, _ = render_track(plan, sr=SR, rng=np.random.default_rng(seed))
    return to_mono(stems["mixture"].T)


def moved(key: int, semitones: int) -> int:
    return (tonic(key) + semitones) % 12 + (12 if is_minor(key) else 0)


@pytest.fixture(scope="module")
def sources():
    return {key: render(SOURCE_BPM, key, seconds=24, seed=seed) for key, seed in SOURCES}


@pytest.fixture(scope="module")
def source(sources):
    return sources[SOURCE_KEY]


@pytest.mark.parametrize("key", [k for k, _ in SOURCES])
@pytest.mark.parametrize("semitones, ratio", CASES)
def test_shifted_render_has_the_target_tempo_and_key_by_our_analysis(sources, key, semitones,
                                                                    ratio):
    out = 14 * SR
    y = shift.shift_segment(sources[key][:shift.input_samples(ratio, out)], sr=SR,
                            semitones=semitones, stretch_ratio=ratio, out_samples=out)
    target_bpm, target_key = SOURCE_BPM * ratio, moved(key, semitones)
    got = analyze_accompaniment(y)
    assert tempo_bucket(got.tempo_bpm) == tempo_bucket(target_bpm), got.tempo_bpm
    assert len(got.key) > 10 and np.all(got.key == target_key), got.key
    assert np.all(got.key_margin >= MashupParams().min_key_margin), got.key_margin
    # the same check fails on the unshifted audio: it can tell
    before = analyze_accompaniment(sources[key][:out])
    assert tempo_bucket(before.tempo_bpm) != tempo_bucket(target_bpm)
    assert not np.any(before.key == target_key)


class Cache:
    """``CachedAccompaniments``' interface over in-memory tracks."""

    def __init__(self, tracks):
        self.tracks = tracks

    def segment(self, track_id, start, length=SEGMENT_SAMPLES):
        y = self.tracks[track_id]
        if start + length > len(y):
            raise ValueError(f"{track_id}: {start}+{length} outside {len(y)}")
        return np.asarray(y[start:start + length], np.float32)


def test_each_mixed_segment_has_the_key_of_its_exact_transposition(source):
    """Per 2.972-s segment, as the mixer cuts and shifts it: the key our key finder gives
    the shifted segment alone is the one it gives the artefact-free transposition of the
    same audio (varispeed by 2 ** (semitones / 12)), for at least 85% of 48 segments
    (measured: 45 of 48, unshifted 0 of 48; bench_shift.py compares the libraries on this).

    The key name itself is no reference on 3 s: under exact transposition the estimate
    follows the key in only 73-85% of segments (previous demo renders; relative keys, drum
    tones)."""
    kp, cache = KeyParams(), Cache({"t": source})

    def key(y):
        return track_key(compute_chroma(y, **kp.chroma_kwargs()), **kp.profile_kwargs())[0]

    starts = np.round(np.arange(8) * 3 * 60.0 / SOURCE_BPM * SR).astype(int) + 600
    same, unshifted_same = [], []
    for semitones, ratio in [(2, 1.05), (-3, 0.93), (1, 1.0), (-1, 0.96), (3, 1.04),
                             (-2, 1.0)]:
        for start in starts:
            moved_seg = accompaniment_segment(cache, "t", int(start), semitones=semitones,
                                              stretch_ratio=ratio)
            assert moved_seg.shape == (SEGMENT_SAMPLES,) and moved_seg.dtype == np.float32
            exact = shift.varispeed(source[start:start + 2 * SEGMENT_SAMPLES],
                                    factor=2 ** (semitones / 12), sr=SR)[:SEGMENT_SAMPLES]
            same.append(key(moved_seg) == key(exact.astype(np.float32)))
            unshifted_same.append(key(cache.segment("t", int(start))) == key(
                exact.astype(np.float32)))
    assert np.mean(same) >= 0.85, np.mean(same)
    assert np.mean(unshifted_same) < 0.2, np.mean(unshifted_same)  # the unshifted segments do not pass


@pytest.mark.parametrize("semitones, ratio, out", [(0, 1.1, SEGMENT_SAMPLES), (4, 1.0, 1000),
                                                   (-6, 0.8, 70001), (6, 1.25, 4097),
                                                   (-1, 1.2345, SEGMENT_SAMPLES)])
def test_output_length_is_exact_and_reads_no_further_than_input_samples(rng, semitones, ratio,
                                                                         out):
    need = shift.input_samples(ratio, out)
    assert need == math.ceil(ratio * out) + shift.STRETCH_MARGIN_SAMPLES
    y = (0.1 * rng.standard_normal(need + 20000)).astype(np.float32)
    z = shift.shift_segment(y[:need], sr=SR, semitones=semitones, stretch_ratio=ratio,
                            out_samples=out)
    assert z.shape == (out,) and z.dtype == np.float32 and np.all(np.isfinite(z))
    # more input after the margin changes nothing: the margin holds at the range's extremes
    longer = shift.shift_segment(y, sr=SR, semitones=semitones, stretch_ratio=ratio,
                                 out_samples=out)
    assert longer.tobytes() == z.tobytes()
    with pytest.raises(ParameterError, match="needed"):
        shift.shift_segment(y[:need - 1], sr=SR, semitones=semitones, stretch_ratio=ratio,
                            out_samples=out)


def test_out_of_range_shifts_are_refused(rng):
    y = rng.standard_normal(100000).astype(np.float32)
    for s, r in [(7, 1.0), (-6.5, 1.0), (0, 1.3), (0, 0.79)]:
        with pytest.raises(ParameterError):
            shift.shift_segment(y, sr=SR, semitones=s, stretch_ratio=r, out_samples=1000)


def test_identity_is_the_segment_itself(rng):
    y = rng.standard_normal(SEGMENT_SAMPLES + 5).astype(np.float32)
    z = shift.shift_segment(y, sr=SR, semitones=0, stretch_ratio=1.0, out_samples=SEGMENT_SAMPLES)
    assert z.tobytes() == y[:SEGMENT_SAMPLES].tobytes()


def test_stretch_alone_keeps_pitch_and_varispeed_moves_it():
    """A 440-Hz tone stretched by 1.08 stays at 440 Hz; +2 semitones is 440 * 2 ** (2/12)."""
    t = np.arange(3 * SR) / SR
    y = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    for s, r in [(0, 1.08), (2, 1.0), (-3, 0.95)]:
        z = shift.shift_segment(y, sr=SR, semitones=s, stretch_ratio=r, out_samples=SR)
        spec = np.abs(np.fft.rfft(z * np.hanning(len(z))))
        peak = np.argmax(spec) * SR / len(z)
        assert abs(peak - 440.0 * 2 ** (s / 12)) <= 1.5, (s, r, peak)
        assert 0.3 < np.sqrt(np.mean(z[2048:-2048] ** 2)) / np.sqrt(np.mean(y ** 2)) < 1.1


def _pairs(shifts):
    rows = []
    for i, (s, r) in enumerate(shifts):
        rows.append({"segment_id": f"p0-w{i:03d}-m0", "perf_id": "p0", "singer": "a",
                     "song": "x", "subset": "train", "window_index": i, "mix_index": 0,
                     "vocal_start": 20000 * i, "acc_track": "t", "acc_start": 30000 * i + 600,
                     "acc_beat_index": i, "tempo_bpm": 100.0 * r, "acc_tempo_bpm": 100.0,
                     "key": moved(SOURCE_KEY, s), "acc_key": SOURCE_KEY,
                     "shift_semitones": s, "stretch_ratio": r})
    return pd.DataFrame(rows)


def _mix(pairs, source):
    rng = np.random.default_rng(3)
    vocal = (0.1 * rng.standard_normal(SR * 12)).astype(np.float32)
    return mix_pairs(pairs, load_vocal=lambda _: vocal, accompaniments=Cache({"t": source}),
                     params=MashupParams(), features=FeatureParams()), vocal


def test_unshifted_pairs_mix_byte_identically_with_or_without_the_columns(source):
    pairs = _pairs([(0, 1.0)] * 3)
    (with_cols, _), (without, _) = _mix(pairs, source), _mix(
        pairs.drop(columns=["shift_semitones", "stretch_ratio"]), source)
    for a, b in zip(with_cols[:2], without[:2]):  # mono, mix shards
        assert a.tobytes() == b.tobytes()
    pd.testing.assert_frame_equal(with_cols[2], without[2])


def test_a_shifted_pair_mixes_the_shifted_segment(source):
    pairs = _pairs([(0, 1.0), (2, 1.05), (-1, 0.95)])
    (mono, mix, index, skipped, _), vocal = _mix(pairs, source)
    plain, _ = _mix(pairs.assign(shift_semitones=0, stretch_ratio=1.0), source)
    assert len(skipped) == 0 and len(index) == 3
    assert mix[0].tobytes() == plain[1][0].tobytes()
    for j in (1, 2):
        assert mix[j].tobytes() != plain[1][j].tobytes()
        assert mono[j].tobytes() == plain[0][j].tobytes()  # the vocal is never shifted
        r = pairs.iloc[j]
        acc = shift.shift_segment(
            source[int(r.acc_start):int(r.acc_start) + shift.input_samples(r.stretch_ratio,
                                                                           SEGMENT_SAMPLES)],
            sr=SR, semitones=int(r.shift_semitones), stretch_ratio=float(r.stretch_ratio),
            out_samples=SEGMENT_SAMPLES)
        v = vocal[int(r.vocal_start):int(r.vocal_start) + SEGMENT_SAMPLES]
        expect = mix_pair(v, acc)
        assert index.iloc[j]["acc_gain"] == expect.acc_gain
        assert index.iloc[j]["vocal_gain"] == expect.vocal_gain


SHIFT_BYTES = """
import hashlib, json
import numpy as np
from pipeline.mashup.shift import input_samples, shift_segment
rng = np.random.default_rng(4)
h = hashlib.sha256()
t = np.arange(90000) / 22050
for s, r in [(2, 1.05), (-3, 0.92), (0, 1.08), (5, 0.81)]:
    y = (0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.01 * t)) +
         0.05 * rng.standard_normal(len(t))).astype(np.float32)
    z = shift_segment(y[:input_samples(r, 65536)], sr=22050, semitones=s, stretch_ratio=r,
                      out_samples=65536)
    h.update(z.tobytes())
print(json.dumps({"sha": h.hexdigest()}))
"""


# glibc picks FMA variants of exp/sin/cos by CPU; this hides them (as an older CPU would)
NO_FMA_LIBM = {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F,-AVX"}
LIBM = ("import hashlib, json, math; "
        "v = repr([(math.exp(x / 977), math.sin(x / 13), math.cos(x / 7)) "
        "for x in range(-200000, 200000, 7)]).encode(); "
        "print(json.dumps({'sha': hashlib.sha256(v).hexdigest()}))")


def test_shift_bytes_do_not_depend_on_threads_blas_simd_or_libm():
    """Twice in one process, and in fresh interpreters under the emulated machines of
    tests/test_determinism.py (BLAS kernels, numpy SIMD levels, 1 and 2 threads) and with
    glibc's FMA code paths hidden, which do change libm's exp/sin/cos (checked here)."""
    machines = dict(MACHINES, **{"no-fma-libm": NO_FMA_LIBM})
    hashes = {name: run(SHIFT_BYTES, env)["sha"] for name, env in machines.items()}
    assert len(set(hashes.values())) == 1, hashes
    assert run(LIBM, {})["sha"] != run(LIBM, NO_FMA_LIBM)["sha"]
    y = np.random.default_rng(9).standard_normal(100000).astype(np.float32)
    once, twice = (hashlib.sha256(shift.shift_segment(
        y, sr=SR, semitones=-2, stretch_ratio=1.07, out_samples=SEGMENT_SAMPLES).tobytes())
        .hexdigest() for _ in range(2))
    assert once == twice


def test_librosa_phase_vocoder_bytes_do_depend_on_simd():
    """Why not librosa's time_stretch: np.angle / np.exp round differently by SIMD level."""
    script = ("import hashlib, json, numpy as np, librosa; "
              "y = np.random.default_rng(0).standard_normal(44100).astype(np.float32); "
              "z = librosa.effects.time_stretch(y, rate=1.05); "
              "print(json.dumps({'sha': hashlib.sha256(z.tobytes()).hexdigest()}))")
    hashes = {name: run(script, env)["sha"] for name, env in MACHINES.items()}
    assert len(set(hashes.values())) > 1, hashes


def test_hann_window_is_the_hann_window():
    n = 2048
    assert np.abs(shift.hann_window(n) - np.hanning(n + 1)[:n]).max() < 1e-15


def test_a_shifted_read_past_the_track_end_fails_naming_the_track(tmp_path, source):
    """The join must leave room for input_samples(); if it does not, the mix stage says so."""
    builder = acc_cache.AudioCacheBuilder()
    offset, length = builder.add(source)
    acc_cache.write_audio(tmp_path / "0.audio.npy", builder.audio())
    pd.DataFrame([{"track_id": "song_a", "audio_offset": offset, "audio_length": length}]
                 ).to_parquet(tmp_path / "0.tracks.parquet")
    cache = acc_cache.CachedAccompaniments(tracks=[tmp_path / "0.tracks.parquet"],
                                           audio=[tmp_path / "0.audio.npy"])
    last = length - SEGMENT_SAMPLES
    assert accompaniment_segment(cache, "song_a", last).shape == (SEGMENT_SAMPLES,)
    ok = length - shift.input_samples(1.1, SEGMENT_SAMPLES)
    assert accompaniment_segment(cache, "song_a", ok, semitones=1,
                                 stretch_ratio=1.1).shape == (SEGMENT_SAMPLES,)
    with pytest.raises(PipelineError, match="song_a"):
        accompaniment_segment(cache, "song_a", ok + 1, semitones=1, stretch_ratio=1.1)
