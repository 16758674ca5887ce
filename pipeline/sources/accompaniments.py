"""Accompaniment corpus adapters.  The accompaniment is drums + bass + other.

``musdb``: musdb18 as Native Instruments stems, ``<root>/<split>/<track>.stem.mp4``, one MP4
with five AAC streams: 0 mixture, 1 drums, 2 bass, 3 other, 4 vocals.
``musdb-hq``: musdb18-HQ, ``<root>/<split>/<track>/{mixture,drums,bass,other,vocals}.wav``.
``folder``: any audio files under ``root`` (each file is one accompaniment).
``demo``: the demo corpus's ``<root>/musdb``, which mixes both musdb layouts.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from ..core.audio import AUDIO_EXTENSIONS, load_audio, load_files_sum, load_stems_sum
from ..core.errors import ConfigError

__all__ = ["ACCOMPANIMENT_STEMS", "AccompanimentSource", "STEM_NAMES",
           "accompaniment_candidates", "accompaniment_files", "load_accompaniment"]

STEM_NAMES = ("mixture", "drums", "bass", "other", "vocals")
ACCOMPANIMENT_STEMS = ("drums", "bass", "other")


@dataclasses.dataclass(frozen=True)
class AccompanimentSource:
    """The ``sources.accompaniments`` config section."""

    type: str = "demo"
    root: str = "results/demo"
    splits: tuple = ("train", "test")


def _stems_rows(root: Path, splits) -> list[dict]:
    rows = []
    for split in splits:
        for p in sorted((root / split).glob("*.stem.mp4")):
            track = p.name[: -len(".stem.mp4")]
            rows.append({"id": f"{split}/{track}", "path": str(p.absolute()), "format": "stems",
                         "split": split})
    return rows


def _hq_rows(root: Path, splits) -> tuple[list[dict], list[dict]]:
    rows, skipped = [], []
    for split in splits:
        for d in sorted(p for p in (root / split).glob("*") if p.is_dir()):
            missing = [s for s in ACCOMPANIMENT_STEMS if not (d / f"{s}.wav").exists()]
            if missing:
                skipped.append({"path": str(d.absolute()), "id": f"{split}/{d.name}",
                                "reason": "missing stem", "detail": ",".join(missing)})
                continue
            rows.append({"id": f"{split}/{d.name}", "path": str(d.absolute()), "format": "hq",
                         "split": split})
    return rows, skipped


def accompaniment_candidates(src: AccompanimentSource) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Candidate rows ``id, path, format, split`` and skipped rows for ``src``."""
    root = Path(src.root)
    if not src.root or not root.exists():
        raise ConfigError(f"sources.accompaniments.root: path not found: {src.root!r}")
    rows, skipped = [], []
    if src.type == "demo":
        root = root / "musdb"
    if src.type in ("musdb", "demo"):
        rows += _stems_rows(root, src.splits)
    if src.type in ("musdb-hq", "demo"):
        hq, skipped = _hq_rows(root, src.splits)
        rows += hq
    if src.type == "folder":
        for p in sorted(root.rglob("*")):
            if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS:
                rows.append({"id": str(p.relative_to(root).with_suffix("")),
                             "path": str(p.absolute()), "format": "file", "split": ""})
    if src.type not in ("musdb", "musdb-hq", "folder", "demo"):
        raise ConfigError(f"sources.accompaniments.type: unknown type {src.type!r} "
                          "(demo, musdb, musdb-hq, folder)")
    return pd.DataFrame(rows), pd.DataFrame(skipped)


def accompaniment_files(row) -> list[Path]:
    """The files whose bytes define one accompaniment (for probing and hashing)."""
    path = Path(row["path"])
    if row["format"] == "hq":
        return [path / f"{s}.wav" for s in ACCOMPANIMENT_STEMS]
    return [path]


def load_accompaniment(row) -> "np.ndarray":  # noqa: F821
    """Decode one manifest row to the mono accompaniment (drums+bass+other) at 22,050 Hz."""
    fmt = row["format"]
    if fmt == "stems":
        return load_stems_sum(row["path"], streams=(1, 2, 3))
    if fmt == "hq":
        return load_files_sum(accompaniment_files(row))
    return load_audio(row["path"])
