"""Singer identification and query-by-singer metrics, computed by their definitions.

Every function takes a score matrix ``scores`` of shape (n_queries, n_items) (higher =
more similar: cosine similarity for embeddings, log-likelihood ratio for GMM-UBM) and the
singer labels of the queries and of the items.

``METRICS`` is the one statement of what each metric means (paper section 4; the authors'
release deviates, see the report): the report's definitions and the figures' axis labels
are rendered from it.  A query whose singer has no track in the database has no AP and no
recall; it is left out and counted.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.errors import PipelineError
from ..core.vectors import unit_rows

__all__ = ["METRICS", "RANKING", "Metric", "average_precision", "chance_levels",
           "cosine_similarity", "expected_random_ap", "identification_metrics",
           "precision_at_k", "rank_items", "recall_at_k", "relevance_matrix",
           "retrieval_metrics", "top_k_accuracy"]


@dataclasses.dataclass(frozen=True)
class Metric:
    """A metric's column name in the metrics tables, its label and its definition."""

    name: str
    label: str
    definition: str


RANKING = ("Items are ranked by descending score; items with equal scores keep their database "
           "order (a stable sort on the item index). Every metric uses this one ranking, so a "
           "tie is resolved the same way everywhere.")
METRICS = {m.name: m for m in (
    Metric("top1", "top-1 accuracy", "Share of query tracks (every query counts) whose "
           "singer's model is the highest-scoring singer model."),
    Metric("top5", "top-5 accuracy", "Share of query tracks whose singer's model is among the "
           "5 highest-scoring singer models."),
    Metric("p@5", "precision@5", "Tracks of the query's singer among the first 5 retrieved "
           "database tracks, divided by 5."),
    Metric("r@5", "recall@5", "The same count divided by the number of the singer's tracks "
           "actually in the database (not a fixed number)."),
    Metric("map", "mean average precision", "Average precision is the mean, over every "
           "relevant track in the whole ranked database, of the precision at its rank; mAP is "
           "its mean over queries."),
)}


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity between the rows of ``a`` (n, d) and ``b`` (m, d) -> (n, m).

    A zero row has similarity 0 with everything (instead of NaN).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise PipelineError(f"cosine_similarity: shapes {a.shape} and {b.shape} do not match")
    return unit_rows(a) @ unit_rows(b).T


def rank_items(scores: np.ndarray) -> np.ndarray:
    """Item indices of each row of ``scores`` (n_queries, n_items) in ranked order.

    Descending score; ties keep ascending item index (stable sort).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if np.isnan(scores).any():
        raise PipelineError("scores contain NaN; cannot rank")
    return np.argsort(-scores, axis=1, kind="stable")


def relevance_matrix(scores, query_labels, item_labels) -> np.ndarray:
    """Boolean (n_queries, n_items): is the item at each rank by the query's singer."""
    scores = np.asarray(scores)
    query_labels = np.asarray(query_labels)
    item_labels = np.asarray(item_labels)
    if scores.shape != (len(query_labels), len(item_labels)):
        raise PipelineError(f"scores shape {scores.shape} does not match "
                            f"{len(query_labels)} queries x {len(item_labels)} items")
    order = rank_items(scores)
    return item_labels[order] == query_labels[:, None]


def top_k_accuracy(scores, query_labels, model_labels, *, k: int) -> np.ndarray:
    """Per-query top-``k`` identification hits, shape (n_queries,) bool.

    ``model_labels`` (n_models,) are the singers of the singer models (one model each).
    """
    relevant = relevance_matrix(scores, query_labels, model_labels)
    return relevant[:, :k].any(axis=1)


def precision_at_k(relevant: np.ndarray, *, k: int) -> np.ndarray:
    """Precision@k per query from a ranked relevance matrix (n_queries, n_items)."""
    return relevant[:, :k].sum(axis=1) / k


def recall_at_k(relevant: np.ndarray, *, k: int) -> np.ndarray:
    """Recall@k per query: relevant in the top ``k`` / relevant in the database (NaN if 0)."""
    total = relevant.sum(axis=1)
    hits = relevant[:, :k].sum(axis=1).astype(np.float64)
    return np.divide(hits, total, out=np.full(len(total), np.nan), where=total > 0)


def average_precision(relevant: np.ndarray) -> np.ndarray:
    """Average precision per query over the whole ranked list (NaN with no relevant item)."""
    relevant = np.asarray(relevant, dtype=bool)
    ranks = np.arange(1, relevant.shape[1] + 1)
    precision = np.cumsum(relevant, axis=1) / ranks
    total = relevant.sum(axis=1)
    summed = (precision * relevant).sum(axis=1)
    return np.divide(summed, total, out=np.full(len(total), np.nan), where=total > 0)


def identification_metrics(scores, query_labels, model_labels, *, ks=(1, 5)) -> dict:
    """Top-k accuracies: ``{"top1": (value, n), "top5": (value, n)}``."""
    out = {}
    for k in ks:
        hits = top_k_accuracy(scores, query_labels, model_labels, k=k)
        out[f"top{k}"] = (float(hits.mean()), int(hits.size))
    return out


def retrieval_metrics(scores, query_labels, item_labels, *, k: int = 5) -> dict:
    """P@k, R@k and mAP: ``{"p@5": (value, n), "r@5": (value, n), "map": (value, n)}``.

    ``n`` is the number of queries averaged; queries whose singer has no item in the
    database are left out of R@k and mAP (their P@k, 0, is kept).
    """
    relevant = relevance_matrix(scores, query_labels, item_labels)
    precision = precision_at_k(relevant, k=k)
    recall = recall_at_k(relevant, k=k)
    ap = average_precision(relevant)
    return {
        f"p@{k}": (float(precision.mean()), int(precision.size)),
        f"r@{k}": _nanmean(recall),
        "map": _nanmean(ap),
    }


def _nanmean(values: np.ndarray) -> tuple[float, int]:
    kept = values[~np.isnan(values)]
    return (float(kept.mean()) if kept.size else float("nan"), int(kept.size))


def expected_random_ap(n_relevant: int, n_items: int) -> float:
    """Exact expected AP of a uniformly random ranking with ``n_relevant`` of ``n_items``.

    A relevant item sits at rank r with probability 1/N; given that, the other R-1 relevant
    items fill the r-1 places above it at rate (R-1)/(N-1), so
    E[AP] = (1/N) * sum_r (1 + (r-1)(R-1)/(N-1)) / r.
    """
    if n_relevant <= 0 or n_items <= 0 or n_relevant > n_items:
        raise PipelineError(f"expected_random_ap: need 0 < n_relevant ({n_relevant}) "
                            f"<= n_items ({n_items})")
    if n_items == 1:
        return 1.0
    r = np.arange(1, n_items + 1)
    return float(np.sum((1 + (r - 1) * (n_relevant - 1) / (n_items - 1)) / r) / n_items)


def chance_levels(query_labels, model_labels, item_labels, *, ks=(1, 5), k: int = 5) -> dict:
    """Expected metrics of a uniformly random ranking, same keys as the metric functions.

    Top-k chance is min(k, S)/S for S singer models; P@k chance is R/N, R@k chance is
    min(k, N)/N, and AP chance is :func:`expected_random_ap`, each averaged over queries
    (R = the query singer's items in a database of N).
    """
    query_labels = np.asarray(query_labels)
    model_labels = np.asarray(model_labels)
    item_labels = np.asarray(item_labels)
    n_models, n_items = len(model_labels), len(item_labels)
    out = {}
    for kk in ks:
        in_models = np.isin(query_labels, model_labels)
        out[f"top{kk}"] = (float(np.mean(in_models * min(kk, n_models) / n_models)),
                           len(query_labels))
    singers, counts = np.unique(item_labels, return_counts=True)
    count_of = dict(zip(singers.tolist(), counts.tolist()))
    n_rel = np.array([count_of.get(q, 0) for q in query_labels.tolist()])
    has = n_rel > 0
    out[f"p@{k}"] = (float(np.mean(n_rel / n_items)), len(query_labels))
    out[f"r@{k}"] = (min(k, n_items) / n_items, int(has.sum()))
    ap = [expected_random_ap(int(r), n_items) for r in n_rel[has]]
    out["map"] = (float(np.mean(ap)) if ap else float("nan"), int(has.sum()))
    return out
