"""Evaluation drivers: track vectors from a dataset version, scenarios, baselines, SNR, t-SNE.

Protocol (paper section 4), on unseen singers only (subsets ``test_model`` and
``test_query``):

- A track (one performance, ``perf_id``) is represented by the mean of the embeddings of
  its first ``segments_per_track`` windows (ascending ``window_index``), taken from the
  ``mix_index == 0`` rows, so both domains see the same windows.
- A singer model is the mean of the singer's ``test_model`` track vectors.
- Singer identification: each ``test_query`` track is scored (cosine) against every singer
  model; query-by-singer: against every ``test_model`` track.
- Scenario ``<Source>2<Target>``: the query is embedded in the source domain, the models
  and database in the target domain (for CROSS the domain picks the network).

An embedding model is passed as ``embed_fn(mels, domain) -> (n, d)`` with ``mels`` of shape
(n, 129, 128) float32 and ``domain`` in {"mono", "mix"}.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable

import numpy as np
import pandas as pd

from ..core.errors import ConfigError, PipelineError
from ..core.random import rng_for
from ..core.tables import METRICS_TABLE
from ..core.vectors import group_means
from ..dataset.reader import ShardReader, read_index
from . import metrics
from .intervals import Bootstrap, per_query_metrics, summarise

__all__ = ["BASELINE_MODELS", "EvalParams", "SCENARIOS", "TEST_SUBSETS", "TOP_K", "TrackSet",
           "baseline_records", "embed_models", "embed_segments", "embed_tracks",
           "evaluate_models", "evaluate_snr", "metric_records", "metrics_table", "random_tracks",
           "scenario_records", "scores_metrics", "select_segments", "singer_models", "summary",
           "tidy", "track_labels", "track_table", "track_vectors", "tracks_from_table",
           "unseen_segments", "vector_metrics"]

log = logging.getLogger(__name__)

EmbedFn = Callable[[np.ndarray, str], np.ndarray]

SCENARIOS = {  # name -> (source domain, target domain)
    "Mono2Mono": ("mono", "mono"),
    "Mix2Mix": ("mix", "mix"),
    "Mono2Mix": ("mono", "mix"),
    "Mix2Mono": ("mix", "mono"),
}
TEST_SUBSETS = ("test_model", "test_query")
TOP_K = (1, 5)  # identification accuracies reported (paper: top-1 and top-5)

@dataclasses.dataclass(frozen=True)
class EvalParams:
    """The ``evaluate`` config section."""

    segments_per_track: int = 20  # segment embeddings averaged into a track vector
    retrieval_k: int = 5  # k of P@k and R@k
    batch_size: int = 256  # segments per embedding call
    random_dim: int = 256  # dimension of the random-embedding baseline
    tsne_singers: int = 25  # unseen singers drawn for the t-SNE picture
    tsne_highlight: int = 10  # of which coloured
    tsne_perplexity: float = 30.0  # lowered to (n_points - 1) / 3 for small sets
    gmm_components: int = 256  # UBM mixture components
    gmm_relevance: float = 16.0  # MAP relevance factor r
    gmm_max_iter: int = 100  # EM iterations for the UBM
    gmm_top_components: int = 5  # top-C fast scoring (Reynolds 2000); 0 = all (exact)
    ubm_frames: int = 200_000  # training frames the UBM is fitted on (whole segments)
    n_mfcc: int = 13  # MFCCs per frame (DCT-II of the log-mel frame, c0 kept)
    snr_sweep_db: tuple = (-5.0, 0.0, 5.0, 10.0)  # ratios the DAG regenerates test mixes at
    bootstrap_resamples: int = 1000  # resamples of the query tracks per interval (0: none)
    ci_level: float = 0.95  # coverage of the percentile bootstrap interval
    seed: int | None = None  # None: the global seed a driver passes (--seed), else 0

    def __post_init__(self):
        if self.seed is None:
            object.__setattr__(self, "seed", 0)
        object.__setattr__(self, "snr_sweep_db", tuple(float(v) for v in self.snr_sweep_db))
        for name in ("segments_per_track", "retrieval_k", "batch_size", "random_dim",
                     "tsne_singers", "gmm_components", "gmm_max_iter", "ubm_frames", "n_mfcc"):
            if getattr(self, name) < 1:
                raise ConfigError(f"evaluate.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.tsne_highlight <= self.tsne_singers:
            raise ConfigError("evaluate.tsne_highlight must be in [0, tsne_singers]")
        if self.gmm_top_components < 0:
            raise ConfigError("evaluate.gmm_top_components must be >= 0")
        if self.gmm_relevance < 0:
            raise ConfigError(f"evaluate.gmm_relevance must be >= 0, got {self.gmm_relevance}")
        self.bootstrap  # validates bootstrap_resamples and ci_level

    @property
    def bootstrap(self) -> Bootstrap:
        """The confidence intervals' bootstrap (seeded by this stage's seed)."""
        return Bootstrap(resamples=self.bootstrap_resamples, level=self.ci_level,
                         seed=self.seed)


@dataclasses.dataclass
class TrackSet:
    """Track vectors with their labels; all arrays have one row per track."""

    perf_id: np.ndarray
    singer: np.ndarray
    subset: np.ndarray
    vectors: np.ndarray  # (n_tracks, d)

    def where(self, mask) -> "TrackSet":
        return TrackSet(self.perf_id[mask], self.singer[mask], self.subset[mask], self.vectors[mask])


# ----------------------------------------------------------------------------- dataset I/O

def select_segments(index: pd.DataFrame, *, subsets, segments_per_track: int) -> pd.DataFrame:
    """The rows that represent each track: ``mix_index == 0``, first windows by index.

    Returns the selected rows sorted by (perf_id, window_index), index reset.
    """
    rows = index[(index["mix_index"] == 0) & index["subset"].isin(list(subsets))]
    rows = rows.sort_values(["perf_id", "window_index"], kind="stable")
    rows = rows.drop_duplicates(["perf_id", "window_index"])
    return rows.groupby("perf_id", sort=True).head(segments_per_track).reset_index(drop=True)


def embed_segments(dataset_dir, rows: pd.DataFrame, embed_fn: EmbedFn, *, domain: str,
                   batch_size: int = 256) -> np.ndarray:
    """Embeddings (n_rows, d) of ``rows`` in ``domain``, in row order."""
    out = None
    batches = ShardReader(dataset_dir).batches(rows, domain=domain, batch_size=batch_size)
    for positions, mels in batches:
        emb = np.asarray(embed_fn(mels, domain), dtype=np.float64)
        if out is None:
            out = np.zeros((len(rows), emb.shape[1]))
        out[positions] = emb
    if out is None:
        raise PipelineError(f"{dataset_dir}: no segments to embed")
    return out


def track_vectors(rows: pd.DataFrame, segment_vectors: np.ndarray) -> TrackSet:
    """Mean segment vector per ``perf_id`` (tracks sorted by perf_id)."""
    codes, perf_ids = pd.factorize(rows["perf_id"], sort=True)
    means, _ = group_means(segment_vectors, codes, len(perf_ids))
    first = rows.groupby("perf_id", sort=True).first()
    return TrackSet(perf_id=np.asarray(perf_ids), singer=first["singer"].to_numpy(),
                    subset=first["subset"].to_numpy(), vectors=means)


def track_labels(rows: pd.DataFrame) -> TrackSet:
    """The tracks of ``rows`` with their labels and empty (0-d) vectors."""
    return track_vectors(rows, np.zeros((len(rows), 0)))


def embed_tracks(dataset_dir, rows: pd.DataFrame, embed_fn: EmbedFn, *, params: EvalParams,
                 domains=("mono", "mix")) -> dict[str, TrackSet]:
    """Track vectors of ``rows`` for each domain: ``{domain: TrackSet}``."""
    return {d: track_vectors(rows, embed_segments(dataset_dir, rows, embed_fn, domain=d,
                                                  batch_size=params.batch_size))
            for d in domains}


# ----------------------------------------------------------------------------- scoring

def singer_models(tracks: TrackSet) -> tuple[np.ndarray, np.ndarray]:
    """Singer labels (sorted) and singer models, the mean of each singer's track vectors."""
    codes, singers = pd.factorize(pd.Series(tracks.singer), sort=True)
    return np.asarray(singers), group_means(tracks.vectors, codes, len(singers))[0]


def scores_metrics(id_scores, query_singers, model_singers, db_scores, db_singers, *,
                   k: int, bootstrap: Bootstrap = Bootstrap()) -> dict:
    """Identification (top-1, top-5) and retrieval (P@k, R@k, mAP) metrics from score
    matrices, with bootstrap intervals over the queries: ``{metric: (value, n, ci_low,
    ci_high)}``."""
    return summarise(per_query_metrics(id_scores, query_singers, model_singers, db_scores,
                                       db_singers, ks=TOP_K, k=k), bootstrap)


def vector_metrics(query: TrackSet, target: TrackSet, *, k: int,
                   bootstrap: Bootstrap = Bootstrap()) -> dict:
    """Metrics of query tracks against target-domain ``test_model`` tracks, by cosine."""
    models = target.where(target.subset == "test_model")
    labels, singer_vectors = singer_models(models)
    return scores_metrics(metrics.cosine_similarity(query.vectors, singer_vectors),
                          query.singer, labels,
                          metrics.cosine_similarity(query.vectors, models.vectors),
                          models.singer, k=k, bootstrap=bootstrap)


def metric_records(result: dict, **keys) -> list[dict]:
    """Tidy records ``{**keys, metric, value, n, ci_low, ci_high}`` from
    :func:`scores_metrics` output."""
    return [dict(keys, metric=metric, value=value, n=n, ci_low=lo, ci_high=hi)
            for metric, (value, n, lo, hi) in result.items()]


def scenario_records(tracks: dict[str, TrackSet], *, scenarios, k: int,
                     bootstrap: Bootstrap = Bootstrap()) -> list[dict]:
    """Tidy records ``{scenario, metric, value, n, ci_low, ci_high}`` for each scenario."""
    records = []
    for name in scenarios:
        source, target = SCENARIOS[name]
        query = tracks[source].where(tracks[source].subset == "test_query")
        records += metric_records(vector_metrics(query, tracks[target], k=k,
                                                 bootstrap=bootstrap), scenario=name)
    return records


def random_tracks(tracks: TrackSet, *, dim: int, seed: int, label: str) -> TrackSet:
    """The same tracks with Gaussian random vectors (the random-embedding baseline)."""
    vectors = rng_for(seed, "random", label).standard_normal((len(tracks.perf_id), dim))
    return dataclasses.replace(tracks, vectors=vectors)


def baseline_records(tracks: TrackSet, *, params: EvalParams, scenarios) -> list[dict]:
    """Random-embedding metrics and exact chance levels, as tidy records.

    ``tracks`` only supplies the labels (which tracks are queries, models, database).
    """
    records = []
    query = tracks.where(tracks.subset == "test_query")
    models = tracks.where(tracks.subset == "test_model")
    chance = metrics.chance_levels(query.singer, np.unique(models.singer), models.singer,
                                   ks=TOP_K, k=params.retrieval_k)
    for name in scenarios:
        rand = {d: random_tracks(tracks, dim=params.random_dim, seed=params.seed,
                                 label=f"{name}/{d}") for d in ("mono", "mix")}
        for record in scenario_records(rand, scenarios=[name], k=params.retrieval_k,
                                       bootstrap=params.bootstrap):
            records.append({"model": "random", "pretrained": False, **record})
        for metric, (value, n) in chance.items():  # exact expectations: no interval
            records.append({"model": "chance", "pretrained": False, "scenario": name,
                            "metric": metric, "value": value, "n": n,
                            "ci_low": float("nan"), "ci_high": float("nan")})
    return records


# ----------------------------------------------------------------------------- drivers

def unseen_segments(dataset_dir, *, params: EvalParams) -> pd.DataFrame:
    """The segments that represent the unseen singers' tracks in ``dataset_dir``."""
    rows = select_segments(read_index(dataset_dir), subsets=TEST_SUBSETS,
                           segments_per_track=params.segments_per_track)
    if rows.empty:
        raise PipelineError(f"{dataset_dir}: no test_model/test_query segments")
    return rows


def embed_models(dataset_dir, models: dict, *, params: EvalParams) -> dict:
    """Track vectors of the unseen singers for each model.

    ``models`` is ``{(name, pretrained): embed_fn}``; returns
    ``{(name, pretrained): {"mono": TrackSet, "mix": TrackSet}}``.
    """
    rows = unseen_segments(dataset_dir, params=params)
    out = {}
    for (name, pretrained), embed_fn in models.items():
        log.info("embedding with %s (pretrained=%s): %d segments x 2 domains", name,
                 pretrained, len(rows))
        out[name, bool(pretrained)] = embed_tracks(dataset_dir, rows, embed_fn, params=params)
    return out


def metrics_table(tracks_by_model: dict, *, params: EvalParams, scenarios=tuple(SCENARIOS),
                  labels: TrackSet | None = None) -> pd.DataFrame:
    """The tidy metrics table from :func:`embed_models` output.

    With ``labels`` (any TrackSet of the test tracks) the random-embedding baseline and the
    chance levels are added.  Columns: model, pretrained, scenario, metric, value, n,
    ci_low, ci_high (the bootstrap interval of ``params.bootstrap``; NaN for chance).
    """
    records = []
    for (name, pretrained), tracks in tracks_by_model.items():
        for record in scenario_records(tracks, scenarios=scenarios, k=params.retrieval_k,
                                       bootstrap=params.bootstrap):
            records.append({"model": name, "pretrained": bool(pretrained), **record})
    if labels is not None:
        records.extend(baseline_records(labels, params=params, scenarios=scenarios))
    return tidy(records)


def evaluate_models(dataset_dir, models: dict, *, params: EvalParams,
                    scenarios=tuple(SCENARIOS), baselines: bool = True) -> pd.DataFrame:
    """The tidy metrics table for embedding models on one dataset version.

    Parameters
    ----------
    models : dict
        ``{(name, pretrained): embed_fn}``.
    baselines : bool
        Also add the random-embedding baseline and the chance levels.
    """
    tracks = embed_models(dataset_dir, models, params=params)
    labels = None
    if baselines:
        labels = track_labels(unseen_segments(dataset_dir, params=params))
    return metrics_table(tracks, params=params, scenarios=scenarios, labels=labels)


def track_table(tracks_by_model: dict) -> pd.DataFrame:
    """Track vectors as a table: model, pretrained, domain, perf_id, singer, subset, embedding."""
    frames = []
    for (name, pretrained), by_domain in tracks_by_model.items():
        for domain, t in by_domain.items():
            frames.append(pd.DataFrame({
                "model": name, "pretrained": bool(pretrained), "domain": domain,
                "perf_id": t.perf_id, "singer": t.singer, "subset": t.subset,
                "embedding": list(np.asarray(t.vectors, dtype=np.float32))}))
    if not frames:
        return pd.DataFrame(columns=["model", "pretrained", "domain", "perf_id", "singer",
                                     "subset", "embedding"])
    return pd.concat(frames, ignore_index=True)


def tracks_from_table(table: pd.DataFrame) -> dict:
    """Inverse of :func:`track_table`."""
    out: dict = {}
    for (name, pretrained, domain), g in table.groupby(["model", "pretrained", "domain"],
                                                       sort=False):
        out.setdefault((name, bool(pretrained)), {})[domain] = TrackSet(
            perf_id=g["perf_id"].to_numpy(), singer=g["singer"].to_numpy(),
            subset=g["subset"].to_numpy(), vectors=np.stack(g["embedding"].to_numpy()))
    return out


def evaluate_snr(datasets: dict, models: dict, *, params: EvalParams,
                 scenarios=("Mix2Mix", "Mono2Mix")) -> pd.DataFrame:
    """Metrics per vocal-to-accompaniment ratio: ``datasets`` is ``{snr_db: dataset_dir}``.

    Returns the tidy table with an extra ``snr_db`` column (baselines included).
    """
    frames = []
    for snr in sorted(datasets, key=float):
        table = evaluate_models(datasets[snr], models, params=params, scenarios=scenarios)
        frames.append(table.assign(snr_db=float(snr)))
    if not frames:
        raise PipelineError("evaluate_snr: no datasets given")
    return pd.concat(frames, ignore_index=True)


def tidy(records: list[dict]) -> pd.DataFrame:
    """Records -> the metrics table with typed columns in the contract order."""
    table = pd.DataFrame.from_records(records, columns=list(METRICS_TABLE))
    return table.astype({"model": str, "pretrained": bool, "scenario": str, "metric": str,
                         "value": float, "n": "int64", "ci_low": float, "ci_high": float})


BASELINE_MODELS = ("random", "chance", "GMM-UBM")


def summary(table: pd.DataFrame) -> dict:
    """JSON-ready summary ``{model: {scenario: {metric: value}}}``.

    Models trained from scratch are keyed ``"<model> (scratch)"``; NaN becomes None.
    """
    out: dict = {}
    for row in table.itertuples(index=False):
        key = row.model
        if not row.pretrained and row.model not in BASELINE_MODELS:
            key = f"{row.model} (scratch)"
        value = None if np.isnan(row.value) else float(row.value)
        out.setdefault(key, {}).setdefault(row.scenario, {})[row.metric] = value
    return out
