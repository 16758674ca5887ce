"""Windowed decoding (pipeline.core.audio_windows) equals the full decode bit for bit.

Each file is decoded whole (``load_audio``) and window by window (``load_windows``) at many
window positions, the first and the last sample included; the two must agree to the bit and
in length.  Files outside what is proved exact must take the full decode, and the guards
that send them there must fire where they are needed.
"""

import importlib.util
import logging
import struct
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pipeline.core import audio
from pipeline.core import audio_windows as aw
from pipeline.core.aac_syntax import (
    HEADER_BYTES,
    is_plain_lc_mono,
    scan_frame,
    scan_frames,
    scan_packets,
)
from pipeline.core.segment import SAMPLE_RATE, SEGMENT_SAMPLES
from pipeline.dataset.features import FeatureParams
from pipeline.demo.writers import write_aac, write_wav
from pipeline.mashup.mix import MashupParams, mix_shard

N = SEGMENT_SAMPLES
SECONDS = 16.0


def voice(n: int, sr: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A voiced tone with vibrato, pauses and breath noise: (n,) or (n, channels)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    f0 = 220 * 2 ** np.cumsum(rng.normal(0, 1e-4, n)) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, 12)) * 0.2
    y = y * (np.sin(2 * np.pi * t / 5) > -0.3) + 0.02 * rng.normal(size=n)
    if channels == 2:
        return np.stack([y, 0.8 * np.roll(y, 100)], axis=1).astype(np.float32)
    return y.astype(np.float32)


def write_pyav_default(path: Path, y: np.ndarray, sr: int) -> Path:
    """AAC through FFmpeg's encoder with its defaults: twoloop coder, PNS and TNS on."""
    with av.open(str(path), "w", format="ipod", container_options={"fflags": "+bitexact"}) as out:
        stream = out.add_stream("aac", rate=sr, layout="mono")
        stream.bit_rate = 64000
        frame = av.AudioFrame.from_ndarray(y[None], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = sr, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


def with_priming(src: Path, dst: Path, media_time: int) -> Path:
    """A copy of ``src`` whose edit list starts at ``media_time`` (the decoder trims that)."""
    data = bytearray(src.read_bytes())
    at = data.find(b"elst")
    assert at > 0 and data[at + 4] == 0  # version 0: 32-bit segment duration and media time
    data[at + 16:at + 20] = struct.pack(">I", media_time)
    dst.write_bytes(bytes(data))
    return dst


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("windows")
    out = {}
    for name, sr, ch in (("m441", 44100, 1), ("m48", 48000, 1), ("m22", 22050, 1),
                         ("s48", 48000, 2), ("s441", 44100, 2)):
        out[name] = d / f"{name}.m4a"
        write_aac(out[name], [voice(int(SECONDS * sr), sr, ch)], sr=sr, container="ipod")
    out["pns"] = write_pyav_default(d / "pns.m4a", voice(int(SECONDS * 44100), 44100), 44100)
    for pad in (2112, 1500, 0):
        out[f"pad{pad}"] = with_priming(out["m441"], d / f"pad{pad}.m4a", pad)
    out["wav441"] = d / "m441.wav"
    write_wav(out["wav441"], voice(int(SECONDS * 44100), 44100), sr=44100)
    out["wav22"] = d / "m22.wav"
    write_wav(out["wav22"], voice(int(SECONDS * 22050), 22050), sr=22050)
    out["flac48"] = d / "s48.flac"
    sf.write(str(out["flac48"]), voice(int(SECONDS * 48000), 48000, 2), 48000, subtype="PCM_24")
    out["wav6ch"] = d / "six channels é.wav"  # as the salted corpus has: 6 channels, unicode
    six = np.stack([voice(int(SECONDS * 44100), 44100, seed=c) for c in range(6)], axis=1)
    sf.write(str(out["wav6ch"]), six, 44100, subtype="FLOAT")
    out["wav8k"] = d / "m8k.wav"
    write_wav(out["wav8k"], voice(int(SECONDS * 8000), 8000), sr=8000)
    return out


def window_starts(length: int, rng) -> list[int]:
    """First, last and near-end windows, odd offsets and random ones."""
    last = length - N
    return sorted({0, 1, 7, 517, last // 2, last - 1023, last - 1, last,
                   *rng.integers(0, last + 1, 12).tolist()})


def assert_windows_exact(path, rng, expect_method: str, sparse: bool = False):
    full = audio.load_audio(path)
    # sparse: two spans apart, so the second does not run on from the file's start
    starts = [len(full) // 3, len(full) - N] if sparse else window_starts(len(full), rng)
    got = aw.load_windows(path, starts)
    assert got.method.startswith(expect_method), got.method
    assert len(got) == len(full)
    for s in starts:
        np.testing.assert_array_equal(got[s:s + N].view(np.uint32),
                                      full[s:s + N].view(np.uint32), err_msg=f"{path} at {s}")
    return got


@pytest.mark.parametrize("name", ["m441", "m48", "m22", "pad2112", "pad1500", "pad0",
                                  "wav441", "wav22", "flac48", "wav6ch"])
def test_windows_equal_the_full_decode_bit_for_bit(files, rng, name):
    got = assert_windows_exact(files[name], rng, "windowed")
    one = aw.load_windows(files[name], [len(got) // 2])
    assert one.method == "windowed" and one.decoded < one.total / 2  # it decodes less


@pytest.mark.parametrize("name,reason", [("s48", "full: not mono AAC-LC"),
                                         ("s441", "full: not mono AAC-LC"),
                                         ("pns", "full: frame "),
                                         ("wav8k", "full: 8000 -> 22050 Hz")])
def test_files_not_proved_exact_take_the_full_decode(files, rng, name, reason):
    got = assert_windows_exact(files[name], rng, reason, sparse=True)
    assert got.decoded == got.total


def test_real_musdb_stem_takes_the_full_decode(rng):
    spec = importlib.util.find_spec("stempeg")  # importing it wants an ffmpeg binary
    if spec is None:
        pytest.skip("stempeg (and its example track) not installed")
    (path,) = (Path(spec.origin).parent / "data").glob("*.stem.mp4")
    full = audio.load_audio(path)  # the first stream, as the mix reads a vocal file
    got = aw.load_windows(path, [len(full) - N])
    assert got.method.startswith("full: not mono AAC-LC")  # stereo: decoded whole
    np.testing.assert_array_equal(got[len(full) - N:], full[len(full) - N:])


def test_pns_check_is_needed(files, monkeypatch):
    """Without the PNS check the PNS file's windows differ from its full decode."""
    full = audio.load_audio(files["pns"])
    starts = list(range(N, len(full) - N, N))
    monkeypatch.setattr(aw, "_check_no_noise_before", lambda *a: None)
    got = aw.load_windows(files["pns"], starts)
    assert got.method == "windowed"
    assert any(not np.array_equal(got[s:s + N], full[s:s + N]) for s in starts)


@pytest.mark.parametrize("name", ["m441", "wav441"])
def test_windows_past_the_end_decode_nothing_but_keep_the_length(files, name):
    n = len(audio.load_audio(files[name]))
    got = aw.load_windows(files[name], [n - N + 1, n + 5])
    assert got.method == "windowed" and len(got) == n and got.decoded == 0


def test_asking_for_samples_not_decoded_raises(files):
    got = aw.load_windows(files["m441"], [SAMPLE_RATE])
    got[SAMPLE_RATE:SAMPLE_RATE + N]
    with pytest.raises(IndexError):
        got[0:N]


@pytest.mark.parametrize("sr_in", [44100, 48000])
def test_resampling_period_realigns_soxr_and_other_offsets_do_not(sr_in, rng):
    rs = aw.RESAMPLINGS[(sr_in, SAMPLE_RATE)]
    x = (0.1 * rng.standard_normal(3 * rs.period + 4 * sr_in)).astype(np.float32)
    full = audio.resample(x, sr_in)
    step = sr_in // np.gcd(sr_in, SAMPLE_RATE)  # the smallest offset with a whole output one

    def chunk_matches(o: int) -> bool:
        y = audio.resample(x[o:o + 2 * sr_in], sr_in)
        o_out = o * SAMPLE_RATE // sr_in
        lo, hi = -(-rs.head * SAMPLE_RATE // sr_in), len(y) - rs.tail * SAMPLE_RATE // sr_in
        return np.array_equal(y[lo:hi], full[o_out + lo:o_out + hi])

    assert all(chunk_matches(k * rs.period) for k in (1, 2, 3))
    off_grid = [k * rs.period + step * j for k in (1, 2) for j in (1, 7)]
    assert not any(chunk_matches(o) for o in off_grid)


def test_plan_spans_aligns_merges_and_drops_windows_past_the_end():
    rs = aw.Resampling(period=100, head=150, tail=40)
    # input:output 2:1, windows of 10, 1,000 input samples -> 500 output samples.
    # 0 needs input [0, 20): span [0, 60).  200 needs [400, 420): [200, 460) (250 rounded
    # down to the period).  300 and 305 need [600, 630): [400, 670), merged into the last.
    # 491 and 495 end past sample 500: dropped.
    spans = aw.plan_spans([300, 0, 305, 495, 491, 200], 10, 1000, 2, 1, rs)
    assert spans == [(0, 60, 0, 10), (200, 670, 200, 315)]
    assert aw.plan_spans([490], 10, 1000, 2, 1, rs) == [(800, 1000, 490, 500)]


def test_resampled_length_is_soxrs(rng):
    for sr_in in (44100, 48000, 22050):
        for n in (1, 999, 44101, 123457):
            x = np.zeros(n, np.float32)
            assert aw.resampled_length(n, sr_in, SAMPLE_RATE) == len(audio.resample(x, sr_in))


def test_audio_specific_config_check():
    assert is_plain_lc_mono(bytes.fromhex("1208"))  # LC, 44.1 kHz, mono
    assert is_plain_lc_mono(bytes.fromhex("120856e500"))  # + explicit "no SBR" (FFmpeg's)
    assert not is_plain_lc_mono(bytes.fromhex("1210"))  # stereo
    assert not is_plain_lc_mono(bytes.fromhex("2b8a0800"))  # HE-AAC (object type 5)
    assert not is_plain_lc_mono(bytes.fromhex("120856e580"))  # sync extension: SBR present
    assert not is_plain_lc_mono(bytes.fromhex("0a08"))  # AAC Main
    assert not is_plain_lc_mono(None)


def test_frame_scan_vectorised_equals_one_by_one_and_finds_pns(files):
    for name, expect_pns in (("m441", False), ("pns", True), ("m48", False)):
        with av.open(str(files[name])) as c:
            stream = c.streams.audio[0]
            packets = [bytes(p) for p in c.demux(stream) if p.size]
        sizes = np.array([len(p) for p in packets])
        head = np.zeros((len(packets), HEADER_BYTES + 3), np.uint8)
        for i, p in enumerate(packets):
            head[i, :min(len(p), HEADER_BYTES)] = np.frombuffer(p[:HEADER_BYTES], np.uint8)
        one = np.array([scan_frame(p) for p in packets])
        pns, understood = scan_frames(head, sizes)
        np.testing.assert_array_equal(pns[understood], one[understood, 0])
        assert not (understood & ~one[:, 1]).any()  # the first bytes never over-claim
        assert (understood | (sizes > HEADER_BYTES)).all()  # short packets read in full
        buf = np.frombuffer(b"".join(packets), np.uint8)
        pns, understood = scan_packets(buf, np.cumsum(sizes) - sizes, sizes)
        np.testing.assert_array_equal(pns, one[:, 0])
        np.testing.assert_array_equal(understood, one[:, 1])
        assert understood.all() and pns.any() == expect_pns


def test_frame_scan_rejects_a_channel_pair():
    cpe = bytes([0b00100000, 0, 0, 0])  # element id 1 (CPE) first
    assert scan_frame(cpe) == (False, False)
    head = np.zeros((1, HEADER_BYTES + 3), np.uint8)
    head[0, :4] = np.frombuffer(cpe, np.uint8)
    assert scan_frames(head, np.array([4]))[1].tolist() == [False]


class Accompaniments:
    def __init__(self, rng):
        self.audio = {"t0": (0.2 * rng.standard_normal(SAMPLE_RATE * 30)).astype(np.float32)}

    def segment(self, track, start, length=N):
        return self.audio[track][start:start + length]


def test_mix_shards_are_byte_identical_windowed_and_full(files, rng, tmp_path, caplog):
    names = ["m441", "m48", "wav441", "flac48", "pns", "s48"]
    lengths = {n: len(audio.load_audio(files[n])) for n in names}
    rows = []
    for p, name in enumerate(names):
        for w, start in enumerate([0, 512 * (17 + p), lengths[name] - N - 3, lengths[name] - 10]):
            rows.append({"segment_id": f"{name}-w{w:03d}-m0", "perf_id": name,
                         "singer": f"s{p % 3}", "song": "x", "subset": "train", "vocal_shard": 0,
                         "window_index": w, "mix_index": 0, "vocal_start": start,
                         "acc_track": "t0", "acc_start": 512 * (30 * w + 7 * p),
                         "acc_beat_index": 0, "tempo_bpm": 100.0, "acc_tempo_bpm": 100.0,
                         "key": 3, "acc_key": 3})
    pairs = pd.DataFrame(rows)
    kw = dict(pairs=pairs, vocal_paths={n: files[n] for n in names},
              accompaniments=Accompaniments(rng), shard=0, params=MashupParams(),
              features=FeatureParams(batch_size=5))
    with caplog.at_level(logging.INFO, logger="pipeline.mashup.mix"):
        index = mix_shard(out=tmp_path / "windowed", windowed=True, **kw)
    # the log says how each performance was decoded: the PNS file and stereo AAC whole
    (counts,) = [r.args[1] for r in caplog.records if "vocal decoding" in r.getMessage()]
    assert counts["windowed"] == 4 and sum(counts.values()) == 6, counts
    assert sum(n for method, n in counts.items() if method.startswith("full")) == 2, counts
    mix_shard(out=tmp_path / "full", windowed=False, **kw)
    assert len(index) == 3 * len(names)  # the window past the end is skipped, in both
    written = sorted(p.name for p in (tmp_path / "full").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "windowed").iterdir()) and written
    for name in written:
        assert (tmp_path / "windowed" / name).read_bytes() == \
            (tmp_path / "full" / name).read_bytes(), name


def test_integer_samples_scale_as_a_float64_division_would(rng):
    """to_float32 (one cast, then * 2**-31) equals (x / 2**31) in float64, rounded once."""
    x32 = np.concatenate([rng.integers(-2**31, 2**31, 100_000), [-2**31, 2**31 - 1, 0, 1, -1]])
    x16 = rng.integers(-2**15, 2**15, 1000).astype(np.int16)
    for x, scale in ((x32.astype(np.int32), 2.0**31), (x16, 2.0**15)):
        expect = (x / scale).astype(np.float32)
        np.testing.assert_array_equal(audio.to_float32(x).view(np.uint32), expect.view(np.uint32))


def test_frames_join_into_the_per_frame_conversion(files):
    """frames_to_array equals converting frame by frame and concatenating, for any format."""
    for name in ("m441", "s48"):
        with av.open(str(files[name])) as c:
            frames = list(audio._frames(c, c.streams.audio[0]))
        per_frame = np.concatenate([audio.to_float32(f.to_ndarray()) for f in frames], axis=1)
        np.testing.assert_array_equal(audio.frames_to_array(frames), per_frame)
        resampler = av.AudioResampler(format="s16", layout=frames[0].layout.name)  # packed
        packed = [g for f in frames[:50] for g in resampler.resample(f)]
        channels = len(packed[0].layout.channels)  # packed frames are (1, samples * channels)
        expect = np.concatenate([audio.to_float32(g.to_ndarray().reshape(-1, channels).T)
                                 for g in packed], axis=1)
        np.testing.assert_array_equal(audio.frames_to_array(packed), expect)
    assert audio.frames_to_array([]) is None


def test_mono_of_one_channel_is_that_channel_bit_for_bit(rng):
    y = rng.standard_normal((1, 1000)).astype(np.float32)
    y[0, :4] = [-0.0, np.float32(1e-45), np.float32(-3e38), np.nan]
    got = audio.to_mono(y)
    np.testing.assert_array_equal(got.view(np.uint32),
                                  y.mean(axis=0, dtype=np.float32).view(np.uint32))
    assert got.base is None or got.base is not y  # a new array, not a view into y


@pytest.mark.parametrize("sr_in", [44100, 48000])
def test_a_cleared_soxr_stream_resamples_like_audio_resample(sr_in, rng):
    import soxr

    stream = soxr.ResampleStream(sr_in, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
    for n in (1, 1660, 96000, 96001, 300_000):  # 96,000: python-soxr's feeding block
        x = (0.1 * rng.standard_normal(n)).astype(np.float32)
        stream.clear()
        got = stream.resample_chunk(x, last=True)
        np.testing.assert_array_equal(got.view(np.uint32), audio.resample(x, sr_in).view(np.uint32))
