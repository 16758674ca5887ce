"""Metrics against hand-computed values on a tiny constructed case."""

import html
import itertools

import numpy as np
import pytest

from pipeline.core.errors import PipelineError
from pipeline.evaluate import metrics

# Database of six tracks: singer A has 3, B has 2, C has 1 (fewer tracks), D has none.
ITEMS = np.array(["A", "B", "A", "C", "B", "A"])
QUERIES = np.array(["A", "C", "D"])
SCORES = np.array([
    [0.9, 0.8, 0.5, 0.5, 0.7, 0.1],  # A: ranks 0,1,4,2,3,5 (2 and 3 tie: index order)
    [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],  # C: all tied -> database order, C at rank 4
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],  # D: not in the database
])


def test_rank_items_breaks_ties_by_database_index():
    order = metrics.rank_items(SCORES)
    assert order[0].tolist() == [0, 1, 4, 2, 3, 5]
    assert order[1].tolist() == [0, 1, 2, 3, 4, 5]


def test_retrieval_metrics_match_hand_computed_values():
    out = metrics.retrieval_metrics(SCORES, QUERIES, ITEMS, k=5)
    # A: relevant at ranks 1, 4, 6 -> P@5 = 2/5, R@5 = 2/3, AP = (1/1 + 2/4 + 3/6) / 3 = 2/3
    # C: relevant at rank 4 -> P@5 = 1/5, R@5 = 1/1, AP = 1/4
    # D: P@5 = 0; no recall, no AP
    assert out["p@5"] == (pytest.approx(((2 / 5) + (1 / 5) + 0) / 3), 3)
    assert out["r@5"][0] == pytest.approx((2 / 3 + 1) / 2)
    assert out["r@5"][1] == 2
    assert out["map"][0] == pytest.approx((2 / 3 + 1 / 4) / 2)
    assert out["map"][1] == 2


def test_per_query_functions():
    relevant = metrics.relevance_matrix(SCORES, QUERIES, ITEMS)
    assert relevant[0].tolist() == [True, False, False, True, False, True]
    np.testing.assert_allclose(metrics.average_precision(relevant)[:2], [2 / 3, 1 / 4])
    assert np.isnan(metrics.average_precision(relevant)[2])
    np.testing.assert_allclose(metrics.recall_at_k(relevant, k=1)[:2], [1 / 3, 0])
    np.testing.assert_allclose(metrics.precision_at_k(relevant, k=1), [1, 0, 0])


def test_top_k_accuracy_with_tie():
    models = np.array(["A", "B", "C"])
    scores = np.array([[0.2, 0.2, 0.1],   # B ties with A, A comes first: B at rank 2
                       [0.1, 0.3, 0.2],   # A at rank 3
                       [0.0, 0.0, 0.9]])  # C at rank 1
    out = metrics.identification_metrics(scores, np.array(["B", "A", "C"]), models, ks=(1, 2))
    assert out["top1"] == (pytest.approx(1 / 3), 3)
    assert out["top2"] == (pytest.approx(2 / 3), 3)


def test_perfect_scores_give_one():
    labels = np.repeat(np.arange(4), 3)
    scores = (labels[:, None] == labels[None, :]).astype(float)
    out = metrics.retrieval_metrics(scores, labels, labels, k=3)
    assert out["map"][0] == 1 and out["p@3"][0] == 1 and out["r@3"][0] == 1


@pytest.mark.parametrize("n_rel,n_items", [(1, 1), (1, 4), (2, 5), (3, 6), (6, 6)])
def test_expected_random_ap_equals_mean_over_all_rankings(n_rel, n_items):
    aps = []
    for positions in itertools.combinations(range(n_items), n_rel):
        relevant = np.zeros((1, n_items), dtype=bool)
        relevant[0, list(positions)] = True
        aps.append(metrics.average_precision(relevant)[0])
    assert metrics.expected_random_ap(n_rel, n_items) == pytest.approx(np.mean(aps))


def test_chance_levels():
    out = metrics.chance_levels(QUERIES, np.array(["A", "B", "C", "E"]), ITEMS, ks=(1,), k=5)
    assert out["top1"][0] == pytest.approx((1 / 4 + 1 / 4 + 0) / 3)  # D has no model
    assert out["p@5"][0] == pytest.approx((3 / 6 + 1 / 6 + 0) / 3)
    assert out["r@5"] == (pytest.approx(5 / 6), 2)
    assert out["map"][0] == pytest.approx(
        (metrics.expected_random_ap(3, 6) + metrics.expected_random_ap(1, 6)) / 2)


def test_cosine_similarity_and_errors():
    a = np.array([[1.0, 0.0], [0.0, 0.0]])
    b = np.array([[2.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(metrics.cosine_similarity(a, b), [[1, 2 ** -0.5], [0, 0]])
    with pytest.raises(PipelineError):
        metrics.retrieval_metrics(SCORES[:, :3], QUERIES, ITEMS)
    with pytest.raises(PipelineError, match="NaN"):
        metrics.rank_items(np.array([[np.nan, 1.0]]))


def test_every_metric_computed_has_one_definition_and_the_report_renders_it():
    from pipeline.report.html import definitions

    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.4]])
    names = set(metrics.identification_metrics(scores, ["a", "b"], ["a", "b", "c"]))
    names |= set(metrics.retrieval_metrics(scores, ["a", "b"], ["a", "b", "a"], k=5))
    assert names == set(metrics.METRICS)
    text = definitions()
    for m in metrics.METRICS.values():
        assert html.escape(m.definition) in text
