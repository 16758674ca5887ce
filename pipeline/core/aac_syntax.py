"""Just enough AAC-LC bitstream syntax to tell whether a mono stream can be decoded piecewise.

FFmpeg's AAC decoder carries two kinds of state from frame to frame: the overlap-add half of
the previous frame (rebuilt by decoding one frame before the wanted ones) and the random
generator of perceptual noise substitution (PNS, band type 13), advanced once per noise
coefficient since the first frame.  A decode that starts mid-stream therefore equals a full
decode bit for bit only if no frame before its start uses PNS.  That is read here from each
frame's section data (ISO/IEC 14496-3, 4.4.2.7: ``ics_info`` and ``section_data`` come
before any Huffman-coded field), for mono streams: one ``single_channel_element`` per frame,
optionally after fill or data-stream elements.  Anything else (a channel pair, coupling, a
program config element, prediction) is reported as not understood.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NOISE_BAND", "HEADER_BYTES", "is_plain_lc_mono", "scan_frame", "scan_frames",
           "scan_packets"]

NOISE_BAND = 13  # NOISE_HCB
_SCE, _CPE, _CCE, _LFE, _DSE, _PCE, _FIL, _END = range(8)
HEADER_BYTES = 64  # holds a long window's section data; frames needing more are read whole


class _Bits:
    """MSB-first reader over ``data``; reading past the end raises ``IndexError``."""

    def __init__(self, data: bytes):
        self.value, self.n, self.pos = int.from_bytes(data, "big"), 8 * len(data), 0

    def read(self, k: int) -> int:
        if self.pos + k > self.n:
            raise IndexError("read past the end of the frame")
        self.pos += k
        return (self.value >> (self.n - self.pos)) & ((1 << k) - 1)


def is_plain_lc_mono(extradata: bytes | None) -> bool:
    """Whether an AudioSpecificConfig is AAC-LC, 1,024-sample frames, one channel, no SBR/PS.

    An explicit "no SBR" sync extension (0x2b7, SBR object type, flag 0) is accepted; any
    other extension is not.
    """
    if not extradata or len(extradata) < 2:
        return False
    try:
        bits = _Bits(bytes(extradata))
        aot, freq_index = bits.read(5), bits.read(4)
        if freq_index == 15:
            bits.read(24)
        channel_config = bits.read(4)
        frame_length_flag, depends_on_core, extension_flag = bits.read(1), bits.read(1), bits.read(1)
        if (aot, channel_config, frame_length_flag, depends_on_core, extension_flag) != (2, 1, 0, 0, 0):
            return False
        if bits.n - bits.pos >= 16:
            if bits.read(11) != 0x2B7 or bits.read(5) != 5 or bits.read(1) != 0:
                return False
        return not (bits.value & ((1 << (bits.n - bits.pos)) - 1))  # only zero padding left
    except IndexError:
        return False


def _sce_bands(bits: _Bits) -> bool:
    """Read a SCE after its element id up to its section data; True if a band is PNS."""
    bits.read(4 + 8)  # element_instance_tag, global_gain
    if bits.read(1):  # ics_reserved_bit
        raise ValueError("reserved bit set")
    window_sequence = bits.read(2)
    bits.read(1)  # window_shape
    if window_sequence == 2:  # EIGHT_SHORT_SEQUENCE
        max_sfb, grouping = bits.read(4), bits.read(7)
        groups, sect_bits = 1 + 7 - bin(grouping).count("1"), 3
    else:
        max_sfb, groups, sect_bits = bits.read(6), 1, 5
        if bits.read(1):  # predictor_data_present: not allowed in AAC-LC
            raise ValueError("prediction")
    escape, pns = (1 << sect_bits) - 1, False
    for _ in range(groups):
        k = 0
        while k < max_sfb:
            band_type = bits.read(4)
            if band_type == 12:
                raise ValueError("reserved band type")
            pns |= band_type == NOISE_BAND
            while (incr := bits.read(sect_bits)) == escape:
                k += incr
            k += incr
            if k > max_sfb:
                raise ValueError("sections beyond max_sfb")
    return pns


def scan_frame(data: bytes) -> tuple[bool, bool]:
    """(uses PNS, understood) for one raw mono AAC frame, elements read up to its SCE."""
    bits = _Bits(bytes(data))
    try:
        while True:
            element = bits.read(3)
            if element == _SCE:
                return _sce_bands(bits), True
            if element == _FIL:
                count = bits.read(4)
                if count == 15:
                    count += bits.read(8) - 1
                bits.read(8 * count) if count else None
            elif element == _DSE:
                bits.read(4)
                align, count = bits.read(1), bits.read(8)
                if count == 255:
                    count += bits.read(8)
                if align and bits.pos % 8:
                    bits.read(8 - bits.pos % 8)
                bits.read(8 * count) if count else None
            else:  # CPE, CCE, LFE, PCE or END before any SCE
                return False, False
    except (IndexError, ValueError):
        return False, False


def _read(rows: np.ndarray, head: np.ndarray, pos: np.ndarray, k: int) -> np.ndarray:
    """``k`` (<= 17) bits at bit position ``pos`` of each row of ``head`` (uint8)."""
    b = pos >> 3
    word = (head[rows, b].astype(np.int64) << 16) | (head[rows, b + 1].astype(np.int64) << 8) \
        | head[rows, b + 2]
    return (word >> (24 - (pos & 7) - k)) & ((1 << k) - 1)


def scan_frames(head: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scan_frame`` for many frames at once, over their first bytes.

    Parameters
    ----------
    head : np.ndarray [shape=(n, HEADER_BYTES + 3), uint8]
        Each frame's first bytes, zero beyond its size.
    sizes : np.ndarray [shape=(n,)]
        Frame sizes in bytes.

    Returns
    -------
    pns, understood : np.ndarray [shape=(n,), bool]
        Frames that do not start with a SCE, or whose section data runs past their size or
        past ``HEADER_BYTES``, are parsed one by one (``scan_frame``).
    """
    n = len(head)
    limit = np.minimum(np.asarray(sizes, np.int64), HEADER_BYTES) * 8
    rows = np.arange(n)
    pos = np.zeros(n, np.int64)

    def take(k):
        nonlocal pos
        v = _read(rows, head, pos, k)
        pos = pos + k
        return v

    element = take(3)
    take(4 + 8)
    bad = (element != _SCE) | (take(1) != 0)
    short = take(2) == 2
    take(1)
    max_sfb = np.where(short, _read(rows, head, pos, 4), _read(rows, head, pos, 6))
    pos = pos + np.where(short, 4, 6)
    grouping = _read(rows, head, pos, 7)
    predictor = _read(rows, head, pos, 1)
    pos = pos + np.where(short, 7, 1)
    bad |= ~short & (predictor != 0)
    groups = np.where(short, 1 + 7 - np.unpackbits(grouping.astype(np.uint8)[:, None],
                                                   axis=1)[:, 1:].sum(axis=1), 1)
    sect_bits = np.where(short, 3, 5)
    pns = np.zeros(n, bool)
    group, k = np.zeros(n, np.int64), np.zeros(n, np.int64)
    live = ~bad
    while True:
        done_group = live & (k >= max_sfb)
        group[done_group] += 1
        k[done_group] = 0
        live &= group < groups
        live &= ~(pos > limit - 32)  # the slow path takes frames whose data may run out
        act = np.flatnonzero(live & (k < max_sfb))
        if not len(act) and not live.any():
            break
        if not len(act):
            continue
        band = _read(act, head, pos[act], 4)
        pos[act] += 4
        bad[act] |= band == 12
        pns[act] |= band == NOISE_BAND
        escaping = act
        while len(escaping):
            sb = sect_bits[escaping]
            word = _read(escaping, head, pos[escaping], 5)  # 5 bits, keep the top sb of them
            incr = word >> (5 - sb)
            pos[escaping] += sb
            k[escaping] += incr
            # an escape run ends, or overruns max_sfb (flagged below): reads stay bounded
            escaping = escaping[(incr == (1 << sb) - 1) & (k[escaping] <= max_sfb[escaping])]
        over = act[k[act] > max_sfb[act]]
        bad[over] = True
        live[over] = False
    slow = np.flatnonzero((element != _SCE) | (pos > limit - 32) & ~bad)
    understood = ~bad
    for i in slow:  # frames led by fill elements, or near the end of the bytes held
        pns[i], understood[i] = scan_frame(head[i, :min(int(sizes[i]), HEADER_BYTES)].tobytes())
    return pns, understood


def scan_packets(buf: np.ndarray, pos: np.ndarray, size: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``scan_frame`` of the packets at byte offsets ``pos`` (lengths ``size``) of ``buf``.

    ``scan_frames`` over each packet's first ``HEADER_BYTES``; the packets it does not
    understand from those (short windows with many sections, long fill elements) are read
    whole, one by one.
    """
    cols = np.arange(HEADER_BYTES + 3)
    head = buf[np.minimum(pos[:, None] + cols, len(buf) - 1)]
    head[cols[None, :] >= size[:, None]] = 0
    pns, understood = scan_frames(head, size)
    for i in np.flatnonzero(~understood & (size > HEADER_BYTES)):
        pns[i], understood[i] = scan_frame(buf[pos[i]:pos[i] + size[i]].tobytes())
    return pns, understood
