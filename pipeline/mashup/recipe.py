"""The recipe (``pairs.parquet``): the join's driver, and the source paths a recipe names.

``run_join`` reads every analysis table and writes the recipe, with each source file's path
relative to its corpus root and its sha256, plus ``unmatched.parquet``, ``coverage.parquet``
and ``usage.parquet``.  ``vocal_paths_from_recipe`` finds a recipe's vocal files under one's
own copy of the corpus and checks them against it (``regenerate``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.atomic import write_parquet, write_text
from ..core.errors import PipelineError
from ..sources.split import SplitParams
from .join import join_windows
from .mix import MashupParams
from .split_join import join_with_split

__all__ = ["attach_sources", "relative_to_root", "run_join", "vocal_paths_from_recipe"]


def _shard_of(path) -> int:
    """Shard number of an analysis file named ``{k}.<kind>.parquet|npy``."""
    return int(Path(path).name.split(".")[0])


def _concat(paths, *, shard_column: str | None = None) -> pd.DataFrame:
    frames = []
    for p in paths:
        df = pd.read_parquet(p)
        if shard_column:
            df[shard_column] = _shard_of(p)
        frames.append(df)
    if not frames:
        raise PipelineError("no input tables given")
    return pd.concat(frames, ignore_index=True)


def relative_to_root(paths: pd.Series, root, *, corpus: str) -> pd.Series:
    """``paths`` relative to the configured corpus ``root`` (POSIX separators).

    So a recipe names ``sing/<user>/<file>.m4a`` under ``--vocals-root /data/DAMP`` whatever
    subset of the corpus was used.  A path outside the root is an error naming it.
    """
    base = os.path.abspath(root)
    out = []
    for p in paths:
        rel = os.path.relpath(os.path.abspath(p), base)
        if rel == os.curdir or rel.split(os.sep)[0] == os.pardir:
            raise PipelineError(f"{p}: not under the {corpus} root {root}")
        out.append(Path(rel).as_posix())
    return pd.Series(out, index=paths.index, dtype=object)


def attach_sources(pairs: pd.DataFrame, vocals: pd.DataFrame, accompaniments: pd.DataFrame, *,
                   vocals_root, accompaniments_root) -> pd.DataFrame:
    """Add vocal_shard, vocal_path, vocal_sha256, acc_path, acc_format, acc_sha256.

    Paths are relative to the configured corpus roots (``sources.<corpus>.root``).
    """
    v = vocals[["id", "path", "sha256", "shard"]].copy()
    v["path"] = relative_to_root(v["path"], vocals_root, corpus="vocals")
    a = accompaniments[["id", "path", "format", "sha256"]].copy()
    a["path"] = relative_to_root(a["path"], accompaniments_root, corpus="accompaniments")
    out = pairs.merge(v.rename(columns={"id": "perf_id", "path": "vocal_path",
                                        "sha256": "vocal_sha256", "shard": "vocal_shard"}),
                      on="perf_id", how="left", validate="many_to_one")
    out = out.merge(a.rename(columns={"id": "acc_track", "path": "acc_path",
                                      "format": "acc_format", "sha256": "acc_sha256"}),
                    on="acc_track", how="left", validate="many_to_one")
    missing = out["vocal_path"].isna() | out["acc_path"].isna()
    if missing.any():
        raise PipelineError(f"{int(missing.sum())} pairs name a performance or track missing "
                            "from the manifests")
    out["vocal_shard"] = out["vocal_shard"].astype(np.int64)
    return out


def run_join(*, windows, segments, tracks, vocals, accompaniments, out, seed: int,
             params: MashupParams, vocals_root, accompaniments_root, split=None,
             split_params: SplitParams | None = None) -> pd.DataFrame:
    """Join all analysis tables and write the recipe and its reports into ``out``.

    ``vocals_root`` and ``accompaniments_root`` are the configured corpus roots the recipe's
    source paths are relative to.  With ``split_params`` the split is drawn among the
    performances the join pairs (:mod:`pipeline.mashup.split_join`) and written as
    ``split.parquet`` and ``split.json`` (eligibility counts); with ``split`` (a table path)
    that fixed split is used.
    """
    kw = dict(seed=seed, policy=params.policy, mixes_per_window=params.mixes_per_window,
              max_segment_uses=params.max_segment_uses,
              key_change_margin_s=params.key_change_margin_s, min_key_margin=params.min_key_margin)
    tables = (_concat(windows), _concat(segments), _concat(tracks, shard_column="acc_shard"))
    manifest = pd.read_parquet(vocals)
    out = Path(out)
    if split_params is not None:
        res, split_table, summary = join_with_split(*tables, manifest, split_params, **kw)
        write_parquet(out / "split.parquet", split_table)
        write_text(out / "split.json", json.dumps(summary, indent=1, sort_keys=True) + "\n")
    elif split is not None:
        res = join_windows(*tables, pd.read_parquet(split), **kw)
    else:
        raise PipelineError("run_join needs a split table or split parameters")
    pairs = attach_sources(res.pairs, manifest, pd.read_parquet(accompaniments),
                           vocals_root=vocals_root, accompaniments_root=accompaniments_root)
    write_parquet(out / "unmatched.parquet", res.unmatched)
    write_parquet(out / "coverage.parquet", res.coverage)
    write_parquet(out / "usage.parquet", res.usage)
    write_parquet(out / "pairs.parquet", pairs)
    return pairs


def vocal_paths_from_recipe(recipe: pd.DataFrame, root) -> dict:
    """perf_id -> path under ``root``, after checking each file's sha256 against the recipe."""
    from ..core.hashing import sha256_file

    out = {}
    for r in recipe.drop_duplicates("perf_id").itertuples(index=False):
        path = Path(root) / r.vocal_path
        if not path.exists():
            raise PipelineError(f"{path}: vocal source not found (recipe row {r.perf_id!r})")
        if sha256_file(path) != r.vocal_sha256:
            raise PipelineError(f"{path}: sha256 differs from the recipe; this is not the file "
                                f"the dataset was made from ({r.perf_id!r})")
        out[r.perf_id] = path
    return out
