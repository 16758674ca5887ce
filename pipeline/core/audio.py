"""Audio decoding: one entry point for wav/flac/mp3/ogg (libsndfile) and m4a/mp4/aac (PyAV).

Everything downstream works on mono float32 at ``segment.SAMPLE_RATE``; ``load_audio`` does
the decode, the downmix (mean of channels) and the resampling (soxr, "HQ").  Errors are
``AudioError`` with a short reason label that the skip tables record.

Decoded samples are the same on every x86-64 machine, because shards must be: AAC is decoded
by FFmpeg's fixed-point decoder (``aac_fixed``; the float decoder picks SIMD kernels by CPU
and its output changes with them), and soxr runs its scalar engine (its SIMD engines are
chosen at run time, by CPU, and round differently).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError
from .segment import SAMPLE_RATE

# libsoxr reads this when it creates a resampler: one engine, the same rounding, on any CPU.
os.environ["SOXR_USE_SIMD"] = "0"
INTEGER_AAC_DECODER = "aac_fixed"

__all__ = ["AUDIO_EXTENSIONS", "AudioInfo", "PYAV_EXTENSIONS", "SNDFILE_EXTENSIONS", "decode",
           "frame_planes", "frames_to_array", "load_audio", "load_files_sum", "load_stems_sum",
           "planes_to_float32", "probe_audio", "resample", "to_mono"]

SNDFILE_EXTENSIONS = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}
PYAV_EXTENSIONS = {".m4a", ".mp4", ".aac"}
AUDIO_EXTENSIONS = SNDFILE_EXTENSIONS | PYAV_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """Header facts of an audio file (no full decode)."""

    duration_s: float
    sample_rate: int
    channels: int
    n_streams: int = 1


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(path, "missing file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file")
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        raise AudioError(path, "unsupported extension", path.suffix)


def probe_audio(path) -> AudioInfo:
    """Read duration (s), sample rate (Hz) and channel count from the header only."""
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() in SNDFILE_EXTENSIONS:
        try:
            info = sf.info(str(path))
        except Exception as exc:  # libsndfile raises RuntimeError/LibsndfileError
            raise AudioError(path, "undecodable", _one_line(exc)) from None
        if info.frames <= 0:
            raise AudioError(path, "empty audio")
        return AudioInfo(info.frames / info.samplerate, info.samplerate, info.channels)
    import av

    try:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            if not streams:
                raise AudioError(path, "no audio stream")
            stream = streams[0]
            if container.duration is not None:
                duration = container.duration / 1_000_000
            elif stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = 0.0
            return AudioInfo(duration, stream.codec_context.sample_rate,
                             stream.codec_context.channels, len(streams))
    except AudioError:
        raise
    except Exception as exc:
        raise AudioError(path, "undecodable", _one_line(exc)) from None


def decode(path, stream: int = 0) -> tuple[np.ndarray, int]:
    """Decode a file to float32 of shape (channels, samples) at its native rate (Hz)."""
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() in SNDFILE_EXTENSIONS:
        try:
            y, sr = sf.read(str(path), dtype="float32", always_2d=True)
        except Exception as exc:
            raise AudioError(path, "undecodable", _one_line(exc)) from None
        y = y.T
    else:
        y, sr = _decode_pyav(path, stream)
    if y.shape[-1] == 0:
        raise AudioError(path, "empty audio")
    if not np.all(np.isfinite(y)):
        raise AudioError(path, "non-finite samples")
    return np.ascontiguousarray(y), int(sr)


def _decode_pyav(path: Path, stream_index: int) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path)) as container:
            audio_streams = container.streams.audio
            if stream_index >= len(audio_streams):
                raise AudioError(path, "missing stream",
                                 f"stream {stream_index} of {len(audio_streams)}")
            stream = audio_streams[stream_index]
            sr = stream.codec_context.sample_rate
            y = frames_to_array(_frames(container, stream))
    except AudioError:
        raise
    except Exception as exc:
        raise AudioError(path, "undecodable", _one_line(exc)) from None
    if y is None:
        raise AudioError(path, "empty audio")
    return y, sr


def _frames(container, stream):
    """Decoded frames of ``stream``; AAC through the integer decoder (CPU-independent)."""
    import av

    if stream.codec_context.name != "aac":
        yield from container.decode(stream)
        return
    decoder = av.CodecContext.create(INTEGER_AAC_DECODER, "r")
    decoder.extradata = stream.codec_context.extradata
    for packet in container.demux(stream):  # the last packet flushes the decoder
        yield from decoder.decode(packet)


def frame_planes(frame) -> list[np.ndarray]:
    """One decoded frame as a list of 1-D sample arrays, one per channel, in its own dtype.

    Planar frames are copied straight from their buffers (``frame.to_ndarray()`` and a
    conversion per 1,024-sample frame cost about as much as the AAC decoding itself); a copy,
    not a view, so the decoder can reuse its frame buffers.
    """
    n, channels = frame.samples, len(frame.layout.channels)
    if not frame.format.is_planar:  # packed formats are (1, samples * channels)
        arr = frame.to_ndarray().reshape(-1, channels).T
        return list(arr)
    dtype = _PLANAR_DTYPES.get(frame.format.name)
    if dtype is None:
        return list(frame.to_ndarray())
    return [np.frombuffer(plane, dtype, n).copy() for plane in frame.planes[:channels]]


_PLANAR_DTYPES = {"s16p": np.int16, "s32p": np.int32, "fltp": np.float32, "dblp": np.float64}


def planes_to_float32(planes: list[list[np.ndarray]]) -> np.ndarray | None:
    """Frames' planes (``frame_planes`` of each) as float32 (channels, samples), or None if empty.

    Integer samples are scaled to [-1, 1) after one cast to float32: a power-of-two scaling
    commutes with rounding, so this equals scaling in float64 and rounding once, bit for bit.
    """
    planes = [p for p in planes if p and len(p[0])]
    if not planes:
        return None
    y = np.stack([np.concatenate([p[c] for p in planes]) for c in range(len(planes[0]))])
    if np.issubdtype(y.dtype, np.integer):
        return y.astype(np.float32) * np.float32(1.0 / -np.iinfo(y.dtype).min)
    return y.astype(np.float32, copy=False)


def frames_to_array(frames) -> np.ndarray | None:
    """Decoded frames as one float32 (channels, samples) array, or None if there is no sample."""
    return planes_to_float32([frame_planes(f) for f in frames])


def to_mono(y: np.ndarray) -> np.ndarray:
    """Downmix (channels, samples) to (samples,) by the mean of channels."""
    if y.ndim == 2 and len(y) == 1 and y.dtype == np.float32:
        # the mean of one channel, bit for bit (numpy's sum starts at +0: -0.0 becomes +0.0)
        return y[0] + np.float32(0)
    return y.mean(axis=0, dtype=np.float32) if y.ndim == 2 else y.astype(np.float32)


def resample(y: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono ``y`` from ``orig_sr`` to ``target_sr`` Hz with soxr (HQ)."""
    if orig_sr == target_sr:
        return np.ascontiguousarray(y, dtype=np.float32)
    return soxr.resample(y, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def load_audio(path, sr: int = SAMPLE_RATE, stream: int = 0) -> np.ndarray:
    """Decode, downmix and resample one file: mono float32 samples at ``sr`` Hz."""
    y, native_sr = decode(path, stream)
    return resample(to_mono(y), native_sr, sr)


def load_stems_sum(path, streams=(1, 2, 3), sr: int = SAMPLE_RATE) -> np.ndarray:
    """Sum streams of a musdb18 ``.stem.mp4`` (0 mixture, 1 drums, 2 bass, 3 other, 4 vocals).

    The default, drums + bass + other, is the accompaniment.  A missing stream raises
    ``AudioError(reason="missing stream")``.
    """
    parts = [load_audio(path, sr, stream=s) for s in streams]
    n = min(len(p) for p in parts)
    return np.sum([p[:n] for p in parts], axis=0, dtype=np.float32)


def load_files_sum(paths, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Sum several files sample-aligned (musdb18-HQ stems) as mono at ``sr`` Hz."""
    parts = [load_audio(p, sr) for p in paths]
    n = min(len(p) for p in parts)
    return np.sum([p[:n] for p in parts], axis=0, dtype=np.float32)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
