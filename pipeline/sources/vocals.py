"""Vocal (a-cappella) corpus adapters.

``damp``: the Smule "Sing!" archive (DAMP). One audio file per performance (AAC ``.m4a``)
anywhere under ``root``, found by file stem == performance id, and a metadata table (CSV)
with one row per performance that maps it to a user (the singer) and a song.  Column names
differ between copies, so they are configurable (``columns``).  An optional tempo table
(CSV: performance id, tempo in BPM, any other columns) gives each performance's tempo, as the
paper's authors looked tempi up by song instead of estimating them from a-cappella audio.
Their published table (``damp_tempo.csv``: ``perf_key,song_name,tempo``, ids such as
``360_35435057`` = the audio file's stem) is read as it is with
``tempo_columns: {bpm: tempo}``.  A malformed table (missing column, a tempo that is not a
positive number of BPM, an id listed twice with different tempi) is an error naming the file;
an empty tempo cell, or a performance absent from the table, leaves that performance's tempo
to be estimated from its audio (``pipeline.analysis.tempo``, gated by its confidence).

``demo``: the embedded demo corpus (``python -m pipeline demo-corpus``), which is written in
the DAMP layout under ``<root>/damp`` with a tempo table.

``folder``: ``<root>/<singer>/<performance>.<ext>``, song unknown (= performance id), or a
CSV listing ``path,singer[,song]`` (paths relative to the CSV).

``manifest``: an existing manifest table (Parquet or CSV with ``id,path,singer[,song]``).

Each adapter returns ``(candidates, skipped)``: candidate rows ``id, path, singer, song,
tempo_bpm`` and rows of files that cannot be used (``path, id, reason``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import ConfigError, PipelineError

__all__ = ["VocalSource", "damp_candidates", "folder_candidates", "manifest_candidates",
           "read_tempo_table", "vocal_candidates"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class VocalSource:
    """The ``sources.vocals`` config section."""

    type: str = "demo"
    root: str = "results/demo"
    metadata: str = ""  # DAMP: metadata CSV (relative to root unless absolute)
    tempo_table: str = ""  # optional CSV: performance id, tempo (BPM)
    columns: dict = dataclasses.field(default_factory=lambda: {
        "id": "perf_key", "singer": "user_id", "song": "song_id", "tempo": "tempo_bpm"})
    # the tempo table's own id / tempo (BPM) column names; "": columns.id / columns.tempo
    tempo_columns: dict = dataclasses.field(default_factory=lambda: {"id": "", "bpm": ""})
    extensions: tuple = (".m4a", ".wav", ".flac", ".mp3", ".mp4")


def _resolve(root: Path, name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() else root / p


def _index_audio(root: Path, extensions) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    exts = {e.lower() for e in extensions}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in exts:
            found.setdefault(p.stem, []).append(p)
    return found


def _read_table(path: Path, what: str) -> pd.DataFrame:
    if not path.exists():
        raise ConfigError(f"sources.vocals.{what}: file not found: {path}")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _require_columns(df: pd.DataFrame, cols, path: Path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise PipelineError(f"{path}: missing column(s) {missing}; has {list(df.columns)} "
                            "(set sources.vocals.columns to this copy's names)")


def read_tempo_table(path: Path, id_column: str, bpm_column: str) -> pd.Series:
    """A tempo table as ``performance id -> tempo (BPM)``; NaN where the cell is empty.

    Parameters
    ----------
    path : Path
        CSV (or Parquet) with one row per performance; other columns are ignored.
    id_column, bpm_column : str
        Names of the performance-id and tempo (BPM) columns (surrounding spaces ignored).

    Returns
    -------
    pd.Series [float64, BPM]
        Indexed by performance id (str, stripped), one entry per id.

    Raises
    ------
    PipelineError
        Naming ``path``: a missing column, a tempo that is not a finite number > 0 BPM, an
        empty id, or an id listed more than once with different tempi (identical repeats
        are accepted).
    """
    table = _read_table(path, "tempo_table")
    table = table.rename(columns=lambda c: str(c).strip())
    missing = [c for c in (id_column, bpm_column) if c not in table.columns]
    if missing:
        raise PipelineError(f"{path}: tempo table missing column(s) {missing}; has "
                            f"{list(table.columns)} (set sources.vocals.tempo_columns.id / .bpm "
                            "to this table's names)")
    ids = table[id_column].astype("string").str.strip().fillna("")
    text = table[bpm_column].astype("string").str.strip().fillna("")
    bpm = pd.to_numeric(text.where(text != ""), errors="coerce").astype(np.float64)
    line = pd.Series(np.arange(len(table)) + 2, index=table.index)  # header is line 1
    bad = (text != "") & ~(np.isfinite(bpm) & (bpm > 0))
    if bad.any():
        where = ", ".join(f"line {n} ({i!r}: {t!r})"
                          for n, i, t in zip(line[bad][:5], ids[bad][:5], text[bad][:5]))
        raise PipelineError(f"{path}: column {bpm_column!r} must hold tempi in BPM (numbers > 0; "
                            f"an empty cell for none): {bad.sum()} bad value(s), {where}")
    if (ids == "").any():
        raise PipelineError(f"{path}: empty performance id in column {id_column!r} at line(s) "
                            f"{list(line[ids == ''][:5])}")
    out = pd.DataFrame({"id": ids.astype(str), "bpm": bpm}).drop_duplicates()
    clash = out["id"][out["id"].duplicated()].unique()
    if len(clash):
        first = out[out["id"].isin(clash[:5])].groupby("id")["bpm"].apply(list).to_dict()
        raise PipelineError(f"{path}: {len(clash)} performance id(s) listed more than once with "
                            f"different tempi, e.g. {first}")
    return out.set_index("id")["bpm"]


def damp_candidates(src: VocalSource) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Candidates from a DAMP-layout corpus: metadata table + audio files by stem."""
    root = Path(src.root)
    cols = {"id": "perf_key", "singer": "user_id", "song": "song_id", "tempo": "tempo_bpm",
            **src.columns}
    meta_path = _resolve(root, src.metadata or "perfs.csv")
    meta = _read_table(meta_path, "metadata")
    _require_columns(meta, [cols["id"], cols["singer"], cols["song"]], meta_path)
    meta = meta.rename(columns={cols["id"]: "id", cols["singer"]: "singer", cols["song"]: "song"})
    meta["id"] = meta["id"].astype(str)
    dup = meta["id"][meta["id"].duplicated()].unique()
    if len(dup):
        raise PipelineError(f"{meta_path}: duplicate performance id(s) {list(dup[:5])}")
    empty = (meta["singer"].astype(str).str.strip() == "") | meta["singer"].isna()
    if empty.any():
        raise PipelineError(f"{meta_path}: empty singer for performance(s) "
                            f"{list(meta.loc[empty, 'id'][:5])}")

    tempo = pd.Series(np.nan, index=meta["id"])
    if src.tempo_table:
        tpath = _resolve(root, src.tempo_table)
        tcols = {"id": "", "bpm": "", **src.tempo_columns}
        table = read_tempo_table(tpath, tcols["id"] or cols["id"], tcols["bpm"] or cols["tempo"])
        tempo = meta["id"].map(table)
        log.info("%s: tempo for %d of %d performances (%d rows for no performance); the others "
                 "are estimated from the audio", tpath, tempo.notna().sum(), len(meta),
                 (~table.index.isin(meta["id"])).sum())

    files = _index_audio(root, src.extensions)
    rows, skipped = [], []
    for i, rec in enumerate(meta.itertuples(index=False)):
        paths = files.pop(rec.id, [])
        if not paths:
            skipped.append({"path": "", "id": rec.id, "reason": "missing file",
                            "detail": "metadata row without an audio file"})
            continue
        if len(paths) > 1:
            raise PipelineError(f"performance {rec.id}: several audio files {paths[:3]}")
        rows.append({"id": rec.id, "path": str(paths[0].absolute()), "singer": str(rec.singer),
                     "song": str(rec.song), "tempo_bpm": float(tempo.iloc[i])})
    for stem, paths in sorted(files.items()):
        for p in paths:
            skipped.append({"path": str(p.absolute()), "id": stem, "reason": "missing metadata",
                            "detail": f"no row in {meta_path.name}"})
    return pd.DataFrame(rows), pd.DataFrame(skipped)


def folder_candidates(src: VocalSource) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Candidates from ``<root>/<singer>/<performance>.<ext>`` or a CSV listing."""
    root = Path(src.root)
    if src.metadata:
        meta_path = _resolve(root, src.metadata)
        meta = _read_table(meta_path, "metadata")
        _require_columns(meta, ["path", "singer"], meta_path)
        base = meta_path.parent
        rows = []
        for rec in meta.to_dict("records"):
            p = _resolve(base, rec["path"])
            rows.append({"id": rec.get("id") or p.stem, "path": str(p.absolute()),
                         "singer": str(rec["singer"]), "song": str(rec.get("song") or p.stem),
                         "tempo_bpm": float(rec.get("tempo_bpm") or np.nan)})
        return pd.DataFrame(rows), pd.DataFrame()
    exts = {e.lower() for e in src.extensions}
    rows, skipped = [], []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in exts:
            continue
        rel = p.relative_to(root)
        if len(rel.parts) != 2:
            skipped.append({"path": str(p.absolute()), "id": p.stem, "reason": "missing metadata",
                            "detail": "not in a <singer>/ folder"})
            continue
        rows.append({"id": f"{rel.parts[0]}/{p.stem}", "path": str(p.absolute()),
                     "singer": rel.parts[0], "song": p.stem, "tempo_bpm": np.nan})
    return pd.DataFrame(rows), pd.DataFrame(skipped)


def manifest_candidates(src: VocalSource) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Candidates from an existing manifest table (id, path, singer[, song, tempo_bpm])."""
    path = Path(src.root) if not src.metadata else _resolve(Path(src.root), src.metadata)
    df = _read_table(path, "root")
    _require_columns(df, ["id", "path", "singer"], path)
    df = df.copy()
    df["song"] = df["song"] if "song" in df else df["id"]
    df["tempo_bpm"] = pd.to_numeric(df["tempo_bpm"], errors="coerce") if "tempo_bpm" in df \
        else np.nan
    # absolute, not resolved: a symlinked file stays under its corpus root (recipe paths)
    df["path"] = [os.path.abspath(_resolve(path.parent, p)) for p in df["path"]]
    return df[["id", "path", "singer", "song", "tempo_bpm"]], pd.DataFrame()


def vocal_candidates(src: VocalSource) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dispatch on ``src.type``; the root must exist."""
    if not src.root or not Path(src.root).exists():
        raise ConfigError(f"sources.vocals.root: path not found: {src.root!r}")
    if src.type == "demo":
        demo = dataclasses.replace(src, root=str(Path(src.root) / "damp"),
                                   metadata=src.metadata or "perfs.csv",
                                   tempo_table=src.tempo_table or "tempo.csv")
        return damp_candidates(demo)
    if src.type == "damp":
        return damp_candidates(src)
    if src.type == "folder":
        return folder_candidates(src)
    if src.type == "manifest":
        return manifest_candidates(src)
    raise ConfigError(f"sources.vocals.type: unknown type {src.type!r} "
                      "(demo, damp, folder, manifest)")
