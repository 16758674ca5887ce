"""Match tiers: the rules of a join policy, and the (tempo bucket, key) cells each admits.

A join *policy* is an ordered list of tiers; a vocal window takes its candidates from the
first tier that yields any (:func:`pipeline.mashup.join.join_windows`).  A tier's rules:

Tempo
    Tempi are compared in whole BPM: with factor ``f = 1`` (and ``f = 1/2, 2`` when
    ``half_double``) a window of tempo ``v`` admits a segment of whole-BPM tempo ``b`` when
    ``|b - round(f * v)| <= floor(max(tempo_tolerance_bpm, tempo_tolerance_percent / 100 * f * v))``;
    a tier with a stretch (``shift.max_stretch_percent = X``) also admits every ``b`` with
    ``|f * v / b - 1| <= X / 100``.  The tolerance 0 is "equal after rounding to whole BPM".
Key
    The same key; also the relative major/minor when ``relative_keys``; every key when
    ``any_key``.  A tier with a pitch shift (``shift.max_semitones = N``) also admits a
    segment whose key, moved by ``s`` semitones with ``|s| <= N``, becomes the vocal's key (or
    its relative when ``relative_keys``); the pair then records ``shift_semitones = s``.
Shift
    For pairs of a tier with a shift the join records ``shift_semitones`` (above) and
    ``stretch_ratio = f * v / a`` (the raw tempo estimates; > 1 plays the accompaniment
    faster) when ``max_stretch_percent > 0``; other pairs have 0 and 1.0.

Presets: ``strict`` (equal whole BPM, same key: the paper's matching), ``authors`` (the
fallback sequence of the authors' matching script: exact, +-1 BPM, +-2 BPM, relative key,
any key) and ``default`` (chosen by ``bench/bench_join_coverage.py``, see the README).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..core.errors import ConfigError

__all__ = ["ANY_KEY", "PRESETS", "Tier", "key_distance", "parse_policy", "policy_spec",
           "tempo_bucket", "tier_cells", "wrap_semitones"]

ANY_KEY = -1  # the key of a cell that admits every key of its tempo bucket


@dataclasses.dataclass(frozen=True)
class Tier:
    """One tier of a join policy (see the module docstring for the rules)."""

    name: str
    tempo_tolerance_bpm: float = 0.0
    tempo_tolerance_percent: float = 0.0
    half_double: bool = False
    relative_keys: bool = False
    any_key: bool = False
    max_semitones: int = 0
    max_stretch_percent: float = 0.0

    @property
    def shifts(self) -> bool:
        return self.max_semitones > 0 or self.max_stretch_percent > 0

    def spec(self) -> dict:
        """The config form of the tier (the inverse of :func:`parse_policy` on one tier)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name not in ("max_semitones", "max_stretch_percent")}
        if self.shifts:
            out["shift"] = {"max_semitones": self.max_semitones,
                            "max_stretch_percent": self.max_stretch_percent}
        return out


_STRICT = (Tier("exact"),)
PRESETS = {
    "strict": _STRICT,
    "authors": (Tier("exact"), Tier("bpm1", tempo_tolerance_bpm=1),
                Tier("bpm2", tempo_tolerance_bpm=2),
                Tier("relative", tempo_tolerance_bpm=2, relative_keys=True),
                Tier("any key", tempo_tolerance_bpm=2, any_key=True)),
    # chosen from bench/bench_join_coverage.py (README "Coverage at DAMP scale")
    "default": (Tier("exact"), Tier("bpm2", tempo_tolerance_bpm=2),
                Tier("pct4 half/double", tempo_tolerance_bpm=2, tempo_tolerance_percent=4,
                     half_double=True),
                Tier("relative", tempo_tolerance_bpm=2, tempo_tolerance_percent=4,
                     half_double=True, relative_keys=True)),
}
_TIER_KEYS = {"name", "tempo_tolerance_bpm", "tempo_tolerance_percent", "half_double",
              "relative_keys", "any_key", "shift"}


def parse_policy(spec) -> tuple[Tier, ...]:
    """Tiers of a policy given as a preset name or a list of tier mappings.

    Raises ConfigError naming the problem (unknown preset or key, empty list, duplicate
    names, negative tolerances).
    """
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise ConfigError(f"mashup.policy: unknown preset {spec!r} (known: {sorted(PRESETS)})")
        return PRESETS[spec]
    if isinstance(spec, Tier):
        return (spec,)
    tiers = []
    for i, t in enumerate(spec or ()):
        if isinstance(t, Tier):
            tiers.append(t)
            continue
        if not isinstance(t, dict) or "name" not in t:
            raise ConfigError(f"mashup.policy[{i}]: a tier is a mapping with a name, got {t!r}")
        unknown = set(t) - _TIER_KEYS
        if unknown:
            raise ConfigError(f"mashup.policy[{i}] ({t['name']}): unknown keys {sorted(unknown)}")
        shift = dict(t.get("shift") or {})
        if set(shift) - {"max_semitones", "max_stretch_percent"}:
            raise ConfigError(f"mashup.policy[{i}].shift: unknown keys {sorted(shift)}")
        tiers.append(Tier(str(t["name"]), float(t.get("tempo_tolerance_bpm", 0.0)),
                          float(t.get("tempo_tolerance_percent", 0.0)),
                          bool(t.get("half_double", False)), bool(t.get("relative_keys", False)),
                          bool(t.get("any_key", False)), int(shift.get("max_semitones", 0)),
                          float(shift.get("max_stretch_percent", 0.0))))
    if not tiers:
        raise ConfigError("mashup.policy: needs at least one tier")
    names = [t.name for t in tiers]
    if len(set(names)) != len(names):
        raise ConfigError(f"mashup.policy: tier names must be distinct, got {names}")
    for t in tiers:
        if min(t.tempo_tolerance_bpm, t.tempo_tolerance_percent, t.max_semitones,
               t.max_stretch_percent) < 0:
            raise ConfigError(f"mashup.policy tier {t.name!r}: tolerances and shifts must be >= 0")
        if not 0 <= t.max_semitones <= 6 or t.max_stretch_percent > 20:
            raise ConfigError(f"mashup.policy tier {t.name!r}: shift.max_semitones must be in "
                              "0..6 and shift.max_stretch_percent at most 20 (the stretcher's "
                              "0.8..1.25)")
    return tuple(tiers)


def policy_spec(tiers) -> list[dict]:
    """The config form of a policy (for the card and the logs)."""
    return [t.spec() for t in tiers]


def tempo_bucket(bpm) -> np.ndarray:
    """Whole-BPM bucket, rounding halves up (not to even): int64."""
    return np.floor(np.asarray(bpm, dtype=np.float64) + 0.5).astype(np.int64)


def wrap_semitones(d) -> np.ndarray:
    """Semitone differences wrapped into -6..+5: int64."""
    return (np.asarray(d, dtype=np.int64) + 6) % 12 - 6


def key_distance(vocal_key, acc_key) -> np.ndarray:
    """Signed semitones (-6..+5) that move the accompaniment's tonic to the vocal key's tonic.

    >>> key_distance([0, 0, 7], [0, 21, 0]).tolist()  # C-C, C major vs A minor, G vs C
    [0, 3, -5]
    """
    v, a = np.asarray(vocal_key, np.int64), np.asarray(acc_key, np.int64)
    return wrap_semitones(v % 12 - a % 12)


def _relative(keys: np.ndarray) -> np.ndarray:
    """Vectorised :func:`pipeline.core.music.relative_key`."""
    return np.where(keys < 12, (keys + 9) % 12 + 12, (keys - 12 + 3) % 12)


def _tempo_cells(tempo: np.ndarray, ok: np.ndarray, tier: Tier, buckets) -> pd.DataFrame:
    """(w, bucket, factor) rows for buckets in ``buckets`` (None: all); a bucket reached
    twice keeps the factor 1 (then 1/2, then 2)."""
    factors = [1.0] + ([0.5, 2.0] if tier.half_double else [])
    parts = []
    for f in factors:
        target = tempo[ok] * f
        centre = tempo_bucket(target)
        tol = np.floor(np.maximum(tier.tempo_tolerance_bpm,
                                  tier.tempo_tolerance_percent / 100 * target) + 1e-9)
        lo, hi = centre - tol.astype(np.int64), centre + tol.astype(np.int64)
        if tier.max_stretch_percent > 0:
            x = tier.max_stretch_percent / 100
            lo = np.minimum(lo, np.ceil(target / (1 + x) - 1e-9).astype(np.int64))
            hi = np.maximum(hi, np.floor(target / (1 - x) + 1e-9).astype(np.int64))
        width = hi - lo + 1
        for d in range(int(width.max(initial=0))):
            keep = d < width
            if buckets is not None:
                keep &= np.isin(lo + d, buckets)
            parts.append(pd.DataFrame({"w": ok[keep], "bucket": lo[keep] + d, "factor": f}))
    if not parts:
        return pd.DataFrame({"w": np.zeros(0, np.int64), "bucket": np.zeros(0, np.int64),
                             "factor": np.zeros(0)})
    return pd.concat(parts, ignore_index=True).drop_duplicates(["w", "bucket"])


def tier_cells(tempo, keys, tier: Tier, buckets=None) -> pd.DataFrame:
    """Every (window, bucket, key) cell a window may match under ``tier``.

    Parameters
    ----------
    tempo : array [shape=(n,)], BPM (non-finite or <= 0: no cell)
    keys : array [shape=(n,)], int key indices 0..23
    tier : Tier
    buckets : array of int, optional
        The whole-BPM buckets that hold segments; cells elsewhere are left out (they match
        nothing).

    Returns
    -------
    pd.DataFrame
        Columns w (window row), bucket, key (:data:`ANY_KEY` for a cell admitting every key
        of its bucket), factor (1, 0.5 or 2: tempo relation "equal", "half", "double"), shift
        (semitones, int), sorted by (w, bucket, key).  A few rows per window.
    """
    tempo = np.asarray(tempo, np.float64)
    keys = np.asarray(keys, np.int64)
    ok = np.flatnonzero(np.isfinite(tempo) & (tempo > 0))
    t = _tempo_cells(tempo, ok, tier, buckets)
    wk = keys[t["w"].to_numpy(np.int64)]
    if tier.any_key:
        parts = [t.assign(key=ANY_KEY, shift=0)]
    else:
        targets = [wk] + ([_relative(wk)] if tier.relative_keys else [])
        # same key before relative, smallest |shift| first, so a key reached twice keeps
        # the first (drop_duplicates below)
        parts = []
        for target in targets:
            for s in sorted(range(-tier.max_semitones, tier.max_semitones + 1), key=abs):
                # a segment in key k shifted by s lands on target: k = target - s (same mode)
                acc = (target // 12) * 12 + (target % 12 - s) % 12
                parts.append(t.assign(key=acc, shift=s))
    cells = pd.concat(parts, ignore_index=True).drop_duplicates(["w", "bucket", "key"])
    cells["shift"] = cells["shift"].astype(np.int64)
    cells["key"] = cells["key"].astype(np.int64)
    cells["bucket"] = cells["bucket"].astype(np.int64)
    return cells.sort_values(["w", "bucket", "key"], kind="stable").reset_index(drop=True)
