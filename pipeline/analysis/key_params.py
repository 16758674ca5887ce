"""The ``key`` config section: how keys are found (method, chroma, context, profiles).
"""

from __future__ import annotations

import dataclasses

from ..core.errors import ConfigError
from ..core.segment import HOP_LENGTH
from .key_profiles import PROFILES

__all__ = ["CHROMAS", "CONTEXTS", "KeyParams", "METHODS"]

METHODS = ("ks", "essentia")
CHROMAS = ("stft", "cqt", "pitch")
CONTEXTS = ("segment", "window", "sections", "track")


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


    def chroma_kwargs(self) -> dict:
        """The keyword arguments of ``chroma.compute_chroma`` from this section."""
        return {k: getattr(self, k) for k in ("method", "chroma", "n_fft", "power",
                                              "frame_norm")}

    def key_kwargs(self) -> dict:
        """The keyword arguments of ``keys.segment_keys`` (and, without the context ones,
        ``keys.track_key``) from this section."""
        return {k: getattr(self, k) for k in ("method", "profile", "essentia_profile",
                                              "context", "window_seconds", "section_block_s",
                                              "section_context_s", "change_penalty")}

    def profile_kwargs(self) -> dict:
        """The keyword arguments of ``keys.track_key`` and ``keys.keys_of_sums``."""
        return {k: getattr(self, k) for k in ("method", "profile", "essentia_profile")}

    def for_vocals(self) -> "KeyParams":
        """These parameters with the vocal chroma and context in place of the general ones."""
        return dataclasses.replace(self, chroma=self.vocal_chroma, context=self.vocal_context,
                                   profile=self.vocal_profile)
