"""A source-filter singing voice: glottal pulses through vowel formant resonators.

Source: a Rosenberg glottal-flow pulse train (derivative, so lip radiation is included) with
the singer's open quotient, pulse asymmetry and spectral tilt, per-cycle shimmer, jitter and
pulse-synchronous breath noise.  Pitch: the note targets with the singer's portamento,
onset scoops and delayed vibrato.  Filter: five cascaded two-pole resonators per vowel,
scaled by the singer's vocal-tract length and perturbed by the singer's own vowel shapes;
the formants glide between vowels at note onsets.

Within a singer the voice varies as real ones do, so that no fixed spectral envelope names
the singer: formants rise with pitch (larynx height) and F1 follows f0 when f0 nears it
(formant tuning); vocal effort rises with pitch and varies by phrase and note (level), and
a recording sung loud has less spectral tilt than a soft one; above the singer's passaggio the pulses turn to
head voice (a more open glottis, more breath).  Identity lives in the traits: tract length
and vowel shapes, glottal source, the register break, vibrato, jitter, shimmer, breathiness.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.signal

from .melody import Performance

__all__ = ["CONTROL_HOP", "GLIDE_S", "GLIDE_STEPS", "PULSE_TABLE", "Singer", "TRACT_RANGES",
           "VOWEL_BANDWIDTHS", "VOWEL_FORMANTS", "draw_singer", "note_formants",
           "sing"]

# Reference formants (Hz) and bandwidths of a long (adult male) vocal tract:
# /a/, /e/, /i/, /o/, /u/, /ae/, /er/ (Peterson & Barney style averages).
VOWEL_FORMANTS = np.array([
    [730, 1090, 2440, 3400, 4200],
    [530, 1840, 2480, 3500, 4300],
    [270, 2290, 3010, 3600, 4400],
    [570, 840, 2410, 3300, 4100],
    [300, 870, 2240, 3300, 4100],
    [660, 1720, 2410, 3400, 4300],
    [490, 1350, 1690, 3300, 4200],
], dtype=float)
VOWEL_BANDWIDTHS = np.array([80.0, 90.0, 120.0, 160.0, 200.0])
GLIDE_S = 0.05  # formant transition between vowels (s)
GLIDE_STEPS = 3
CONTROL_HOP = 16  # samples per pitch / loudness control point
PULSE_TABLE = 4096  # glottal pulse table points per cycle
TRACT_RANGES = {True: (1.08, 1.22), False: (0.92, 1.04)}  # tract scale: high, low voices


@dataclasses.dataclass(frozen=True)
class Singer:
    """Traits of one synthetic singer (all sampled by ``draw_singer``)."""

    centre_midi: float  # middle of the comfortable range (MIDI)
    formants: np.ndarray  # (N_VOWELS, 5) Hz, this singer's vowels
    bandwidth_scale: float
    open_quotient: float  # share of a cycle the glottis is open
    asymmetry: float  # share of the open phase spent opening
    tilt: float  # one-pole low-pass coefficient on the source (0 = flat)
    breath: float  # aspiration noise relative to the pulses
    jitter: float  # relative f0 perturbation (sd)
    shimmer: float  # relative per-cycle amplitude perturbation (sd)
    vibrato_hz: float
    vibrato_cents: float
    vibrato_delay_s: float
    glide_s: float  # portamento time constant
    scoop_cents: float  # onset pitch scoop from below
    attack_s: float
    release_s: float
    passaggio_midi: float  # chest -> head register break (MIDI)
    head_open_quotient: float  # open quotient in head voice (nearer sinusoidal pulses)
    effort_tilt: float  # how far the tilt coefficient moves between soft and loud recordings
    larynx_slope: float  # relative formant rise per octave of pitch (larynx height)
    formant_tuning: float  # 0..1: how far F1 follows f0 when f0 nears it (sopranos)


def draw_singer(rng: np.random.Generator, *, formant_spread: float = 1.0) -> Singer:
    """Sample a singer: a low or high voice with its own tract, glottis and style.

    ``formant_spread`` scales how far singers of one register differ in their formants:
    the tract length around the register's centre (``TRACT_RANGES``), the vowel shapes
    (6% sd) and the upper formants (+/-10%); 0 gives every singer of a register the same
    vowels.  The random draws are the same at any spread.
    """
    high = rng.random() < 0.5
    centre = rng.uniform(59.0, 68.0) if high else rng.uniform(47.0, 56.0)
    tract = rng.uniform(*TRACT_RANGES[high])
    idiolect = 1.0 + rng.normal(0.0, 0.06, VOWEL_FORMANTS.shape)
    upper = rng.uniform(0.9, 1.1, 3)  # F3..F5 carry the singer's timbre across vowels
    if formant_spread != 1.0:  # 1 leaves every byte as it was
        middle = sum(TRACT_RANGES[high]) / 2
        tract = middle + formant_spread * (tract - middle)
        idiolect = 1.0 + formant_spread * (idiolect - 1.0)
        upper = 1.0 + formant_spread * (upper - 1.0)
    formants = VOWEL_FORMANTS * tract * idiolect
    formants[:, 2:] *= upper
    formants = np.sort(formants, axis=1)
    formants = np.maximum(formants, np.arange(1, 6) * 200.0)
    return Singer(
        centre_midi=float(centre), formants=formants,
        bandwidth_scale=float(rng.uniform(0.7, 1.6)),
        open_quotient=float(rng.uniform(0.4, 0.8)), asymmetry=float(rng.uniform(0.55, 0.85)),
        tilt=float(rng.uniform(0.0, 0.8)), breath=float(rng.uniform(0.01, 0.25)),
        jitter=float(rng.uniform(0.002, 0.012)), shimmer=float(rng.uniform(0.02, 0.12)),
        vibrato_hz=float(rng.uniform(4.5, 7.0)), vibrato_cents=float(rng.uniform(15.0, 90.0)),
        vibrato_delay_s=float(rng.uniform(0.08, 0.4)), glide_s=float(rng.uniform(0.015, 0.07)),
        scoop_cents=float(rng.choice([0.0, rng.uniform(40.0, 180.0)])),
        attack_s=float(rng.uniform(0.01, 0.12)), release_s=float(rng.uniform(0.03, 0.15)),
        passaggio_midi=float(centre + rng.uniform(1.0, 5.0)),
        head_open_quotient=float(rng.uniform(0.8, 0.95)),
        effort_tilt=float(rng.uniform(0.1, 0.25)), larynx_slope=float(rng.uniform(0.01, 0.03)),
        formant_tuning=float(rng.uniform(0.3, 1.0)),
    )


def sing(perf: Performance, singer: Singer, *, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Render ``perf`` with ``singer``'s voice: float32 samples of shape (n,), peak 1."""
    n = int(round(perf.duration_s * sr))
    # pitch and loudness are smooth: compute them at a control rate, then interpolate
    ctrl_t = np.arange(n // CONTROL_HOP + 2) * (CONTROL_HOP / sr)
    note_index, since_onset = _note_clock(perf, ctrl_t)
    ctrl_sr = sr / CONTROL_HOP
    midi = _pitch_contour(perf, singer, note_index, since_onset, ctrl_t, sr=ctrl_sr, rng=rng)
    env = _envelope(perf, singer, note_index, since_onset, ctrl_t)
    effort = _effort(perf, singer, note_index, rng=rng)  # 0 soft .. 1 loud, per control point
    t = np.arange(n) / sr
    midi_t = np.interp(t, ctrl_t, midi)
    f0 = 440.0 * 2.0 ** ((midi_t - 69.0) / 12.0)
    phase = np.cumsum(f0 / sr)
    cycle = phase.astype(np.int64)
    frac = (phase - cycle).astype(np.float32)
    # registers: chest pulses below the passaggio, head-voice pulses (more open) above
    chest, flow = _rosenberg(frac, singer.open_quotient, singer.asymmetry)
    head, head_flow = _rosenberg(frac, singer.head_open_quotient, singer.asymmetry)
    head_w = (1.0 / (1.0 + np.exp(-(midi_t - singer.passaggio_midi) / 0.5))).astype(np.float32)
    pulse = chest + head_w * (head - chest)
    flow = flow + head_w * (head_flow - flow)
    pulse *= 1.0 + singer.shimmer * rng.standard_normal(cycle[-1] + 1, dtype=np.float32)[cycle]
    # effort: a recording sung louder has a flatter source spectrum (less tilt) than a soft
    # one; within a recording effort moves the level (a time-varying tilt confuses pitch
    # trackers on the low-passed, soft passages)
    coef = float(np.clip(singer.tilt + singer.effort_tilt * (0.5 - rng.random()), 0.0, 0.9))
    source = scipy.signal.lfilter([1.0 - coef], [1.0, -coef], pulse).astype(np.float32)
    source /= np.float32(np.abs(source).max() + 1e-9)
    noise = rng.standard_normal(n, dtype=np.float32)
    noise = scipy.signal.lfilter(np.array([1.0, -0.9], np.float32), np.float32(1.0), noise)
    breath = np.float32(singer.breath) * (1.0 + 0.5 * head_w)  # head voice is breathier
    source += breath * noise * (np.float32(0.3) + flow)
    source *= np.interp(t, ctrl_t, env * (0.85 + 0.3 * effort)).astype(np.float32)
    y = _formant_filter(source, perf, singer, sr=sr)
    return (y / (np.abs(y).max() + 1e-9)).astype(np.float32)


def _effort(perf: Performance, singer: Singer, note_index, *, rng: np.random.Generator
            ) -> np.ndarray:
    """Vocal effort (0..1) at control points: rises with pitch, varies by phrase and note."""
    phrase_effort = rng.normal(0.0, 0.2, int(perf.phrase.max()) + 1)
    per_note = np.clip(0.5 + 0.5 * (perf.midi - singer.centre_midi) / 12.0
                       + phrase_effort[perf.phrase] + rng.normal(0.0, 0.08, len(perf.midi)),
                       0.0, 1.0)
    sounding = note_index >= 0
    held = np.maximum.accumulate(np.where(sounding, np.arange(len(note_index)), 0))
    e = per_note[np.maximum(note_index, 0)][held]
    a = np.exp(-1.0 / 40.0)  # ~30 ms smoothing at the control rate
    return scipy.signal.lfilter([1.0 - a], [1.0, -a], e - e[0]) + e[0]


def note_formants(perf: Performance, singer: Singer) -> np.ndarray:
    """Formants (Hz) of every note, shape (n_notes, 5): the vowel's, raised with pitch
    (larynx height), F1 pulled up towards f0 when f0 nears it (formant tuning)."""
    f = singer.formants[perf.vowel].copy()
    f *= (1.0 + singer.larynx_slope * (perf.midi - singer.centre_midi) / 12.0)[:, None]
    f0 = 440.0 * 2.0 ** ((perf.midi - 69.0) / 12.0)
    tuned = np.maximum(f[:, 0], 1.15 * f0)
    f[:, 0] += singer.formant_tuning * (tuned - f[:, 0])
    f[:, 1] = np.maximum(f[:, 1], f[:, 0] + 150.0)
    return f


def _note_clock(perf: Performance, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At times ``t`` (s): the sounding note's index (-1 in rests) and seconds since its onset."""
    idx = np.searchsorted(perf.onset_s, t, side="right") - 1
    safe = np.maximum(idx, 0)
    idx = np.where((idx >= 0) & (t < perf.end_s[safe]), idx, -1)
    return idx, t - perf.onset_s[safe]


def _pitch_contour(perf, singer: Singer, note_index, since_onset, t, *, sr: float,
                   rng: np.random.Generator) -> np.ndarray:
    """MIDI pitch at control times ``t`` (rate ``sr``): targets with portamento, scoops,
    vibrato, jitter and drift."""
    n = len(t)
    sounding = note_index >= 0
    # hold the last pitch through rests so the glide into the next phrase starts somewhere
    last = np.maximum.accumulate(np.where(sounding, np.arange(n), 0))
    target = perf.midi[np.maximum(note_index, 0)][last]
    target[: np.argmax(sounding)] = perf.midi[0]
    a = np.exp(-1.0 / (singer.glide_s * sr))
    midi = scipy.signal.lfilter([1.0 - a], [1.0, -a], target - target[0]) + target[0]
    firsts = np.flatnonzero(np.r_[True, perf.phrase[1:] != perf.phrase[:-1]])
    phrase_start = np.isin(note_index, firsts)
    midi -= phrase_start * (singer.scoop_cents / 100.0) * np.exp(-since_onset / 0.08)
    ramp = np.clip((since_onset - singer.vibrato_delay_s) / 0.25, 0.0, 1.0)
    rate = singer.vibrato_hz * (1.0 + 0.05 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6.3)))
    midi += ramp * (singer.vibrato_cents / 100.0) * np.sin(2 * np.pi * np.cumsum(rate) / sr)
    midi += 12.0 * np.log2(1.0 + singer.jitter * _smooth_noise(n, sr, 0.002, rng))
    midi += 0.15 * _smooth_noise(n, sr, 0.5, rng)  # intonation drift (semitones)
    return midi


def _smooth_noise(n: int, sr: int, tau_s: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance Gaussian noise low-passed with time constant ``tau_s``."""
    a = np.exp(-1.0 / (tau_s * sr))
    x = scipy.signal.lfilter([1.0], [1.0, -a], rng.standard_normal(n))
    return x * np.sqrt(1.0 - a * a)


def _rosenberg(frac: np.ndarray, open_quotient: float, asymmetry: float):
    """Rosenberg glottal flow derivative and flow at cycle phase ``frac`` in [0, 1).

    Returns (derivative with peak closing slope 1, flow in [0, 1]), float32 of frac's shape,
    looked up in a table of ``PULSE_TABLE`` points per cycle.
    """
    phase = (np.arange(PULSE_TABLE) + 0.5) / PULSE_TABLE
    tp = open_quotient * asymmetry
    tn = open_quotient - tp
    opening = phase < tp
    closing = (phase >= tp) & (phase < open_quotient)
    x_open = np.pi * phase / tp
    x_close = 0.5 * np.pi * (phase - tp) / tn
    flow = np.where(opening, 0.5 * (1 - np.cos(x_open)), np.where(closing, np.cos(x_close), 0.0))
    deriv = np.where(opening, 0.5 * np.pi / tp * np.sin(x_open),
                     np.where(closing, -0.5 * np.pi / tn * np.sin(x_close), 0.0))
    deriv /= 0.5 * np.pi / tn
    index = np.minimum((frac * PULSE_TABLE).astype(np.int32), PULSE_TABLE - 1)
    return deriv.astype(np.float32)[index], flow.astype(np.float32)[index]


def _envelope(perf: Performance, singer: Singer, note_index, since_onset, t) -> np.ndarray:
    """Amplitude at control times ``t``: phrase attack and release, syllable dips, swells."""
    env = np.zeros(len(t))
    for p in np.unique(perf.phrase):
        notes = np.flatnonzero(perf.phrase == p)
        start, end = perf.onset_s[notes[0]], perf.end_s[notes[-1]]
        inside = (t >= start) & (t < end)
        u = t[inside] - start
        env[inside] = (1.0 - np.exp(-u / singer.attack_s)) * (
            1.0 + 0.25 * np.sin(np.pi * u / (end - start)))
        tail = (t >= end) & (t < end + 5 * singer.release_s)
        env[tail] = np.exp(-(t[tail] - end) / singer.release_s) * (1.0 - np.exp(
            -(end - start) / singer.attack_s))
    dip = 1.0 - 0.5 * np.exp(-since_onset / 0.03) * (note_index >= 0)
    return env * dip


def _formant_filter(source: np.ndarray, perf: Performance, singer: Singer, *,
                    sr: int) -> np.ndarray:
    """Filter ``source`` through the vowel of each note, gliding formants at note onsets."""
    n = len(source)
    per_note = note_formants(perf, singer)
    bounds, formants = [0], [per_note[0]]
    for i in range(1, len(perf.onset_s)):
        prev, cur = per_note[i - 1], per_note[i]
        start = int(round(perf.onset_s[i] * sr))
        for k in range(GLIDE_STEPS):
            w = (k + 1) / GLIDE_STEPS
            bounds.append(start + int(k * GLIDE_S * sr / GLIDE_STEPS))
            formants.append((1 - w) * prev + w * cur)
    bounds.append(n)
    bw = VOWEL_BANDWIDTHS * singer.bandwidth_scale
    zi = np.zeros((5, 2))
    out = np.empty(n, dtype=np.float32)
    for (a, b), f in zip(zip(bounds[:-1], bounds[1:]), formants):
        if b <= a:
            continue
        out[a:b], zi = scipy.signal.sosfilt(_resonators(f, bw, sr), source[a:b], zi=zi)
    return out


def _resonators(freqs: np.ndarray, bandwidths: np.ndarray, sr: int) -> np.ndarray:
    """Second-order sections of cascaded two-pole resonators with unit gain at 0 Hz."""
    freqs = np.minimum(freqs, 0.45 * sr)
    r = np.exp(-np.pi * bandwidths / sr)
    c = 2 * r * np.cos(2 * np.pi * freqs / sr)
    sos = np.zeros((len(freqs), 6))
    sos[:, 0] = 1 - c + r * r
    sos[:, 3] = 1.0
    sos[:, 4] = -c
    sos[:, 5] = r * r
    return sos

