"""Decode only the samples some windows need, bit for bit equal to ``audio.load_audio``'s.

The mix stage needs at most ``svd.max_windows`` windows of ``SEGMENT_SAMPLES`` of each
performance.  ``load_windows`` decodes and resamples a span of input around each (spans
that overlap are merged) and returns a ``PartialSignal``: ``len()`` is the full length,
slices inside a span are the samples a full ``load_audio`` gives, bit for bit.  Why that
holds, and where it does not:

- **AAC.** A frame's output depends on the frame before it (overlap-add), so each span is
  decoded from one frame earlier with a fresh integer decoder; and on the PNS noise
  generator, advanced by every noise band since the stream's start, so a span is decoded
  this way only if no frame before it uses PNS (``aac_syntax``).  Mono AAC-LC only; SBR/PS
  (HE-AAC), other profiles, several channels and frames that are not understood fall back
  to the full decode.
- **Resampling.** soxr's output depends on where its input starts: it filters in FFT blocks
  (and polyphase phases) counted from the first input sample, and rounding depends on the
  block.  A span therefore starts at a multiple of the period after which blocks and phases
  realign (measured for each rate pair, ``RESAMPLINGS``) and ``head`` input samples early;
  it ends ``tail`` samples late (soxr pads the end with zeros) or at the end of the file.
  Rate pairs not in the table fall back to the full decode.
- **WAV/FLAC/AIFF** are read from the needed frame on (libsndfile; PCM and FLAC decode
  sample-exactly from any position).  MP3 and Ogg fall back to the full decode.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from . import audio
from .aac_syntax import is_plain_lc_mono, scan_packets
from .errors import AudioError
from .segment import SAMPLE_RATE, SEGMENT_SAMPLES

log = logging.getLogger(__name__)

__all__ = ["PartialSignal", "RESAMPLINGS", "Resampling", "WINDOWED_SNDFILE", "load_windows",
           "plan_spans"]

AAC_FRAME = 1024
WINDOWED_SNDFILE = {".wav", ".flac", ".aiff", ".aif"}


@dataclasses.dataclass(frozen=True)
class Resampling:
    """Where a resampled span may start and how far around the wanted samples it reaches.

    Attributes
    ----------
    period : int
        Input samples after which soxr's FFT blocks and filter phases realign: a span
        starting at a multiple of it is resampled exactly like the same samples of the
        whole file (``tests/test_audio_windows.py`` checks it and that other offsets differ).
    head, tail : int
        Input samples decoded before and after the wanted ones: soxr's first block and its
        zero-padded end differ from the whole file's (measured at most 1,660 and 1,496
        input samples at 44.1 kHz, 1,609 and 1,593 at 48 kHz, on noise).
    """

    period: int
    head: int
    tail: int


RESAMPLINGS = {  # (input Hz, output Hz) -> Resampling, soxr "HQ", scalar engine
    (SAMPLE_RATE, SAMPLE_RATE): Resampling(1, 0, 0),
    (44100, SAMPLE_RATE): Resampling(1660, 3320, 4096),  # one DFT stage, blocks of 1,660
    (48000, SAMPLE_RATE): Resampling(128320, 8192, 8192),  # lcm(320-sample phases, blocks of 802)
}


class PartialSignal:
    """A mono signal of ``length`` samples of which only some spans are held.

    ``spans`` are ``(valid_start, valid_stop, offset, samples)``: ``samples[i]`` is sample
    ``offset + i`` and is exact within ``[valid_start, valid_stop)``.  Slicing with
    ``[a:b]`` inside one valid range returns those samples; anything else raises
    ``IndexError``.  ``decoded`` is the number of input samples decoded, ``method`` says
    how ("windowed" or "full: <reason>").
    """

    def __init__(self, length: int, spans, *, decoded: int, total: int, method: str):
        self.length, self.spans = int(length), list(spans)
        self.decoded, self.total, self.method = int(decoded), int(total), method

    @classmethod
    def full(cls, y: np.ndarray, method: str) -> "PartialSignal":
        return cls(len(y), [(0, len(y), 0, y)], decoded=len(y), total=len(y), method=method)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("PartialSignal takes a [start:stop] slice")
        a, b, _ = key.indices(self.length)
        for lo, hi, offset, y in self.spans:
            if lo <= a and b <= hi:
                return y[a - offset:b - offset]
        raise IndexError(f"samples [{a}, {b}) were not decoded")


def plan_spans(starts, length: int, n_in: int, sr_in: int, sr_out: int,
               rs: Resampling) -> list[tuple[int, int, int, int]]:
    """Input spans that cover output windows ``[s, s + length)`` for each ``s`` in ``starts``.

    Returns sorted, merged ``(in_start, in_stop, out_start, out_stop)``: input samples
    ``[in_start, in_stop)`` (``in_start`` a multiple of ``rs.period``) resample to output
    samples that are exact over ``[out_start, out_stop)``.  ``n_in`` is the file's length in
    input samples; windows past the output's end are left out.
    """
    n_out = resampled_length(n_in, sr_in, sr_out)
    spans = []
    for s in sorted({int(s) for s in starts}):
        if s < 0 or s + length > n_out:
            continue
        a_in = s * sr_in // sr_out
        b_in = -(-(s + length) * sr_in // sr_out)
        o = max(0, (a_in - rs.head) // rs.period * rs.period)
        e = min(n_in, b_in + rs.tail)
        if spans and o <= spans[-1][1]:
            lo, hi, out_lo, _ = spans[-1]
            spans[-1] = (lo, max(hi, e), out_lo, s + length)
        else:
            spans.append((o, e, s, s + length))
    return spans


def resampled_length(n_in: int, sr_in: int, sr_out: int) -> int:
    """Samples ``audio.resample`` returns for ``n_in`` input samples (soxr's rounding)."""
    return n_in if sr_in == sr_out else int(n_in / (sr_in / sr_out) + 0.5)


class _NotExact(Exception):
    """This file (or a frame of it) is outside what is proved exact: decode it whole."""


def load_windows(path, starts, length: int = SEGMENT_SAMPLES, sr: int = SAMPLE_RATE
                 ) -> PartialSignal:
    """Mono float32 samples at ``sr`` Hz of ``path`` for windows ``[s, s + length)``.

    Equal bit for bit, over each window, to ``audio.load_audio(path, sr)[s:s + length]``;
    ``len()`` of the result equals ``len(audio.load_audio(path, sr))``.  Files not proved
    exact are decoded whole (the result's ``method`` says why).  Errors are ``AudioError``.
    """
    path = Path(path)
    audio._check_file(path)  # missing, empty, unsupported: the same errors as load_audio
    suffix = path.suffix.lower()
    try:
        if suffix in WINDOWED_SNDFILE:
            return _sndfile_windows(path, starts, length, sr)
        if suffix in audio.PYAV_EXTENSIONS:
            return _aac_windows(path, starts, length, sr)
        reason = f"{suffix} is not read piecewise"
    except _NotExact as exc:
        reason = str(exc)
    log.debug("%s: full decode (%s)", path, reason)
    return PartialSignal.full(audio.load_audio(path, sr), f"full: {reason}")


def _resampling(sr_in: int, sr: int) -> Resampling:
    rs = RESAMPLINGS.get((int(sr_in), int(sr)))
    if rs is None:
        raise _NotExact(f"{sr_in} -> {sr} Hz resampling not proved position-independent")
    return rs


def _finish(path, pieces, spans, n_in, sr_in, sr) -> PartialSignal:
    """Resample each span's mono float32 input ``pieces`` and wrap them.

    One soxr stream, cleared between spans, saves a filter design per span; its output is
    ``audio.resample``'s bit for bit (tests/test_audio_windows.py).
    """
    import soxr

    stream = None if sr_in == sr else soxr.ResampleStream(sr_in, sr, 1, dtype="float32",
                                                          quality="HQ")
    out = []
    for x, (o, e, lo, hi) in zip(pieces, spans):
        if not np.all(np.isfinite(x)):
            raise AudioError(path, "non-finite samples")
        if stream is None:
            y = np.ascontiguousarray(x, dtype=np.float32)
        else:
            stream.clear()
            y = stream.resample_chunk(np.ascontiguousarray(x, dtype=np.float32), last=True)
        offset = o * sr // sr_in
        if lo < offset or offset + len(y) < hi:
            raise _NotExact(f"span [{o}, {e}) resampled to fewer samples than planned")
        out.append((lo, hi, offset, y))
    decoded = sum(e - o for o, e, _, _ in spans)
    return PartialSignal(resampled_length(n_in, sr_in, sr), out, decoded=decoded, total=n_in,
                         method="windowed")


def _sndfile_windows(path: Path, starts, length: int, sr: int) -> PartialSignal:
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            n_in, sr_in = f.frames, f.samplerate
            rs = _resampling(sr_in, sr)
            if n_in <= 0:
                raise _NotExact("length unknown from the header")
            spans = plan_spans(starts, length, n_in, sr_in, sr, rs)
            pieces = []
            for o, e, _, _ in spans:
                f.seek(o)
                y = f.read(e - o, dtype="float32", always_2d=True)
                if len(y) != e - o:
                    raise _NotExact("fewer frames than the header says")
                pieces.append(audio.to_mono(np.ascontiguousarray(y.T)))
    except (_NotExact, AudioError):
        raise
    except Exception as exc:
        raise AudioError(path, "undecodable", audio._one_line(exc)) from None
    return _finish(path, pieces, spans, n_in, sr_in, sr)


@dataclasses.dataclass(frozen=True)
class _AacIndex:
    """The packet table of a mono AAC-LC stream: timestamps, file offsets, sizes.

    As arrays and as lists of ints (the per-packet checks compare Python ints).
    """

    ts: np.ndarray
    pos: np.ndarray
    size: np.ndarray

    @property
    def rows(self) -> list:
        return self._rows

    def __post_init__(self):
        object.__setattr__(self, "_rows", list(zip(self.ts.tolist(), self.pos.tolist(),
                                                   self.size.tolist())))


def _aac_index(stream) -> _AacIndex:
    cc = stream.codec_context
    if cc.name != "aac" or not is_plain_lc_mono(cc.extradata):
        raise _NotExact(f"not mono AAC-LC without SBR/PS ({cc.name}, {cc.profile})")
    if stream.time_base is None or stream.time_base.numerator != 1 or \
            stream.time_base.denominator != cc.sample_rate:
        raise _NotExact(f"time base {stream.time_base} is not 1/sample rate")
    table = np.array([(e.timestamp, e.pos, e.size) for e in stream.index_entries], np.int64)
    if len(table) < 8 or np.any(np.diff(table[:, 0]) != AAC_FRAME) or np.any(table[:, 2] <= 0):
        raise _NotExact("packet table is not one 1,024-sample frame after another")
    return _AacIndex(table[:, 0], table[:, 1], table[:, 2])


def _decode_run(container, stream, index: _AacIndex, first: int, last: int) -> list:
    """(packet number, frames) up to packet ``last``, by a fresh decoder, seeking to ``first``.

    The demuxer may land before ``first`` (in the priming, mov seeks one packet early); the
    run starts where it lands, so the priming trim the demuxer attaches there applies as in a
    full decode.  A frame is exact if its packet comes after the landing one, or if the run
    landed on packet 0.
    """
    import av

    decoder = av.CodecContext.create(audio.INTEGER_AAC_DECODER, "r")
    decoder.extradata = stream.codec_context.extradata
    container.seek(int(index.ts[first]), stream=stream, backward=True, any_frame=False)
    out, i, rows = [], None, index.rows
    for packet in container.demux(stream):
        row = (packet.pts, packet.pos, packet.size)
        if row[2] == 0 or row[0] is None:
            break
        if i is None:
            i = int(np.searchsorted(index.ts, row[0]))
            if i > first:
                raise _NotExact(f"seeking to packet {first} landed on packet {i}")
        if i >= len(rows) or row != rows[i]:
            raise _NotExact(f"packet {i} differs from the index")
        out.append((i, decoder.decode(packet)))
        i += 1
        if i > last:
            break
    if i is None or i <= last:
        raise _NotExact("stream ended before the packets its index lists")
    return out


def _samples(frames_of, index: _AacIndex, t0: int, sr: int) -> tuple[int, list]:
    """Position (in full-decode samples) of the first kept sample and the kept frames.

    A frame is as long as its packet (1,024) except where the decoder trims the encoder's
    priming (frames before ``t0``) or the end (the last packet); anything else is not a
    stream this module understands.
    """
    start, kept, expect = None, [], None
    last, rows = len(index.ts) - 1, index.rows
    for i, frames in frames_of:
        n = 0
        for f in frames:
            if f.sample_rate != sr or f.layout.nb_channels != 1:
                raise _NotExact("decoder output changed rate or channels (implicit SBR/PS?)")
            n += f.samples
        ts = rows[i][0]
        if i == last:
            lo = ts
        elif ts >= t0:
            lo = ts
            if n != AAC_FRAME:
                raise _NotExact(f"frame {i} decoded to {n} samples")
        else:
            lo = min(max(ts, t0), ts + AAC_FRAME)
            if n != ts + AAC_FRAME - lo:
                raise _NotExact(f"priming frame {i} decoded to {n} samples")
        if not n:
            continue
        if expect is not None and lo != expect:
            raise _NotExact("decoded frames are not contiguous")
        if start is None:
            start = lo - t0
        expect = lo + n
        kept.extend(frames)
    return start, kept


def _aac_windows(path: Path, starts, length: int, sr: int) -> PartialSignal:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(path, "no audio stream")
            stream = container.streams.audio[0]
            sr_in = stream.codec_context.sample_rate
            rs = _resampling(sr_in, sr)
            index = _aac_index(stream)
            # where the full decode's first sample sits: after the priming the decoder trims
            head = _decode_run(container, stream, index, 0, 3)
            kept = [(i, fr) for i, fr in head if sum(f.samples for f in fr)]
            if not kept:
                raise _NotExact("more than three frames of priming")
            i, fr = kept[0]
            t0 = int(index.ts[i]) + AAC_FRAME - sum(f.samples for f in fr)
            last = len(index.ts) - 1
            tail = _decode_run(container, stream, index, last - 1, last)
            if any(p.size for p in container.demux(stream)):
                raise _NotExact("the stream has packets past its index")
            n_in = int(index.ts[last]) + sum(f.samples for f in tail[-1][1]) - t0
            spans = plan_spans(starts, length, n_in, sr_in, sr, rs)
            runs = []
            for o, e, _, _ in spans:
                j0 = int(np.searchsorted(index.ts, o + t0, side="right")) - 1
                j1 = int(np.searchsorted(index.ts, e - 1 + t0, side="right")) - 1
                runs.append((max(j0 - 1, 0), j1))
            _check_no_noise_before(path, index, max((first for first, _ in runs), default=0))
            pieces = []
            for (o, e, _, _), (first, j1) in zip(spans, runs):
                decoded = _decode_run(container, stream, index, first, j1)
                if first > 0:  # pre-roll frames lack their predecessor's overlap
                    decoded = [(i, fr) for i, fr in decoded if i > first]
                at, frames = _samples(decoded, index, t0, sr_in)
                y = audio.frames_to_array(frames)
                if y is None or at > o or at + y.shape[1] < e:
                    raise _NotExact("decoded frames do not cover the span")
                pieces.append(audio.to_mono(y[:, o - at:e - at]))
    except (_NotExact, AudioError):
        raise
    except Exception as exc:
        raise AudioError(path, "undecodable", audio._one_line(exc)) from None
    return _finish(path, pieces, spans, n_in, sr_in, sr)


def _check_no_noise_before(path: Path, index: _AacIndex, stop: int) -> None:
    """Raise ``_NotExact`` if a frame before ``stop`` uses PNS or is not understood."""
    if stop <= 0:
        return
    buf = np.fromfile(str(path), np.uint8)
    pos, size = index.pos[:stop], index.size[:stop]
    if np.any(pos + size > len(buf)):
        raise _NotExact("packet table points past the end of the file")
    pns, understood = scan_packets(buf, pos, size)
    if not understood.all():
        raise _NotExact(f"frame {int(np.argmin(understood))} is not a plain mono AAC-LC frame")
    if pns.any():
        raise _NotExact(f"frame {int(np.argmax(pns))} uses PNS before a window")
