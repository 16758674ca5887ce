"""Tempo and beats: librosa's dynamic-programming beat tracker or essentia's RhythmExtractor2013.

Accompaniment tempo and beats are estimated per track.  A vocal's tempo comes from the
tempo table (the manifest's ``tempo_bpm``) when there is one, as the authors did; else it is
estimated from the a-cappella audio, which is less reliable (``tempo_source="estimated"``
and its confidence tell the mashup how far to trust it).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..core.errors import ConfigError
from ..core.segment import HOP_LENGTH, SAMPLE_RATE

__all__ = ["BeatTrack", "ESSENTIA_MAX_CONFIDENCE", "ESSENTIA_SR", "METHODS", "TempoParams",
           "VOCAL_SOURCES", "low_confidence", "periodicity", "refine_tempo", "track_beats",
           "vocal_tempo"]

METHODS = ("librosa", "essentia")
VOCAL_SOURCES = ("table", "estimate")
ESSENTIA_SR = 44100  # RhythmExtractor2013 only works at 44.1 kHz
ESSENTIA_MAX_CONFIDENCE = 5.32  # the multifeature tracker's confidence range is [0, 5.32]


@dataclasses.dataclass(frozen=True)
class TempoParams:
    """The ``tempo`` config section.

    Attributes
    ----------
    method : "librosa" | "essentia"
        ``librosa.beat.beat_track`` or essentia ``RhythmExtractor2013`` (multifeature).
    start_bpm : float
        librosa's tempo prior centre (BPM).
    tightness : float
        librosa's beat-to-tempo adherence.
    min_bpm, max_bpm : float
        Tempo search range (BPM); essentia takes them as whole numbers.
    vocal_source : "table" | "estimate"
        "table": a vocal's tempo is its tempo-table entry when present, else estimated;
        "estimate": always estimated from the audio.
    vocal_grid_context_beats : int
        Beats either side of a vocal window whose onsets vote for its beat phase
        (``pipeline.analysis.beat_grid.beat_grid_starts``); 0 uses the window's own beats only.
    min_confidence : float
        In [0, 1]. A vocal tempo estimated from the audio (no table entry) whose confidence
        (``periodicity`` of the onset envelope at the beat period) is below this is not used:
        the performance is skipped as "low tempo confidence" (``analyze_vocal``); 0 keeps every
        estimate.  A table tempo (confidence 1) is never rejected.  Default 0.1, measured on
        120 small-demo performances and 170 other synthetic a-cappella signals (notes,
        rubato + noise, legato glides, sustained vibrato tones without a tempo): it keeps 82 %
        of the estimates within 4 % of the truth and removes 50 % of the wrong ones (demo
        73 % / 50 %, others 92 % / 50 %); this confidence separates them only weakly, and no
        threshold removes most wrong tempi while keeping most right ones (0.2: keeps 37 %,
        removes 81 %).  0.1 maximises kept-right minus kept-wrong (with 0.08).
    """

    method: str = "librosa"
    start_bpm: float = 120.0
    tightness: float = 100.0
    min_bpm: float = 40.0
    max_bpm: float = 240.0
    vocal_source: str = "table"
    vocal_grid_context_beats: int = 16
    min_confidence: float = 0.1

    def __post_init__(self):
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError(f"tempo.min_confidence: need 0 <= {self.min_confidence} <= 1")
        if self.method not in METHODS:
            raise ConfigError(f"tempo.method: {self.method!r} not in {METHODS}")
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


def track_beats(y: np.ndarray, *, params: TempoParams = TempoParams()) -> BeatTrack:
    """Estimate tempo and beats of mono ``y`` at 22,050 Hz.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    params : TempoParams

    Returns
    -------
    BeatTrack
        ``tempo_bpm`` NaN and no beats when no tempo is found (e.g. silence).
    """
    if params.method == "essentia":
        return _essentia_beats(y, params)
    return _librosa_beats(y, params)


def vocal_tempo(y: np.ndarray, *, table_bpm: float = math.nan,
                params: TempoParams = TempoParams()) -> BeatTrack:
    """A vocal's tempo: the tempo-table value when present (confidence 1), else estimated.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]  mono samples at 22,050 Hz
    table_bpm : float  the tempo-table entry (BPM; NaN if none)
    params : TempoParams

    Returns
    -------
    BeatTrack
        ``source`` "table" (no beats) or "estimated"; ``low_confidence`` says whether an
        estimate falls below ``params.min_confidence``.
    """
    if params.vocal_source == "table" and table_bpm is not None and np.isfinite(table_bpm):
        return BeatTrack(float(table_bpm), np.zeros(0, dtype=np.int64), 1.0, "table")
    return track_beats(y, params=params)


def low_confidence(beats: BeatTrack, params: TempoParams = TempoParams()) -> str:
    """Why an estimated vocal tempo is not to be trusted, or "" (a table tempo never is).

    Returns
    -------
    str
        "" when ``beats`` comes from the table or its confidence reaches
        ``params.min_confidence``; else a detail naming the tempo (BPM) and the confidence.
    """
    if beats.source == "table" or beats.confidence >= params.min_confidence:
        return ""
    found = (f"estimated {beats.tempo_bpm:.1f} BPM" if np.isfinite(beats.tempo_bpm)
             else "no tempo found")
    return (f"{found} with confidence {beats.confidence:.3f} < tempo.min_confidence "
            f"{params.min_confidence:g}")


def _librosa_beats(y: np.ndarray, params: TempoParams) -> BeatTrack:
    import librosa

    onset = librosa.onset.onset_strength(y=y, sr=SAMPLE_RATE, hop_length=HOP_LENGTH)
    if not np.any(onset > 0):
        return BeatTrack(math.nan, np.zeros(0, dtype=np.int64), 0.0)
    tempo, beats = librosa.beat.beat_track(onset_envelope=onset, sr=SAMPLE_RATE,
                                           hop_length=HOP_LENGTH, start_bpm=params.start_bpm,
                                           tightness=params.tightness, units="frames")
    bpm = float(np.atleast_1d(tempo)[0])
    if not params.min_bpm <= bpm <= params.max_bpm or len(beats) < 2:
        return BeatTrack(math.nan, np.zeros(0, dtype=np.int64), 0.0)
    beat_samples = np.asarray(beats, dtype=np.int64) * HOP_LENGTH
    return BeatTrack(refine_tempo(beat_samples, bpm), beat_samples, periodicity(onset, bpm))


def refine_tempo(beat_samples: np.ndarray, bpm: float, tolerance: float = 0.05) -> float:
    """Tempo (BPM) from a least-squares line through the beat times.

    librosa's tempo is quantised to whole-frame lags (about 2.5 % apart near 140 BPM); the
    slope of beat time against beat number over a whole track is much finer.  Falls back
    to ``bpm`` when the fit disagrees with it by more than ``tolerance`` (skipped beats).
    """
    if len(beat_samples) < 4:
        return float(bpm)
    times = np.asarray(beat_samples) / SAMPLE_RATE
    # Beat numbers from rounded inter-beat intervals, so a skipped beat counts as two.
    steps = np.maximum(np.round(np.diff(times) * bpm / 60.0), 1)
    slope = np.polyfit(np.concatenate([[0.0], np.cumsum(steps)]), times, 1)[0]
    fitted = 60.0 / slope if slope > 0 else math.nan
    return float(fitted) if abs(fitted / bpm - 1.0) <= tolerance else float(bpm)


def periodicity(onset: np.ndarray, bpm: float, hop_length: int = HOP_LENGTH) -> float:
    """Normalised autocorrelation of an onset envelope at the beat period, in [0, 1].

    Near 1 when onsets repeat strictly every beat (a click track), near 0 for no pulse.
    The best of the lags within one frame of the period counts (the period is not a
    whole number of frames).
    """
    x = np.asarray(onset, dtype=np.float64) - np.mean(onset)
    lag = 60.0 * SAMPLE_RATE / (hop_length * bpm)
    energy = float(np.dot(x, x))
    if energy <= 0 or lag + 1 >= len(x):
        return 0.0
    lags = range(max(1, int(np.floor(lag)) - 1), int(np.ceil(lag)) + 2)
    # Divide by the overlap length so long lags are not penalised for fewer terms.
    ac = max(np.dot(x[:-k], x[k:]) / (len(x) - k) for k in lags)
    return float(np.clip(ac / (energy / len(x)), 0.0, 1.0))


def _essentia_beats(y: np.ndarray, params: TempoParams) -> BeatTrack:
    import essentia.standard as es
    import soxr

    y44 = soxr.resample(np.asarray(y, dtype=np.float32), SAMPLE_RATE, ESSENTIA_SR).astype(
        np.float32)
    extractor = es.RhythmExtractor2013(method="multifeature", minTempo=int(params.min_bpm),
                                       maxTempo=int(min(params.max_bpm, 250)))
    bpm, ticks, confidence, _, _ = extractor(y44)
    if bpm <= 0 or len(ticks) < 2:
        return BeatTrack(math.nan, np.zeros(0, dtype=np.int64), 0.0)
    beats = np.round(np.asarray(ticks) * SAMPLE_RATE).astype(np.int64)
    return BeatTrack(float(bpm), beats,
                     float(np.clip(confidence / ESSENTIA_MAX_CONFIDENCE, 0.0, 1.0)))
