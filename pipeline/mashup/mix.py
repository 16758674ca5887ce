"""Mashup stage drivers: join -> recipe, mix one shard -> NPY/Parquet shard, regenerate.

``run_join`` reads every analysis table and writes the recipe (``pairs.parquet``, with each
source file's path relative to its corpus root and sha256), ``unmatched.parquet``,
``coverage.parquet`` and ``usage.parquet``.  ``mix_shard`` turns the pairs of vocal shard
k into ``mono``/``mix``/``index`` shard k, decoding of each performance only the samples its
windows need (``pipeline.core.audio_windows``, bit for bit the full decode's) and reading
accompaniments from the analysis stage's memory-mapped audio cache
(``pipeline.sources.cache``).  ``regenerate``
rebuilds a dataset from a recipe and one's own copies of the corpora.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..core.atomic import atomic_path, write_parquet, write_text
from ..core.errors import AudioError, ConfigError, PipelineError
from ..core.segment import N_MELS, SAMPLE_RATE, SEGMENT_FRAMES, SEGMENT_SAMPLES
from ..core.tables import MIX_SKIPPED
from ..dataset.features import FeatureParams, log_mel
from ..dataset.shards import index_frame, shard_name, write_shard
from ..sources.split import SplitParams
from .join import join_windows
from .mixing import SilentSegmentError, mix_pair
from .shift import input_samples, is_identity, shift_segment
from .split_join import join_with_split
from .tiers import parse_policy

log = logging.getLogger(__name__)

__all__ = ["MashupParams", "accompaniment_segment", "attach_sources", "mix_pairs", "mix_shard",
           "run_join", "vocal_loader", "vocal_paths_from_recipe"]



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


def _shard_of(path) -> int:
    """Shard number of an analysis file named ``{k}.<kind>.parquet|npy``."""
    return int(Path(path).name.split(".")[0])


def _concat(paths, *, shard_column: str | None = None) -> pd.DataFrame:
    frames = []
    for p in paths:
        df = pd.read_parquet(p)
        if shard_column:
            df[shard_column] = _shard_of(p)
        frames.append(df)
    if not frames:
        raise PipelineError("no input tables given")
    return pd.concat(frames, ignore_index=True)


def relative_to_root(paths: pd.Series, root, *, corpus: str) -> pd.Series:
    """``paths`` relative to the configured corpus ``root`` (POSIX separators).

    So a recipe names ``sing/<user>/<file>.m4a`` under ``--vocals-root /data/DAMP`` whatever
    subset of the corpus was used.  A path outside the root is an error naming it.
    """
    base = os.path.abspath(root)
    out = []
    for p in paths:
        rel = os.path.relpath(os.path.abspath(p), base)
        if rel == os.curdir or rel.split(os.sep)[0] == os.pardir:
            raise PipelineError(f"{p}: not under the {corpus} root {root}")
        out.append(Path(rel).as_posix())
    return pd.Series(out, index=paths.index, dtype=object)


def attach_sources(pairs: pd.DataFrame, vocals: pd.DataFrame, accompaniments: pd.DataFrame, *,
                   vocals_root, accompaniments_root) -> pd.DataFrame:
    """Add vocal_shard, vocal_path, vocal_sha256, acc_path, acc_format, acc_sha256.

    Paths are relative to the configured corpus roots (``sources.<corpus>.root``).
    """
    v = vocals[["id", "path", "sha256", "shard"]].copy()
    v["path"] = relative_to_root(v["path"], vocals_root, corpus="vocals")
    a = accompaniments[["id", "path", "format", "sha256"]].copy()
    a["path"] = relative_to_root(a["path"], accompaniments_root, corpus="accompaniments")
    out = pairs.merge(v.rename(columns={"id": "perf_id", "path": "vocal_path",
                                        "sha256": "vocal_sha256", "shard": "vocal_shard"}),
                      on="perf_id", how="left", validate="many_to_one")
    out = out.merge(a.rename(columns={"id": "acc_track", "path": "acc_path",
                                      "format": "acc_format", "sha256": "acc_sha256"}),
                    on="acc_track", how="left", validate="many_to_one")
    missing = out["vocal_path"].isna() | out["acc_path"].isna()
    if missing.any():
        raise PipelineError(f"{int(missing.sum())} pairs name a performance or track missing "
                            "from the manifests")
    out["vocal_shard"] = out["vocal_shard"].astype(np.int64)
    return out


def run_join(*, windows, segments, tracks, vocals, accompaniments, out, seed: int,
             params: MashupParams, vocals_root, accompaniments_root, split=None,
             split_params: SplitParams | None = None) -> pd.DataFrame:
    """Join all analysis tables and write the recipe and its reports into ``out``.

    ``vocals_root`` and ``accompaniments_root`` are the configured corpus roots the recipe's
    source paths are relative to.  With ``split_params`` the split is drawn among the
    performances the join pairs (:mod:`pipeline.mashup.split_join`) and written as
    ``split.parquet`` and ``split.json`` (eligibility counts); with ``split`` (a table path)
    that fixed split is used.
    """
    kw = dict(seed=seed, policy=params.policy, mixes_per_window=params.mixes_per_window,
              max_segment_uses=params.max_segment_uses,
              key_change_margin_s=params.key_change_margin_s, min_key_margin=params.min_key_margin)
    tables = (_concat(windows), _concat(segments), _concat(tracks, shard_column="acc_shard"))
    manifest = pd.read_parquet(vocals)
    out = Path(out)
    if split_params is not None:
        res, split_table, summary = join_with_split(*tables, manifest, split_params, **kw)
        write_parquet(out / "split.parquet", split_table)
        write_text(out / "split.json", json.dumps(summary, indent=1, sort_keys=True) + "\n")
    elif split is not None:
        res = join_windows(*tables, pd.read_parquet(split), **kw)
    else:
        raise PipelineError("run_join needs a split table or split parameters")
    pairs = attach_sources(res.pairs, manifest, pd.read_parquet(accompaniments),
                           vocals_root=vocals_root, accompaniments_root=accompaniments_root)
    write_parquet(out / "unmatched.parquet", res.unmatched)
    write_parquet(out / "coverage.parquet", res.coverage)
    write_parquet(out / "usage.parquet", res.usage)
    write_parquet(out / "pairs.parquet", pairs)
    return pairs


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
    pairs = pairs.sort_values("segment_id").reset_index(drop=True)
    # recipes from before shift-to-match have neither column: no shift
    semitones = pairs["shift_semitones"] if "shift_semitones" in pairs else pd.Series(0, pairs.index)
    ratios = pairs["stretch_ratio"] if "stretch_ratio" in pairs else pd.Series(1.0, pairs.index)
    n = len(pairs)
    mono = np.empty((n, SEGMENT_FRAMES, N_MELS), np.float16)
    mix = np.empty_like(mono)
    rows, skipped, keep, examples = {}, [], np.zeros(n, bool), {}  # rows: position -> row
    per_singer: dict[str, int] = {}
    batch_v, batch_m, batch_i = {}, [], []  # batch_v: (perf, start) -> (vocal, rows)

    def flush():
        if batch_i:
            vocal_mels = log_mel(np.stack([v for v, _ in batch_v.values()]), **dataclasses.asdict(features),
                                 dtype=np.float16)
            for mel, (_, at) in zip(vocal_mels, batch_v.values()):
                mono[at] = mel  # one mel per vocal window, copied to each of its mixes
            mix[batch_i] = log_mel(np.stack(batch_m), **dataclasses.asdict(features), dtype=np.float16)
            batch_v.clear(), batch_m.clear(), batch_i.clear()

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
                res = mix_pair(vocal, acc, snr_db=target, active_threshold=params.active_threshold,
                               target_rms=params.target_rms, peak_limit=params.peak_limit)
            except SilentSegmentError as exc:
                skipped.append((r["segment_id"], perf_id, "", "silent", str(exc)))
                continue
            keep[i] = True
            rows[i] = {**{c: r[c] for c in ("segment_id", "subset", "singer", "perf_id", "song",
                                            "window_index", "mix_index", "acc_track",
                                            "acc_start", "tempo_bpm", "acc_tempo_bpm", "key",
                                            "acc_key")},
                       "vocal_start": start, "vocal_gain": res.vocal_gain,
                       "acc_gain": res.acc_gain, "snr_db": res.snr_db}
            if per_singer.get(r["singer"], 0) < params.flac_per_singer:
                per_singer[r["singer"]] = per_singer.get(r["singer"], 0) + 1
                examples[r["segment_id"]] = (r["singer"], res.mix)
            batch_v.setdefault((perf_id, start), (vocal, []))[1].append(i)
            batch_m.append(res.mix), batch_i.append(i)
            if len(batch_i) >= features.batch_size:
                flush()
    flush()
    # index rows in the arrays' order (position in segment_id order), not in decoding order
    index = index_frame([rows[i] for i in sorted(rows)]) if rows else index_frame([])
    return (mono[keep], mix[keep], index, pd.DataFrame(skipped, columns=list(MIX_SKIPPED)),
            examples)


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
              snr_db: float | None = None, windowed: bool = True) -> pd.DataFrame:
    """Write shard ``shard`` (mono, mix, index; skipped rows if any) into ``out``.

    ``vocal_paths`` maps perf_id to an audio path; returns the shard's index.  ``windowed``
    decodes only the vocal windows' samples (``vocal_loader``; the shard's bytes are the same).
    """
    p = pairs[pairs["vocal_shard"] == int(shard)]
    if subsets:
        p = p[p["subset"].isin(list(subsets))]
    load_vocal = vocal_loader(p, vocal_paths, windowed=windowed)
    mono, mix, index, skipped, examples = mix_pairs(
        p, load_vocal=load_vocal,
        accompaniments=accompaniments, params=params, features=features, snr_db=snr_db)
    write_shard(out, shard, mono=mono, mix=mix, index=index)
    if len(skipped):
        log.warning("shard %d: %d pairs skipped: %s", shard, len(skipped),
                    skipped["reason"].value_counts().to_dict())
    write_parquet(Path(out) / shard_name("skipped", shard), skipped)
    write_examples(out, examples)
    log.info("shard %d: %d segments from %d pairs", shard, len(index), len(p))
    if getattr(load_vocal, "methods", None):  # why a performance was decoded whole, if any was
        log.info("shard %d: vocal decoding per performance: %s", shard,
                 dict(sorted(load_vocal.methods.items())))
    return index


def vocal_paths_from_recipe(recipe: pd.DataFrame, root) -> dict:
    """perf_id -> path under ``root``, after checking each file's sha256 against the recipe."""
    from ..core.hashing import sha256_file

    out = {}
    for r in recipe.drop_duplicates("perf_id").itertuples(index=False):
        path = Path(root) / r.vocal_path
        if not path.exists():
            raise PipelineError(f"{path}: vocal source not found (recipe row {r.perf_id!r})")
        if sha256_file(path) != r.vocal_sha256:
            raise PipelineError(f"{path}: sha256 differs from the recipe; this is not the file "
                                f"the dataset was made from ({r.perf_id!r})")
        out[r.perf_id] = path
    return out
