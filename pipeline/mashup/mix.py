"""Mashup stage: mix the pairs of one vocal shard into its NPY/Parquet shard.

``mix_shard`` turns the pairs of vocal shard k into ``mono``/``mix``/``index`` shard k,
decoding of each performance only the samples its windows need
(``pipeline.core.audio_windows``, bit for bit the full decode's) and reading accompaniments
from the analysis stage's memory-mapped audio cache (``pipeline.sources.cache``).  Given
several ratios it writes one dataset folder per ratio (the SNR sweep) from one decoding and
one vocal log-mel of each window.  The join's driver and the recipe's source paths are in
:mod:`pipeline.mashup.recipe`.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..core.atomic import atomic_path, write_parquet
from ..core.errors import AudioError, ConfigError, ParameterError
from ..core.segment import N_MELS, SAMPLE_RATE, SEGMENT_FRAMES, SEGMENT_SAMPLES
from ..core.tables import MIX_SKIPPED
from ..dataset.features import FeatureParams, log_mel
from ..dataset.shards import index_frame, shard_name, write_shard
from .mixing import SilentSegmentError, mix_pair_at
from .shift import input_samples, is_identity, shift_segment
from .tiers import parse_policy

log = logging.getLogger(__name__)

__all__ = ["MashupParams", "accompaniment_segment", "mix_pairs", "mix_pairs_at", "mix_shard",
           "vocal_loader", "write_examples"]



@dataclasses.dataclass(frozen=True)
class MashupParams:
    """The "mashup" config section (join and mixing).

    Attributes
    ----------
    policy : str or list of dict
        The join's match tiers: a preset (``strict``, ``authors``, ``default``) or a list of
        tiers (:mod:`pipeline.mashup.tiers`).
    mixes_per_window : int
        Accompaniment segments (from distinct tracks) mixed with each vocal window.
    max_segment_uses : int
        Cap on how often one accompaniment segment is used (0: no cap).
    key_change_margin_s : float
        Use only accompaniment segments at least this many seconds from a key change
        detected in their track (``key.context: sections``); -3 (a whole segment) admits
        segments spanning a change.
    min_key_margin : float
        Use only vocal windows and accompaniment segments whose estimated key beats the
        second-best key by at least this correlation (0: all); ambiguous windows are
        reported as unmatched.
    snr_db : float
        Vocal-to-accompaniment ratio of active-frame RMS (dB); the paper balances to 0.
    active_threshold : float
        Frame RMS above which a frame is active (on the signals as loaded; the authors' 0.02).
    target_rms : float
        Active RMS of each mix before the peak limit.
    peak_limit : float
        Maximum absolute sample of a mix (< 1, so nothing clips).
    flac_per_singer : int
        Mixes per singer and shard written as FLAC under ``examples/`` for listening.
    """

    policy: str | list = "default"
    mixes_per_window: int = 1
    max_segment_uses: int = 20
    key_change_margin_s: float = 0.5
    min_key_margin: float = 0.05
    snr_db: float = 0.0
    active_threshold: float = 0.02
    target_rms: float = 0.1
    peak_limit: float = 0.99
    flac_per_singer: int = 0

    def __post_init__(self):
        if int(self.mixes_per_window) < 1:
            raise ConfigError(f"mashup.mixes_per_window must be >= 1, got {self.mixes_per_window}")
        if int(self.max_segment_uses) < 0:
            raise ConfigError(f"mashup.max_segment_uses must be >= 0, got {self.max_segment_uses}")
        if not 0 < self.peak_limit <= 1:
            raise ConfigError(f"mashup.peak_limit must be in (0, 1], got {self.peak_limit}")
        if not self.target_rms > 0:
            raise ConfigError(f"mashup.target_rms must be > 0, got {self.target_rms}")
        parse_policy(self.policy)  # raises ConfigError naming the problem


def accompaniment_segment(accompaniments, track_id: str, start: int, *, semitones: float = 0,
                          stretch_ratio: float = 1.0) -> np.ndarray:
    """The accompaniment segment of a pair, shifted to the vocal's key and tempo if asked.

    Unshifted (0 semitones, ratio 1.0): ``accompaniments.segment(track_id, start)`` as it is.
    Otherwise ``shift.input_samples(stretch_ratio, SEGMENT_SAMPLES)`` samples from ``start``
    are pitch-shifted and time-stretched (``pipeline.mashup.shift``) and cut to
    ``SEGMENT_SAMPLES``: float32, shape ``(SEGMENT_SAMPLES,)``, starting at the same beat.
    """
    if is_identity(semitones, stretch_ratio):
        return accompaniments.segment(track_id, start)
    y = accompaniments.segment(track_id, start, input_samples(stretch_ratio, SEGMENT_SAMPLES))
    return shift_segment(y, sr=SAMPLE_RATE, semitones=semitones, stretch_ratio=stretch_ratio,
                         out_samples=SEGMENT_SAMPLES)


def mix_pairs(pairs: pd.DataFrame, *, load_vocal, accompaniments, params: MashupParams,
              features: FeatureParams, snr_db: float | None = None):
    """Mix the given pairs and compute their log-mels.

    Parameters
    ----------
    pairs : pd.DataFrame
        Recipe rows (one vocal shard).  Output rows (arrays and index alike) are in
        ``segment_id`` order, the one order of a shard; performances are decoded one at a time.
        ``shift_semitones`` and ``stretch_ratio`` (absent: 0 and 1.0) shift the
        accompaniment segment (``accompaniment_segment``).
    load_vocal : callable
        perf_id -> 1-D float32 audio at 22,050 Hz, or anything with ``len()`` and ``[a:b]``
        slices over the pairs' windows (``vocal_loader``); called once per performance.
    accompaniments : object with ``segment(track_id, start, length=SEGMENT_SAMPLES) -> (length,)``
    snr_db : float, optional
        Overrides ``params.snr_db``.

    Returns
    -------
    mono, mix : np.ndarray [shape=(n, 129, 128), float16]
    index : pd.DataFrame   (without shard/row)
    skipped : pd.DataFrame (list(MIX_SKIPPED))
    audio : dict segment_id -> float32 mix audio (only for ``params.flac_per_singer`` picks)
    """
    target = params.snr_db if snr_db is None else float(snr_db)
    mono, mixes, indices, skipped, examples = mix_pairs_at(
        pairs, load_vocal=load_vocal, accompaniments=accompaniments, params=params,
        features=features, snr_dbs=[target])
    return mono, mixes[0], indices[0], skipped, examples[0]


def mix_pairs_at(pairs: pd.DataFrame, *, load_vocal, accompaniments, params: MashupParams,
                 features: FeatureParams, snr_dbs: Sequence[float]):
    """``mix_pairs`` at several vocal-to-accompaniment ratios from one pass over the pairs.

    Each window is decoded and its vocal log-mel computed once; whether a pair is skipped
    does not depend on the ratio (``mix_pair_at`` skips silent inputs), so every ratio keeps the
    same rows.  Each ratio's arrays are those ``mix_pairs`` gives at that ratio.

    Returns
    -------
    mono : np.ndarray [shape=(n, 129, 128), float16]
    mixes : list of np.ndarray [shape=(n, 129, 128), float16], one per ratio
    indices : list of pd.DataFrame, one per ratio (they differ in gains and snr_db)
    skipped : pd.DataFrame (list(MIX_SKIPPED))
    examples : list of dict segment_id -> (singer, float32 mix audio), one per ratio
    """
    targets = [float(t) for t in snr_dbs]
    pairs = pairs.sort_values("segment_id").reset_index(drop=True)
    # recipes from before shift-to-match have neither column: no shift
    semitones = pairs["shift_semitones"] if "shift_semitones" in pairs else pd.Series(0, pairs.index)
    ratios = pairs["stretch_ratio"] if "stretch_ratio" in pairs else pd.Series(1.0, pairs.index)
    n = len(pairs)
    mono = np.empty((n, SEGMENT_FRAMES, N_MELS), np.float16)
    mixes = [np.empty_like(mono) for _ in targets]
    rows = [{} for _ in targets]  # per ratio: position -> index row
    examples = [{} for _ in targets]
    skipped, keep = [], np.zeros(n, bool)
    per_singer: dict[str, int] = {}
    # batch_v: (perf, start) -> (vocal, rows); batch_m: per ratio, the batch's mixes
    batch_v, batch_m, batch_i = {}, [[] for _ in targets], []
    mel_kw = dict(dataclasses.asdict(features), dtype=np.float16)

    def flush():
        if batch_i:
            vocal_mels = log_mel(np.stack([v for v, _ in batch_v.values()]), **mel_kw)
            for mel, (_, at) in zip(vocal_mels, batch_v.values()):
                mono[at] = mel  # one mel per vocal window, copied to each of its mixes
            for out, audio in zip(mixes, batch_m):
                out[batch_i] = log_mel(np.stack(audio), **mel_kw)
                audio.clear()
            batch_v.clear(), batch_i.clear()

    order = pairs.groupby("perf_id", sort=True).indices
    for perf_id, idx in tqdm(order.items(), desc="mix", disable=None, unit="perf"):
        try:
            y = load_vocal(perf_id)
        except AudioError as exc:
            skipped += [(pairs.at[i, "segment_id"], perf_id, exc.path, exc.reason, exc.detail)
                        for i in idx]
            continue
        for i in idx:
            r = pairs.loc[i]
            start = int(r["vocal_start"])  # on the vocal's beat grid (analysis stage)
            if start + SEGMENT_SAMPLES > len(y):
                skipped.append((r["segment_id"], perf_id, "", "vocal too short", f"{len(y)} samples"))
                continue
            vocal = np.asarray(y[start:start + SEGMENT_SAMPLES], np.float32)
            acc = accompaniment_segment(accompaniments, r["acc_track"], int(r["acc_start"]),
                                        semitones=int(semitones[i]),
                                        stretch_ratio=float(ratios[i]))
            try:
                results = mix_pair_at(vocal, acc, snr_dbs=targets,
                                      active_threshold=params.active_threshold,
                                      target_rms=params.target_rms, peak_limit=params.peak_limit)
            except SilentSegmentError as exc:
                skipped.append((r["segment_id"], perf_id, "", "silent", str(exc)))
                continue
            keep[i] = True
            row = {c: r[c] for c in ("segment_id", "subset", "singer", "perf_id", "song",
                                     "window_index", "mix_index", "acc_track", "acc_start",
                                     "tempo_bpm", "acc_tempo_bpm", "key", "acc_key")}
            example = per_singer.get(r["singer"], 0) < params.flac_per_singer
            if example:
                per_singer[r["singer"]] = per_singer.get(r["singer"], 0) + 1
            for k, res in enumerate(results):
                rows[k][i] = {**row, "vocal_start": start, "vocal_gain": res.vocal_gain,
                              "acc_gain": res.acc_gain, "snr_db": res.snr_db}
                if example:
                    examples[k][r["segment_id"]] = (r["singer"], res.mix)
                batch_m[k].append(res.mix)
            batch_v.setdefault((perf_id, start), (vocal, []))[1].append(i)
            batch_i.append(i)
            if len(batch_i) >= features.batch_size:
                flush()
    flush()
    # index rows in the arrays' order (position in segment_id order), not in decoding order
    indices = [index_frame([r[i] for i in sorted(r)]) if r else index_frame([]) for r in rows]
    return (mono[keep], [m[keep] for m in mixes], indices,
            pd.DataFrame(skipped, columns=list(MIX_SKIPPED)), examples)


def write_examples(out, examples: dict) -> None:
    """FLAC files ``out/examples/<singer>/<segment_id>.flac`` (16-bit) for listening."""
    import soundfile as sf

    for segment_id, (singer, audio) in examples.items():
        path = Path(out) / "examples" / str(singer) / f"{segment_id}.flac"
        with atomic_path(path) as tmp:
            sf.write(tmp, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")


def vocal_loader(pairs: pd.DataFrame, vocal_paths: dict, *, windowed: bool = True):
    """perf_id -> the performance's audio at 22,050 Hz, as ``mix_pairs`` reads it.

    Windowed (the default), only the samples of the pairs' vocal windows are decoded
    (``pipeline.core.audio_windows``; bit for bit the full decode's, which files not proved
    exact get); otherwise each performance is decoded whole.
    """
    from ..core.audio import load_audio
    from ..core.audio_windows import load_windows

    if not windowed:
        return lambda perf: load_audio(vocal_paths[perf])
    starts = pairs.groupby("perf_id")["vocal_start"].agg(list).to_dict() if len(pairs) else {}
    methods = collections.Counter()

    def load(perf):
        signal = load_windows(vocal_paths[perf], starts.get(perf, []), SEGMENT_SAMPLES)
        methods[signal.method] += 1
        return signal

    load.methods = methods  # "windowed" or "full: <reason>" -> performances, for the log
    return load


def mix_shard(*, pairs, vocal_paths: dict, accompaniments, shard: int, out,
              params: MashupParams, features: FeatureParams, subsets=None,
              snr_db: float | Sequence[float] | None = None, windowed: bool = True) -> pd.DataFrame:
    """Write shard ``shard`` (mono, mix, index; skipped rows if any) into ``out``.

    ``vocal_paths`` maps perf_id to an audio path; returns the shard's index.  ``windowed``
    decodes only the vocal windows' samples (``vocal_loader``; the shard's bytes are the same).
    With a sequence of ratios ``snr_db``, ``out`` is a sequence of as many folders, each
    getting the shard at its ratio (``mix_pairs_at``); the index returned is the first's.
    """
    several = isinstance(snr_db, Sequence)
    targets = list(snr_db) if several else [params.snr_db if snr_db is None else snr_db]
    listed = not isinstance(out, (str, os.PathLike))
    outs = list(out) if listed else [out]
    if listed != several or len(outs) != len(targets):
        raise ParameterError(f"mix_shard: {len(targets)} ratios (--snr-db) need as many output "
                             f"folders (--out), got {out!r}")
    p = pairs[pairs["vocal_shard"] == int(shard)]
    if subsets:
        p = p[p["subset"].isin(list(subsets))]
    load_vocal = vocal_loader(p, vocal_paths, windowed=windowed)
    mono, mixes, indices, skipped, examples = mix_pairs_at(
        p, load_vocal=load_vocal, accompaniments=accompaniments, params=params,
        features=features, snr_dbs=targets)
    if len(skipped):
        log.warning("shard %d: %d pairs skipped: %s", shard, len(skipped),
                    skipped["reason"].value_counts().to_dict())
    for folder, mix, index, audio in zip(outs, mixes, indices, examples):
        write_shard(folder, shard, mono=mono, mix=mix, index=index)
        write_parquet(Path(folder) / shard_name("skipped", shard), skipped)
        write_examples(folder, audio)
    log.info("shard %d: %d segments from %d pairs, at %s dB", shard, len(indices[0]), len(p),
             ", ".join(f"{t:g}" for t in targets))
    if getattr(load_vocal, "methods", None):  # why a performance was decoded whole, if any was
        log.info("shard %d: vocal decoding per performance: %s", shard,
                 dict(sorted(load_vocal.methods.items())))
    return indices[0]
