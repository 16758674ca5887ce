"""What the demo corpus contains, decided before any audio is rendered.

Mashability first: accompaniment tracks get tempi from ``tempo_classes`` and key sections
chosen so that, for every tempo class, ``keys_per_class`` keys each occur in a section of at
least ``min_section_s``.  Songs then take their (tempo, key) uniformly from those covered
pairs, so every performance has a ground-truth match.  Songs are shared: each singer sings
``performances_per_singer`` different songs, each song is sung by about
``singers_per_song`` singers.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..core.random import rng_for
from .params import DemoParams

__all__ = ["BEATS_PER_BAR", "CHORD_BEATS", "PerformancePlan", "SongPlan", "TrackPlan",
           "covered_pairs", "plan_performances", "plan_songs", "plan_tracks", "section_bars"]

BEATS_PER_BAR = 4
CHORD_BEATS = 2


@dataclasses.dataclass(frozen=True)
class TrackPlan:
    """One accompaniment: name, musdb split and format, tempo, key sections (bars)."""

    name: str
    split: str  # "train" | "test"
    format: str  # "hq" | "stems"
    tempo_bpm: float
    section_keys: tuple[int, ...]
    section_bars: int
    lead_in_s: float

    @property
    def section_s(self) -> float:
        return self.section_bars * BEATS_PER_BAR * 60.0 / self.tempo_bpm


@dataclasses.dataclass(frozen=True)
class SongPlan:
    song_id: str
    key: int
    tempo_bpm: float


@dataclasses.dataclass(frozen=True)
class PerformancePlan:
    """One a-cappella recording: who sings which song, how long, in which file format."""

    perf_key: str
    user_id: str
    song: SongPlan
    duration_s: float
    lead_in_s: float
    format: str  # "wav" | "m4a"


def section_bars(tempo_bpm: float, min_section_s: float) -> int:
    """Bars per key section: the fewest whole chord-progression cycles lasting ``min_section_s``."""
    cycle_s = 4 * CHORD_BEATS * 60.0 / tempo_bpm  # a progression of 4 chords = 2 bars
    return 2 * math.ceil(min_section_s / cycle_s)


def plan_tracks(params: DemoParams) -> list[TrackPlan]:
    """Accompaniment plans whose sections cover every (tempo class, key) pair the songs use."""
    rng = rng_for(params.seed, "tracks")
    n = params.tracks
    classes = params.tempo_classes
    n_test = int(round(params.test_share * n))
    test = set(rng.choice(n, n_test, replace=False).tolist()) if n_test else set()
    stems = set(rng.choice(n, params.stems_tracks, replace=False).tolist())
    plans: list[TrackPlan | None] = [None] * n
    for c, tempo in enumerate(classes):
        members = [i for i in range(n) if i % len(classes) == c]
        keys = rng.permutation(24)[: params.keys_per_class]
        bars = section_bars(tempo, params.min_section_s)
        sec_s = bars * BEATS_PER_BAR * 60.0 / tempo
        for j, i in enumerate(members):
            own = list(keys[j:: len(members)])
            target = rng.uniform(*params.track_duration_s)
            extra = max(0, int(target // sec_s) - len(own))
            own += rng.choice(24, extra).tolist()
            plans[i] = TrackPlan(
                name=f"demo_track_{i:02d}", split="test" if i in test else "train",
                format="stems" if i in stems else "hq", tempo_bpm=float(tempo),
                section_keys=tuple(int(k) for k in _no_repeats(rng.permutation(own))),
                section_bars=bars, lead_in_s=float(rng.uniform(0.1, 0.6)))
    return plans


def _no_repeats(keys: np.ndarray) -> np.ndarray:
    """Reorder so that no two neighbouring sections share a key (when possible)."""
    keys = list(keys)
    for i in range(1, len(keys)):
        if keys[i] == keys[i - 1]:
            swap = next((j for j in range(i + 1, len(keys)) if keys[j] != keys[i]), None)
            if swap is not None:
                keys[i], keys[swap] = keys[swap], keys[i]
    return np.array(keys)


def covered_pairs(tracks: list[TrackPlan]) -> list[tuple[float, int]]:
    """Sorted distinct (tempo_bpm, key) pairs that some track section provides."""
    return sorted({(t.tempo_bpm, k) for t in tracks for k in t.section_keys})


def plan_songs(params: DemoParams, pairs: list[tuple[float, int]]) -> list[SongPlan]:
    """Songs with (tempo, key) drawn uniformly from the mashable ``pairs``."""
    n_perf = params.singers * params.performances_per_singer
    n_songs = max(params.performances_per_singer, math.ceil(n_perf / params.singers_per_song))
    rng = rng_for(params.seed, "songs")
    picks = rng.integers(len(pairs), size=n_songs)
    return [SongPlan(f"s{j:04d}", int(pairs[p][1]), float(pairs[p][0]))
            for j, p in enumerate(picks)]


def plan_performances(params: DemoParams, songs: list[SongPlan]) -> list[PerformancePlan]:
    """Each singer sings ``performances_per_singer`` different songs, balancing song use."""
    rng = rng_for(params.seed, "assign")
    uses = np.zeros(len(songs), dtype=np.int64)
    n_perf = params.singers * params.performances_per_singer
    n_m4a = int(round(params.m4a_share * n_perf))
    m4a = set(rng_for(params.seed, "formats").choice(n_perf, n_m4a, replace=False).tolist())
    plans = []
    for s in range(params.singers):
        order = rng.permutation(len(songs))
        chosen = order[np.argsort(uses[order], kind="stable")][: params.performances_per_singer]
        uses[chosen] += 1
        for song_index in rng.permutation(chosen):
            i = len(plans)
            perf_key = f"p{i:05d}"
            prng = rng_for(params.seed, "performance", perf_key)
            plans.append(PerformancePlan(
                perf_key=perf_key, user_id=f"u{s:04d}", song=songs[song_index],
                duration_s=float(np.round(prng.uniform(*params.duration_s), 3)),
                lead_in_s=float(prng.uniform(0.3, 1.5)),
                format="m4a" if i in m4a else "wav"))
    return plans
