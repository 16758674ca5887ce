"""Small audio writers for tests: wav via soundfile, AAC .m4a / multi-stream .stem.mp4 via PyAV."""

from pathlib import Path

import av
import numpy as np
import soundfile as sf


def tone(seconds: float, sr: int = 44100, freq: float = 220.0, amp: float = 0.3,
         channels: int = 1) -> np.ndarray:
    """A sine of ``seconds`` s, shape (samples, channels)."""
    t = np.arange(int(seconds * sr)) / sr
    y = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(y[:, None], channels, axis=1)


def write_wav(path, y: np.ndarray, sr: int = 44100) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr)
    return path


def write_aac(path, streams, sr: int = 44100) -> Path:
    """Write each (samples, channels) array in ``streams`` as one AAC stream of an MP4/M4A."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        outs = []
        for y in streams:
            layout = "mono" if y.shape[1] == 1 else "stereo"
            s = container.add_stream("aac", rate=sr)
            s.layout = layout
            outs.append((s, y, layout))
        for s, y, layout in outs:
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(y.T), format="fltp",
                                               layout=layout)
            frame.sample_rate = sr
            for packet in s.encode(frame):
                container.mux(packet)
            for packet in s.encode(None):
                container.mux(packet)
    return path
