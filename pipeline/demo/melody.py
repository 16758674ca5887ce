"""Songs of the demo corpus: melodies in a key and tempo, sung in phrases on changing vowels.

A song is content shared by every singer who sings it: its key, tempo, notes (in beats and
scale degrees), phrase structure and vowels.  ``perform`` places a song on one recording's
timeline (seconds, MIDI pitches in the singer's octave), which is the synthesis timeline the
ground truth comes from.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..music import is_minor, tonic

MAJOR_STEPS = np.array([0, 2, 4, 5, 7, 9, 11])
MINOR_STEPS = np.array([0, 2, 3, 5, 7, 8, 10])  # natural minor, as music.scale_pitch_classes
N_VOWELS = 7
_STEP_CHOICES = np.array([-3, -2, -1, -1, 0, 1, 1, 2, 3, 4])
_DURATIONS = np.array([0.5, 1.0, 1.0, 1.0, 1.5, 2.0])


@dataclasses.dataclass(frozen=True)
class Song:
    """A melody in a key and tempo.

    Attributes
    ----------
    song_id : str
    key : int  (0..23, ``pipeline.music``)
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


def compose_song(*, song_id: str, key: int, tempo_bpm: float, n_beats: int,
                 rng: np.random.Generator) -> Song:
    """Compose a melody of about ``n_beats`` beats: 2-4 bar phrases separated by 2-4 beat rests.

    The melody walks the scale mostly by steps within a ninth, and every phrase starts and
    ends on a tonic-triad degree, so the key is heard from the voice alone.
    """
    onsets, durs, degrees, vowels, phrases = [], [], [], [], []
    beat, phrase, degree, vowel = 0.0, 0, int(rng.choice([0, 2, 4])), 0
    while beat < n_beats:
        rest = float(rng.choice([2.0, 3.0, 4.0]))
        sung = float(rng.choice([8.0, 12.0, 16.0])) - rest
        end = beat + sung
        degree = _nearest_triad_degree(degree)
        while beat < end - 1e-9:
            dur = min(float(rng.choice(_DURATIONS)), end - beat)
            onsets.append(beat)
            durs.append(dur)
            degrees.append(degree)
            vowel = int(rng.integers(N_VOWELS)) if rng.random() < 0.8 else vowel
            vowels.append(vowel)
            phrases.append(phrase)
            beat += dur
            degree = int(np.clip(degree + rng.choice(_STEP_CHOICES), -2, 9))
        degrees[-1] = _nearest_triad_degree(degrees[-1])
        beat = end + rest
        phrase += 1
    return Song(song_id, int(key), float(tempo_bpm), np.array(onsets), np.array(durs),
                np.array(degrees, dtype=np.int64), np.array(vowels, dtype=np.int64),
                np.array(phrases, dtype=np.int64))


def _nearest_triad_degree(degree: int) -> int:
    triad = np.array([-3, 0, 2, 4, 7, 9])  # chord tones of I (-3 = the fifth below)
    return int(triad[np.argmin(np.abs(triad - degree))])


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
