"""Songs of the demo corpus: melodies in a key and tempo, sung in phrases on changing vowels.

A song is content shared by every singer who sings it: its key, tempo, notes (in beats and
scale degrees), phrase structure and vowels.  ``perform`` places a song on one recording's
timeline (seconds, MIDI pitches in the singer's octave), which is the synthesis timeline the
ground truth comes from.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.music import is_minor, tonic

__all__ = ["FULL_CADENCES", "HALF_CADENCES", "HALF_CADENCE_SHARE", "KK_MAJOR_DEGREES",
           "KK_MINOR_DEGREES", "MAJOR_STEPS", "MAX_LEAP", "MINOR_STEPS", "N_VOWELS",
           "PROGRESSIONS", "Performance", "Song", "compose_phrase", "compose_song",
           "degree_to_semitones", "perform", "tonal_weights"]

MAJOR_STEPS = np.array([0, 2, 4, 5, 7, 9, 11])
MINOR_STEPS = np.array([0, 2, 3, 5, 7, 8, 10])  # natural minor, as music.scale_pitch_classes
N_VOWELS = 7
LOWEST_DEGREE, HIGHEST_DEGREE = -3, 8  # the fifth below the tonic .. the ninth above it

# Krumhansl & Kessler (1982) probe-tone ratings of the seven scale degrees (tonic first).
KK_MAJOR_DEGREES = np.array([6.35, 3.48, 4.38, 4.09, 5.19, 3.66, 2.88])
KK_MINOR_DEGREES = np.array([6.33, 3.52, 5.38, 3.53, 4.75, 3.98, 3.34])
# I-IV-V-like progressions (chord roots as scale degrees) spread over a phrase's free part;
# the cadence that follows is on I (full) or V (half).
PROGRESSIONS = ((0, 3, 4), (0, 4, 3), (0, 5, 3, 4), (0, 3, 0, 4), (0, 1, 4))
# Cadence formulas, in scale steps above their goal (the last note): onto the tonic (3-2-1,
# 5-4-3-2-1, 2-7-1, 5-3-2-1, or just 1) and, for half cadences, the fifth (3-4-5, 6-5, 1-3-5).
FULL_CADENCES = ((2, 1, 0), (4, 3, 2, 1, 0), (1, -1, 0), (4, 2, 1, 0), (0,))
HALF_CADENCES = ((-2, -1, 0), (1, 0), (-4, -2, 0))
MAX_LEAP = 4  # scale steps between neighbouring notes of a phrase (a fifth)
HALF_CADENCE_SHARE = 0.5  # of inner phrases with an odd number (antecedents)
# preference for an interval of -MAX_LEAP..MAX_LEAP scale steps: steps, then repeats and thirds
_INTERVAL_WEIGHTS = np.array([0.15, 0.35, 0.7, 1.2, 0.8, 1.2, 0.7, 0.35, 0.15])
_CHORD_TONE_BOOST = 6.0  # a strong-beat note is this much likelier on a chord tone
_STABLE_DURATIONS = np.array([1.0, 1.0, 1.5, 2.0, 2.0])  # beats, for the tonic triad
_PASSING_DURATIONS = np.array([0.5, 0.5, 1.0, 1.0, 1.5])  # beats, for the other degrees
_APPROACH_DURATIONS = np.array([0.5, 1.0, 1.0])  # beats, cadence notes before the last
_CADENCE_DURATIONS = np.array([1.5, 2.0, 2.0, 3.0])  # beats, the last note of a phrase


@dataclasses.dataclass(frozen=True)
class Song:
    """A melody in a key and tempo.

    Attributes
    ----------
    song_id : str
    key : int  (0..23, ``pipeline.core.music``)
    tempo_bpm : float
    onset_beats, dur_beats : np.ndarray [shape=(n_notes,), float]  note onsets and lengths (beats)
    degree : np.ndarray [shape=(n_notes,), int]  scale degree, 0 = tonic, 7 = tonic an octave up
    vowel : np.ndarray [shape=(n_notes,), int]  index into the voice's vowel table
    phrase : np.ndarray [shape=(n_notes,), int]  phrase number (legato within a phrase)
    """

    song_id: str
    key: int
    tempo_bpm: float
    onset_beats: np.ndarray
    dur_beats: np.ndarray
    degree: np.ndarray
    vowel: np.ndarray
    phrase: np.ndarray


def tonal_weights(*, minor: bool) -> np.ndarray:
    """Relative weight of each degree LOWEST_DEGREE..HIGHEST_DEGREE in a melody of the mode.

    The Krumhansl-Kessler probe-tone rating of the degree (tonic, fifth, third highest).

    Returns
    -------
    weights : np.ndarray [shape=(HIGHEST_DEGREE - LOWEST_DEGREE + 1,)]  max 1
    """
    ratings = KK_MINOR_DEGREES if minor else KK_MAJOR_DEGREES
    return (ratings / ratings.max())[np.arange(LOWEST_DEGREE, HIGHEST_DEGREE + 1) % 7]


def compose_song(*, song_id: str, key: int, tempo_bpm: float, n_beats: int,
                 rng: np.random.Generator) -> Song:
    """Compose a melody of about ``n_beats`` beats: 2-4 bar phrases separated by 2-4 beat rests.

    Notes follow the tonal hierarchy of the key (Krumhansl & Kessler), as real vocal
    melodies do, so the key is heard from the voice alone; see ``compose_phrase``.  Some
    odd-numbered inner phrases end on a half cadence (the fifth), all others on the tonic.
    """
    weights = tonal_weights(minor=is_minor(key))
    onsets, durs, degrees, vowels, phrases = [], [], [], [], []
    beat, phrase, vowel, degree = 0.0, 0, 0, 0
    while beat < n_beats:
        rest = float(rng.choice([2.0, 3.0, 4.0]))
        sung = float(rng.choice([8.0, 12.0, 16.0])) - rest
        half = (phrase % 2 == 1 and beat + sung + rest < n_beats
                and rng.random() < HALF_CADENCE_SHARE)
        on, dur, deg = compose_phrase(sung_beats=sung, previous=degree, half_cadence=half,
                                      weights=weights, rng=rng)
        for _ in on:
            vowel = int(rng.integers(N_VOWELS)) if rng.random() < 0.8 else vowel
            vowels.append(vowel)
        onsets.extend(beat + on)
        durs.extend(dur)
        degrees.extend(deg)
        phrases.extend([phrase] * len(on))
        degree = int(deg[-1])
        beat += sung + rest
        phrase += 1
    return Song(song_id, int(key), float(tempo_bpm), np.array(onsets), np.array(durs),
                np.array(degrees, dtype=np.int64), np.array(vowels, dtype=np.int64),
                np.array(phrases, dtype=np.int64))


def compose_phrase(*, sung_beats: float, previous: int, half_cadence: bool,
                   weights: np.ndarray, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One legato phrase of ``sung_beats`` beats: a free part, then a cadence formula.

    In the free part each note's degree is drawn with probability proportional to its
    tonal weight times a preference for steps and small leaps from the note before (the
    first from ``previous``, the last note of the phrase before); notes on strong beats
    (every other beat) are likelier on the tones of the phrase's chord, which moves through
    an I-IV-V-like progression; tonic-triad notes are held longer than the other degrees.
    The phrase ends with a stepwise formula (e.g. 3-2-1) onto a long tonic, or with
    ``half_cadence`` onto the fifth, in the octave nearest the free part's last note.

    Parameters
    ----------
    sung_beats : float  length of the phrase (beats, a whole number >= 4)
    previous : int  scale degree sung before the phrase
    half_cadence : bool
    weights : np.ndarray [shape=(HIGHEST_DEGREE - LOWEST_DEGREE + 1,)]  ``tonal_weights``
    rng : np.random.Generator

    Returns
    -------
    onset_beats, dur_beats : np.ndarray [shape=(n_notes,)]  from the phrase start (beats)
    degree : np.ndarray [shape=(n_notes,), int]  scale degrees in LOWEST..HIGHEST_DEGREE
    """
    degrees_all = np.arange(LOWEST_DEGREE, HIGHEST_DEGREE + 1)
    formulas = HALF_CADENCES if half_cadence else FULL_CADENCES
    formula = np.array(formulas[rng.integers(len(formulas))])
    timing = np.append(rng.choice(_APPROACH_DURATIONS, len(formula) - 1),
                       rng.choice(_CADENCE_DURATIONS[_CADENCE_DURATIONS <= sung_beats / 2]))
    if sung_beats - timing.sum() < 1.0:  # too short for the whole formula: just its goal
        formula, timing = formula[-1:], timing[-1:]
    free_beats = sung_beats - timing.sum()
    chords = PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    onsets, durs, degrees = [], [], []
    beat, degree = 0.0, previous
    while beat < free_beats - 1e-9:
        weight = weights * _interval_weight(degrees_all - degree)
        if beat % 2 == 0:
            root = chords[int(beat / free_beats * len(chords))]
            tones = np.isin(degrees_all % 7, [root, (root + 2) % 7, (root + 4) % 7])
            weight = weight * np.where(tones, _CHORD_TONE_BOOST, 1.0)
        degree = int(rng.choice(degrees_all, p=weight / weight.sum()))
        stable = degree % 7 in (0, 2, 4)
        dur = float(rng.choice(_STABLE_DURATIONS if stable else _PASSING_DURATIONS))
        onsets.append(beat)
        durs.append(min(dur, free_beats - beat))
        degrees.append(degree)
        beat += durs[-1]
    first, base = _place_cadence(formula, goal=4 if half_cadence else 0, after=degree)
    durs[-1] += float(timing[:first].sum())
    onsets.extend(free_beats + np.concatenate([[0.0], np.cumsum(timing)[:-1]])[first:])
    durs.extend(timing[first:])
    degrees.extend(base + formula[first:])
    return np.array(onsets), np.array(durs), np.array(degrees, dtype=np.int64)


def _place_cadence(formula: np.ndarray, *, goal: int, after: int) -> tuple[int, int]:
    """Where a cadence ``formula`` onto ``goal`` (0 or 4) goes after degree ``after``.

    The octave nearest ``after`` within the range, keeping the formula's notes from
    ``first`` on, the longest tail whose first note is in a leap's reach (the goal always
    is).  Returns (first, base): the notes sung are ``base + formula[first:]``.
    """
    placements = []
    for base in (goal - 7, goal, goal + 7):
        for first in range(len(formula)):
            tail = base + formula[first:]
            if (LOWEST_DEGREE <= tail.min() and tail.max() <= HIGHEST_DEGREE
                    and abs(tail[0] - after) <= MAX_LEAP):
                placements.append((first, abs(tail[0] - after), base))
    first, _, base = min(placements)
    return first, base


def _interval_weight(steps: np.ndarray) -> np.ndarray:
    """Preference for a melodic interval of ``steps`` scale steps (0 beyond MAX_LEAP)."""
    inside = np.abs(steps) <= MAX_LEAP
    return np.where(inside, _INTERVAL_WEIGHTS[np.clip(steps, -MAX_LEAP, MAX_LEAP) + MAX_LEAP], 0.0)


def degree_to_semitones(degree: np.ndarray, *, minor: bool) -> np.ndarray:
    """Semitones above the tonic of scale degrees (7 = an octave up; negative below)."""
    steps = MINOR_STEPS if minor else MAJOR_STEPS
    degree = np.asarray(degree)
    return steps[degree % 7] + 12 * (degree // 7)


@dataclasses.dataclass(frozen=True)
class Performance:
    """One rendition's timeline (seconds from the start of the recording).

    Attributes
    ----------
    onset_s, end_s : np.ndarray [shape=(n_notes,)]  note boundaries (s)
    midi : np.ndarray [shape=(n_notes,)]  sung pitch (MIDI note numbers)
    vowel, phrase : np.ndarray [shape=(n_notes,), int]
    beat_times_s : np.ndarray [shape=(n_beats,)]  the song's beat grid on this recording (s)
    voiced_start_s, voiced_end_s : np.ndarray [shape=(n_phrases,)]  sung phrases (s)
    duration_s : float
    """

    onset_s: np.ndarray
    end_s: np.ndarray
    midi: np.ndarray
    vowel: np.ndarray
    phrase: np.ndarray
    beat_times_s: np.ndarray
    voiced_start_s: np.ndarray
    voiced_end_s: np.ndarray
    duration_s: float


def perform(song: Song, *, duration_s: float, centre_midi: float, lead_in_s: float,
            rng: np.random.Generator, timing_sd_s: float = 0.012) -> Performance:
    """Place ``song`` on a recording of ``duration_s`` s, in the octave nearest ``centre_midi``.

    Note onsets are humanised by ``timing_sd_s`` (s, Gaussian); the beat grid is not.  Notes
    that would end less than 0.3 s before the end of the recording are not sung.
    """
    beat_s = 60.0 / song.tempo_bpm
    semis = degree_to_semitones(song.degree, minor=is_minor(song.key))
    root = tonic(song.key) + 12 * np.round((centre_midi - tonic(song.key) - semis.mean()) / 12)
    onset = lead_in_s + song.onset_beats * beat_s
    end = onset + song.dur_beats * beat_s
    jitter = rng.normal(0.0, timing_sd_s, len(onset))
    onset = onset + jitter
    # legato: a note ends where the next note of its phrase starts
    same_phrase = song.phrase[1:] == song.phrase[:-1]
    end[:-1] = np.where(same_phrase, onset[1:], end[:-1] + jitter[:-1])
    keep = end <= duration_s - 0.3
    if not keep.any():  # a very short recording still gets its first note
        keep[0], end[0] = True, min(end[0], duration_s - 0.3)
    onset, end = onset[keep], end[keep]
    phrase = song.phrase[keep]
    starts = np.array([onset[phrase == p].min() for p in np.unique(phrase)])
    ends = np.array([end[phrase == p].max() for p in np.unique(phrase)])
    n_beats = int(np.floor((duration_s - lead_in_s) / beat_s)) + 1
    beats = lead_in_s + np.arange(n_beats) * beat_s
    return Performance(onset, end, (root + semis)[keep].astype(float), song.vowel[keep], phrase,
                       beats[beats < duration_s], starts, ends, float(duration_s))
