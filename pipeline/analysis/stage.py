"""Per-file analysis and the per-shard drivers of the analysis stage.

A vocal gets voiced windows (``svd``), a key per window and a tempo (table or estimate); an
accompaniment gets tempo and beats, and a key per segment starting at each beat.  Each file
is decoded once and its RMS, STFT and chroma computed once; windows and segments slice
frames.  A file that cannot be used is recorded in the shard's skipped table with a reason
and the shard goes on.  Output columns are those of docs/tables.md ("Analysis").
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..core import audio
from ..core.config import params_from
from ..core.errors import AudioError, ConfigError
from ..core.segment import SEGMENT_SAMPLES
from ..core.signal import frame_rms
from ..core.tables import ACC_SEGMENTS, ACC_TRACKS, SKIPPED, VOCAL_WINDOWS
from ..sources import load_accompaniment
from ..sources.cache import AudioCacheBuilder
from .beat_grid import beat_grid_starts, spectral_flux
from .chroma import PITCH_N_FFT, compute_chroma, spectrogram
from .key_params import KeyParams
from .keys import segment_keys, track_key
from .tempo import TempoParams, low_confidence, track_beats, vocal_tempo
from .voicing import SvdParams, candidate_starts, detect_voiced_windows

__all__ = ["AccompanimentAnalysis", "AlignedWindows", "beat_aligned_windows", "PARAM_SECTIONS", "SILENCE_RMS", "STAGE", "VocalAnalysis",
           "analysis_params", "analyze_accompaniment", "analyze_accompaniment_shard",
           "analyze_vocal", "analyze_vocal_shard"]

log = logging.getLogger(__name__)

SILENCE_RMS = 1e-3  # an accompaniment whose loudest frame RMS is below this is silent
STAGE = "analysis"



@dataclasses.dataclass(frozen=True)
class VocalAnalysis:
    """One vocal: kept windows (arrays of shape (n,)), the track key and the tempo."""

    n_samples: int
    starts: np.ndarray  # samples, on the beat grid
    grid_shift: np.ndarray  # samples each window moved from its candidate start to the grid
    voiced_ratio: np.ndarray
    rms: np.ndarray
    key: np.ndarray
    key_strength: np.ndarray
    key_margin: np.ndarray  # best minus second-best key correlation
    track_key: int
    voiced_rate: float  # share of voiced frames in the whole recording
    tempo_bpm: float
    tempo_source: str
    tempo_confidence: float
    beat_samples: np.ndarray


@dataclasses.dataclass(frozen=True)
class AccompanimentAnalysis:
    """One accompaniment: tempo, beats, and a key per segment starting at a beat."""

    n_samples: int
    tempo_bpm: float
    tempo_confidence: float
    beat_samples: np.ndarray
    beat_index: np.ndarray  # index into beat_samples of each segment
    starts: np.ndarray  # samples
    key: np.ndarray
    key_strength: np.ndarray
    key_margin: np.ndarray  # best minus second-best key correlation
    change_margin_s: np.ndarray  # seconds to the nearest detected key change (< 0: inside)
    track_key: int


def _audible_frame_rms(y: np.ndarray, *, floor: float, path) -> np.ndarray:
    """Frame RMS of ``y``; ``AudioError`` "too short" below one segment, "silent" when its
    loudest frame is below ``floor``."""
    if len(y) < SEGMENT_SAMPLES:
        raise AudioError(path, "too short", f"{len(y)} samples < {SEGMENT_SAMPLES}")
    rms = frame_rms(y)
    if rms.max() < floor:
        raise AudioError(path, "silent", f"max frame RMS {rms.max():.2g} < {floor:g}")
    return rms


@dataclasses.dataclass(frozen=True)
class AlignedWindows:
    """The voiced windows of a vocal on its beat grid, and what found them.

    Attributes
    ----------
    windows : VoicedWindows  kept windows (starts on the beat grid)
    grid_shift : np.ndarray [shape=(n,), int64]  samples each kept window moved to the grid
    beats : BeatTrack  the vocal's tempo
    spec : np.ndarray  |STFT| with ``PITCH_N_FFT`` (reused by the "pitch" chroma)
    """

    windows: object
    grid_shift: np.ndarray
    beats: object
    spec: np.ndarray


def beat_aligned_windows(y: np.ndarray, *, svd: SvdParams = SvdParams(),
                         tempo: TempoParams = TempoParams(), table_bpm: float = math.nan,
                         path="<array>") -> AlignedWindows:
    """The dataset's windows of one a-cappella recording (no keys): see ``analyze_vocal``.

    Raises
    ------
    AudioError
        reason "too short", "silent", "low tempo confidence" or "no voiced window".
    """
    rms = _audible_frame_rms(y, floor=svd.floor, path=path)
    # one |STFT| for the tempo's onsets, the beat grid's flux and the "pitch" chroma
    spec = spectrogram(y, n_fft=PITCH_N_FFT, power=1.0)
    beats = vocal_tempo(y, table_bpm=table_bpm, vocal_source=tempo.vocal_source,
                        vocal_method=tempo.vocal_method, magnitude=spec, **tempo.beat_kwargs())
    doubt = low_confidence(beats, min_confidence=tempo.min_confidence)
    if doubt:  # never mixed at a tempo the estimator itself doubts
        raise AudioError(path, "low tempo confidence", doubt)
    candidates = candidate_starts(len(y), svd.hop_samples)
    aligned = beat_grid_starts(spectral_flux(spec, n_fft=PITCH_N_FFT), candidates,
                               tempo_bpm=beats.tempo_bpm, n_samples=len(y),
                               context_beats=tempo.vocal_grid_context_beats)
    aligned, first = np.unique(aligned, return_index=True)  # at slow tempi two may meet
    windows = detect_voiced_windows(rms=rms, n_samples=len(y), starts=aligned,
                                    **dataclasses.asdict(svd))
    if len(windows.starts) == 0:
        raise AudioError(path, "no voiced window",
                         f"voiced frames {windows.voiced.mean():.0%} at threshold "
                         f"{windows.threshold:.3g}")
    return AlignedWindows(windows, windows.starts - candidates[first[windows.index]], beats,
                          spec)


def analyze_vocal(y: np.ndarray, *, svd: SvdParams = SvdParams(), key: KeyParams = KeyParams(),
                  tempo: TempoParams = TempoParams(), table_bpm: float = math.nan,
                  path="<array>") -> VocalAnalysis:
    """Beat-aligned voiced windows, their keys and the tempo of one a-cappella recording.

    Candidate windows (every ``svd.hop_samples``) are first moved onto the vocal's beat grid
    (``pipeline.analysis.beat_grid``), then kept when voiced enough, so every kept window starts on a
    beat and its voiced ratio is that of the window actually mixed.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]  mono samples at 22,050 Hz
    svd, key, tempo : stage parameters (keys use ``key.for_vocals()``: the vocal chroma and
        context)
    table_bpm : float  the tempo-table entry (NaN if none)
    path : str  named in errors

    Raises
    ------
    AudioError
        reason "too short", "silent", "low tempo confidence" (an estimated tempo below
        ``tempo.min_confidence``) or "no voiced window".
    """
    found = beat_aligned_windows(y, svd=svd, tempo=tempo, table_bpm=table_bpm, path=path)
    windows, beats, spec = found.windows, found.beats, found.spec
    key = key.for_vocals()
    reuse = key.method == "ks" and key.chroma == "pitch"
    chroma = compute_chroma(y, spec=spec if reuse else None, **key.chroma_kwargs())
    weights = windows.voiced.astype(np.float64)
    keys = segment_keys(chroma, windows.starts, weights=weights, n_samples=len(y),
                        **key.key_kwargs())
    whole_key, _ = track_key(chroma, weights=weights, **key.profile_kwargs())
    return VocalAnalysis(
        n_samples=len(y), starts=windows.starts,
        grid_shift=found.grid_shift,
        voiced_ratio=windows.voiced_ratio, rms=windows.rms, key=keys.key,
        key_strength=keys.strength, key_margin=keys.margin, track_key=whole_key,
        voiced_rate=float(windows.voiced.mean()),
        tempo_bpm=beats.tempo_bpm, tempo_source=beats.source,
        tempo_confidence=beats.confidence, beat_samples=beats.beat_samples)


def analyze_accompaniment(y: np.ndarray, *, key: KeyParams = KeyParams(),
                          tempo: TempoParams = TempoParams(), silence_rms: float = SILENCE_RMS,
                          path="<array>") -> AccompanimentAnalysis:
    """Tempo, beats and per-beat segment keys of one accompaniment.

    Segments start at each beat; a segment that would run past the end is dropped.

    Raises
    ------
    AudioError
        reason "too short", "silent" or "no beats".
    """
    _audible_frame_rms(y, floor=silence_rms, path=path)
    beats = track_beats(y, **tempo.beat_kwargs())
    beat_index = np.flatnonzero(beats.beat_samples + SEGMENT_SAMPLES <= len(y))
    if not np.isfinite(beats.tempo_bpm) or len(beat_index) == 0:
        raise AudioError(path, "no beats")
    starts = beats.beat_samples[beat_index]
    chroma = compute_chroma(y, **key.chroma_kwargs())
    keys = segment_keys(chroma, starts, n_samples=len(y), **key.key_kwargs())
    whole_key, _ = track_key(chroma, **key.profile_kwargs())
    return AccompanimentAnalysis(
        n_samples=len(y), tempo_bpm=beats.tempo_bpm, tempo_confidence=beats.confidence,
        beat_samples=beats.beat_samples, beat_index=beat_index, starts=starts, key=keys.key,
        key_strength=keys.strength, key_margin=keys.margin,
        change_margin_s=keys.change_margin_s, track_key=whole_key)


def analyze_vocal_shard(manifest: pd.DataFrame, svd: SvdParams = SvdParams(),
                        key: KeyParams = KeyParams(), tempo: TempoParams = TempoParams()
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Analyse the vocals of one manifest shard.

    Parameters
    ----------
    manifest : DataFrame  rows of manifests/vocals.parquet (id, path, singer, song, tempo_bpm)

    Returns
    -------
    windows : DataFrame  columns ``VOCAL_WINDOWS``, one row per kept window
    skipped : DataFrame  columns ``SKIPPED``
    """
    rows, skipped = [], []
    for rec in tqdm(manifest.to_dict("records"), desc="vocals", unit="file",
                    disable=None, leave=False):
        try:
            y = audio.load_audio(rec["path"])
            table_bpm = rec.get("tempo_bpm", math.nan)
            res = analyze_vocal(y, svd=svd, key=key, tempo=tempo,
                                table_bpm=math.nan if table_bpm is None else table_bpm,
                                path=rec["path"])
        except AudioError as exc:
            skipped.append(_skip_row("vocals", rec, exc))
            continue
        for i in range(len(res.starts)):
            rows.append({"perf_id": rec["id"], "singer": rec["singer"], "song": rec["song"],
                         "start": res.starts[i], "grid_shift": res.grid_shift[i],
                         "voiced_ratio": res.voiced_ratio[i],
                         "rms": res.rms[i], "key": res.key[i],
                         "key_strength": res.key_strength[i],
                         "key_margin": res.key_margin[i], "track_key": res.track_key,
                         "tempo_bpm": res.tempo_bpm, "tempo_source": res.tempo_source,
                         "tempo_confidence": res.tempo_confidence})
    log.info("vocal shard: %d files, %d windows, %d skipped", len(manifest), len(rows),
             len(skipped))
    return _frame(rows, VOCAL_WINDOWS), _frame(skipped, SKIPPED)


def analyze_accompaniment_shard(manifest: pd.DataFrame, key: KeyParams = KeyParams(),
                                tempo: TempoParams = TempoParams()
                                ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Analyse the accompaniments of one manifest shard.

    Parameters
    ----------
    manifest : DataFrame  rows of manifests/accompaniments.parquet (id, path, format)

    Returns
    -------
    segments : DataFrame  columns ``ACC_SEGMENTS``, one row per segment (at a beat)
    tracks : DataFrame  columns ``ACC_TRACKS``, one row per analysed track
    audio : np.ndarray [shape=(total_samples,), float32]
        The analysed tracks' audio concatenated; track ``i`` is
        ``audio[audio_offset : audio_offset + audio_length]``.
    skipped : DataFrame  columns ``SKIPPED``
    """
    segments, tracks, skipped = [], [], []
    cache = AudioCacheBuilder()
    for rec in tqdm(manifest.to_dict("records"), desc="accompaniments", unit="track",
                    disable=None, leave=False):
        try:
            y = load_accompaniment(rec)
            res = analyze_accompaniment(y, key=key, tempo=tempo, path=rec["path"])
        except AudioError as exc:
            skipped.append(_skip_row("accompaniments", rec, exc))
            continue
        for i, b in enumerate(res.beat_index):
            segments.append({"track_id": rec["id"], "beat_index": b, "start": res.starts[i],
                             "key": res.key[i], "key_strength": res.key_strength[i],
                             "key_margin": res.key_margin[i],
                             "change_margin_s": res.change_margin_s[i],
                             "track_key": res.track_key, "tempo_bpm": res.tempo_bpm})
        offset, length = cache.add(y)
        tracks.append({"track_id": rec["id"], "tempo_bpm": res.tempo_bpm,
                       "tempo_confidence": res.tempo_confidence,
                       "beat_samples": res.beat_samples.astype(np.int64),
                       "track_key": res.track_key, "audio_offset": offset,
                       "audio_length": length})
    log.info("accompaniment shard: %d tracks, %d segments, %d skipped", len(manifest),
             len(segments), len(skipped))
    return (_frame(segments, ACC_SEGMENTS), _frame(tracks, ACC_TRACKS), cache.audio(),
            _frame(skipped, SKIPPED))


def _skip_row(corpus: str, rec: dict, exc: AudioError) -> dict:
    log.warning("skipped %s", exc)
    return {"corpus": corpus, "path": str(rec["path"]), "id": str(rec["id"]), "stage": STAGE,
            "reason": exc.reason, "detail": exc.detail}


def _frame(rows: list[dict], columns: dict) -> pd.DataFrame:
    """A DataFrame with exactly ``columns`` in order and dtype, also when ``rows`` is empty."""
    df = pd.DataFrame(rows, columns=list(columns))
    for name, dtype in columns.items():
        if dtype != "object":
            df[name] = df[name].astype(dtype)
    return df


PARAM_SECTIONS = {"svd": SvdParams, "key": KeyParams, "tempo": TempoParams}


def analysis_params(values: dict) -> tuple[SvdParams, KeyParams, TempoParams]:
    """Build the stage parameters from ``{"svd": {...}, "key": {...}, "tempo": {...}}``.

    Missing sections take their defaults; an unknown section or key raises ConfigError.
    """
    unknown = sorted(set(values) - set(PARAM_SECTIONS))
    if unknown:
        raise ConfigError(f"--params: unknown section(s) {unknown}; expected some of "
                          f"{sorted(PARAM_SECTIONS)}")
    svd, key, tempo = (params_from(cls, dict(values.get(name) or {}), name)
                       for name, cls in PARAM_SECTIONS.items())
    return svd, key, tempo
