"""The mashability join: pair vocal windows with accompaniment segments of matching tempo and key.

Policy
    An ordered list of tiers (:mod:`pipeline.mashup.tiers`: tempo tolerance, half/double
    tempo, relative or any key, pitch shift and time stretch).  The windows still unpaired
    after tier t try tier t + 1, so a window takes its segments from the first tier that
    yields an available one, and every pair records its tier.

The join is a hash join on (tempo bucket, key): each window expands into its few candidate
(bucket, key) cells (a merge), each cell holds a contiguous block of the sorted segments
(a cell admitting every key holds the bucket's block), so the cost is linear in windows +
segments (+ the candidates scanned per window).

Choice
    Within a tier, windows are visited in a canonical order (perf_id, start) and each draws
    from its own random stream ``SeedSequence([seed, crc32("perf_id:start")])``, so the
    result depends neither on how the windows were sharded nor on job order.  Among its
    candidates whose use count is below ``max_segment_uses`` (0: no cap) and that fit in
    their track a window takes a segment of the least used accompaniment track (spread over
    tracks), never a track twice for one window, ties broken by its random stream;
    ``mixes_per_window`` picks per window, all from one tier.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pandas as pd

from ..core.random import rng_for
from ..core.segment import SEGMENT_SAMPLES
from ..core.tables import PAIRS, UNMATCHED
from .shift import STRETCH_MARGIN_SAMPLES
from .tiers import ANY_KEY, PRESETS, key_distance, parse_policy, tempo_bucket, tier_cells

__all__ = ["JoinResult", "REASONS", "SHIFT_MARGIN_SAMPLES", "confident_segments",
           "coverage_table", "fitting_segments", "input_samples", "join_windows",
           "number_windows", "tempo_bucket"]

log = logging.getLogger(__name__)

REASONS = ("not in split", "no tempo", "ambiguous key", "no tempo match", "no key match",
           "segments exhausted")
# Input samples a shifted or stretched segment reads beyond ceil(rate * SEGMENT_SAMPLES):
# the phase vocoder's and resampler's reach (pipeline.mashup.shift, which checks the bound).
SHIFT_MARGIN_SAMPLES = STRETCH_MARGIN_SAMPLES
CHUNK_WINDOWS = 20000  # windows expanded into cells at a time (memory, not results)


@dataclasses.dataclass(frozen=True)
class JoinResult:
    """Tables of one join: pairs (the recipe core), unmatched windows, coverage, usage."""

    pairs: pd.DataFrame
    unmatched: pd.DataFrame
    coverage: pd.DataFrame
    usage: pd.DataFrame


def number_windows(windows: pd.DataFrame) -> pd.DataFrame:
    """Windows in canonical order (perf_id, start) with ``window_index`` = rank in performance."""
    w = windows.sort_values(["perf_id", "start"], kind="stable").reset_index(drop=True)
    w["window_index"] = w.groupby("perf_id", sort=False).cumcount().astype(np.int64)
    return w


def input_samples(stretch_ratio, shift_semitones) -> np.ndarray:
    """Accompaniment samples a mix reads: ``ceil(rate * SEGMENT_SAMPLES)``, plus
    :data:`SHIFT_MARGIN_SAMPLES` for a shifted or stretched pair (int64); the vectorised
    :func:`pipeline.mashup.shift.input_samples` (which leaves the identity out)."""
    rate = np.asarray(stretch_ratio, np.float64)
    shifted = (rate != 1.0) | (np.asarray(shift_semitones) != 0)
    return (np.ceil(rate * SEGMENT_SAMPLES).astype(np.int64)
            + np.where(shifted, SHIFT_MARGIN_SAMPLES, 0))


def fitting_segments(segments: pd.DataFrame, tracks: pd.DataFrame) -> pd.DataFrame:
    """Segments whose ``start + SEGMENT_SAMPLES`` fits in their track, sorted by cell.

    Adds ``bucket``, the track's ``audio_length`` and ``acc_shard`` (when ``tracks`` has
    one).  A stretched or shifted pair must also fit its :func:`input_samples`, checked when
    the window chooses.
    """
    cols = ["track_id", "audio_length"] + (["acc_shard"] if "acc_shard" in tracks else [])
    s = segments.merge(tracks[cols], on="track_id", how="inner", validate="many_to_one")
    s = s[s["start"] + SEGMENT_SAMPLES <= s["audio_length"]].copy()
    s["bucket"] = tempo_bucket(s["tempo_bpm"])
    return s.sort_values(["bucket", "key", "track_id", "start"], kind="stable").reset_index(drop=True)


def confident_segments(segments: pd.DataFrame, *, change_margin_s: float = -np.inf,
                       min_key_margin: float = 0.0) -> pd.DataFrame:
    """Segments at least ``change_margin_s`` seconds from a detected key change of their
    track and whose key wins by at least ``min_key_margin`` (columns ``change_margin_s`` and
    ``key_margin`` of the analysis; a table without them keeps every segment).

    On the demo corpus a 0.5 s margin from changes found by ``pipeline.analysis.key_sections`` and a
    key margin of 0.05 keep 69 % of the segments, 98.8 % of them truly in their estimated key
    over their whole length (all segments: 79 %).
    """
    keep = np.ones(len(segments), dtype=bool)
    if "change_margin_s" in segments:
        keep &= segments["change_margin_s"].to_numpy(np.float64) >= change_margin_s
    if "key_margin" in segments:
        keep &= segments["key_margin"].to_numpy(np.float64) >= min_key_margin
    return segments[keep]


def _cell_blocks(seg: pd.DataFrame) -> pd.DataFrame:
    """(bucket, key) -> offset, size of its block of the sorted segments; key ANY_KEY rows
    give each bucket's whole block."""
    groups = seg.groupby(["bucket", "key"], sort=True).size().rename("size").reset_index()
    groups["offset"] = np.concatenate([[0], np.cumsum(groups["size"].to_numpy())[:-1]]).astype(np.int64)
    whole = groups.groupby("bucket", sort=True).agg(offset=("offset", "min"), size=("size", "sum"))
    whole = whole.reset_index().assign(key=ANY_KEY)
    return pd.concat([groups, whole[groups.columns]], ignore_index=True)


def join_windows(windows: pd.DataFrame, segments: pd.DataFrame, tracks: pd.DataFrame,
                 split: pd.DataFrame | None, *, seed: int, policy=PRESETS["strict"],
                 mixes_per_window: int = 1, max_segment_uses: int = 0,
                 key_change_margin_s: float = -np.inf, min_key_margin: float = 0.0) -> JoinResult:
    """Pair every vocal window with ``mixes_per_window`` mashable accompaniment segments.

    Parameters
    ----------
    windows : pd.DataFrame
        All vocal analysis windows (perf_id, singer, song, start, key, tempo_bpm, ...).
    segments, tracks : pd.DataFrame
        All accompaniment segments (track_id, beat_index, start, key, tempo_bpm) and tracks
        (track_id, audio_length[, acc_shard]).
    split : pd.DataFrame or None
        id, subset; None joins every window (subset "").
    seed : int
        Global seed; with the window's id it seeds each window's choice.
    policy : str, sequence of Tier or of tier mappings
        The match tiers in order (:func:`pipeline.mashup.tiers.parse_policy`); default strict.
    key_change_margin_s : float
        Use only segments at least this many seconds from a detected key change
        (:func:`confident_segments`); negative values admit segments spanning a change.
    min_key_margin : float
        Use only windows and segments whose key wins by at least this correlation margin
        (column ``key_margin``); a window below it is unmatched as "ambiguous key".

    Returns
    -------
    JoinResult
    """
    tiers = parse_policy(policy)
    w = number_windows(windows)
    if split is None:
        w["subset"] = ""
    else:
        w["subset"] = w["perf_id"].map(split.drop_duplicates("id").set_index("id")["subset"])
    seg = fitting_segments(confident_segments(segments, change_margin_s=key_change_margin_s,
                                              min_key_margin=min_key_margin), tracks)
    blocks = _cell_blocks(seg)
    seg_buckets = seg["bucket"].unique()

    reason = np.full(len(w), "", dtype=object)
    reason[(w["subset"].isna() | (w["subset"] == "unused")).to_numpy()] = "not in split"
    tempo = w["tempo_bpm"].to_numpy(np.float64)
    keys = w["key"].to_numpy(np.int64)
    reason[(reason == "") & ~(np.isfinite(tempo) & (tempo > 0))] = "no tempo"
    if "key_margin" in w:
        reason[(reason == "") & (w["key_margin"].to_numpy(np.float64) < min_key_margin)] = \
            "ambiguous key"

    state = _Uses(seg)
    chosen, tempo_ok, has_hits = [], np.zeros(len(w), bool), np.zeros(len(w), bool)
    todo = np.flatnonzero(reason == "")
    for t, tier in enumerate(tiers):
        left = []
        # in chunks of windows (canonical order kept), so memory stays bounded at DAMP scale
        for part in np.array_split(todo, max(1, -(-len(todo) // CHUNK_WINDOWS))):
            cells = tier_cells(tempo[part], keys[part], tier, buckets=seg_buckets)
            cells["w"] = part[cells["w"].to_numpy(np.int64)]
            tempo_ok[cells["w"].unique()] = True
            hits = cells.merge(blocks, on=["bucket", "key"], how="inner").sort_values(
                ["w", "bucket", "key"], kind="stable")  # canonical candidate order
            has_hits[hits["w"].unique()] = True
            got = _choose(w, seg, hits, part, state, tier=t,
                          stretch=tier.max_stretch_percent > 0, seed=seed,
                          mixes_per_window=mixes_per_window, max_segment_uses=max_segment_uses)
            chosen += got
            left.append(np.setdiff1d(part, [c[0] for c in got]))
        todo = np.concatenate(left) if left else todo
    reason[(reason == "") & ~tempo_ok] = "no tempo match"
    reason[(reason == "") & ~has_hits] = "no key match"
    reason[todo[reason[todo] == ""]] = "segments exhausted"

    pairs = _pairs_frame(w, seg, chosen, tiers)
    unmatched = w.loc[reason != "", ["perf_id", "singer", "song", "subset", "window_index",
                                     "start", "tempo_bpm", "key"]].rename(
        columns={"start": "vocal_start"})
    unmatched["reason"] = reason[reason != ""].astype(str)
    unmatched = unmatched[list(UNMATCHED)].reset_index(drop=True)
    coverage = coverage_table(w, reason, pairs, tiers=[t.name for t in tiers])
    usage = pd.Series(state.seg_uses).value_counts().sort_index().rename_axis("uses").rename(
        "segments").reset_index()
    _log_summary(coverage, usage, tiers)
    return JoinResult(pairs=pairs, unmatched=unmatched, coverage=coverage, usage=usage)


class _Uses:
    """Use counts of segments and tracks, carried from tier to tier."""

    def __init__(self, seg):
        self.track_codes, names = pd.factorize(seg["track_id"], sort=True)
        self.seg_uses = np.zeros(len(seg), dtype=np.int64)
        self.track_uses = np.zeros(len(names), dtype=np.int64)


def _choose(w, seg, hits, todo, state, *, tier, stretch, seed, mixes_per_window,
            max_segment_uses):
    """(window row, mix_index, segment row, tier, factor, shift) for the windows of ``todo``
    with hits in tier number ``tier``, in canonical order.  ``stretch``: the tier stretches
    each candidate to the window's tempo (rate = factor * vocal / accompaniment tempo)."""
    hit_w = hits["w"].to_numpy(np.int64)
    hit_offset, hit_size = hits["offset"].to_numpy(np.int64), hits["size"].to_numpy(np.int64)
    hit_factor, hit_shift = hits["factor"].to_numpy(np.float64), hits["shift"].to_numpy(np.int64)
    first = np.searchsorted(hit_w, todo, side="left")
    last = np.searchsorted(hit_w, todo, side="right")
    perf, start = w["perf_id"].to_numpy(), w["start"].to_numpy()
    vocal_tempo = w["tempo_bpm"].to_numpy(np.float64)
    seg_start, seg_len = seg["start"].to_numpy(np.int64), seg["audio_length"].to_numpy(np.int64)
    seg_tempo = seg["tempo_bpm"].to_numpy(np.float64)
    chosen = []
    for i, a, b in zip(todo, first, last):
        if a == b:
            continue
        cand = np.concatenate([np.arange(o, o + n) for o, n in zip(hit_offset[a:b], hit_size[a:b])])
        cand_tracks = state.track_codes[cand]
        rng = rng_for(seed, f"{perf[i]}:{int(start[i])}")
        ok = np.ones(len(cand), bool)
        factor = np.repeat(hit_factor[a:b], hit_size[a:b])
        shift = np.repeat(hit_shift[a:b], hit_size[a:b])
        rate = vocal_tempo[i] * factor / seg_tempo[cand] if stretch else np.ones(len(cand))
        if stretch or (shift != 0).any():
            ok &= seg_start[cand] + input_samples(rate, shift) <= seg_len[cand]
        for m in range(mixes_per_window):
            if max_segment_uses > 0:
                ok &= state.seg_uses[cand] < max_segment_uses
            avail = np.flatnonzero(ok)
            if len(avail) == 0:
                break
            score = state.track_uses[cand_tracks[avail]]
            best = avail[score == score.min()]
            pick = int(best[rng.integers(len(best))])
            s, t = int(cand[pick]), cand_tracks[pick]
            state.seg_uses[s] += 1
            state.track_uses[t] += 1
            ok &= cand_tracks != t  # never the same track twice for one window
            chosen.append((int(i), m, s, tier, float(factor[pick]), int(shift[pick])))
    return chosen


def _pairs_frame(w, seg, chosen, tiers) -> pd.DataFrame:
    wi = np.array([c[0] for c in chosen], dtype=np.int64)
    si = np.array([c[2] for c in chosen], dtype=np.int64)
    ti = np.array([c[3] for c in chosen], dtype=np.int64)
    factor = np.array([c[4] for c in chosen], dtype=np.float64)
    a, b = w.iloc[wi].reset_index(drop=True), seg.iloc[si].reset_index(drop=True)
    pairs = pd.DataFrame({
        "perf_id": a["perf_id"], "singer": a["singer"], "song": a["song"],
        "subset": a["subset"], "window_index": a["window_index"].astype(np.int64),
        "mix_index": np.array([c[1] for c in chosen], dtype=np.int64),
        "vocal_start": a["start"].astype(np.int64), "acc_track": b["track_id"],
        "acc_start": b["start"].astype(np.int64), "acc_beat_index": b["beat_index"].astype(np.int64),
        "tempo_bpm": a["tempo_bpm"].astype(np.float64),
        "acc_tempo_bpm": b["tempo_bpm"].astype(np.float64),
        "key": a["key"].astype(np.int64), "acc_key": b["key"].astype(np.int64)})
    if "acc_shard" in seg:
        pairs["acc_shard"] = b["acc_shard"].astype(np.int64)
    pairs["segment_id"] = [f"{p}-w{wi:03d}-m{m}" for p, wi, m in
                           zip(pairs["perf_id"], pairs["window_index"], pairs["mix_index"])]
    pairs["tempo_relation"] = np.select([factor == 0.5, factor == 2.0], ["half", "double"],
                                        "equal").astype(object) if len(pairs) else ""
    shift = np.array([c[5] for c in chosen], dtype=np.int64)
    shifted_key = (pairs["acc_key"].to_numpy(np.int64) // 12) * 12 + (
        pairs["acc_key"].to_numpy(np.int64) + shift) % 12
    rel = np.where(pairs["key"] < 12, (pairs["key"] + 9) % 12 + 12, (pairs["key"] - 12 + 3) % 12)
    pairs["key_relation"] = np.select([shifted_key == pairs["key"].to_numpy(), shifted_key == rel],
                                      ["same", "relative"], "other").astype(object) \
        if len(pairs) else ""
    pairs["tier"] = np.array([t.name for t in tiers], dtype=object)[ti] if len(pairs) else ""
    pairs["tempo_ratio"] = (pairs["acc_tempo_bpm"] / pairs["tempo_bpm"]).astype(np.float64)
    pairs["key_distance"] = key_distance(pairs["key"], pairs["acc_key"]).astype(np.int64)
    pairs["shift_semitones"] = shift
    stretch = np.array([tiers[t].max_stretch_percent > 0 for t in ti], dtype=bool)
    pairs["stretch_ratio"] = np.where(
        stretch, factor * pairs["tempo_bpm"].to_numpy() / pairs["acc_tempo_bpm"].to_numpy(), 1.0)
    extra = [c for c in pairs.columns if c not in list(PAIRS)]
    return pairs[list(PAIRS) + extra].sort_values("segment_id").reset_index(drop=True)


def coverage_table(w: pd.DataFrame, reason: np.ndarray, pairs: pd.DataFrame, *,
                   tiers=()) -> pd.DataFrame:
    """Per subset and overall: windows, matched, share matched, pairs, each reason's count
    (spaces as underscores) and, per tier, the windows matched at it (``tier:<name>``)."""
    frame = pd.DataFrame({"subset": w["subset"].fillna("(none)").to_numpy(), "reason": reason})
    first = pairs[pairs["mix_index"] == 0] if len(pairs) else pairs
    rows = []
    for name, g in [("all", frame)] + list(frame.groupby("subset", sort=True)):
        matched = int((g["reason"] == "").sum())
        mine = first if name == "all" else first[first["subset"] == name]
        row = {"subset": name, "windows": len(g), "matched": matched,
               "share_matched": matched / len(g) if len(g) else 0.0,
               "pairs": int(len(pairs) if name == "all" else (pairs["subset"] == name).sum())}
        row.update({r.replace(" ", "_"): int((g["reason"] == r).sum()) for r in REASONS})
        row.update({f"tier:{t}": int((mine["tier"] == t).sum()) if len(mine) else 0 for t in tiers})
        rows.append(row)
    return pd.DataFrame(rows)


def _log_summary(coverage: pd.DataFrame, usage: pd.DataFrame, tiers) -> None:
    total = coverage.iloc[0]
    log.info("join: %d of %d windows matched (%.1f%%), %d pairs", total["matched"],
             total["windows"], 100 * total["share_matched"], total["pairs"])
    for t in tiers:
        log.info("join: tier %r: %d windows", t.name, total[f"tier:{t.name}"])
    for r in REASONS:
        if total[r.replace(" ", "_")]:
            log.info("join: unmatched, %s: %d windows", r, total[r.replace(" ", "_")])
    log.info("join: segment use histogram %s",
             dict(zip(usage["uses"].tolist(), usage["segments"].tolist())))

