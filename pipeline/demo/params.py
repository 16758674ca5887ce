"""Parameters of the demo corpus generator and its per-item random streams."""

from __future__ import annotations

import dataclasses

from ..core.errors import ConfigError

__all__ = ["DemoParams", "GENERATOR_VERSION", "SMALL", "preset", "recipe"]

Seconds = float

GENERATOR_VERSION = 2
"""Bumped whenever the generator's audio changes for the same parameters (2: singers' homes),
so that Snakemake regenerates a corpus an older version wrote (:func:`recipe`)."""


@dataclasses.dataclass(frozen=True)
class DemoParams:
    """The ``demo.params`` config section (``pipeline.demo``).

    Attributes
    ----------
    singers : int
        Number of singers (DAMP users).
    performances_per_singer : int
        Performances per singer, each a different song.
    singers_per_song : int
        About how many singers sing each song (songs = singers * performances / this).
    duration_s : (float, float)
        Range of a performance's duration in seconds.
    m4a_share : float
        Share of performances written as AAC ``.m4a`` (the rest as WAV).
    tracks : int
        Number of accompaniment tracks.
    track_duration_s : (float, float)
        Range of an accompaniment's duration in seconds (a track is at least as long as its
        key sections need).
    stems_tracks : int
        Tracks written as musdb18 ``.stem.mp4`` (the rest as musdb18-HQ WAV folders).
    test_share : float
        Share of tracks in the musdb ``test`` split.
    tempo_classes : tuple of float
        Tempi (BPM) of accompaniments and songs.  The defaults sit on librosa's tempogram lag
        grid at 22,050 Hz / hop 512 (60 * 22050 / 512 / lag), so a tempo estimator can
        recover them, and no two are an octave apart.
    keys_per_class : int
        Keys (of 24) covered by accompaniment sections for each tempo class; songs take
        their (tempo, key) from the covered pairs, so every song has a mashable section.
    min_section_s : float
        Shortest key section of an accompaniment, in seconds.
    channel_strength : float
        Scale of the per-recording channel variation (mic EQ, room, level, noise): 0 gives
        a clean studio channel; larger values hide more of the singer's timbre.
    environment_strength : float
        Each singer's home recording environment (``pipeline.demo.environment``): a room
        tone and a room shared by the singer's performances.  0: none, the corpus of before
        byte for byte (every recording's room is its own draw); 1 (default): room tone 30-55
        dB below the voice, reverberation drawn around the singer's room; larger values
        raise the room tone by ``20 * log10(strength)`` dB.
    consonant_strength : float
        The consonants at sung syllables' onsets (``pipeline.demo.consonants``), after each
        singer's diction.  0 (default): none, vowels only, the corpus of before byte for
        byte; 1: 2-12 dB under the voice's active RMS; larger values raise them by
        ``20 * log10(strength)`` dB.
    formant_spread : float
        How far singers of one register differ in formants (``draw_singer``): 1 (default)
        as before; 0.5 halves the spread of tract lengths, vowel shapes and upper formants.
    singer_phone : bool
        Each singer records on one phone (``channel.own_phone``): the mic's low cut is drawn
        once per singer (60-280 Hz), not per recording.  False (default): the corpus of
        before byte for byte.
    seed : int
        Global seed; every item's random stream derives from it and the item's id.
    """

    singers: int = 60
    performances_per_singer: int = 10
    singers_per_song: int = 4
    duration_s: tuple[Seconds, Seconds] = (20.0, 40.0)
    m4a_share: float = 0.25
    tracks: int = 16
    track_duration_s: tuple[Seconds, Seconds] = (60.0, 90.0)
    stems_tracks: int = 3
    test_share: float = 0.3
    tempo_classes: tuple[float, ...] = (92.0, 108.0, 123.0, 136.0)
    keys_per_class: int = 24
    min_section_s: Seconds = 10.0
    channel_strength: float = 1.0
    environment_strength: float = 1.0
    consonant_strength: float = 0.0
    formant_spread: float = 1.0
    singer_phone: bool = False
    seed: int = 1234

    def __post_init__(self):
        for name in ("duration_s", "track_duration_s", "tempo_classes"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        _check(self.singers >= 2, "singers", self.singers, "at least 2")
        _check(self.performances_per_singer >= 1, "performances_per_singer",
               self.performances_per_singer, "at least 1")
        _check(1 <= self.singers_per_song <= self.singers, "singers_per_song",
               self.singers_per_song, "between 1 and singers")
        for name in ("duration_s", "track_duration_s"):
            lo_hi = getattr(self, name)
            _check(len(lo_hi) == 2 and 3.0 <= lo_hi[0] <= lo_hi[1], name, lo_hi,
                   "a range [min, max] with min >= 3 s")
        _check(0.0 <= self.m4a_share <= 1.0, "m4a_share", self.m4a_share, "in [0, 1]")
        _check(self.tracks >= len(self.tempo_classes), "tracks", self.tracks,
               "at least one per tempo class")
        _check(0 <= self.stems_tracks <= self.tracks, "stems_tracks", self.stems_tracks,
               "between 0 and tracks")
        _check(0.0 <= self.test_share < 1.0, "test_share", self.test_share, "in [0, 1)")
        _check(len(self.tempo_classes) >= 1 and all(60 <= t <= 180 for t in self.tempo_classes),
               "tempo_classes", self.tempo_classes, "one or more tempi in 60..180 BPM")
        _check(1 <= self.keys_per_class <= 24, "keys_per_class", self.keys_per_class,
               "in 1..24")
        _check(self.min_section_s >= 3.0, "min_section_s", self.min_section_s, ">= 3 s")
        _check(self.channel_strength >= 0.0, "channel_strength", self.channel_strength, ">= 0")
        _check(0.0 <= self.environment_strength <= 10.0, "environment_strength",
               self.environment_strength, "in [0, 10]")
        _check(0.0 <= self.consonant_strength <= 10.0, "consonant_strength",
               self.consonant_strength, "in [0, 10]")
        _check(0.0 <= self.formant_spread <= 2.0, "formant_spread", self.formant_spread,
               "in [0, 2]")
        _check(isinstance(self.singer_phone, bool), "singer_phone", self.singer_phone,
               "true or false")


def _check(ok: bool, name: str, value, expected: str) -> None:
    if not ok:
        raise ConfigError(f"demo.params.{name}: {value!r} is invalid (expected {expected})")


SMALL = dict(singers=12, performances_per_singer=10, singers_per_song=3, duration_s=(10.0, 14.0),
             tracks=6, track_duration_s=(26.0, 36.0), stems_tracks=1,
             tempo_classes=(108.0, 136.0), keys_per_class=12, min_section_s=6.0)
"""The ``--small`` preset (for tests): overrides of the defaults."""


def preset(name: str, **overrides) -> DemoParams:
    """Parameters of preset ``name`` ("default" or "small") with ``overrides`` applied."""
    if name not in ("default", "small"):
        raise ConfigError(f"demo.preset: {name!r} not in ('default', 'small')")
    base = SMALL if name == "small" else {}
    return DemoParams(**{**base, **overrides})


def recipe(name: str, overrides: dict, *, seed: int) -> dict:
    """Everything the corpus depends on: the generator version and every resolved parameter.

    The demo rule passes it as a parameter, so that a changed default or generator version
    regenerates the corpus, as a changed ``demo.params`` key does.

    Parameters
    ----------
    name : "default" | "small"
    overrides : dict
        The ``demo.params`` section.
    seed : int
        The global seed (it replaces ``DemoParams.seed``).
    """
    params = dataclasses.asdict(preset(name, **{**overrides, "seed": seed}))
    return {"generator": GENERATOR_VERSION,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}}
