"""The ingest stage: both corpora -> manifests and one skipped table."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pandas as pd

from ..core.atomic import write_parquet
from ..core.errors import PipelineError
from ..core.tables import ACCOMPANIMENT_MANIFEST, VOCAL_MANIFEST
from .accompaniments import AccompanimentSource, accompaniment_candidates
from .manifest import assign_shards, probe_candidates, skipped_frame
from .vocals import VocalSource, vocal_candidates

__all__ = ["ShardParams", "build_manifests", "ingest"]

log = logging.getLogger(__name__)



@dataclasses.dataclass(frozen=True)
class ShardParams:
    """The ``shards`` config section: how many items one analysis/mix job handles."""

    vocal_performances: int = 400
    accompaniment_tracks: int = 8


def build_manifests(vocals: VocalSource, accompaniments: AccompanimentSource,
                    shards: ShardParams) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (vocal manifest, accompaniment manifest, skipped) for the configured corpora."""
    v_cand, v_skip = vocal_candidates(vocals)
    a_cand, a_skip = accompaniment_candidates(accompaniments)
    for name, cand in (("vocals", v_cand), ("accompaniments", a_cand)):
        if cand.empty:
            root = vocals.root if name == "vocals" else accompaniments.root
            raise PipelineError(f"sources.{name}: no input files found under {root}")
        dup = cand["id"][cand["id"].duplicated()].unique()
        if len(dup):
            raise PipelineError(f"sources.{name}: duplicate id(s) {list(dup[:5])}")
    v_ok, v_bad = probe_candidates(v_cand, "vocals")
    a_ok, a_bad = probe_candidates(a_cand, "accompaniments")
    skipped = pd.concat([skipped_frame(v_skip, "vocals", "ingest"), v_bad,
                         skipped_frame(a_skip, "accompaniments", "ingest"), a_bad],
                        ignore_index=True)
    if v_ok.empty or a_ok.empty:
        raise PipelineError("no usable input: every file was skipped; see the skipped table: "
                            + "; ".join(f"{r.path}: {r.reason}" for r in skipped.head(5).itertuples()))
    v_man = assign_shards(v_ok, shards.vocal_performances)[list(VOCAL_MANIFEST)]
    a_man = assign_shards(a_ok, shards.accompaniment_tracks)[list(ACCOMPANIMENT_MANIFEST)]
    for corpus, n_ok in (("vocals", len(v_man)), ("accompaniments", len(a_man))):
        n_skip = int((skipped["corpus"] == corpus).sum())
        log.info("%s: %d usable, %d skipped", corpus, n_ok, n_skip)
    return v_man, a_man, skipped


def ingest(vocals: VocalSource, accompaniments: AccompanimentSource, shards: ShardParams,
           out_dir) -> dict:
    """Write ``vocals.parquet``, ``accompaniments.parquet`` and ``skipped.parquet``."""
    out_dir = Path(out_dir)
    v_man, a_man, skipped = build_manifests(vocals, accompaniments, shards)
    write_parquet(out_dir / "skipped.parquet", skipped)
    write_parquet(out_dir / "accompaniments.parquet", a_man)
    write_parquet(out_dir / "vocals.parquet", v_man)
    return {"vocals": len(v_man), "accompaniments": len(a_man), "skipped": len(skipped),
            "vocal_shards": int(v_man["shard"].max()) + 1,
            "accompaniment_shards": int(a_man["shard"].max()) + 1}
