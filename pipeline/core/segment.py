"""The one segment definition every stage imports.

The paper's network input is 129 frames x 128 mel bands at 22,050 Hz with hop 512.  With
centred frames, ``n`` samples give ``1 + n // hop`` frames, so exactly 3 s (66,150 samples)
would give 130 frames; 65,536 samples give 129.  A "3-second segment" in this project is
therefore ``SEGMENT_SAMPLES`` = 65,536 samples (2.972 s) everywhere: analysed, mixed and
turned into mel frames.

>>> SEGMENT_SAMPLES, frames_in(SEGMENT_SAMPLES), round(SEGMENT_SECONDS, 3)
(65536, 129, 2.972)
"""

SAMPLE_RATE = 22050  # Hz
N_FFT = 1024  # samples (Hann window length)
HOP_LENGTH = 512  # samples (50% overlap)
N_MELS = 128  # bands
SEGMENT_FRAMES = 129  # frames per segment
SEGMENT_SAMPLES = HOP_LENGTH * (SEGMENT_FRAMES - 1)  # 65,536 samples
SEGMENT_SECONDS = SEGMENT_SAMPLES / SAMPLE_RATE  # ~2.972 s


def frames_in(n_samples: int, hop_length: int = HOP_LENGTH) -> int:
    """Number of centred STFT frames for ``n_samples`` samples.

    Parameters
    ----------
    n_samples : int
        Signal length, in samples.
    hop_length : int
        Samples between frames.

    Returns
    -------
    int
        ``1 + n_samples // hop_length``.
    """
    return 1 + n_samples // hop_length


def samples_to_seconds(n_samples, sr: int = SAMPLE_RATE):
    """Convert a sample count (or array) at ``sr`` Hz to seconds."""
    return n_samples / sr


def seconds_to_samples(seconds, sr: int = SAMPLE_RATE):
    """Convert seconds to the nearest whole sample index at ``sr`` Hz."""
    import numpy as np

    return np.round(np.asarray(seconds) * sr).astype(int)


