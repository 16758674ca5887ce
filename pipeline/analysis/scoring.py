"""Evaluation helpers for the analysis stage: voiced-frame F1, tempo accuracy, MIREX key score.

Small re-implementations of the standard definitions (as in ``mir_eval``), so the ground-truth
tests and the benchmark need no extra dependency.
"""

from __future__ import annotations

import numpy as np

from ..core.music import relative_key
from ..core.segment import HOP_LENGTH, SAMPLE_RATE

__all__ = ["MIREX_WEIGHTS", "OCTAVE_RATIOS", "beat_f_measure", "frame_f1", "intervals_to_frames", "key_at",
           "key_relation", "mirex_key_score", "score_accompaniment", "score_vocal",
           "tempo_match", "tempo_octave_error"]

OCTAVE_RATIOS = (0.5, 2.0, 1.0 / 3.0, 3.0, 2.0 / 3.0, 1.5)


def intervals_to_frames(starts_s, ends_s, n_frames: int, hop_length: int = HOP_LENGTH,
                        sr: int = SAMPLE_RATE) -> np.ndarray:
    """Bool mask (n_frames,) of centred frames whose centre lies in any [start, end) interval."""
    centres = np.arange(n_frames) * hop_length / sr
    mask = np.zeros(n_frames, dtype=bool)
    for a, b in zip(np.atleast_1d(starts_s), np.atleast_1d(ends_s)):
        mask |= (centres >= a) & (centres < b)
    return mask


def frame_f1(estimated: np.ndarray, reference: np.ndarray) -> float:
    """F1 of a boolean frame estimate against a boolean reference (1.0 if both are empty)."""
    est = np.asarray(estimated, dtype=bool)
    ref = np.asarray(reference, dtype=bool)
    tp = np.sum(est & ref)
    denominator = est.sum() + ref.sum()
    return 1.0 if denominator == 0 else float(2 * tp / denominator)


def beat_f_measure(reference_s: np.ndarray, estimated_s: np.ndarray,
                   window_s: float = 0.07) -> float:
    """Beat F-measure (MIREX, as ``mir_eval.beat.f_measure`` without its 5-s trim).

    An estimated beat is a hit when it lies within ``window_s`` seconds of a reference beat
    not matched before; matching is greedy in time order, which equals the maximum matching
    when beats are more than ``2 window_s`` apart.  0.0 when either list is empty (1.0 when
    both are).
    """
    ref = np.sort(np.asarray(reference_s, dtype=np.float64))
    est = np.sort(np.asarray(estimated_s, dtype=np.float64))
    if len(ref) == 0 or len(est) == 0:
        return float(len(ref) == len(est))
    hits, i = 0, 0
    for t in est:
        while i < len(ref) and ref[i] < t - window_s:
            i += 1
        if i < len(ref) and abs(ref[i] - t) <= window_s:
            hits, i = hits + 1, i + 1
    precision, recall = hits / len(est), hits / len(ref)
    return 0.0 if hits == 0 else float(2 * precision * recall / (precision + recall))


def tempo_match(estimated, reference, tolerance: float = 0.04) -> np.ndarray:
    """True where ``|estimated / reference - 1| <= tolerance`` (elementwise)."""
    est = np.asarray(estimated, dtype=float)
    ref = np.asarray(reference, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(est / ref - 1.0) <= tolerance


def tempo_octave_error(estimated, reference, tolerance: float = 0.04) -> np.ndarray:
    """True where the estimate is off by 2, 3, 1/2, 1/3, 3/2 or 2/3 (within ``tolerance``)."""
    est = np.asarray(estimated, dtype=float)
    ref = np.asarray(reference, dtype=float)
    out = np.zeros(np.broadcast(est, ref).shape, dtype=bool)
    for r in OCTAVE_RATIOS:
        out |= tempo_match(est, ref * r, tolerance)
    return out & ~tempo_match(est, ref, tolerance)


def key_relation(estimated: int, reference: int, *, descending_fifths: bool = False) -> str:
    """MIREX relation of an estimated key to the reference key (as ``mir_eval.key``).

    One of "same", "fifth" (same mode, estimated tonic a perfect fifth above the reference;
    also below with ``descending_fifths``), "relative", "parallel", "other".
    """
    est, ref = int(estimated), int(reference)
    fifths = (5, 7) if descending_fifths else (7,)
    if est == ref:
        return "same"
    if (est >= 12) == (ref >= 12) and (est - ref) % 12 in fifths:
        return "fifth"
    if est == relative_key(ref):
        return "relative"
    if est % 12 == ref % 12:
        return "parallel"
    return "other"


MIREX_WEIGHTS = {"same": 1.0, "fifth": 0.5, "relative": 0.3, "parallel": 0.2, "other": 0.0}


def mirex_key_score(estimated, reference, *, descending_fifths: bool = False) -> np.ndarray:
    """MIREX weighted key score per pair: same 1.0, fifth 0.5, relative 0.3, parallel 0.2."""
    est = np.atleast_1d(estimated)
    ref = np.atleast_1d(reference)
    return np.array([MIREX_WEIGHTS[key_relation(e, r, descending_fifths=descending_fifths)]
                     for e, r in zip(est, ref)])


def key_at(times_s, change_s, keys) -> np.ndarray:
    """Reference key at each time: ``keys[i]`` for the last ``change_s[i] <= t``."""
    idx = np.searchsorted(np.asarray(change_s, dtype=float), np.asarray(times_s), side="right")
    return np.asarray(keys)[np.maximum(idx - 1, 0)]


# Scores of one analysed file against the demo corpus's truth tables (docs/tables.md).

def score_vocal(truth_row, y: np.ndarray, *, svd=None, key=None, tempo=None) -> dict:
    """Analyse one truth vocal (samples ``y``) and score it.

    Returns
    -------
    dict
        f1 (voiced frames), windows, key_score (mean MIREX over kept windows),
        track_key_score, agreement (share of windows whose key equals the track key);
        error (the AudioError reason) instead when the file is skipped.
    """
    from ..core.errors import AudioError
    from ..core.music import key_index
    from ..core.signal import frame_rms
    from .key_params import KeyParams
    from .stage import analyze_vocal
    from .tempo import TempoParams
    from .voicing import SvdParams, rms_threshold, voiced_frames

    svd = svd or SvdParams()
    rms = frame_rms(y)
    ref = intervals_to_frames(truth_row["voiced_start_s"], truth_row["voiced_end_s"], len(rms))
    out = {"id": truth_row["perf_key"],
           "f1": frame_f1(voiced_frames(rms, rms_threshold(rms, **svd.threshold_kwargs())), ref)}
    try:
        res = analyze_vocal(y, svd=svd, key=key or KeyParams(), tempo=tempo or TempoParams(),
                            table_bpm=truth_row["tempo_bpm"])
    except AudioError as exc:
        return {**out, "windows": 0, "error": exc.reason}
    ref_key = key_index(truth_row["key"])
    return {**out, "windows": len(res.starts),
            "key_score": float(mirex_key_score(res.key, np.full(len(res.key), ref_key)).mean()),
            "track_key_score": float(mirex_key_score(res.track_key, ref_key)[0]),
            "agreement": float(np.mean(res.key == res.track_key)), "error": ""}


def score_accompaniment(truth_row, y: np.ndarray, *, key=None, tempo=None) -> tuple[dict, dict]:
    """Analyse one truth accompaniment and score tempo and segment keys.

    Returns
    -------
    track : dict  id, tempo_est, tempo_ref, tempo_ok, octave_error, track_key_score,
        agreement (segment key == track key)
    segments : dict of arrays  score (MIREX vs the key at the segment's centre) and
        straddles (the segment spans a key change)
    """
    from ..core.music import key_index
    from ..core.segment import SEGMENT_SAMPLES
    from .key_params import KeyParams
    from .stage import analyze_accompaniment
    from .tempo import TempoParams

    res = analyze_accompaniment(y, key=key or KeyParams(), tempo=tempo or TempoParams())
    changes = np.asarray(truth_row["key_change_s"], dtype=float)
    ref_keys = np.array([key_index(n) for n in truth_row["key_names"]])
    start_s = res.starts / SAMPLE_RATE
    end_s = (res.starts + SEGMENT_SAMPLES) / SAMPLE_RATE
    centre_ref = key_at((start_s + end_s) / 2, changes, ref_keys)
    straddles = key_at(start_s, changes, ref_keys) != key_at(end_s, changes, ref_keys)
    ref_bpm = float(truth_row["tempo_bpm"])
    # The track's key for a track with several sections: the longest-lasting one.
    bounds = np.append(changes, float(truth_row["duration_s"]))
    main_key = ref_keys[np.argmax(np.diff(bounds))]
    track = {"id": truth_row["track"], "tempo_est": res.tempo_bpm, "tempo_ref": ref_bpm,
             "tempo_ok": bool(tempo_match(res.tempo_bpm, ref_bpm)),
             "octave_error": bool(tempo_octave_error(res.tempo_bpm, ref_bpm)),
             "track_key_score": float(mirex_key_score(res.track_key, main_key)[0]),
             "agreement": float(np.mean(res.key == res.track_key)),
             "sections": len(ref_keys)}
    return track, {"score": mirex_key_score(res.key, centre_ref), "straddles": straddles}
