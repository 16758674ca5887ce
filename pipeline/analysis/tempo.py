"""Tempo and beats: Ellis's dynamic-programming beat tracker (numpy, ``pipeline.analysis.onset``;
or librosa's own) or essentia's RhythmExtractor2013.

Accompaniment tempo and beats are estimated per track.  A vocal's tempo comes from the
tempo table (the manifest's ``tempo_bpm``) when there is one, as the authors did; else it is
estimated from the a-cappella audio, which is less reliable (``tempo_source="estimated"``
and its confidence tell the mashup how far to trust it).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..core.errors import ConfigError, ParameterError
from ..core.segment import HOP_LENGTH, SAMPLE_RATE
from .chroma import spectrogram
from .onset import (
    AC_SIZE_S,
    ONSET_N_FFT,
    autocorrelation_tempogram,
    beat_track,
    mel_onset_strength,
    tempo_from_tempogram,
)
from .vocal_tempo import estimate_vocal_tempo

__all__ = ["BeatTrack", "ESSENTIA_MAX_CONFIDENCE", "ESSENTIA_SR", "METHODS", "TempoParams",
           "VOCAL_METHODS", "VOCAL_SOURCES", "low_confidence", "periodicity", "refine_tempo", "track_beats",
           "vocal_tempo"]

METHODS = ("numpy", "librosa", "essentia")
VOCAL_SOURCES = ("table", "estimate")
VOCAL_METHODS = ("onsets", "beats")
ESSENTIA_SR = 44100  # RhythmExtractor2013 only works at 44.1 kHz
ESSENTIA_MAX_CONFIDENCE = 5.32  # the multifeature tracker's confidence range is [0, 5.32]


BEAT_KEYS = ("method", "start_bpm", "tightness", "min_bpm", "max_bpm")


@dataclasses.dataclass(frozen=True)
class TempoParams:
    """The ``tempo`` config section.

    Attributes
    ----------
    method : "numpy" | "librosa" | "essentia"
        The dynamic-programming beat tracker of ``librosa.beat.beat_track`` in numpy
        (``pipeline.analysis.onset``: no numba, whose compilation costs each job ~3 s), or
        librosa's own, or essentia ``RhythmExtractor2013`` (multifeature).
    start_bpm : float
        Centre of the tempo prior (BPM), log-normal with one octave standard deviation.
    tightness : float
        The beat tracker's adherence to the tempo.
    min_bpm, max_bpm : float
        Tempo search range (BPM); essentia takes them as whole numbers.
    vocal_source : "table" | "estimate"
        "table": a vocal's tempo is its tempo-table entry when present, else estimated;
        "estimate": always estimated from the audio.
    vocal_method : "onsets" | "beats"
        How a vocal tempo is estimated from the audio: "onsets", from note onsets and pitch
        changes with a tempo prior and phrase agreement (``pipeline.analysis.vocal_tempo``);
        "beats", by the accompaniments' beat tracker (``method``), as before.
    vocal_grid_context_beats : int
        Beats either side of a vocal window whose onsets vote for its beat phase
        (``pipeline.analysis.beat_grid.beat_grid_starts``); 0 uses the window's own beats only.
    min_confidence : float
        In [0, 1]. A vocal tempo estimated from the audio (no table entry) whose confidence
        is below this is not used: the performance is skipped as "low tempo confidence"
        (``analyze_vocal``); 0 keeps every estimate.  A table tempo (confidence 1) is never
        rejected.  With ``vocal_method="onsets"`` the confidence is the autocorrelation
        salience times the agreement between phrases (``pipeline.analysis.vocal_tempo``).
        Default 0.005: it rejects recordings without a pulse (held notes score 0) and keeps
        all 120 default-demo estimates and 29 of 30 fluidsynth-rendered sung melodies
        (bench/bench_vocal_tempo.py); the confidence does not see a wrong metrical level
        (2/3, half or double tempo), which is most of the remaining errors.  0.02 would keep
        94 % of the demo estimates, removing 2 of its 7 wrong ones and 5 right ones.
    """

    method: str = "numpy"
    start_bpm: float = 120.0
    tightness: float = 100.0
    min_bpm: float = 40.0
    max_bpm: float = 240.0
    vocal_source: str = "table"
    vocal_method: str = "onsets"
    vocal_grid_context_beats: int = 16
    min_confidence: float = 0.005

    def beat_kwargs(self) -> dict:
        """The keyword arguments of ``track_beats`` from this section."""
        return {k: getattr(self, k) for k in BEAT_KEYS}

    def __post_init__(self):
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError(f"tempo.min_confidence: need 0 <= {self.min_confidence} <= 1")
        if self.method not in METHODS:
            raise ConfigError(f"tempo.method: {self.method!r} not in {METHODS}")
        if self.vocal_method not in VOCAL_METHODS:
            raise ConfigError(f"tempo.vocal_method: {self.vocal_method!r} not in {VOCAL_METHODS}")
        if self.vocal_source not in VOCAL_SOURCES:
            raise ConfigError(f"tempo.vocal_source: {self.vocal_source!r} not in {VOCAL_SOURCES}")
        if int(self.vocal_grid_context_beats) < 0:
            raise ConfigError("tempo.vocal_grid_context_beats must be >= 0, got "
                              f"{self.vocal_grid_context_beats}")
        if not 0 < self.min_bpm < self.max_bpm:
            raise ConfigError(f"tempo.min_bpm/max_bpm: need 0 < {self.min_bpm} < {self.max_bpm}")


@dataclasses.dataclass(frozen=True)
class BeatTrack:
    """Tempo and beats of one track.

    Attributes
    ----------
    tempo_bpm : float
    beat_samples : np.ndarray [shape=(n_beats,), int64]  beat positions (samples, 22,050 Hz)
    confidence : float  in [0, 1]
    source : "estimated" | "table"
    """

    tempo_bpm: float
    beat_samples: np.ndarray
    confidence: float
    source: str = "estimated"


def track_beats(y: np.ndarray, *, sr: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH,
                method: str = "numpy", start_bpm: float = 120.0, tightness: float = 100.0,
                min_bpm: float = 40.0, max_bpm: float = 240.0,
                magnitude: np.ndarray | None = None) -> BeatTrack:
    """Estimate tempo and beats of mono ``y``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]  mono samples at ``sr`` Hz
    sr : int  sample rate (Hz)
    hop_length : int  samples between onset-envelope frames
    method : "numpy" | "librosa" | "essentia"  dynamic-programming beat tracker (numpy or
        librosa), or RhythmExtractor2013
    start_bpm, tightness : float  the tempo prior's centre (BPM) and beat-grid tightness
    min_bpm, max_bpm : float  the tempo range accepted (BPM)
    magnitude : np.ndarray [shape=(1 + ONSET_N_FFT // 2, n_frames)] or None
        ``spectrogram(y, n_fft=ONSET_N_FFT, power=1)`` when already computed ("numpy" only)

    Returns
    -------
    BeatTrack
        ``tempo_bpm`` NaN and no beats when no tempo is found (e.g. silence).
    """
    if method not in METHODS:
        raise ParameterError(f"tempo method {method!r} not in {METHODS}")
    if method == "essentia":
        return _essentia_beats(y, sr=sr, min_bpm=min_bpm, max_bpm=max_bpm)
    if magnitude is not None and magnitude.shape[0] != 1 + ONSET_N_FFT // 2:
        raise ParameterError(f"magnitude has {magnitude.shape[0]} bins; the onsets need "
                             f"n_fft {ONSET_N_FFT} ({1 + ONSET_N_FFT // 2} bins)")
    if method == "numpy":
        return _numpy_beats(y, sr=sr, hop_length=hop_length, start_bpm=start_bpm,
                            tightness=tightness, min_bpm=min_bpm, max_bpm=max_bpm,
                            magnitude=magnitude)
    return _librosa_beats(y, sr=sr, hop_length=hop_length, start_bpm=start_bpm,
                          tightness=tightness, min_bpm=min_bpm, max_bpm=max_bpm)


def vocal_tempo(y: np.ndarray, *, table_bpm: float = math.nan, vocal_source: str = "table",
                vocal_method: str = "onsets", magnitude: np.ndarray | None = None,
                sr: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH, **beats) -> BeatTrack:
    """A vocal's tempo: the tempo-table value when present (confidence 1), else estimated.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]  mono samples at ``sr`` Hz
    table_bpm : float  the tempo-table entry (BPM; NaN if none)
    vocal_source : "table" | "estimate"  "estimate" ignores the table
    vocal_method : "onsets" | "beats"  ``estimate_vocal_tempo`` (beats by the dynamic
        program at its tempo), or ``track_beats``
    magnitude : np.ndarray [shape=(1 + ONSET_N_FFT // 2, n_frames)] or None
        ``spectrogram(y, n_fft=ONSET_N_FFT, power=1)`` when already computed
    **beats : keyword arguments of ``track_beats`` (``TempoParams.beat_kwargs()``)

    Returns
    -------
    BeatTrack
        ``source`` "table" (no beats) or "estimated"; ``low_confidence`` says whether an
        estimate is to be trusted.
    """
    if vocal_source == "table" and table_bpm is not None and np.isfinite(table_bpm):
        return BeatTrack(float(table_bpm), np.zeros(0, dtype=np.int64), 1.0, "table")
    if vocal_method not in VOCAL_METHODS:
        raise ParameterError(f"vocal tempo method {vocal_method!r} not in {VOCAL_METHODS}")
    if vocal_method == "beats":
        return track_beats(y, sr=sr, hop_length=hop_length, magnitude=magnitude, **beats)
    if magnitude is None:
        magnitude = spectrogram(y, n_fft=ONSET_N_FFT, hop_length=hop_length, power=1.0)
    est = estimate_vocal_tempo(magnitude, n_fft=2 * (magnitude.shape[0] - 1), sr=sr,
                               hop_length=hop_length,
                               start_bpm=beats.get("start_bpm", 120.0),
                               min_bpm=beats.get("min_bpm", 40.0),
                               max_bpm=beats.get("max_bpm", 240.0))
    if not np.isfinite(est.bpm):
        return BeatTrack(math.nan, np.zeros(0, dtype=np.int64), 0.0)
    frames = beat_track(est.onset, bpm=est.bpm, sr=sr, hop_length=hop_length,
                        tightness=beats.get("tightness", 100.0))
    return BeatTrack(est.bpm, frames * hop_length, est.confidence)


def low_confidence(beats: BeatTrack, *, min_confidence: float = 0.005) -> str:
    """Why an estimated vocal tempo is not to be trusted, or "" (a table tempo never is).

    Returns
    -------
    str
        "" when ``beats`` comes from the table or its confidence reaches
        ``min_confidence`` (0..1); else a detail naming the tempo (BPM) and the confidence.
    """
    if beats.source == "table" or beats.confidence >= min_confidence:
        return ""
    found = (f"estimated {beats.tempo_bpm:.1f} BPM" if np.isfinite(beats.tempo_bpm)
             else "no tempo found")
    return (f"{found} with confidence {beats.confidence:.3f} < tempo.min_confidence "
            f"{min_confidence:g}")


def _numpy_beats(y: np.ndarray, *, sr: int, hop_length: int, start_bpm: float,
                 tightness: float, min_bpm: float, max_bpm: float,
                 magnitude: np.ndarray | None) -> BeatTrack:
    if magnitude is None:
        magnitude = spectrogram(y, n_fft=ONSET_N_FFT, hop_length=hop_length, power=1.0)
    onset = mel_onset_strength(magnitude, sr=sr, n_fft=ONSET_N_FFT, hop_length=hop_length)
    if not np.any(onset > 0):
        return BeatTrack(math.nan, np.zeros(0, dtype=np.int64), 0.0)
    tempogram = autocorrelation_tempogram(onset, win_length=int(AC_SIZE_S * sr) // hop_length)
    bpm = tempo_from_tempogram(tempogram, sr=sr, hop_length=hop_length, start_bpm=start_bpm)
    beats = beat_track(onset, bpm=bpm, sr=sr, hop_length=hop_length, tightness=tightness)
    return _beat_result(onset, bpm, beats, sr=sr, hop_length=hop_length, min_bpm=min_bpm,
                        max_bpm=max_bpm)


def _beat_result(onset: np.ndarray, bpm: float, beats: np.ndarray, *, sr: int,
                 hop_length: int, min_bpm: float, max_bpm: float) -> BeatTrack:
    """The track of a tracker's tempo and beat frames: refined tempo, periodicity."""
    if not min_bpm <= bpm <= max_bpm or len(beats) < 2:
        return BeatTrack(math.nan, np.zeros(0, dtype=np.int64), 0.0)
    beat_samples = np.asarray(beats, dtype=np.int64) * hop_length
    return BeatTrack(refine_tempo(beat_samples, bpm, sr=sr), beat_samples,
                     periodicity(onset, bpm, sr=sr, hop_length=hop_length))


def _librosa_beats(y: np.ndarray, *, sr: int, hop_length: int, start_bpm: float,
                   tightness: float, min_bpm: float, max_bpm: float) -> BeatTrack:
    import librosa  # ~3 s of numba compilation per process: the "numpy" method avoids it

    onset = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop_length)
    if not np.any(onset > 0):
        return BeatTrack(math.nan, np.zeros(0, dtype=np.int64), 0.0)
    tempo, beats = librosa.beat.beat_track(onset_envelope=onset, sr=sr, hop_length=hop_length,
                                           start_bpm=start_bpm, tightness=tightness,
                                           units="frames")
    return _beat_result(onset, float(np.atleast_1d(tempo)[0]), beats, sr=sr,
                        hop_length=hop_length, min_bpm=min_bpm, max_bpm=max_bpm)


def refine_tempo(beat_samples: np.ndarray, bpm: float, tolerance: float = 0.05, *,
                 sr: int = SAMPLE_RATE) -> float:
    """Tempo (BPM) from a least-squares line through the beat times.

    librosa's tempo is quantised to whole-frame lags (about 2.5 % apart near 140 BPM); the
    slope of beat time against beat number over a whole track is much finer.  Falls back
    to ``bpm`` when the fit disagrees with it by more than ``tolerance`` (skipped beats).
    """
    if len(beat_samples) < 4:
        return float(bpm)
    times = np.asarray(beat_samples) / sr
    # Beat numbers from rounded inter-beat intervals, so a skipped beat counts as two.
    steps = np.maximum(np.round(np.diff(times) * bpm / 60.0), 1)
    slope = np.polyfit(np.concatenate([[0.0], np.cumsum(steps)]), times, 1)[0]
    fitted = 60.0 / slope if slope > 0 else math.nan
    return float(fitted) if abs(fitted / bpm - 1.0) <= tolerance else float(bpm)


def periodicity(onset: np.ndarray, bpm: float, hop_length: int = HOP_LENGTH, *,
                sr: int = SAMPLE_RATE) -> float:
    """Normalised autocorrelation of an onset envelope at the beat period, in [0, 1].

    Near 1 when onsets repeat strictly every beat (a click track), near 0 for no pulse.
    The best of the lags within one frame of the period counts (the period is not a
    whole number of frames).
    """
    x = np.asarray(onset, dtype=np.float64) - np.mean(onset)
    lag = 60.0 * sr / (hop_length * bpm)
    energy = float(np.dot(x, x))
    if energy <= 0 or lag + 1 >= len(x):
        return 0.0
    lags = range(max(1, int(np.floor(lag)) - 1), int(np.ceil(lag)) + 2)
    # Divide by the overlap length so long lags are not penalised for fewer terms.
    ac = max(np.dot(x[:-k], x[k:]) / (len(x) - k) for k in lags)
    return float(np.clip(ac / (energy / len(x)), 0.0, 1.0))


def _essentia_beats(y: np.ndarray, *, sr: int, min_bpm: float, max_bpm: float) -> BeatTrack:
    import essentia.standard as es
    import soxr

    y44 = soxr.resample(np.asarray(y, dtype=np.float32), sr, ESSENTIA_SR).astype(np.float32)
    extractor = es.RhythmExtractor2013(method="multifeature", minTempo=int(min_bpm),
                                       maxTempo=int(min(max_bpm, 250)))
    bpm, ticks, confidence, _, _ = extractor(y44)
    if bpm <= 0 or len(ticks) < 2:
        return BeatTrack(math.nan, np.zeros(0, dtype=np.int64), 0.0)
    beats = np.round(np.asarray(ticks) * sr).astype(np.int64)
    return BeatTrack(float(bpm), beats,
                     float(np.clip(confidence / ESSENTIA_MAX_CONFIDENCE, 0.0, 1.0)))
