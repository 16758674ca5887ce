"""The accompaniment audio cache: decoded accompaniments of one shard, memory-mappable.

Format (readable with NumPy and pyarrow alone):

- ``{k}.audio.npy``: every analysed track of shard ``k`` decoded (mono, 22,050 Hz, float32)
  and concatenated, shape ``(total_samples,)``;
- ``{k}.tracks.parquet``: one row per track with at least ``track_id``, ``audio_offset`` and
  ``audio_length`` (samples); track ``i`` is ``audio[audio_offset : audio_offset + audio_length]``.

The analysis stage writes it (``AudioCacheBuilder``, ``write_audio``), the mix stage reads it
(``CachedAccompaniments``), and ``rebuild_accompaniment_cache`` makes one from a recipe and a
copy of the corpus.  This module is the one owner of those names and that layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.atomic import write_npy, write_parquet
from ..core.errors import PipelineError
from ..core.segment import SEGMENT_SAMPLES

__all__ = ["AUDIO_SUFFIX", "TRACKS_SUFFIX", "AudioCacheBuilder", "CachedAccompaniments",
           "write_audio", "rebuild_accompaniment_cache"]

AUDIO_SUFFIX = ".audio.npy"
TRACKS_SUFFIX = ".tracks.parquet"
TRACK_CACHE_COLUMNS = ["track_id", "audio_offset", "audio_length"]


def _prefix(path) -> str:
    """``dir/3`` of ``dir/3.audio.npy`` or ``dir/3.tracks.parquet``."""
    p = Path(path)
    for suffix in (AUDIO_SUFFIX, TRACKS_SUFFIX):
        if p.name.endswith(suffix):
            return str(p.with_name(p.name[: -len(suffix)]))
    raise PipelineError(f"{p}: not an accompaniment cache file (*{AUDIO_SUFFIX}, "
                        f"*{TRACKS_SUFFIX})")


class AudioCacheBuilder:
    """Collect decoded tracks in order; ``add`` returns the track's ``(offset, length)``."""

    def __init__(self):
        self._parts: list[np.ndarray] = []
        self._offset = 0

    def add(self, y: np.ndarray) -> tuple[int, int]:
        y = np.asarray(y, dtype=np.float32)
        at = self._offset
        self._parts.append(y)
        self._offset += len(y)
        return at, len(y)

    def audio(self) -> np.ndarray:
        """The concatenated audio, float32, shape ``(total_samples,)``."""
        return np.concatenate(self._parts) if self._parts else np.zeros(0, dtype=np.float32)


def write_audio(path, audio: np.ndarray) -> None:
    """Write a shard's ``{k}.audio.npy`` (atomically)."""
    write_npy(path, np.asarray(audio, dtype=np.float32))


class CachedAccompaniments:
    """Accompaniment segments from the given cache files (audio memory-mapped on first use).

    Parameters
    ----------
    tracks : list of path  ``{k}.tracks.parquet`` files, and only these are read
    audio : list of path  the ``{k}.audio.npy`` file of each, matched by the prefix ``{k}``
    """

    def __init__(self, *, tracks, audio):
        audio_by_prefix = {_prefix(p): Path(p) for p in audio}
        self.files = [str(p) for p in tracks]
        self._audio_paths: dict[str, Path] = {}
        self._audio: dict[str, np.ndarray] = {}
        self._tracks: dict[str, tuple[str, int, int]] = {}
        for p in tracks:
            key = _prefix(p)
            if key not in audio_by_prefix:
                raise PipelineError(f"{p}: no {Path(key).name}{AUDIO_SUFFIX} given beside it")
            self._audio_paths[key] = audio_by_prefix[key]
            t = pd.read_parquet(p, columns=TRACK_CACHE_COLUMNS)
            for r in t.itertuples(index=False):
                self._tracks[r.track_id] = (key, int(r.audio_offset), int(r.audio_length))

    def segment(self, track_id: str, start: int, length: int = SEGMENT_SAMPLES) -> np.ndarray:
        """Samples ``start : start + length`` of ``track_id``, float32, shape ``(length,)``."""
        if track_id not in self._tracks:
            raise PipelineError(f"accompaniment {track_id!r} not in any of {self.files}")
        key, offset, n = self._tracks[track_id]
        if start < 0 or start + length > n:
            raise PipelineError(f"{track_id}: segment {start}+{length} outside {n} samples")
        if key not in self._audio:
            self._audio[key] = np.load(self._audio_paths[key], mmap_mode="r")
        return np.asarray(self._audio[key][offset + start:offset + start + length], np.float32)


def rebuild_accompaniment_cache(recipe: pd.DataFrame, root, cache_dir) -> tuple[Path, Path]:
    """Decode every accompaniment a recipe names (checking its sha256) into a one-shard cache.

    ``recipe`` has columns ``acc_track``, ``acc_path`` (relative to ``root``), ``acc_format``
    and ``acc_sha256``.  Returns the ``(tracks, audio)`` paths ``cache_dir/0.tracks.parquet``
    and ``cache_dir/0.audio.npy``, readable by ``CachedAccompaniments``.
    """
    from ..core.hashing import content_hash
    from .accompaniments import accompaniment_files, load_accompaniment

    tracks = recipe.drop_duplicates("acc_track").sort_values("acc_track")
    builder, rows = AudioCacheBuilder(), []
    for r in tracks.itertuples(index=False):
        row = {"path": str(Path(root) / r.acc_path), "format": r.acc_format}
        files = accompaniment_files(row)
        for f in files:
            if not f.exists():
                raise PipelineError(f"{f}: accompaniment source not found (recipe row "
                                    f"{r.acc_track!r})")
        if content_hash(files) != r.acc_sha256:
            raise PipelineError(f"{row['path']}: sha256 differs from the recipe; this is not "
                                f"the file the dataset was made from ({r.acc_track!r})")
        offset, length = builder.add(load_accompaniment(row))
        rows.append({"track_id": r.acc_track, "audio_offset": offset, "audio_length": length})
    cache_dir = Path(cache_dir)
    tracks_path, audio_path = cache_dir / f"0{TRACKS_SUFFIX}", cache_dir / f"0{AUDIO_SUFFIX}"
    write_audio(audio_path, builder.audio())
    write_parquet(tracks_path, pd.DataFrame(rows, columns=TRACK_CACHE_COLUMNS))
    return tracks_path, audio_path
