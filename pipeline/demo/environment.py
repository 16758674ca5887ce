"""A singer's home recording environment: room tone and room, shared by their performances.

A DAMP user records every song at home on the same phone, so the background is the same
across their recordings and differs between users: the room tone (ventilation, fans, a
fridge's hum, traffic; a coloured noise with appliance resonances and mains hum) and the
room's reverberation.  ``draw_environment`` samples one per singer; each performance draws
around it (``room_tone``: level and whether the humming appliance runs; ``place``: how far
the phone is from the singer, which changes the reverberation).  The per-performance mic
EQ of ``pipeline.demo.channel`` still colours everything, so no fixed filter names the
singer.

Levels: untrained singers reach about 80 dB SPL at 1 m in their loudest third-octave band
(Hunter & Titze 2004), so 80-95 dB SPL at a phone held 20-50 cm away; home background noise
is 30-35 dBA with quiet ventilation (ASHRAE's guideline for living areas) and 40-50 dBA near
a fridge or fan, more unweighted at low frequencies.  The room tone therefore sits 30-55 dB
below the voice's active RMS.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.fft

from ..core.signal import loud_frames_rms
from .channel import Channel

__all__ = ["Environment", "add_room_tone", "draw_environment", "place", "room_tone"]


@dataclasses.dataclass(frozen=True)
class Environment:
    """One singer's home: the room tone's spectrum and level, the room's reverberation."""

    slope_db_per_octave: float  # broadband room tone, relative to 1 kHz
    rumble_hz: float  # corner of the low-frequency rumble (ventilation, traffic)
    rumble_db: float  # its gain below the corner
    peaks_hz: tuple[float, ...]  # resonances of fans and appliances
    peaks_db: tuple[float, ...]
    peaks_octaves: tuple[float, ...]  # their widths (sd in octaves)
    mains_hz: float  # 50 or 60 Hz; the hum's fundamental
    hum_db: tuple[float, ...]  # level of each hum harmonic relative to the broadband RMS
    hum_share: float  # share of the recordings in which the humming appliance runs
    snr_db: float  # voice active RMS over room-tone RMS
    rt60_s: float  # the room
    wet: float  # reverberant to direct amplitude ratio at the usual phone position


def draw_environment(rng: np.random.Generator) -> Environment:
    """Sample one singer's home (see the module docstring for the ranges)."""
    n_peaks = int(rng.integers(1, 4))
    n_hum = int(rng.integers(2, 7))
    return Environment(
        slope_db_per_octave=float(rng.uniform(-6.0, 0.0)),
        rumble_hz=float(np.exp(rng.uniform(np.log(50.0), np.log(300.0)))),
        rumble_db=float(rng.uniform(0.0, 15.0)),
        peaks_hz=tuple(float(v) for v in np.exp(rng.uniform(np.log(120.0), np.log(8000.0),
                                                            n_peaks))),
        peaks_db=tuple(float(v) for v in rng.uniform(3.0, 18.0, n_peaks)),
        peaks_octaves=tuple(float(v) for v in rng.uniform(0.05, 0.5, n_peaks)),
        mains_hz=float(rng.choice([50.0, 60.0])),
        hum_db=tuple(float(v) for v in rng.uniform(-25.0, 0.0, n_hum) - 3.0 * np.arange(n_hum)),
        hum_share=float(rng.choice([0.0, rng.uniform(0.3, 1.0)])),
        snr_db=float(rng.uniform(30.0, 55.0)),
        rt60_s=float(rng.uniform(0.2, 0.8)),
        wet=float(rng.uniform(0.0, 0.5)),
    )


def room_tone(env: Environment, n: int, *, sr: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of the home's room tone at unit broadband RMS, float32 (n,).

    White noise shaped in the frequency domain by the home's spectrum (slope, rumble shelf,
    resonances), plus the mains hum's harmonics when the appliance runs in this recording
    (probability ``hum_share``).  The hum is at most a few dB above the broadband noise.
    """
    m = scipy.fft.next_fast_len(n, real=True)  # a recording's length can have large primes
    spec = scipy.fft.rfft(rng.standard_normal(m))
    f = np.fft.rfftfreq(m, 1.0 / sr)
    octaves = np.log2(np.maximum(f, 20.0) / 1000.0)
    gain_db = env.slope_db_per_octave * octaves
    gain_db += env.rumble_db / (1.0 + (np.maximum(f, 1.0) / env.rumble_hz) ** 2)
    for hz, db, width in zip(env.peaks_hz, env.peaks_db, env.peaks_octaves):
        gain_db += db * np.exp(-0.5 * ((octaves - np.log2(hz / 1000.0)) / width) ** 2)
    spec *= 10.0 ** (gain_db / 20.0)
    spec[0] = 0.0
    y = scipy.fft.irfft(spec, m)[:n]
    y /= np.sqrt(np.mean(y * y)) + 1e-12
    if rng.random() < env.hum_share:
        t = np.arange(n) / sr
        drift = env.mains_hz * (1.0 + rng.uniform(-0.002, 0.002))
        for k, db in enumerate(env.hum_db, start=1):
            if k * drift < sr / 2:
                y += np.sqrt(2.0) * 10 ** (db / 20) * np.sin(2 * np.pi * k * drift * t
                                                             + rng.uniform(0, 2 * np.pi))
    return y.astype(np.float32)


def place(channel: Channel, env: Environment, *, strength: float,
          rng: np.random.Generator) -> tuple[Channel, float]:
    """This recording's channel in the singer's room, and its room-tone SNR (dB).

    The reverberation moves from the channel's own draw towards the singer's room by
    ``min(strength, 1)``; the room's decay varies by about 10 % and the wet share (the
    distance to the phone) by about 25 % between recordings; the SNR by about 3 dB.
    """
    a = min(float(strength), 1.0)
    rt60 = env.rt60_s * float(np.exp(rng.normal(0.0, 0.1)))
    wet = env.wet * float(np.exp(rng.normal(0.0, 0.25)))
    snr = env.snr_db + float(rng.normal(0.0, 3.0))
    return dataclasses.replace(
        channel,
        reverb_rt60_s=float((1 - a) * channel.reverb_rt60_s + a * rt60),
        reverb_wet=float(min((1 - a) * channel.reverb_wet + a * wet, 0.8)),
    ), snr


def add_room_tone(voice: np.ndarray, env: Environment, *, snr_db: float, sr: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``voice`` (n,) plus the home's room tone ``snr_db`` dB below its active RMS, float32.

    The active RMS is over the frames (1024 samples, hop 512) within 30 dB of the loudest,
    so the phrases' silences do not lower it.
    """
    level = loud_frames_rms(voice, range_db=30.0) * 10 ** (-snr_db / 20)
    tone = room_tone(env, len(voice), sr=sr, rng=rng)
    return (voice + np.float32(level) * tone).astype(np.float32)
