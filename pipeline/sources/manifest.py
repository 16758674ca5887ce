"""Build manifests: probe every candidate file's header, hash it, assign shards.

Every input ends up in exactly one of the manifest or the skipped table, with a reason.
Only headers are read here (PyAV / libsndfile); a full decode, and so the check for silent
audio, happens once, in the analysis stage, which records its own skips.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..core.audio import probe_audio
from ..core.errors import AudioError
from ..core.hashing import content_hash
from ..core.segment import SEGMENT_SECONDS
from ..core.tables import SKIPPED
from .accompaniments import accompaniment_files

__all__ = ["STEM_STREAMS", "assign_shards", "probe_candidates", "skipped_frame"]

log = logging.getLogger(__name__)

STEM_STREAMS = 5  # mixture, drums, bass, other, vocals


def probe_candidates(candidates: pd.DataFrame, corpus: str,
                     min_duration_s: float = SEGMENT_SECONDS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Probe each candidate (header only), returning (usable rows, skipped rows).

    Skips, with a reason: a missing, empty or undecodable file, a stems file without all
    five streams, and audio shorter than one segment.
    """
    rows, skipped = [], []
    records = candidates.to_dict("records")
    for rec in tqdm(records, desc=f"ingest {corpus}", unit="file", disable=None):
        files = accompaniment_files(rec) if corpus == "accompaniments" else [Path(rec["path"])]
        try:
            infos = [probe_audio(p) for p in files]
            info = infos[0]
            if rec.get("format") == "stems" and info.n_streams < STEM_STREAMS:
                raise AudioError(rec["path"], "missing stream",
                                 f"{info.n_streams} of {STEM_STREAMS} streams")
            duration = min(i.duration_s for i in infos)
            if duration < min_duration_s:
                raise AudioError(rec["path"], "too short",
                                 f"{duration:.2f} s < one segment ({min_duration_s:.3f} s)")
        except AudioError as exc:
            skipped.append({"corpus": corpus, "path": rec["path"], "id": rec["id"],
                            "stage": "ingest", "reason": exc.reason, "detail": exc.detail})
            continue
        rows.append({**rec, "duration_s": float(duration), "sample_rate": int(info.sample_rate),
                     "channels": int(info.channels),
                     "size_bytes": int(sum(Path(p).stat().st_size for p in files)),
                     "sha256": content_hash(files)})
    return pd.DataFrame(rows), pd.DataFrame(skipped, columns=list(SKIPPED))


def assign_shards(manifest: pd.DataFrame, shard_size: int) -> pd.DataFrame:
    """Sort by id and cut into shards of ``shard_size`` rows (column ``shard``)."""
    manifest = manifest.sort_values("id", kind="stable").reset_index(drop=True)
    manifest["shard"] = np.arange(len(manifest)) // int(shard_size)
    return manifest


def skipped_frame(rows: pd.DataFrame, corpus: str, stage: str) -> pd.DataFrame:
    """Normalise an adapter's skipped rows to list(SKIPPED)."""
    if rows is None or rows.empty:
        return pd.DataFrame(columns=list(SKIPPED))
    out = rows.copy()
    out["corpus"], out["stage"] = corpus, stage
    for c in list(SKIPPED):
        if c not in out:
            out[c] = ""
    return out[list(SKIPPED)].astype(str)
