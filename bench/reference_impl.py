"""A reference-style implementation of the data stages, done as the authors' scripts do them.

For bench/bench_reference.py only: the yardstick our stages are measured against, not a
second pipeline.  From shared/reference-notes.md: every file loaded with ``librosa.load``
(22,050 Hz, mono), frame RMS (1024 / 512, centred) against an absolute 0.04, windows every half
window, ``chroma_stft`` (n_fft 1024) summed over each 3-s segment, z-scored and correlated with
the 24 rotated Krumhansl-Kessler profiles, ``librosa.beat.beat_track`` on accompaniments with a
segment at every beat, vocal tempi from the tempo table, a loop join, the authors' loudness
balance, one librosa melspectrogram per segment (magnitude, 128 bands, ``log10(1 + 10 mel)``)
and one ``.npy`` per performance.  Two choices keep it comparable with ours: windows need the
paper's 70% voiced frames and at most 20 are kept per performance (the authors: 80%, 10).

librosa reads AAC through audioread, which needs an FFmpeg or GStreamer binary; this machine
has neither, so ``PyAVAudioFile`` is an audioread reader over PyAV's float AAC decoder (what
FFmpeg's command line would use), handing librosa 16-bit PCM as audioread's FFmpeg backend
does, in-process (no pipe: if anything, cheaper than the real thing).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import audioread.rawread
import librosa
import numpy as np

__all__ = ["PyAVAudioFile", "RefWindow", "balance_and_mix", "beat_segments", "join_loop",
           "ks_key", "load", "load_stems", "log_mel", "vocal_windows"]

SR, N_FFT, HOP, SEGMENT = 22050, 1024, 512, 65536
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


class PyAVAudioFile(audioread.rawread.RawAudioFile):
    """An audioread reader (16-bit interleaved PCM blocks) over PyAV's float decoder."""

    def __init__(self, path, stream: int = 0):  # noqa: D107 (no RawAudioFile.__init__: no WAV)
        import av

        self._container = av.open(str(path))
        self._stream = self._container.streams.audio[stream]
        ctx = self._stream.codec_context
        self._sr, self._ch = ctx.sample_rate, ctx.channels

    @property
    def channels(self):
        return self._ch

    @property
    def samplerate(self):
        return self._sr

    @property
    def duration(self):
        return self._container.duration / 1e6

    def close(self):
        self._container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __iter__(self):
        for frame in self._container.decode(self._stream):
            x = frame.to_ndarray()
            if frame.format.is_planar:
                x = x.T  # (samples, channels): interleaved
            yield (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def load(path, stream: int = 0) -> np.ndarray:
    """``librosa.load(path, sr=22050)``: mono float32 at 22,050 Hz."""
    path = Path(path)
    source = PyAVAudioFile(path, stream) if path.suffix.lower() in (".m4a", ".mp4") else path
    y, _ = librosa.load(source, sr=SR, mono=True)
    return y


def load_stems(path) -> np.ndarray:
    """drums + bass + other of a musdb18 ``.stem.mp4`` (streams 1-3), each loaded by librosa."""
    parts = [load(path, s) for s in (1, 2, 3)]
    n = min(len(p) for p in parts)
    return np.sum([p[:n] for p in parts], axis=0)


def ks_key(y: np.ndarray) -> int:
    """Krumhansl-Schmuckler key of ``y``: 0-11 major on C..B, 12-23 minor."""
    chroma = librosa.feature.chroma_stft(y=y, sr=SR, n_fft=N_FFT, hop_length=HOP).sum(axis=1)
    z = (chroma - chroma.mean()) / (chroma.std() + 1e-12)
    scores = [np.corrcoef(z, np.roll(profile, k))[0, 1] for profile in (MAJOR, MINOR)
              for k in range(12)]
    return int(np.argmax(scores))


@dataclasses.dataclass
class RefWindow:
    perf: str
    start: int
    tempo: float
    key: int


def vocal_windows(perf: str, y: np.ndarray, tempo: float, *, threshold: float = 0.04,
                  min_voiced: float = 0.7, max_windows: int = 20) -> list[RefWindow]:
    """Voiced 3-s windows (absolute-RMS SVD, half-window steps) with a key each."""
    rms = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP, center=True)[0]
    voiced = rms > threshold
    frames = SEGMENT // HOP + 1
    starts = [s for s in range(0, len(y) - SEGMENT + 1, SEGMENT // 2)
              if voiced[s // HOP:s // HOP + frames].mean() >= min_voiced]
    if len(starts) > max_windows:
        starts = [starts[i] for i in np.linspace(0, len(starts) - 1, max_windows).astype(int)]
    return [RefWindow(perf, s, tempo, ks_key(y[s:s + SEGMENT])) for s in starts]


def beat_segments(track: str, y: np.ndarray) -> tuple[float, list[tuple[str, int, int]]]:
    """``beat_track`` tempo and (track, start sample, key) of a 3-s segment at every beat."""
    tempo, beats = librosa.beat.beat_track(y=y, sr=SR, hop_length=HOP)
    starts = librosa.frames_to_samples(beats, hop_length=HOP)
    segments = [(track, int(s), ks_key(y[s:s + SEGMENT])) for s in starts
                if s + SEGMENT <= len(y)]
    return float(np.atleast_1d(tempo)[0]), segments


def join_loop(windows: list[RefWindow], segments: list[tuple[str, int, int, float]],
              seed: int = 0) -> list[tuple[RefWindow, tuple]]:
    """For each window, a random segment of the same whole-BPM tempo and key (a Python loop)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for w in windows:
        candidates = [s for s in segments if round(s[3]) == round(w.tempo) and s[2] == w.key]
        if candidates:
            pairs.append((w, candidates[int(rng.integers(len(candidates)))]))
    return pairs


def _active_rms(y: np.ndarray, threshold: float = 0.02) -> float:
    rms = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP)[0]
    active = rms[rms > threshold]
    return float(active.mean()) if len(active) else 0.0


def balance_and_mix(vocal: np.ndarray, acc: np.ndarray, target: float = 0.3) -> np.ndarray | None:
    """The authors' balance: both raised to an active RMS of 0.3, the louder scaled to the other."""
    rv, ra = _active_rms(vocal), _active_rms(acc)
    if rv == 0 or ra == 0:
        return None
    vocal, acc = vocal * (target / rv), acc * (target / ra)
    rv, ra = _active_rms(vocal), _active_rms(acc)
    if rv > ra:
        vocal = vocal * (ra / rv)
    else:
        acc = acc * (rv / ra)
    return vocal + acc


def log_mel(y: np.ndarray) -> np.ndarray:
    """One segment's librosa magnitude mel, ``log10(1 + 10 mel)``: (129, 128) float32."""
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=128,
                                         power=1.0)
    return np.log10(1 + 10 * mel).T.astype(np.float32)
