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
           "frames_to_array", "load_audio", "load_files_sum", "load_stems_sum", "probe_audio",
           "resample", "to_float32", "to_mono"]

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


_PLANAR_DTYPES = {"s16p": np.int16, "s32p": np.int32, "fltp": np.float32, "dblp": np.float64}
_ITEMSIZE = {name: np.dtype(t).itemsize for name, t in _PLANAR_DTYPES.items()}


def _frame_array(frame) -> np.ndarray:
    """One frame as (channels, samples) in its own dtype (any sample format)."""
    arr = frame.to_ndarray()
    if not frame.format.is_planar:  # packed formats are (1, samples * channels)
        arr = arr.reshape(-1, len(frame.layout.channels)).T
    return arr


def to_float32(y: np.ndarray) -> np.ndarray:
    """Samples as float32; integers scaled to [-1, 1).

    One cast, then a power-of-two scale: scaling commutes with rounding, so this equals
    dividing in float64 and rounding once, bit for bit (and is several times faster).
    """
    if np.issubdtype(y.dtype, np.integer):  # the cast happens inside the ufunc loop
        return np.multiply(y, np.float32(1.0 / -np.iinfo(y.dtype).min), dtype=np.float32)
    return y.astype(np.float32, copy=False)


def frames_to_array(frames) -> np.ndarray | None:
    """Decoded frames as one float32 (channels, samples) array, or None if there is no sample.

    Planar frames are copied out of their buffers as bytes and joined once: ``to_ndarray``
    and a conversion per 1,024-sample frame cost about as much as the AAC decoding itself.
    """
    chunks = []  # per frame: (dtype, bytes per plane), or a (channels, samples) array
    for frame in frames:
        if not frame.samples:
            continue
        name = frame.format.name
        if name not in _ITEMSIZE:
            chunks.append(_frame_array(frame))
        else:
            size = frame.samples * _ITEMSIZE[name]
            chunks.append((_PLANAR_DTYPES[name],
                           [bytes(memoryview(plane)[:size]) for plane in frame.planes]))
    if not chunks:
        return None
    kinds = {c[0] if isinstance(c, tuple) else None for c in chunks}
    if len(kinds) == 1 and None not in kinds:  # one planar format throughout: join the bytes
        (dtype,) = kinds
        planes = [to_float32(np.frombuffer(b"".join(c[1][ch] for c in chunks), dtype))
                  for ch in range(len(chunks[0][1]))]
        return planes[0][None] if len(planes) == 1 else np.stack(planes)  # mono: no copy
    arrays = [c if not isinstance(c, tuple) else np.stack([np.frombuffer(b, c[0]) for b in c[1]])
              for c in chunks]
    return np.concatenate([to_float32(a) for a in arrays], axis=1)


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
