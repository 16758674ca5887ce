"""Singer identification on songs of known singers (the paper's Table 1 setting).

Input: a folder laid out as ``<singer>/<song>.<ext>`` (the singer is the first folder below
the root; deeper folders are allowed) or a CSV with columns ``path`` and ``singer`` (paths
relative to the CSV's folder; an optional ``song`` column names the songs).

Protocol, for each model:

- A song is cut into ``segments_per_track`` windows of ``SEGMENT_SAMPLES`` spread evenly over
  the song (``embed.window_starts`` for the mixed domain: a whole song, intro included).
  Each window is embedded with the model's mixed-track branch (CROSS: its mixed network;
  ``domain: mono`` takes a-cappella recordings through the mono branch, on voiced windows);
  the song's track vector is the mean of the unit-length window embeddings.
- Leave-one-out nearest singer centroid: every song of a singer with at least two songs is a
  query once; its singer's centroid is the mean of that singer's *other* track vectors, every
  other singer's centroid the mean of all of theirs.  Singers with one song are candidates
  but not queries.  Scores are cosine similarities; top-k is a hit when the query's singer
  is among the k highest-scoring singers (ties: lower singer index first, as everywhere).
- Chance is min(k, S)/S for S candidate singers.  The MFCC baseline replaces the network by
  the mean and standard deviation of 13 MFCCs (DCT-II of the same windows' log-mel frames),
  each dimension standardised over the songs evaluated, scored identically.

Metrics carry the percentile bootstrap interval over query songs (``intervals``).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.voicing import SvdParams, detect_voiced_windows
from ..core.audio import AUDIO_EXTENSIONS, load_audio
from ..core.errors import AudioError, ConfigError, PipelineError
from ..core.segment import SEGMENT_SAMPLES
from ..core.tables import EMBED_SKIPPED, SONG_PREDICTIONS, SONGS
from ..core.vectors import group_means, unit_rows
from ..dataset.features import FeatureParams
from . import metrics
from .embed import EmbedParams, cut_segments, segment_log_mel, window_starts
from .gmm_ubm import mfcc_from_logmel
from .intervals import Bootstrap, summarise
from .protocol import TOP_K, tidy

__all__ = ["MFCC_MODEL", "SCENARIO", "SongsParams", "embed_songs", "leave_one_out_scores",
           "mfcc_vectors", "mfcc_vectors_raw", "read_songs", "song_metrics", "song_windows",
           "songs_table", "standardise", "track_vectors"]

log = logging.getLogger(__name__)

SCENARIO = "Songs"  # the scenario name of these rows in the metrics table
MFCC_MODEL = "MFCC"  # the baseline's model name


@dataclasses.dataclass(frozen=True)
class SongsParams:
    """The ``songs`` config section."""

    path: str = ""  # folder <singer>/<song>.<ext> or CSV (path, singer); "demo"; "" = off
    domain: str = "mix"  # branch the songs are embedded with: mix (songs) or mono (a-cappella)
    segments_per_track: int = 20  # windows per song, spread evenly (mix) or over voiced ones
    mix_hop_samples: int = SEGMENT_SAMPLES // 2  # step between candidate windows
    n_mfcc: int = 13  # MFCCs of the baseline (its vector: their mean and std)

    def __post_init__(self):
        if self.domain not in ("mix", "mono"):
            raise ConfigError(f"songs.domain must be mix or mono, got {self.domain!r}")
        for name in ("segments_per_track", "mix_hop_samples", "n_mfcc"):
            if getattr(self, name) < 1:
                raise ConfigError(f"songs.{name} must be >= 1, got {getattr(self, name)}")

    @property
    def embed(self) -> EmbedParams:
        return EmbedParams(segments_per_track=self.segments_per_track,
                           mix_hop_samples=self.mix_hop_samples)


# ----------------------------------------------------------------------------- the song list

def read_songs(source) -> pd.DataFrame:
    """The songs of ``source`` (a folder or a CSV): columns ``list(core.tables.SONGS)``,
    sorted by (singer, path).

    Raises
    ------
    PipelineError
        ``source`` missing, a CSV without ``path``/``singer`` columns, a listed file that does
        not exist, an empty singer, or no song at all; the message names the file.
    """
    source = Path(source)
    if not source.exists():
        raise PipelineError(f"{source}: song folder or CSV not found")
    if source.is_dir():
        files = sorted(f for f in source.rglob("*") if f.is_file()
                       and f.suffix.lower() in AUDIO_EXTENSIONS
                       and len(f.relative_to(source).parts) >= 2)
        table = pd.DataFrame({"path": [str(f) for f in files],
                              "singer": [f.relative_to(source).parts[0] for f in files],
                              "song": [f.stem for f in files]})
    else:
        table = _read_csv(source)
    if table.empty:
        raise PipelineError(f"{source}: no songs (expected <singer>/<song>.<ext> audio files "
                            "or a CSV with path and singer columns)")
    table = table.sort_values(["singer", "path"], kind="stable").reset_index(drop=True)
    return table[list(SONGS)].astype(SONGS)


def _read_csv(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"path", "singer"} - set(table.columns)
    if missing:
        raise PipelineError(f"{path}: CSV needs columns path and singer (missing "
                            f"{', '.join(sorted(missing))})")
    paths = [p if Path(p).is_absolute() else str(path.parent / p) for p in table["path"]]
    for row, (p, singer) in enumerate(zip(paths, table["singer"]), start=2):
        if not Path(p).is_file():
            raise PipelineError(f"{path}, line {row}: {p}: file not found")
        if not singer.strip():
            raise PipelineError(f"{path}, line {row}: empty singer")
    songs = table["song"] if "song" in table.columns else [Path(p).stem for p in paths]
    return pd.DataFrame({"path": paths, "singer": table["singer"].str.strip(), "song": songs})


# ----------------------------------------------------------------------------- vectors

def song_windows(y: np.ndarray, *, params: SongsParams, features: FeatureParams,
                 path="<array>") -> np.ndarray:
    """Log-mel windows of one song (22,050 Hz mono): float32 (n, 129, 128), n = 0 when the
    song is shorter than a segment (or, a-cappella, has no voiced window).  Mixed songs:
    windows spread evenly; a-cappella (``params.domain == "mono"``): the voiced windows of
    ``analysis.voicing.detect_voiced_windows`` (the dataset's voicing rule, without its beat
    grid: a user's recording need not have a steady tempo), spread evenly."""
    if params.domain == "mono":
        starts = detect_voiced_windows(y, hop_samples=params.mix_hop_samples,
                                       max_windows=params.segments_per_track,
                                       **SvdParams().threshold_kwargs()).starts
    else:
        starts = window_starts(y, domain="mix", params=params.embed, path=path)
    if len(starts) == 0:
        return np.zeros((0, 129, 128), dtype=np.float32)
    return segment_log_mel(cut_segments(y, starts), features=features)


def track_vectors(window_vectors: np.ndarray, codes: np.ndarray, n_songs: int) -> np.ndarray:
    """Mean of the unit-length window vectors per song: (n_songs, d) from (n_windows, d)."""
    return group_means(unit_rows(np.asarray(window_vectors, np.float64)), codes, n_songs)[0]


def mfcc_vectors_raw(mels: np.ndarray, *, n_mfcc: int = 13) -> np.ndarray:
    """One song's baseline vector: mean and std over every MFCC frame of its windows
    ``mels`` (n, frames, bands) -> (2 * n_mfcc,)."""
    frames = mfcc_from_logmel(np.asarray(mels, np.float64), n_mfcc=n_mfcc).reshape(-1, n_mfcc)
    return np.concatenate([frames.mean(axis=0), frames.std(axis=0)])


def standardise(vectors: np.ndarray) -> np.ndarray:
    """Each column minus its mean over the rows, divided by its std (constant columns: 0)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    spread = vectors.std(axis=0)
    return (vectors - vectors.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def mfcc_vectors(mels_by_song, *, n_mfcc: int = 13) -> np.ndarray:
    """The baseline's song vectors for a list of songs' windows, standardised over the songs
    (n_songs, 2 * n_mfcc)."""
    return standardise(np.stack([mfcc_vectors_raw(m, n_mfcc=n_mfcc) for m in mels_by_song]))


# ----------------------------------------------------------------------------- protocol

def leave_one_out_scores(vectors: np.ndarray, singers) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """Cosine scores of every song against every singer centroid, leaving the song out of
    its own singer's centroid.

    Parameters
    ----------
    vectors : np.ndarray [shape=(n_songs, d)]
    singers : array-like [shape=(n_songs,)]

    Returns
    -------
    scores : np.ndarray [shape=(n_songs, n_singers)]  (NaN in the own column of a singer's
        only song)
    labels : np.ndarray [shape=(n_singers,)]  sorted singer labels (the score columns)
    queries : np.ndarray [shape=(n_songs,), bool]  songs whose singer has another song
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    codes, labels = pd.factorize(pd.Series(np.asarray(singers)), sort=True)
    sums = np.zeros((len(labels), vectors.shape[1]))
    np.add.at(sums, codes, vectors)
    counts = np.bincount(codes, minlength=len(labels))
    scores = metrics.cosine_similarity(vectors, sums / counts[:, None])
    rows = np.arange(len(vectors))
    rest = counts[codes] - 1
    own = (sums[codes] - vectors) / np.maximum(rest, 1)[:, None]  # centroid without the song
    own_score = np.einsum("nd,nd->n", unit_rows(vectors), unit_rows(own))
    scores[rows, codes] = np.where(rest > 0, own_score, np.nan)
    return scores, np.asarray(labels), rest > 0


def song_metrics(vectors: np.ndarray, singers, *, boot: Bootstrap = Bootstrap()
                 ) -> tuple[dict, pd.DataFrame]:
    """Top-1/top-5 and chance of one model's song vectors by :func:`leave_one_out_scores`.

    Returns
    -------
    result : dict  ``{metric: (value, n, ci_low, ci_high)}`` and ``{"chance:topk": ...}``
    ranks : DataFrame  per query song: position (its row in ``vectors``), predicted (top
        singer), rank (1-based rank of its true singer)
    """
    singers = np.asarray(singers)
    scores, labels, queries = leave_one_out_scores(vectors, singers)
    if not queries.any():
        raise PipelineError("no singer has two songs: leave-one-out has no query")
    q_scores, q_singers = scores[queries], singers[queries]
    order = metrics.rank_items(q_scores)
    rank = 1 + np.argmax(labels[order] == q_singers[:, None], axis=1)
    per_query = {f"top{k}": (rank <= k).astype(np.float64) for k in TOP_K}
    result = summarise(per_query, boot)
    for k in TOP_K:
        result[f"chance:top{k}"] = (min(k, len(labels)) / len(labels), int(queries.sum()),
                                    np.nan, np.nan)
    ranks = pd.DataFrame({"position": np.flatnonzero(queries),
                          "predicted": labels[order[:, 0]], "rank": rank})
    return result, ranks


def songs_table(songs: pd.DataFrame, vectors_by_model: dict, *, boot: Bootstrap = Bootstrap()
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metrics (``METRICS_TABLE`` rows, scenario ``"Songs"``, with chance) and per-song
    predictions (``SONG_PREDICTIONS``) for ``{(model, pretrained): (n_songs, d) vectors}``
    of the songs in ``songs`` (rows in the same order)."""
    records, predictions = [], []
    chance = None
    for (model, pretrained), vectors in vectors_by_model.items():
        result, ranks = song_metrics(vectors, songs["singer"].to_numpy(), boot=boot)
        for metric, (value, n, lo, hi) in result.items():
            if metric.startswith("chance:"):
                chance = {**(chance or {}), metric[7:]: (value, n)}
                continue
            records.append({"model": model, "pretrained": bool(pretrained),
                            "scenario": SCENARIO, "metric": metric, "value": value, "n": n,
                            "ci_low": lo, "ci_high": hi})
        chosen = songs.iloc[ranks["position"]]
        predictions.append(pd.DataFrame({
            "model": model, "pretrained": bool(pretrained), "path": chosen["path"].to_numpy(),
            "singer": chosen["singer"].to_numpy(), "predicted": ranks["predicted"].to_numpy(),
            "rank": ranks["rank"].to_numpy()}))
    for metric, (value, n) in (chance or {}).items():
        records.append({"model": "chance", "pretrained": False, "scenario": SCENARIO,
                        "metric": metric, "value": value, "n": n, "ci_low": np.nan,
                        "ci_high": np.nan})
    preds = (pd.concat(predictions, ignore_index=True) if predictions
             else pd.DataFrame(columns=list(SONG_PREDICTIONS)))
    return tidy(records), preds[list(SONG_PREDICTIONS)].astype(SONG_PREDICTIONS)


def embed_songs(songs: pd.DataFrame, models: dict, *, params: SongsParams = SongsParams(),
                mfcc: bool = True, batch_size: int = 64):
    """Track vectors of every song for every model (and the MFCC baseline).

    Each song is decoded and cut once; its windows' log-mel uses each model's own settings
    (``embed.feature_params``), the baseline the default ones.

    Parameters
    ----------
    songs : DataFrame from :func:`read_songs`
    models : dict  ``{(name, pretrained): EmbeddingModel}``

    Returns
    -------
    vectors : dict  ``{(name, pretrained): (n_kept, d)}`` (``("MFCC", False)`` too with mfcc)
    kept : DataFrame  the songs embedded (rows of the vectors)
    skipped : DataFrame  path, reason, detail (``core.tables.EMBED_SKIPPED``)
    """
    from ..train.model import embed_mels
    from .embed import feature_params

    settings = {key: feature_params(model) for key, model in models.items()}
    if mfcc:
        settings[MFCC_MODEL, False] = FeatureParams()
    per_song = {key: [] for key in settings}
    kept, skipped = [], []
    for row in songs.itertuples(index=False):
        try:
            y = load_audio(row.path)
            mels_by_setting = {f: song_windows(y, params=params, features=f, path=row.path)
                               for f in dict.fromkeys(settings.values())}
        except AudioError as exc:
            skipped.append({"path": row.path, "reason": exc.reason, "detail": exc.detail})
            continue
        if len(next(iter(mels_by_setting.values()))) == 0:
            reason = "no voiced window" if params.domain == "mono" else "shorter than a segment"
            skipped.append({"path": row.path, "reason": reason, "detail": f"{len(y)} samples"})
            continue
        for key, features in settings.items():
            mels = mels_by_setting[features]
            if key == (MFCC_MODEL, False):
                vector = mfcc_vectors_raw(mels, n_mfcc=params.n_mfcc)
            else:
                windows = embed_mels(models[key], mels, params.domain, batch_size=batch_size)
                vector = track_vectors(windows, np.zeros(len(mels), int), 1)[0]
            per_song[key].append(vector)
        kept.append(row._asdict())
    kept = pd.DataFrame(kept, columns=list(SONGS))
    vectors = {key: np.stack(v) if v else np.zeros((0, 0)) for key, v in per_song.items()}
    if mfcc and len(kept):
        vectors[MFCC_MODEL, False] = standardise(vectors[MFCC_MODEL, False])
    log.info("embedded %d songs (%d skipped) with %d models", len(kept), len(skipped),
             len(settings))
    return vectors, kept, pd.DataFrame(skipped, columns=list(EMBED_SKIPPED))
