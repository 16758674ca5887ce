"""The dataset-version format: NPY shards, Parquet index, dataset card, verification.

Layout of ``datasets/<version>/`` (readable with numpy and pyarrow alone)::

    mono-{k:06d}.npy        float16 (n_k, 129, 128) log-mel of a-cappella segments (DAMP-Vocal)
    mix-{k:06d}.npy         float16 (n_k, 129, 128) log-mel of their mixes (DAMP-Mash); row i of
                            mix-k is row i of mono-k mixed with an accompaniment
    index-{k:06d}.parquet   one row per segment of shard k (``INDEX_COLUMNS``)
    index.parquet           all shards' rows, ordered by (shard, row)
    card.json               version, params, counts, coverage, normalisation, mel settings,
                            library versions, sha256 and rows of every shard file
    pairs.parquet           the recipe (join output with source paths and sha256)
    unmatched.parquet, coverage.parquet, usage.parquet

Data shard k holds the matched windows of vocal analysis shard k.  Segments are in
``segment_id`` order within a shard; ``segment_id`` is ``{perf_id}-w{window_index:03d}-m{mix_index}``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.atomic import write_json, write_npy, write_parquet
from ..core.config import canonical_hash
from ..core.errors import PipelineError
from ..core.segment import N_MELS, SEGMENT_FRAMES
from ..core.vocabulary import DOMAINS
from ..sources.manifest import sha256_file

INDEX_COLUMNS = {"segment_id": "str", "subset": "str", "singer": "str", "perf_id": "str",
                 "song": "str", "window_index": "int64", "mix_index": "int64",
                 "vocal_start": "int64", "acc_track": "str", "acc_start": "int64",
                 "tempo_bpm": "float64", "acc_tempo_bpm": "float64", "key": "int64",
                 "acc_key": "int64", "vocal_gain": "float64", "acc_gain": "float64",
                 "snr_db": "float64", "shard": "int64", "row": "int64"}
SHARD_PATTERN = re.compile(r"^(mono|mix|index)-(\d{6})\.(npy|parquet)$")


def read_index(dataset_dir, columns=INDEX_COLUMNS) -> pd.DataFrame:
    """``<dataset_dir>/index.parquet``, checked for ``columns``."""
    path = Path(dataset_dir) / "index.parquet"
    if not path.exists():
        raise PipelineError(f"{path}: dataset index not found")
    index = pd.read_parquet(path)
    missing = sorted(set(columns) - set(index.columns))
    if missing:
        raise PipelineError(f"{path}: missing column(s) {missing}")
    return index


def dataset_version(params: dict) -> str:
    """Short hash (10 hex) of the canonical JSON of every data-changing parameter."""
    return canonical_hash(params)


def shard_name(domain: str, k: int) -> str:
    """File name of shard ``k``: ``mono-000003.npy``, ``mix-..npy`` or ``index-..parquet``."""
    return f"{domain}-{int(k):06d}." + ("parquet" if domain == "index" else "npy")


def index_frame(rows) -> pd.DataFrame:
    """Index rows (dicts or frame) with exactly ``INDEX_COLUMNS``, in order and typed.

    ``shard`` and ``row`` may be absent (set by ``write_shard``); they read -1 until then.
    """
    df = pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
    df[["shard", "row"]] = df[["shard", "row"]].fillna(-1)
    return df.astype(INDEX_COLUMNS)


def write_shard(out_dir, k: int, *, mono: np.ndarray, mix: np.ndarray,
                index: pd.DataFrame) -> None:
    """Write shard ``k`` (mono, mix, index) atomically; the index is written last.

    Parameters
    ----------
    mono, mix : np.ndarray [shape=(n, 129, 128)]
        Log-mel features, stored as float16.
    index : pd.DataFrame
        n rows; ``shard`` and ``row`` are set here.
    """
    n = len(index)
    for name, a in (("mono", mono), ("mix", mix)):
        if a.shape != (n, SEGMENT_FRAMES, N_MELS):
            raise PipelineError(f"shard {k}: {name} has shape {a.shape}, expected "
                                f"({n}, {SEGMENT_FRAMES}, {N_MELS})")
    index = index.copy()
    index["shard"], index["row"] = int(k), np.arange(n)
    out = Path(out_dir)
    write_npy(out / shard_name("mono", k), np.ascontiguousarray(mono, dtype=np.float16))
    write_npy(out / shard_name("mix", k), np.ascontiguousarray(mix, dtype=np.float16))
    write_parquet(out / shard_name("index", k), index_frame(index))


def shard_files(dataset_dir) -> list[Path]:
    """Shard files (mono/mix/index) of a dataset directory, sorted by name."""
    return sorted(p for p in Path(dataset_dir).iterdir() if SHARD_PATTERN.match(p.name))


def gather_index(dataset_dir) -> pd.DataFrame:
    """All ``index-*.parquet`` rows ordered by (shard, row)."""
    files = [p for p in shard_files(dataset_dir) if p.name.startswith("index-")]
    if not files:
        raise PipelineError(f"{dataset_dir}: no index-*.parquet shard files")
    frames = [pd.read_parquet(p) for p in files]
    index = pd.concat(frames, ignore_index=True) if frames else index_frame([])
    return index_frame(index.sort_values(["shard", "row"], kind="stable").reset_index(drop=True))


def normalisation(dataset_dir, index: pd.DataFrame, *, subset: str = "train",
                  chunk: int = 256) -> dict:
    """Global scalar mean and std per domain over every value of ``subset`` rows (float64).

    Falls back to all rows when there is no ``subset`` row (e.g. an SNR-sweep directory
    holding test singers only); the returned dict names the rows used.
    """
    rows = index[index["subset"] == subset]
    used = subset
    if rows.empty:
        rows, used = index, "all"
    stats = {"rows": used}
    for domain in DOMAINS:
        total = total_sq = count = 0.0
        for k, g in rows.groupby("shard", sort=True):
            data = np.load(Path(dataset_dir) / shard_name(domain, k), mmap_mode="r")
            r = np.sort(g["row"].to_numpy())
            for i in range(0, len(r), chunk):
                block = np.asarray(data[r[i:i + chunk]], dtype=np.float64)
                total += block.sum()
                total_sq += np.square(block).sum()
                count += block.size
        mean = total / count if count else 0.0
        var = max(total_sq / count - mean * mean, 0.0) if count else 0.0
        stats[domain] = {"mean": mean, "std": float(np.sqrt(var))}
    return stats


def counts(index: pd.DataFrame) -> dict:
    """Segments, singers and performances, overall and per subset."""
    def one(df):
        return {"segments": int(len(df)), "windows": int(len(df.drop_duplicates(["perf_id",
                                                                                "window_index"]))),
                "singers": int(df["singer"].nunique()), "performances": int(df["perf_id"].nunique())}
    out = {"all": one(index)}
    out.update({s: one(g) for s, g in index.groupby("subset", sort=True)})
    return out


def library_versions() -> dict:
    import importlib

    out = {}
    for name in ("numpy", "scipy", "librosa", "soxr", "av", "soundfile", "pandas", "pyarrow"):
        try:
            out[name] = importlib.import_module(name).__version__
        except (ImportError, AttributeError):
            out[name] = None
    return out


def build_card(dataset_dir, *, params: dict, mel: dict, effective_params: dict | None = None) -> dict:
    """Aggregate the shard indices into ``index.parquet`` and write ``card.json``; return it.

    ``params`` are the data-changing config sections as given (their hash is the version);
    ``effective_params`` the stage dataclasses with every default filled in.
    """
    out = Path(dataset_dir)
    index = gather_index(out)
    write_parquet(out / "index.parquet", index)
    coverage = (pd.read_parquet(out / "coverage.parquet").to_dict("records")
                if (out / "coverage.parquet").exists() else None)
    per_shard = index.groupby("shard").size().to_dict()
    shards = []
    for p in shard_files(out):
        k = int(SHARD_PATTERN.match(p.name).group(2))
        shards.append({"file": p.name, "sha256": sha256_file(p), "rows": int(per_shard.get(k, 0))})
    card = {"version": dataset_version(params), "params": params,
            "effective_params": effective_params or {}, "counts": counts(index),
            "coverage": coverage, "normalisation": normalisation(out, index), "mel": mel,
            "libraries": library_versions(), "shards": shards,
            "format": {"dtype": "float16", "shape": ["rows", SEGMENT_FRAMES, N_MELS],
                       "index_columns": list(INDEX_COLUMNS)}}
    write_json(out / "card.json", card)
    return card


def verify(dataset_dir) -> list[str]:
    """Problems found in a dataset directory (empty list when it is intact).

    Recomputes every shard file's sha256 and checks NPY shapes and dtypes, per-shard index
    rows and ``index.parquet`` against ``card.json``.
    """
    out = Path(dataset_dir)
    card_path = out / "card.json"
    if not card_path.exists():
        return [f"{card_path}: missing"]
    card = json.loads(card_path.read_text())
    problems = []
    for entry in card.get("shards", []):
        path = out / entry["file"]
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        if sha256_file(path) != entry["sha256"]:
            problems.append(f"{path}: sha256 differs from card.json")
        if path.suffix == ".npy":
            try:
                a = np.load(path, mmap_mode="r")
            except ValueError as exc:
                problems.append(f"{path}: unreadable ({exc})")
                continue
            if a.dtype != np.float16 or a.shape != (entry["rows"], SEGMENT_FRAMES, N_MELS):
                problems.append(f"{path}: {a.dtype} {a.shape}, card says float16 "
                                f"({entry['rows']}, {SEGMENT_FRAMES}, {N_MELS})")
        else:
            try:
                n = len(pd.read_parquet(path, columns=["row"]))
            except Exception as exc:  # noqa: BLE001 - any read failure is a finding
                problems.append(f"{path}: unreadable ({type(exc).__name__})")
                continue
            if n != entry["rows"]:
                problems.append(f"{path}: {n} rows, card says {entry['rows']}")
    listed = {e["file"] for e in card.get("shards", [])}
    problems += [f"{p}: not listed in card.json" for p in shard_files(out) if p.name not in listed]
    index_path = out / "index.parquet"
    if not index_path.exists():
        problems.append(f"{index_path}: missing")
    else:
        index = pd.read_parquet(index_path, columns=["shard", "row"])
        expected = card.get("counts", {}).get("all", {}).get("segments")
        if len(index) != expected:
            problems.append(f"{index_path}: {len(index)} rows, card says {expected}")
        if index.duplicated().any():
            problems.append(f"{index_path}: duplicate (shard, row)")
    return problems
