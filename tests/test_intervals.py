"""Bootstrap intervals over query tracks: coverage against the binomial normal approximation,
determinism, pairing, NaN handling, and agreement with the point metrics."""

import numpy as np
import pytest

from pipeline.core.errors import ConfigError
from pipeline.evaluate import metrics
from pipeline.evaluate.intervals import (
    Bootstrap,
    bootstrap_indices,
    bootstrap_interval,
    per_query_metrics,
    summarise,
)


def test_interval_of_a_proportion_matches_the_normal_approximation():
    # 100 queries, 50 hits: the sampling sd of the mean is 0.05, the 95% interval ~ +-0.098
    hits = np.r_[np.ones(50), np.zeros(50)]
    lo, hi = bootstrap_interval(hits, Bootstrap(resamples=4000, level=0.95, seed=3))
    assert lo == pytest.approx(0.5 - 1.96 * 0.05, abs=0.015)
    assert hi == pytest.approx(0.5 + 1.96 * 0.05, abs=0.015)
    narrow = bootstrap_interval(hits, Bootstrap(resamples=4000, level=0.5, seed=3))
    assert lo < narrow[0] < 0.5 < narrow[1] < hi  # a lower level gives a narrower interval


def test_constant_values_give_a_point_interval_and_zero_resamples_give_none():
    assert bootstrap_interval(np.ones(7)) == (1.0, 1.0)
    lo, hi = bootstrap_interval(np.ones(7), Bootstrap(resamples=0))
    assert np.isnan(lo) and np.isnan(hi)


def test_draws_depend_on_seed_n_and_resamples_only():
    boot = Bootstrap(resamples=50, seed=11)
    a = bootstrap_indices(20, boot)
    assert a.shape == (50, 20) and a.min() >= 0 and a.max() < 20
    assert np.array_equal(a, bootstrap_indices(20, boot))  # every model gets the same draws
    assert not np.array_equal(a, bootstrap_indices(20, Bootstrap(resamples=50, seed=12)))


def test_nan_queries_are_left_out_of_each_draw():
    # a metric undefined for half the queries has the interval of the defined half
    values = np.r_[np.array([0.0, 1.0] * 10), np.full(20, np.nan)]
    lo, hi = bootstrap_interval(values, Bootstrap(resamples=2000, seed=1))
    assert 0.2 < lo < 0.5 < hi < 0.8
    assert np.isnan(bootstrap_interval(np.full(4, np.nan))[0])


def test_invalid_settings_are_refused():
    with pytest.raises(ConfigError, match="level"):
        Bootstrap(level=1.0)
    with pytest.raises(ConfigError, match="resamples"):
        Bootstrap(resamples=-1)


def test_summary_values_are_the_point_metrics_and_lie_in_their_intervals(rng):
    singers = np.repeat(np.arange(6), 4).astype(str)
    queries = np.repeat(np.arange(6), 3).astype(str)
    id_scores = rng.standard_normal((18, 6)) + 1.5 * (queries[:, None] == np.arange(6).astype(str))
    db_scores = rng.standard_normal((18, 24)) + (queries[:, None] == singers[None, :])
    per_query = per_query_metrics(id_scores, queries, np.arange(6).astype(str), db_scores,
                                  singers)
    out = summarise(per_query, Bootstrap(resamples=500, seed=0))
    point = metrics.identification_metrics(id_scores, queries, np.arange(6).astype(str))
    point.update(metrics.retrieval_metrics(db_scores, queries, singers, k=5))
    for name, (value, n) in point.items():
        v, nn, lo, hi = out[name]
        assert (v, nn) == (pytest.approx(value), n)
        assert lo <= v <= hi
