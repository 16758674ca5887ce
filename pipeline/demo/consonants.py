"""Consonants: the noise at a sung syllable's onset (fricatives, plosive bursts), per singer.

Vowels alone leave a voice with almost nothing above 4 kHz: on 12 demo voices the octave
bands at 4 and 8 kHz lie 25 and 53 dB under the total power, against 17 and 20 dB for the
real MUSDB18 vocal stem in the stempeg wheel (``bench/bench_masking.py``).  Sung syllables
start with consonants: fricatives (/s/, /sh/, /f/: 60-140 ms of band-limited noise, /s/
peaking at 4-8 kHz, /sh/ near 0.6 of that) and plosive bursts (/t/, /k/, /p/: 10-25 ms,
broadband above 1.5 kHz).  A singer's diction sets how many syllables carry one, the mix of
fricatives and plosives, where their /s/ peaks and how loud consonants are: 2-12 dB under
the voice's active RMS (a level over the vowels' loud frames), which brings the 4 and 8 kHz
octaves to 20 and 25 dB under the total on those 12 voices.  In a mix they sit under the hi-hats and cymbals, so they name the singer a cappella more than
in a mix.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.signal

from ..core.signal import loud_frames_rms
from .melody import Performance

__all__ = ["Diction", "add_consonants", "consonant_noise", "draw_diction"]

FRICATIVE_BANDS = (1.0, 0.6, 1.3)  # /s/, /sh/, /f/ centres as multiples of the singer's /s/
PLOSIVE_LOW_HZ = 1500.0
LEAD_S = 0.03  # at a phrase's first note the consonant starts this long before the onset


@dataclasses.dataclass(frozen=True)
class Diction:
    """How one singer articulates: the consonants of their syllables."""

    consonant_share: float  # share of notes that start with a consonant
    fricative_share: float  # of those, fricatives rather than plosive bursts
    sibilance_hz: float  # centre of the singer's /s/
    level_db: float  # a consonant's RMS re the voice's active RMS (dB)


def draw_diction(rng: np.random.Generator) -> Diction:
    """Sample one singer's diction (ranges in the module docstring)."""
    return Diction(consonant_share=float(rng.uniform(0.4, 0.8)),
                   fricative_share=float(rng.uniform(0.3, 0.8)),
                   sibilance_hz=float(rng.uniform(4500.0, 8000.0)),
                   level_db=float(rng.uniform(-12.0, -2.0)))


def consonant_noise(perf: Performance, diction: Diction, n: int, *, sr: int,
                    rng: np.random.Generator) -> np.ndarray:
    """The consonants of ``perf``: float32 (n,) at rate ``sr``, RMS 1 within the bursts.

    Each note starts with a consonant with probability ``consonant_share``: a fricative
    (Hann-shaped band noise, one of ``FRICATIVE_BANDS``) centred on the onset, or at a
    phrase's first note starting ``LEAD_S`` before it; else a plosive burst (10-25 ms,
    exponential decay) at the onset.  Zeros when no note has one.
    """
    f32 = np.float32
    white = rng.standard_normal(n, dtype=f32)
    nyq = 0.45 * sr
    bands = []
    for k in FRICATIVE_BANDS:
        centre = min(diction.sibilance_hz * k, 0.7 * nyq)
        sos = scipy.signal.butter(2, [centre / 1.4, min(centre * 1.4, nyq)], "bandpass", fs=sr,
                                  output="sos")
        bands.append(scipy.signal.sosfilt(sos.astype(f32), white))
    plosive = scipy.signal.sosfilt(scipy.signal.butter(2, PLOSIVE_LOW_HZ, "highpass", fs=sr,
                                                       output="sos").astype(f32), white)
    tracks = [b / (np.sqrt(np.mean(np.square(b, dtype=np.float64))) + 1e-12) for b in bands]
    plosive /= np.sqrt(np.mean(np.square(plosive, dtype=np.float64))) + 1e-12
    out = np.zeros(n, f32)
    first = np.r_[True, perf.phrase[1:] != perf.phrase[:-1]]
    for onset, is_first in zip(perf.onset_s, first):
        if rng.random() >= diction.consonant_share:
            continue
        if rng.random() < diction.fricative_share:
            dur = rng.uniform(0.06, 0.14)
            start = onset - (LEAD_S if is_first else dur / 2)
            a, b = max(int(start * sr), 0), min(int((start + dur) * sr), n)
            if b - a > 1:  # Hann: mean square 3/8, so RMS 1 within the burst
                env = np.hanning(b - a).astype(f32) / f32(np.sqrt(0.375))
                out[a:b] += env * tracks[int(rng.integers(len(tracks)))][a:b]
        else:
            dur = rng.uniform(0.01, 0.025)
            a = int(onset * sr)
            b = min(a + int(3 * dur * sr), n)
            if b - a > 1:
                env = np.exp(-np.arange(b - a) / (dur * sr)).astype(f32)
                out[a:b] += env / f32(np.sqrt(np.mean(env * env))) * plosive[a:b]
    return out


def add_consonants(voice: np.ndarray, perf: Performance, diction: Diction, *, sr: int,
                   rng: np.random.Generator) -> np.ndarray:
    """``voice`` (n,) with its consonants ``level_db`` under its active RMS, float32 (n,).

    The active RMS is over the frames (1024 samples, hop 512) within 30 dB of the loudest,
    as for the room tone (``pipeline.demo.environment.add_room_tone``).
    """
    voice = np.asarray(voice, np.float32)
    level = loud_frames_rms(voice, range_db=30.0) * 10 ** (diction.level_db / 20)
    noise = consonant_noise(perf, diction, len(voice), sr=sr, rng=rng)
    return (voice + np.float32(level) * noise).astype(np.float32)
