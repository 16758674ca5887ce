"""Embedding any audio with a trained model, and querying an index of embedded tracks.

A recording is cut into ``SEGMENT_SAMPLES`` windows: a-cappella ("mono") recordings as the
dataset cuts its performances (``pipeline.analysis.stage.beat_aligned_windows``: voiced windows on the
vocal's beat grid), mixes at evenly spaced windows.  The log-mel uses the settings the model
was trained on (its ``model.json``) and is rounded to float16 as a shard stores it.  Each window becomes a 129 x 128 log-mel segment and a segment vector; a track
vector is the mean of its (up to ``segments_per_track``) segment vectors, as in evaluation.

``embed_files`` returns three tables: tracks (one row per file, the index that ``query``
reads), segments, and skipped files (path, reason, detail), never dropping a file silently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.stage import beat_aligned_windows
from ..analysis.tempo import TempoParams
from ..analysis.voicing import SvdParams, candidate_starts, spread_evenly
from ..core.audio import AUDIO_EXTENSIONS, load_audio
from ..core.errors import AudioError, ConfigError, PipelineError
from ..core.segment import SEGMENT_SAMPLES
from ..core.tables import EMBED_SEGMENTS, EMBED_SKIPPED, EMBED_TRACKS
from ..core.vectors import group_means, unit_rows
from ..core.vocabulary import domain_name
from ..dataset.features import FeatureParams, log_mel
from ..train.model import EmbeddingModel, embed_mels

__all__ = ["EmbedParams", "audio_files", "cut_segments", "embed_files", "embed_recording",
           "feature_params", "model_id", "rank_index", "segment_log_mel", "sidecar_paths",
           "window_starts"]

log = logging.getLogger(__name__)



@dataclasses.dataclass(frozen=True)
class EmbedParams:
    """The ``embed`` config section."""

    segments_per_track: int = 20  # windows per recording (the paper's track vector: 20)
    mix_hop_samples: int = SEGMENT_SAMPLES // 2  # step between candidate mix windows
    batch_size: int = 64  # segments per forward pass

    def __post_init__(self):
        if self.segments_per_track < 1 or self.batch_size < 1 or self.mix_hop_samples < 1:
            raise ConfigError("embed: segments_per_track, batch_size and "
                              "mix_hop_samples must be >= 1")


def feature_params(model: EmbeddingModel) -> FeatureParams:
    """The log-mel settings a model was trained on, from its ``model.json`` (card's ``mel``)."""
    mel = getattr(model, "info", {}).get("mel") or {}
    defaults = FeatureParams()
    return FeatureParams(compression=mel.get("compression", defaults.compression),
                         amin=float(mel.get("amin", defaults.amin)))


def window_starts(y: np.ndarray, *, domain: str, params: EmbedParams = EmbedParams(),
                  svd: SvdParams = SvdParams(),
                  tempo: TempoParams = TempoParams(), table_bpm: float = math.nan,
                  path="<array>") -> np.ndarray:
    """Starts (samples) of the windows embedded for one recording ``y`` (22,050 Hz mono).

    Mono: the dataset's own windows (``pipeline.analysis.stage.beat_aligned_windows``: voiced windows
    moved onto the vocal's beat grid), the first ``segments_per_track`` of them, as the
    evaluation's track vectors take them; ``table_bpm`` is the tempo-table entry (NaN:
    estimated from the audio, as for a corpus without a table).  Mix: ``segments_per_track``
    windows spread evenly over every ``mix_hop_samples`` step.

    Raises
    ------
    AudioError
        A mono recording without a usable window ("too short", "silent", "no voiced window").
    """
    if domain_name(domain) == "mono":
        found = beat_aligned_windows(y, svd=svd, tempo=tempo, table_bpm=table_bpm, path=path)
        return found.windows.starts[:params.segments_per_track]
    starts = candidate_starts(len(y), params.mix_hop_samples)
    return starts[spread_evenly(len(starts), params.segments_per_track)]


def cut_segments(y: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Windows of ``SEGMENT_SAMPLES`` at ``starts``: float32 (n, 65536)."""
    return np.stack([y[s:s + SEGMENT_SAMPLES] for s in starts]).astype(np.float32)


def segment_log_mel(segments: np.ndarray, *, features: FeatureParams = FeatureParams()
                    ) -> np.ndarray:
    """Log-mel of segments (n, 65536) -> (n, 129, 128) float32 (frames, bands), as a shard
    stores it: ``pipeline.dataset.features.log_mel`` rounded to float16."""
    return log_mel(segments, **dataclasses.asdict(features), dtype=np.float16).astype(np.float32)


def model_id(model: EmbeddingModel) -> str:
    """A short fingerprint of a model's weights, stored with every embedding."""
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def embed_recording(y: np.ndarray, *, model: EmbeddingModel, domain: str,
                    params: EmbedParams = EmbedParams(), svd: SvdParams = SvdParams(),
                    tempo: TempoParams = TempoParams(),
                    table_bpm: float = math.nan, path="<array>"):
    """Segment vectors of one recording, with the model's own log-mel settings.

    Returns
    -------
    starts : np.ndarray [shape=(n,)]  window starts (samples)
    vectors : np.ndarray [shape=(n, 256), float32]  (n = 0 when no window qualifies)
    """
    starts = window_starts(y, domain=domain, params=params, svd=svd, tempo=tempo,
                           table_bpm=table_bpm, path=path)
    if len(starts) == 0:
        return starts, np.zeros((0, model.config.embedding_dim), dtype=np.float32)
    mels = segment_log_mel(cut_segments(y, starts), features=feature_params(model))
    return starts, embed_mels(model, mels, domain_name(domain), batch_size=params.batch_size)


def audio_files(paths) -> list[Path]:
    """Files as given, with each directory replaced by its audio files (sorted, recursive)."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS)
        else:
            out.append(p)
    return out


def embed_files(paths, *, model: EmbeddingModel, domain: str, params: EmbedParams = EmbedParams(),
                svd: SvdParams = SvdParams(),
                tempo: TempoParams = TempoParams(), singers: dict | None = None,
                tempi: dict | None = None):
    """Embed recordings; files that cannot be used are recorded, not dropped.

    Parameters
    ----------
    paths : list of path
    model : EmbeddingModel
    domain : "mono" | "mixed"
    svd, tempo : the analysis stage's parameters (mono windows, as the dataset's)
    singers : dict or None
        Singer label per path (as given); missing -> "".
    tempi : dict or None
        Tempo-table BPM per path (as given); missing -> estimated from the audio.

    Returns
    -------
    tracks, segments, skipped : pd.DataFrame
        Columns ``list(EMBED_TRACKS)``, ``list(EMBED_SEGMENTS)``, ``list(EMBED_SKIPPED)``.
    """
    domain = domain_name(domain)
    singers = {str(k): v for k, v in (singers or {}).items()}
    mid = model_id(model)
    tracks, segments, skipped = [], [], []
    for path in map(Path, paths):
        try:
            y = load_audio(path)
            starts, vectors = embed_recording(
                y, model=model, domain=domain, params=params, svd=svd, tempo=tempo,
                table_bpm=float((tempi or {}).get(str(path), math.nan)), path=path)
        except AudioError as exc:
            skipped.append({"path": str(path), "reason": exc.reason, "detail": exc.detail})
            continue
        if len(starts) == 0:
            reason = "no voiced window" if domain == "mono" else "shorter than a segment"
            skipped.append({"path": str(path), "reason": reason, "detail": f"{len(y)} samples"})
            continue
        base = {"path": str(path), "track": path.stem, "singer": str(singers.get(str(path), "")),
                "domain": domain}
        for i, (start, v) in enumerate(zip(starts, vectors)):
            segments.append(dict(base, segment=i, start=int(start), model_id=mid, embedding=v))
        track = group_means(vectors, np.zeros(len(vectors), int), 1)[0][0].astype(np.float32)
        tracks.append(dict(base, n_segments=len(starts), model_id=mid, embedding=track))
    return (pd.DataFrame(tracks, columns=list(EMBED_TRACKS)),
            pd.DataFrame(segments, columns=list(EMBED_SEGMENTS)),
            pd.DataFrame(skipped, columns=list(EMBED_SKIPPED)))


def sidecar_paths(out) -> tuple[Path, Path]:
    """The segment and skipped tables written beside a track table ``OUT.parquet``."""
    out = Path(out)
    stem = out.name[:-len(".parquet")] if out.name.endswith(".parquet") else out.name
    return out.with_name(f"{stem}.segments.parquet"), out.with_name(f"{stem}.skipped.parquet")


def rank_index(query: np.ndarray, index: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rank an index's tracks, and its singers, by cosine similarity to a track vector.

    A singer's model is the mean of its track vectors (the paper's singer model); tracks
    without a singer label are ranked as tracks only.

    Returns
    -------
    tracks : DataFrame  rank, score, singer, track, path (best first)
    singers : DataFrame rank, score, singer, n_tracks (best first)
    """
    if len(index) == 0:
        raise PipelineError("the index holds no tracks")
    vectors = np.stack(index["embedding"].to_numpy()).astype(np.float64)
    q = unit_rows(np.asarray(query, dtype=np.float64))
    tracks = index[["singer", "track", "path"]].assign(score=unit_rows(vectors) @ q)
    tracks = tracks.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    tracks.insert(0, "rank", np.arange(1, len(tracks) + 1))
    labelled = index["singer"].astype(str) != ""
    codes, names = pd.factorize(index.loc[labelled, "singer"], sort=True)
    centres, counts = group_means(vectors[labelled.to_numpy()], codes, len(names))
    singers = pd.DataFrame({"singer": np.asarray(names, dtype=object),
                            "score": unit_rows(centres) @ q if len(names) else np.zeros(0),
                            "n_tracks": counts})
    singers = singers.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    singers.insert(0, "rank", np.arange(1, len(singers) + 1))
    return tracks[["rank", "score", "singer", "track", "path"]], singers
