"""Key finding: Krumhansl-Schmuckler on chroma, per segment, window or whole track.

Chroma is computed once per file (frames on the segment grid: hop 512 at 22,050 Hz), summed
over the frames of each segment's *context* (the segment itself, a longer window centred on
it, its one-key section, or the whole track) and correlated with 24 rotated key profiles
(Albrecht-Shanahan by default, Krumhansl-Kessler as in the paper); the estimate is the best-correlated key, its strength the
winning correlation and its margin the lead over the second-best key.  Essentia's
HPCP + ``Key`` is the selectable alternative (``method="essentia"``).

Key indices follow ``pipeline.core.music``: 0..11 major by tonic, 12..23 minor.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..core.errors import ConfigError
from ..core.music import KEY_NAMES, key_index
from ..core.segment import HOP_LENGTH, N_FFT, SAMPLE_RATE, SEGMENT_SAMPLES

# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Temperley (1999) and Albrecht & Shanahan (2013, pitch-class distributions of 490 pieces):
# near-zero weights off the scale, so a melody's fifth-related keys separate better.
PROFILES = {
    "krumhansl": (KK_MAJOR, KK_MINOR),
    "temperley": (np.array([5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0]),
                  np.array([5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0])),
    "albrecht": (np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009,
                           0.080, 0.008, 0.081]),
                 np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062,
                           0.022, 0.061, 0.052])),
}

METHODS = ("ks", "essentia")
CHROMAS = ("stft", "cqt", "pitch")
CONTEXTS = ("segment", "window", "sections", "track")
ESSENTIA_HOP = 2048  # samples between HPCP frames (4 segment-grid frames)


@dataclasses.dataclass(frozen=True)
class KeyParams:
    """The ``key`` config section.

    Attributes
    ----------
    method : "ks" | "essentia"
        Krumhansl-Schmuckler on librosa chroma, or essentia HPCP + ``Key``.
    chroma : "stft" | "cqt" | "pitch"
        Pitch-class frames for ``method="ks"``: librosa ``chroma_stft`` or ``chroma_cqt``, or
        "pitch": the pitch class of each frame's most salient f0 (harmonic sum), for
        monophonic audio (a voice's harmonics put a fifth and a major third above every
        note into chroma; its f0 does not).
    n_fft : int
        FFT length (samples) of ``chroma_stft``; frames stay on the hop-512 segment grid.
        The authors used 1024 (21.5 Hz bins, which blur low notes); 4096 scores best on the
        demo corpus (bench/bench_analysis.py).
    power : float
        Exponent of the STFT magnitude fed to ``chroma_stft``: 2 (power, the authors' and
        librosa's default) or 1 (magnitude, as ``chroma_cqt``; scores better).
    context : "segment" | "window" | "sections" | "track"
        Audio a segment's key is estimated from: the segment itself (~3 s), a window of
        ``window_seconds`` centred on it, the section of one key around it (key changes
        found by Viterbi decoding, ``pipeline.analysis.key_sections``), or the whole track.
    window_seconds : float
        Length of the "window" context in seconds.
    section_block_s : float
        Resolution of the "sections" key path (seconds).
    section_context_s : float
        Chroma around each block scored for its local key in "sections" (seconds).
    change_penalty : float
        Cost of one key change in "sections", in correlation units: higher finds fewer
        changes.
    frame_norm : bool
        Normalise each chroma frame to max 1 before summing (equal weight per frame)
        instead of summing energies (loud frames dominate).
    profile : "krumhansl" | "temperley" | "albrecht"
        Key profiles correlated with chroma for ``method="ks"`` (``PROFILES``).
    essentia_profile : str
        Profile type of essentia's ``Key`` (e.g. "bgate", "krumhansl", "edma").
    vocal_chroma : "pitch" | "stft" | "cqt"
        ``chroma`` used for vocals (``method="ks"``).
    vocal_context : "segment" | "window" | "sections" | "track"
        ``context`` used for vocals (a performance is one song, usually in one key).
    vocal_profile : "krumhansl" | "temperley" | "albrecht"
        ``profile`` used for vocals.
    """

    method: str = "ks"
    chroma: str = "stft"
    n_fft: int = 4096
    power: float = 1.0
    context: str = "sections"
    window_seconds: float = 8.0
    section_block_s: float = 0.5
    section_context_s: float = 2.0
    change_penalty: float = 2.0
    frame_norm: bool = False
    profile: str = "albrecht"
    essentia_profile: str = "krumhansl"
    vocal_chroma: str = "pitch"
    vocal_context: str = "track"
    vocal_profile: str = "albrecht"

    def __post_init__(self):
        for name, allowed in (("method", METHODS), ("chroma", CHROMAS), ("context", CONTEXTS),
                              ("vocal_chroma", CHROMAS), ("vocal_context", CONTEXTS),
                              ("profile", tuple(PROFILES)), ("vocal_profile", tuple(PROFILES))):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"key.{name}: {getattr(self, name)!r} not in {allowed}")
        if self.n_fft < HOP_LENGTH or self.n_fft & (self.n_fft - 1):
            raise ConfigError(f"key.n_fft: {self.n_fft} must be a power of two >= {HOP_LENGTH}")
        if self.power <= 0:
            raise ConfigError(f"key.power: {self.power} must be > 0")
        for name in ("window_seconds", "section_block_s", "section_context_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"key.{name}: {getattr(self, name)} must be > 0")
        if self.change_penalty < 0:
            raise ConfigError(f"key.change_penalty: {self.change_penalty} must be >= 0")


    def for_vocals(self) -> "KeyParams":
        """These parameters with the vocal chroma and context in place of the general ones."""
        return dataclasses.replace(self, chroma=self.vocal_chroma, context=self.vocal_context,
                                   profile=self.vocal_profile)


@dataclasses.dataclass(frozen=True)
class Chroma:
    """Per-frame pitch-class profile of a whole file.

    Attributes
    ----------
    frames : np.ndarray [shape=(12, n_frames)]  frame ``i`` centred at sample ``i * hop``
    hop : int  samples between frames
    """

    frames: np.ndarray
    hop: int


def key_profiles(profile: str = "krumhansl") -> np.ndarray:
    """The 24 rotated key profiles of ``PROFILES[profile]``, shape (24, 12), row = key index."""
    major_profile, minor_profile = PROFILES[profile]
    major = np.stack([np.roll(major_profile, t) for t in range(12)])
    minor = np.stack([np.roll(minor_profile, t) for t in range(12)])
    return np.concatenate([major, minor])


def key_profile_scores(chroma: np.ndarray, profile: str = "krumhansl") -> np.ndarray:
    """Pearson correlation of chroma with each of the 24 key profiles.

    Parameters
    ----------
    chroma : np.ndarray [shape=(12,) or (12, n)]  summed chroma vector(s)
    profile : str  a key of ``PROFILES``

    Returns
    -------
    scores : np.ndarray [shape=(24,) or (24, n)]  in [-1, 1]; 0 for a flat chroma
    """
    chroma = np.asarray(chroma, dtype=np.float64)
    profiles = key_profiles(profile)
    p = profiles - profiles.mean(axis=1, keepdims=True)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    c = chroma - chroma.mean(axis=0, keepdims=True)
    norm = np.linalg.norm(c, axis=0, keepdims=True)
    c = np.divide(c, norm, out=np.zeros_like(c), where=norm > 0)
    return p @ c


def spectrogram(y: np.ndarray, *, n_fft: int = N_FFT, power: float = 2.0) -> np.ndarray:
    """|STFT|**power on the segment grid (hop 512, centred): shape (1 + n_fft // 2, n_frames)."""
    import librosa

    magnitude = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=HOP_LENGTH, center=True))
    return magnitude if power == 1 else magnitude ** power


def compute_chroma(y: np.ndarray, *, params: KeyParams = KeyParams(),
                   spec: np.ndarray | None = None) -> Chroma:
    """Chroma frames of a whole file (mono, 22,050 Hz) for ``params.method``.

    ``spec`` (``spectrogram(y, n_fft=params.n_fft, power=params.power)``, or with
    ``PITCH_N_FFT`` and power 1 for "pitch") is reused when given.
    """
    import librosa

    if params.method == "essentia":
        return Chroma(_essentia_hpcp(y), ESSENTIA_HOP)
    if params.chroma == "pitch":
        if spec is None:
            spec = spectrogram(y, n_fft=PITCH_N_FFT, power=1.0)
        frames = pitch_chroma(spec, n_fft=PITCH_N_FFT)
    elif params.chroma == "cqt":
        frames = librosa.feature.chroma_cqt(y=y, sr=SAMPLE_RATE, hop_length=HOP_LENGTH,
                                            tuning=0.0, norm=None)
    else:
        if spec is None:
            spec = spectrogram(y, n_fft=params.n_fft, power=params.power)
        frames = librosa.feature.chroma_stft(S=spec, sr=SAMPLE_RATE, n_fft=params.n_fft,
                                             tuning=0.0, norm=None)
    if params.frame_norm:
        peak = frames.max(axis=0, keepdims=True)
        frames = np.divide(frames, peak, out=np.zeros_like(frames), where=peak > 0)
    return Chroma(frames, HOP_LENGTH)


PITCH_N_FFT = 2048  # samples; with 10 harmonics summed, f0 resolves well below 10.8 Hz bins
PITCH_RANGE = (36.0, 84.0)  # MIDI C2..C6, the sung range
PITCH_STEPS = 3  # f0 candidates per semitone
HARMONICS = 10
HARMONIC_DECAY = 0.8  # weight of harmonic h is DECAY ** (h - 1)


@functools.lru_cache(maxsize=4)
def harmonic_sum_matrix(n_fft: int) -> tuple[np.ndarray, "scipy.sparse.csr_matrix"]:  # noqa: F821
    """f0 candidates (MIDI) and the sparse (n_candidates, 1 + n_fft // 2) harmonic-sum weights.

    Row ``i`` adds the (linearly interpolated) STFT bins at ``h * f0_i`` for h = 1..10.
    """
    import scipy.sparse

    midi = PITCH_RANGE[0] + np.arange(int((PITCH_RANGE[1] - PITCH_RANGE[0]) * PITCH_STEPS) + 1) \
        / PITCH_STEPS
    f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    h = np.arange(1, HARMONICS + 1)
    bins = f0[:, None] * h[None] * n_fft / SAMPLE_RATE  # (n_candidates, HARMONICS)
    rows = np.repeat(np.arange(len(f0)), HARMONICS)
    weight = np.tile(HARMONIC_DECAY ** (h - 1.0), len(f0))
    bins = bins.ravel()
    ok = bins < n_fft // 2
    lower, frac = np.floor(bins).astype(np.int64), bins - np.floor(bins)
    matrix = scipy.sparse.csr_matrix(
        (np.concatenate([weight * (1 - frac), weight * frac])[np.tile(ok, 2)],
         (np.tile(rows, 2)[np.tile(ok, 2)],
          np.concatenate([lower, lower + 1])[np.tile(ok, 2)])),
        shape=(len(f0), 1 + n_fft // 2))
    return midi, matrix


def pitch_chroma(magnitude: np.ndarray, *, n_fft: int) -> np.ndarray:
    """One-hot pitch class of each frame's most salient f0.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(1 + n_fft // 2, n_frames)]  STFT magnitude
    n_fft : int

    Returns
    -------
    chroma : np.ndarray [shape=(12, n_frames)]  1 at the f0's pitch class (C = 0), else 0;
        all-zero frames for silence.  Weight frames by a voicing mask when summing.
    """
    midi, matrix = harmonic_sum_matrix(n_fft)
    salience = matrix @ np.sqrt(magnitude)  # compressed, so one loud formant does not win
    best = np.argmax(salience, axis=0)
    pitch_class = np.round(midi[best]).astype(np.int64) % 12
    chroma = np.zeros((12, magnitude.shape[1]))
    chroma[pitch_class, np.arange(magnitude.shape[1])] = 1.0
    chroma[:, salience.max(axis=0) <= 0] = 0.0
    return chroma


def context_bounds(starts: np.ndarray, n_frames: int, hop: int, *, params: KeyParams,
                   segment_samples: int = SEGMENT_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last chroma frame of each segment's key context.

    Parameters
    ----------
    starts : np.ndarray [shape=(n,)]  segment starts (samples)
    n_frames : int  chroma frames in the file
    hop : int  samples per chroma frame

    Returns
    -------
    lo, hi : np.ndarray [shape=(n,), int64]
    """
    starts = np.asarray(starts, dtype=np.int64)
    if params.context == "track":
        return np.zeros_like(starts), np.full_like(starts, n_frames)
    if params.context == "window":
        half = int(round(params.window_seconds * SAMPLE_RATE / 2))
        centre = starts + segment_samples // 2
        first, last = centre - half, centre + half
    else:
        first, last = starts, starts + segment_samples
    lo = np.clip(np.round(first / hop).astype(np.int64), 0, n_frames)
    hi = np.clip(np.round(last / hop).astype(np.int64) + 1, 0, n_frames)
    return lo, np.maximum(hi, lo)


@dataclasses.dataclass(frozen=True)
class SegmentKeys:
    """Keys of segments, arrays of shape (n,).

    Attributes
    ----------
    key : int64 key index (``pipeline.core.music``)
    strength : the winning profile correlation (essentia: its key strength)
    margin : winning minus second-best correlation: how clearly the key wins
    change_margin_s : seconds from the segment to the nearest detected key change (negative
        when a change falls inside it); +inf unless ``context="sections"`` found changes
    """

    key: np.ndarray
    strength: np.ndarray
    margin: np.ndarray
    change_margin_s: np.ndarray


def segment_keys(chroma: Chroma, starts: np.ndarray, *, params: KeyParams = KeyParams(),
                 weights: np.ndarray | None = None,
                 n_samples: int | None = None) -> SegmentKeys:
    """Keys of the segments starting at ``starts`` (samples).

    Parameters
    ----------
    chroma : Chroma  of the whole file
    starts : np.ndarray [shape=(n,)]  segment starts (samples)
    params : KeyParams
    weights : np.ndarray [shape=(n_frames,)] or None
        Per-frame weights on the segment grid (hop 512), e.g. the voiced-frame mask, so
        unvoiced frames do not count.
    n_samples : int or None
        Length of the file (samples); by default that of the chroma frames.

    Returns
    -------
    SegmentKeys
    """
    frames = _weighted(chroma, weights)
    starts = np.asarray(starts, dtype=np.int64)
    n_samples = frames.shape[1] * chroma.hop if n_samples is None else int(n_samples)
    if params.context == "sections":
        from .key_sections import change_margins, key_sections

        sections = key_sections(frames, hop=chroma.hop, n_samples=n_samples,
                                block_s=params.section_block_s,
                                context_s=params.section_context_s,
                                change_penalty=params.change_penalty,
                                profile=params.profile)
        key, strength, margin = keys_of_sums(sections.sums, params)
        mid = np.searchsorted(sections.bounds, starts + SEGMENT_SAMPLES // 2, side="right") - 1
        mid = np.clip(mid, 0, len(key) - 1)
        return SegmentKeys(key[mid], strength[mid], margin[mid],
                           change_margins(sections.bounds, starts))
    lo, hi = context_bounds(starts, frames.shape[1], chroma.hop, params=params)
    csum = np.concatenate([np.zeros((12, 1)), np.cumsum(frames, axis=1)], axis=1)
    key, strength, margin = keys_of_sums(csum[:, hi] - csum[:, lo], params)
    return SegmentKeys(key, strength, margin, np.full(len(starts), np.inf))


def keys_of_sums(sums: np.ndarray, params: KeyParams) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """Key, strength and margin of each summed chroma vector (12, n) by ``params.method``."""
    if params.method == "essentia":
        return _essentia_keys(sums, params.essentia_profile)
    scores = key_profile_scores(sums, params.profile)
    top2 = np.sort(scores, axis=0)[-2:]
    return (np.argmax(scores, axis=0).astype(np.int64), top2[1].astype(np.float64),
            (top2[1] - top2[0]).astype(np.float64))


def track_key(chroma: Chroma, *, params: KeyParams = KeyParams(),
              weights: np.ndarray | None = None) -> tuple[int, float]:
    """Key and strength of a whole file from its summed chroma."""
    total = _weighted(chroma, weights).sum(axis=1, keepdims=True)
    key, strength, _ = keys_of_sums(total, params)
    return int(key[0]), float(strength[0])


def _weighted(chroma: Chroma, weights) -> np.ndarray:
    frames = np.asarray(chroma.frames, dtype=np.float64)
    if weights is None:
        return frames
    w = np.asarray(weights, dtype=np.float64)
    if chroma.hop != HOP_LENGTH:  # resample the mask onto the chroma grid
        idx = np.minimum(np.arange(frames.shape[1]) * chroma.hop // HOP_LENGTH, len(w) - 1)
        w = w[idx]
    n = min(len(w), frames.shape[1])
    out = np.zeros_like(frames)
    out[:, :n] = frames[:, :n] * w[:n]
    return out


def _essentia_hpcp(y: np.ndarray) -> np.ndarray:
    """Essentia HPCP frames (12, n) with hop ``ESSENTIA_HOP``, as in essentia's KeyExtractor."""
    import essentia.standard as es

    frame_size = 4 * ESSENTIA_HOP
    window = es.Windowing(type="blackmanharris62", size=frame_size)
    spectrum = es.Spectrum(size=frame_size)
    peaks = es.SpectralPeaks(orderBy="magnitude", magnitudeThreshold=1e-4, minFrequency=25,
                             maxFrequency=3500, maxPeaks=60, sampleRate=SAMPLE_RATE)
    whitening = es.SpectralWhitening(maxFrequency=3500, sampleRate=SAMPLE_RATE)
    hpcp = es.HPCP(size=12, referenceFrequency=440, bandPreset=False, minFrequency=25,
                   maxFrequency=3500, weightType="cosine", nonLinear=False, windowSize=1.0,
                   sampleRate=SAMPLE_RATE)
    y = np.pad(np.asarray(y, dtype=np.float32), frame_size // 2)
    out = []
    for frame in es.FrameGenerator(y, frameSize=frame_size, hopSize=ESSENTIA_HOP,
                                   startFromZero=True):
        spec = spectrum(window(frame))
        freqs, mags = peaks(spec)
        out.append(hpcp(freqs, whitening(spec, freqs, mags)))
    # HPCP bin 0 is A (440 Hz); roll so bin 0 is C as in librosa chroma.
    if not out:
        return np.zeros((12, 0))
    return np.roll(np.array(out, dtype=np.float64).T, -3, axis=0)


def _essentia_keys(sums: np.ndarray, profile: str) -> tuple[np.ndarray, np.ndarray,
                                                           np.ndarray]:
    """Key, strength and margin (strength times essentia's first-to-second relative
    strength, i.e. first minus second) per summed HPCP vector."""
    import essentia.standard as es

    key_algo = es.Key(profileType=profile, pcpSize=12)
    rows = []
    for col in np.asarray(sums, dtype=np.float64).T:
        peak = col.max()
        if peak <= 0:
            rows.append((0, 0.0, 0.0))
            continue
        # Back to essentia's A-first bin order.
        pcp = np.roll(col / peak, 3).astype(np.float32)
        tonic, scale, strength, relative = key_algo(pcp)
        rows.append((key_index(f"{tonic} {scale}"), float(strength), float(strength * relative)))
    keys, strengths, margins = zip(*rows) if rows else ((), (), ())
    return (np.array(keys, dtype=np.int64), np.array(strengths, dtype=np.float64),
            np.array(margins, dtype=np.float64))


def key_names(keys) -> list[str]:
    """Names ("C# minor") of key indices."""
    return [KEY_NAMES[int(k)] for k in np.atleast_1d(keys)]
