"""GMM-UBM baseline (Reynolds et al. 2000): MFCCs, a diagonal UBM, MAP-adapted means.

- Features: 13 MFCCs per frame, the orthonormal DCT-II over the 128 bands of each stored
  log-mel frame, keeping coefficients 0..12 (c0 included; nothing else is dropped, no
  liftering, no deltas).
- One UBM per domain: a ``n_components`` diagonal-covariance GaussianMixture fitted on
  training-singer frames (whole segments drawn at random, seeded, until ``ubm_frames``).
- A speaker (singer or track) model adapts only the UBM means by MAP:
  ``n_k = sum_t gamma_tk``, ``E_k = sum_t gamma_tk x_t / n_k``, ``alpha_k = n_k / (n_k + r)``,
  ``mu_k' = alpha_k E_k + (1 - alpha_k) mu_k``; weights and covariances stay the UBM's.
- Score: the average per-frame log-likelihood ratio
  ``(1/T) sum_t [log p(x_t | model) - log p(x_t | UBM)]``, by default with Reynolds' fast
  scoring: both likelihoods sum only the ``gmm_top_components`` (C = 5) UBM components that
  best explain each frame (0 = all components, exact; 40x slower at 256 components).

The evaluation follows the embedding protocol (same tracks, segments and metrics); the
UBM and the models are those of the target domain, the query frames those of the source.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from scipy.fft import dct

from ..core.errors import PipelineError
from ..core.random import rng_for
from ..dataset.reader import ShardReader, read_index
from .protocol import (
    SCENARIOS,
    TEST_SUBSETS,
    EvalParams,
    metric_records,
    scores_metrics,
    select_segments,
    tidy,
)

__all__ = ["MODEL_NAME", "evaluate_gmm_ubm", "fit_ubm", "frame_log_likelihood", "llr_scores",
           "load_mfcc", "map_adapt_means", "mfcc_from_logmel", "top_components", "train_ubm"]

log = logging.getLogger(__name__)

MODEL_NAME = "GMM-UBM"
_CHUNK_ELEMENTS = 1 << 24  # (models x frames x components) per log-likelihood block


def mfcc_from_logmel(mels: np.ndarray, *, n_mfcc: int = 13) -> np.ndarray:
    """MFCCs from log-mel frames: DCT-II (ortho) over the last axis (bands).

    Parameters
    ----------
    mels : np.ndarray [shape=(..., n_frames, n_mels)]
    n_mfcc : int

    Returns
    -------
    np.ndarray [shape=(..., n_frames, n_mfcc)], float32
    """
    mels = np.asarray(mels, dtype=np.float64)
    if mels.shape[-1] < n_mfcc:
        raise PipelineError(f"n_mfcc={n_mfcc} exceeds the {mels.shape[-1]} mel bands")
    return dct(mels, type=2, norm="ortho", axis=-1)[..., :n_mfcc].astype(np.float32)


def fit_ubm(frames: np.ndarray, *, n_components: int, max_iter: int = 100, seed: int = 0):
    """Fit the diagonal UBM on ``frames`` (n_frames, n_features)."""
    from sklearn.mixture import GaussianMixture

    if len(frames) < n_components:
        raise PipelineError(f"UBM: {len(frames)} frames cannot fit {n_components} components; "
                            "lower evaluate.gmm_components or raise evaluate.ubm_frames")
    ubm = GaussianMixture(n_components=n_components, covariance_type="diag",
                          max_iter=max_iter, random_state=seed)
    return ubm.fit(np.asarray(frames, dtype=np.float64))


def map_adapt_means(ubm, frames: np.ndarray, *, relevance: float = 16.0) -> np.ndarray:
    """MAP-adapted means (n_components, n_features) of ``ubm`` to ``frames``.

    ``mu' = alpha E + (1 - alpha) mu`` with ``alpha = n / (n + relevance)``; a component with
    no responsibility keeps the UBM mean.
    """
    frames = np.asarray(frames, dtype=np.float64)
    gamma = ubm.predict_proba(frames)  # (T, K)
    n = gamma.sum(axis=0)  # (K,)
    first = gamma.T @ frames  # (K, D)
    expected = np.divide(first, n[:, None], out=np.array(ubm.means_, dtype=np.float64),
                         where=n[:, None] > 0)
    alpha = (n / (n + relevance) if relevance > 0 else (n > 0).astype(float))[:, None]
    return alpha * expected + (1 - alpha) * ubm.means_


def top_components(ubm, frames: np.ndarray, *, n_top: int) -> np.ndarray:
    """Indices (n_frames, C) of the ``n_top`` UBM components best explaining each frame.

    ``n_top`` of 0 or >= n_components gives every component (exact scoring).
    """
    x = np.asarray(frames, dtype=np.float64)
    precision = 1.0 / ubm.covariances_  # (K, D)
    quad = (x ** 2) @ precision.T - 2 * x @ (ubm.means_ * precision).T \
        + np.sum(ubm.means_ ** 2 * precision, axis=1)  # (T, K); the shared 2*pi term is dropped
    weighted = np.log(ubm.weights_) - 0.5 * (np.log(ubm.covariances_).sum(axis=1) + quad)
    n_comp = weighted.shape[1]
    if n_top <= 0 or n_top >= n_comp:
        return np.broadcast_to(np.arange(n_comp), weighted.shape)
    top = np.argpartition(-weighted, n_top - 1, axis=1)[:, :n_top]
    return np.sort(top, axis=1)


def frame_log_likelihood(frames: np.ndarray, *, weights: np.ndarray, means: np.ndarray,
                         variances: np.ndarray, components: np.ndarray | None = None
                         ) -> np.ndarray:
    """Per-frame log-likelihood under diagonal GMMs sharing weights and variances.

    Parameters
    ----------
    frames : np.ndarray [shape=(n_frames, n_features)]
    weights : np.ndarray [shape=(n_components,)]
    means : np.ndarray [shape=(n_models, n_components, n_features)]
    variances : np.ndarray [shape=(n_components, n_features)]
    components : np.ndarray [shape=(n_frames, C)], optional
        The components summed for each frame (Reynolds' top-C fast scoring); all if None.

    Returns
    -------
    np.ndarray [shape=(n_models, n_frames)]
    """
    x = np.asarray(frames, dtype=np.float64)
    n_frames, n_comp = len(x), len(weights)
    if components is None:
        components = np.broadcast_to(np.arange(n_comp), (n_frames, n_comp))
    n_top = components.shape[1]
    precision = 1.0 / variances  # (K, D)
    const = np.log(weights) - 0.5 * (x.shape[1] * np.log(2 * np.pi)
                                     + np.log(variances).sum(axis=1))  # (K,)
    flat_k = np.asarray(components).ravel()  # (T*C,) component of each (frame, slot)
    by_comp = np.argsort(flat_k, kind="stable")  # slots grouped by component
    unsort = np.argsort(by_comp)
    frame_of = by_comp // n_top  # (T*C,) frame of each grouped slot
    comp_of = flat_k[by_comp]
    bounds = np.searchsorted(comp_of, np.arange(n_comp + 1))
    xg = x[frame_of]  # (T*C, D) frames in component order
    base = const[comp_of] - 0.5 * np.einsum("nd,nd->n", xg ** 2, precision[comp_of])
    step = max(1, _CHUNK_ELEMENTS // max(1, flat_k.size))
    out = np.empty((len(means), n_frames))
    for start in range(0, len(means), step):
        mu = means[start:start + step]  # (S, K, D)
        scaled = mu * precision  # (S, K, D)
        mu2 = np.einsum("skd,skd->sk", mu, scaled)  # (S, K)
        grouped = np.empty((flat_k.size, len(mu)))  # (T*C, S), component blocks contiguous
        for k in range(n_comp):
            lo, hi = bounds[k], bounds[k + 1]
            if hi > lo:  # every frame that uses component k, against all models at once
                np.matmul(xg[lo:hi], scaled[:, k].T, out=grouped[lo:hi])
                grouped[lo:hi] -= 0.5 * mu2[:, k]
        grouped += base[:, None]
        logp = grouped[unsort].reshape(n_frames, n_top, len(mu))  # (T, C, S)
        peak = logp.max(axis=1)  # (T, S); scipy's logsumexp is ~20x slower here
        out[start:start + step] = (np.log(np.exp(logp - peak[:, None]).sum(axis=1)) + peak).T
    return out


def llr_scores(ubm, adapted_means: np.ndarray, frames: np.ndarray, *, n_top: int = 0
               ) -> np.ndarray:
    """Average per-frame log-likelihood ratio of each model vs the UBM, shape (n_models,).

    With ``n_top`` > 0 both likelihoods sum only each frame's top-``n_top`` UBM components
    (Reynolds et al. 2000, section 4.2); 0 sums all components (exact).
    """
    components = top_components(ubm, frames, n_top=n_top)
    kwargs = dict(weights=ubm.weights_, variances=ubm.covariances_, components=components)
    model = frame_log_likelihood(frames, means=adapted_means, **kwargs)
    background = frame_log_likelihood(frames, means=ubm.means_[None], **kwargs)[0]
    return (model - background).mean(axis=1)


# ----------------------------------------------------------------------------- driver

def load_mfcc(dataset_dir, rows: pd.DataFrame, *, domain: str, params: EvalParams) -> np.ndarray:
    """MFCCs (n_rows, 129, n_mfcc) float32 of ``rows`` in ``domain``."""
    out = None
    batches = ShardReader(dataset_dir).batches(rows, domain=domain, batch_size=params.batch_size)
    for positions, mels in batches:
        feats = mfcc_from_logmel(mels, n_mfcc=params.n_mfcc)
        if out is None:
            out = np.zeros((len(rows),) + feats.shape[1:], dtype=np.float32)
        out[positions] = feats
    if out is None:
        raise PipelineError(f"{dataset_dir}: no segments to read")
    return out


def train_ubm(dataset_dir, index: pd.DataFrame, *, domain: str, params: EvalParams):
    """The UBM of ``domain`` on training-singer frames (whole random segments, seeded)."""
    train = index[(index["subset"] == "train") & (index["mix_index"] == 0)]
    if train.empty:
        raise PipelineError(f"{dataset_dir}: no training segments for the UBM")
    n_frames_per = 129
    take = min(len(train), math.ceil(params.ubm_frames / n_frames_per))
    picked = rng_for(params.seed, "ubm", domain).choice(len(train), size=take, replace=False)
    rows = train.iloc[np.sort(picked)].reset_index(drop=True)
    frames = load_mfcc(dataset_dir, rows, domain=domain, params=params).reshape(-1, params.n_mfcc)
    frames = frames[:params.ubm_frames]
    log.info("fitting %s UBM: %d components on %d frames", domain, params.gmm_components,
             len(frames))
    return fit_ubm(frames, n_components=params.gmm_components, max_iter=params.gmm_max_iter,
                   seed=params.seed)


def evaluate_gmm_ubm(dataset_dir, *, params: EvalParams,
                     scenarios=tuple(SCENARIOS)) -> pd.DataFrame:
    """The GMM-UBM metrics table (model "GMM-UBM") on one dataset version."""
    index = read_index(dataset_dir)
    rows = select_segments(index, subsets=TEST_SUBSETS,
                           segments_per_track=params.segments_per_track)
    if rows.empty:
        raise PipelineError(f"{dataset_dir}: no test_model/test_query segments")
    tracks = rows.groupby("perf_id", sort=True).first()[["singer", "subset"]]
    positions = rows.groupby("perf_id", sort=True).indices
    domains = sorted({d for name in scenarios for d in SCENARIOS[name]})
    mfcc = {d: load_mfcc(dataset_dir, rows, domain=d, params=params) for d in domains}

    def frames_of(domain, perf_ids):
        return np.concatenate([mfcc[domain][positions[p]] for p in perf_ids]).reshape(
            -1, params.n_mfcc)

    model_tracks = tracks[tracks["subset"] == "test_model"]
    query_tracks = tracks[tracks["subset"] == "test_query"]
    singers = np.sort(model_tracks["singer"].unique())
    targets = {}
    for domain in sorted({SCENARIOS[name][1] for name in scenarios}):
        ubm = train_ubm(dataset_dir, index, domain=domain, params=params)
        adapt = lambda ids: map_adapt_means(ubm, frames_of(domain, ids),  # noqa: E731
                                            relevance=params.gmm_relevance)
        singer_means = np.stack([adapt(model_tracks.index[model_tracks["singer"] == s])
                                 for s in singers])
        track_means = np.stack([adapt([p]) for p in model_tracks.index])
        targets[domain] = (ubm, singer_means, track_means)
    records = []
    for name in scenarios:
        source, target = SCENARIOS[name]
        ubm, singer_means, track_means = targets[target]
        id_scores, db_scores = [], []
        for perf_id in query_tracks.index:
            frames = frames_of(source, [perf_id])
            both = llr_scores(ubm, np.concatenate([singer_means, track_means]), frames,
                              n_top=params.gmm_top_components)
            id_scores.append(both[:len(singers)])
            db_scores.append(both[len(singers):])
        result = scores_metrics(np.array(id_scores), query_tracks["singer"].to_numpy(), singers,
                                np.array(db_scores), model_tracks["singer"].to_numpy(),
                                k=params.retrieval_k, bootstrap=params.bootstrap)
        records += metric_records(result, model=MODEL_NAME, pretrained=False, scenario=name)
    return tidy(records)
