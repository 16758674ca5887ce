"""Per-query metric values and their bootstrap confidence intervals.

Every reported metric is a mean over query tracks, so its uncertainty is estimated by the
percentile bootstrap over those queries: ``resamples`` times, draw n queries with
replacement, take the metric's mean over the draw; the interval is the central ``level``
share of those means.  The draws come from ``rng_for(seed, "bootstrap", n, resamples)``
alone, so every model and metric evaluated on the same n queries sees the same draws (a
paired bootstrap), and a result is byte-identical on any machine.

>>> lo, hi = bootstrap_interval(np.array([0.0, 1.0, 1.0, 1.0]), Bootstrap(resamples=2000))
>>> bool(0.0 <= lo < 0.75 < hi <= 1.0)
True
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.errors import ConfigError
from ..core.random import rng_for
from . import metrics

__all__ = ["Bootstrap", "bootstrap_indices", "bootstrap_interval", "metric_summary",
           "per_query_metrics", "summarise"]


@dataclasses.dataclass(frozen=True)
class Bootstrap:
    """Percentile bootstrap over query tracks.

    resamples : int  bootstrap draws (0: no interval, the bounds are NaN)
    level : float    central share of the draws' means the interval covers, in (0, 1)
    seed : int       the draws' seed
    """

    resamples: int = 1000
    level: float = 0.95
    seed: int = 0

    def __post_init__(self):
        if self.resamples < 0:
            raise ConfigError(f"bootstrap resamples must be >= 0, got {self.resamples}")
        if not 0.0 < self.level < 1.0:
            raise ConfigError(f"confidence level must be in (0, 1), got {self.level}")

    def describe(self) -> str:
        """One phrase for captions, e.g. "95% percentile bootstrap interval (1000 resamples
        of the query tracks)"."""
        return (f"{100 * self.level:g}% percentile bootstrap interval ({self.resamples} "
                "resamples of the query tracks)")


def bootstrap_indices(n: int, boot: Bootstrap) -> np.ndarray:
    """Query indices of each draw, int (resamples, n); the same for every call with (n, boot)."""
    return rng_for(boot.seed, "bootstrap", n, boot.resamples).integers(
        0, n, size=(boot.resamples, n))


def bootstrap_interval(values: np.ndarray, boot: Bootstrap = Bootstrap()) -> tuple[float, float]:
    """Percentile interval of the mean of per-query ``values`` (n,); NaN entries (queries the
    metric does not apply to) are left out of each draw's mean, as of the point estimate.

    Returns (NaN, NaN) with no resamples or no defined value.
    """
    values = np.asarray(values, dtype=np.float64)
    if boot.resamples == 0 or values.size == 0 or np.isnan(values).all():
        return float("nan"), float("nan")
    draws = values[bootstrap_indices(values.size, boot)]
    defined = ~np.isnan(draws)
    counts = defined.sum(axis=1)
    means = np.where(defined, draws, 0.0).sum(axis=1)[counts > 0] / counts[counts > 0]
    tail = (1.0 - boot.level) / 2
    lo, hi = np.quantile(means, [tail, 1.0 - tail])
    return float(lo), float(hi)


def per_query_metrics(id_scores, query_labels, model_labels, db_scores, db_labels, *,
                      ks=(1, 5), k: int = 5) -> dict[str, np.ndarray]:
    """Each metric's value per query, float (n_queries,): ``{"top1", "top5", "p@5", "r@5",
    "map"}``; NaN where a metric does not apply (recall and AP of a query whose singer has no
    database track).

    ``id_scores`` (n_queries, n_singer_models) against singer models labelled
    ``model_labels``; ``db_scores`` (n_queries, n_items) against database tracks labelled
    ``db_labels``.
    """
    out = {f"top{kk}": metrics.top_k_accuracy(id_scores, query_labels, model_labels,
                                              k=kk).astype(np.float64) for kk in ks}
    relevant = metrics.relevance_matrix(db_scores, query_labels, db_labels)
    out[f"p@{k}"] = metrics.precision_at_k(relevant, k=k)
    out[f"r@{k}"] = metrics.recall_at_k(relevant, k=k)
    out["map"] = metrics.average_precision(relevant)
    return out


def metric_summary(values: np.ndarray, boot: Bootstrap) -> tuple[float, int, float, float]:
    """(mean over defined queries, their number, interval low, interval high)."""
    values = np.asarray(values, dtype=np.float64)
    kept = values[~np.isnan(values)]
    mean = float(kept.mean()) if kept.size else float("nan")
    return (mean, int(kept.size), *bootstrap_interval(values, boot))


def summarise(per_query: dict[str, np.ndarray], boot: Bootstrap) -> dict:
    """``{metric: (value, n, ci_low, ci_high)}`` from :func:`per_query_metrics` output."""
    return {name: metric_summary(values, boot) for name, values in per_query.items()}
