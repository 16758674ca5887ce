"""GMM-UBM: MFCC definition, MAP adaptation by hand, likelihoods, and the driver."""

import numpy as np
import pandas as pd
import pytest
from conftest import complete_index
from scipy.stats import norm
from sklearn.mixture import GaussianMixture

from pipeline.core.errors import PipelineError
from pipeline.evaluate import gmm_ubm
from pipeline.evaluate.protocol import EvalParams


def toy_ubm(weights, means, variances):
    ubm = GaussianMixture(n_components=len(weights), covariance_type="diag")
    ubm.weights_ = np.asarray(weights, float)
    ubm.means_ = np.asarray(means, float)
    ubm.covariances_ = np.asarray(variances, float)
    ubm.precisions_cholesky_ = 1 / np.sqrt(ubm.covariances_)
    return ubm


def test_mfcc_is_orthonormal_dct_ii_of_the_bands(rng):
    mels = rng.standard_normal((2, 5, 128))
    n = np.arange(128)
    basis = np.stack([np.cos(np.pi * k * (2 * n + 1) / 256) for k in range(13)])
    basis *= np.sqrt(2 / 128)
    basis[0] /= np.sqrt(2)
    expected = mels @ basis.T
    np.testing.assert_allclose(gmm_ubm.mfcc_from_logmel(mels), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(PipelineError, match="n_mfcc"):
        gmm_ubm.mfcc_from_logmel(mels[..., :4], n_mfcc=13)


def test_map_adaptation_matches_the_formula():
    ubm = toy_ubm([0.3, 0.7], [[0.0, 0.0], [4.0, 2.0]], [[1.0, 2.0], [1.0, 0.5]])
    x = np.array([[0.5, -1.0], [3.0, 2.5], [4.5, 1.0], [1.5, 0.5]])
    # Responsibilities by hand from the Gaussian densities.
    dens = np.stack([w * norm.pdf(x, m, np.sqrt(v)).prod(axis=1)
                     for w, m, v in zip(ubm.weights_, ubm.means_, ubm.covariances_)], axis=1)
    gamma = dens / dens.sum(axis=1, keepdims=True)
    n = gamma.sum(axis=0)
    e = (gamma.T @ x) / n[:, None]
    for r in (0.0, 2.0, 16.0):
        alpha = (n / (n + r))[:, None]
        expected = alpha * e + (1 - alpha) * ubm.means_
        np.testing.assert_allclose(gmm_ubm.map_adapt_means(ubm, x, relevance=r), expected)
    # A huge relevance factor keeps the UBM means.
    np.testing.assert_allclose(gmm_ubm.map_adapt_means(ubm, x, relevance=1e12), ubm.means_,
                               atol=1e-9)


def test_component_without_responsibility_keeps_ubm_mean():
    ubm = toy_ubm([0.5, 0.5], [[0.0], [1000.0]], [[1.0], [1.0]])
    adapted = gmm_ubm.map_adapt_means(ubm, np.array([[1.0], [1.0]]), relevance=0.0)
    np.testing.assert_allclose(adapted, [[1.0], [1000.0]])


def test_log_likelihood_matches_sklearn_and_llr(rng):
    x = rng.standard_normal((300, 3))
    ubm = gmm_ubm.fit_ubm(x, n_components=4, seed=0)
    ours = gmm_ubm.frame_log_likelihood(x, weights=ubm.weights_, means=ubm.means_[None],
                                        variances=ubm.covariances_)
    np.testing.assert_allclose(ours[0], ubm.score_samples(x), rtol=1e-9)
    shifted = ubm.means_ + 0.5
    llr = gmm_ubm.llr_scores(ubm, np.stack([ubm.means_, shifted]), x)
    assert llr[0] == pytest.approx(0.0, abs=1e-12)
    other = toy_ubm(ubm.weights_, shifted, ubm.covariances_)
    assert llr[1] == pytest.approx(np.mean(other.score_samples(x) - ubm.score_samples(x)))
    with pytest.raises(PipelineError, match="components"):
        gmm_ubm.fit_ubm(x[:3], n_components=4)


def write_gaussian_dataset(path, rng, *, n_test=6, n_train=4, windows=2):
    """Each singer's frames sit around their own mel profile; mixes add a loud offset."""
    records, mono, mix = [], [], []
    profiles = rng.standard_normal((n_test + n_train, 128)) * 2
    for s in range(n_test + n_train):
        subsets = ["test_model"] * 6 + ["test_query"] * 4 if s < n_test else ["train"] * 10
        for t, subset in enumerate(subsets):
            for w in range(windows):
                mel = profiles[s] + 0.5 * rng.standard_normal((129, 128))
                mono.append(mel)
                mix.append(mel + 0.3 * rng.standard_normal((129, 128)))
                records.append({"segment_id": len(records), "subset": subset,
                                "singer": f"s{s}", "perf_id": f"s{s}-{t}", "window_index": w,
                                "mix_index": 0, "shard": 0, "row": len(records)})
    path.mkdir(parents=True)
    np.save(path / "mono-000000.npy", np.stack(mono).astype(np.float16))
    np.save(path / "mix-000000.npy", np.stack(mix).astype(np.float16))
    complete_index(pd.DataFrame.from_records(records)).to_parquet(path / "index.parquet")
    return path


def test_driver_identifies_singers(tmp_path, rng):
    path = write_gaussian_dataset(tmp_path / "v", rng)
    params = EvalParams(gmm_components=8, ubm_frames=2000, gmm_max_iter=50, seed=0)
    table = gmm_ubm.evaluate_gmm_ubm(path, params=params, scenarios=["Mono2Mono", "Mix2Mix"])
    assert set(table["model"]) == {"GMM-UBM"}
    top1 = table[table["metric"] == "top1"].set_index("scenario")["value"]
    assert (top1 >= 0.9).all()
    assert (table.loc[table["metric"] == "top1", "n"] == 24).all()
    again = gmm_ubm.evaluate_gmm_ubm(path, params=params, scenarios=["Mono2Mono", "Mix2Mix"])
    pd.testing.assert_frame_equal(table, again)


def test_baseline_cli(tmp_path, rng):
    from pipeline.cli import main

    path = write_gaussian_dataset(tmp_path / "v", rng, n_test=3, n_train=2, windows=1)
    code = main(["baseline", "--dataset", str(path), "--out", str(tmp_path / "out" / "b.parquet"),
                 "--scenarios", "Mono2Mono", "Mono2Mix",
                 "--params", '{"gmm_components": 4, "ubm_frames": 1000, "gmm_max_iter": 20}'])
    assert code == 0
    table = pd.read_parquet(tmp_path / "out" / "b.parquet")
    assert (tmp_path / "out" / "b.csv").exists()
    assert set(table["scenario"]) == {"Mono2Mono", "Mono2Mix"} and len(table) == 10


def test_top_c_scoring_sums_only_the_best_ubm_components():
    ubm = toy_ubm([0.2, 0.3, 0.5], [[0.0], [3.0], [6.0]], [[1.0], [2.0], [1.0]])
    x = np.array([[0.5], [2.0], [5.5], [9.0]])
    dens = np.stack([w * norm.pdf(x[:, 0], m[0], np.sqrt(v[0]))
                     for w, m, v in zip(ubm.weights_, ubm.means_, ubm.covariances_)], axis=1)
    top = gmm_ubm.top_components(ubm, x, n_top=2)
    expected_top = np.sort(np.argsort(-dens, axis=1)[:, :2], axis=1)
    np.testing.assert_array_equal(top, expected_top)
    model = ubm.means_ + np.array([[0.5], [-0.5], [1.0]])
    mdens = np.stack([w * norm.pdf(x[:, 0], m[0], np.sqrt(v[0]))
                      for w, m, v in zip(ubm.weights_, model, ubm.covariances_)], axis=1)
    picked = np.zeros_like(dens, dtype=bool)
    np.put_along_axis(picked, top, True, axis=1)
    expected = np.mean(np.log((mdens * picked).sum(1)) - np.log((dens * picked).sum(1)))
    assert gmm_ubm.llr_scores(ubm, model[None], x, n_top=2)[0] == pytest.approx(expected)
    exact = np.mean(np.log(mdens.sum(1)) - np.log(dens.sum(1)))
    for n_top in (0, 3, 7):  # 0 or >= n_components: every component
        assert gmm_ubm.llr_scores(ubm, model[None], x, n_top=n_top)[0] == pytest.approx(exact)
