"""emseq and scikit-learn from the same initial parameters: the same trace, iteration by iteration."""

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from emseq.mixture import GaussianMixture

COV_TYPES = ["full", "tied", "diag", "spherical"]


def _init(X, k, cov_type, seed=3):
    """Deliberately rough initial parameters (random rows as means, pooled covariance)."""
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    means = X[rng.choice(len(X), k, replace=False)]
    weights = np.full(k, 1.0 / k)
    prec = np.linalg.inv(np.cov(X.T).reshape(d, d))
    precisions = {
        "full": np.repeat(prec[None], k, axis=0),
        "tied": prec,
        "diag": np.repeat(np.diag(prec)[None], k, axis=0),
        "spherical": np.full(k, np.mean(np.diag(prec))),
    }[cov_type]
    return dict(weights_init=weights, means_init=means, precisions_init=precisions)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("d", [2, 16])
def test_same_trace_as_sklearn(cov_type, d, simulate):
    X, *_ = simulate(n=2000, d=d, k=4, seed=d)
    X = X + 10.0  # away from the origin: the statistics must not lose digits to the offset
    init = _init(X, 4, cov_type)
    common = dict(n_components=4, covariance_type=cov_type, max_iter=12, tol=0.0, **init)
    ref = SkGaussianMixture(**common).fit(X)
    ours = GaussianMixture(**common).fit(X)
    ref_trace, our_trace = np.array(ref.lower_bounds_), np.array(ours.lower_bounds_)
    assert len(our_trace) == len(ref_trace) == 12
    np.testing.assert_allclose(our_trace, ref_trace, rtol=1e-8, atol=0)
    assert ours.lower_bound_ == our_trace[-1]
    np.testing.assert_allclose(ours.convergence_["log_likelihood"], our_trace, rtol=0, atol=0)
    for name in ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]:
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-7,
                                   atol=1e-9, err_msg=name)
    np.testing.assert_allclose(ours.score_samples(X), ref.score_samples(X), rtol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    assert ours.bic(X) == pytest.approx(ref.bic(X), rel=1e-10)
    assert ours.aic(X) == pytest.approx(ref.aic(X), rel=1e-10)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_same_initialisation_as_sklearn(init_params, blobs):
    """The same random_state gives the same initial parameters, hence the same fit."""
    X = blobs[0]
    common = dict(n_components=3, covariance_type="full", init_params=init_params,
                  random_state=7, max_iter=5, tol=0.0)
    ref = SkGaussianMixture(**common).fit(X)
    ours = GaussianMixture(**common).fit(X)
    # iteration 1: scikit-learn's initial weights are nk / n_samples, which sum to
    # K / n_samples for the seed-based methods; emseq normalises them (a proper mixture)
    first = 0 if init_params in ("kmeans", "random") else 1
    np.testing.assert_allclose(ours.lower_bounds_[first:], ref.lower_bounds_[first:], rtol=1e-8)
    np.testing.assert_allclose(ours.means_, ref.means_, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_threads_give_identical_results(cov_type, simulate):
    X, *_ = simulate(n=20000, d=16, k=3, seed=11)
    fits = [GaussianMixture(3, covariance_type=cov_type, max_iter=8, tol=0.0, random_state=0,
                            n_threads=t).fit(X) for t in (1, 2)]
    assert fits[0].lower_bounds_ == fits[1].lower_bounds_  # to the last bit
    np.testing.assert_array_equal(fits[0].means_, fits[1].means_)
    np.testing.assert_array_equal(fits[0].covariances_, fits[1].covariances_)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_float32_stays_float32(cov_type, blobs):
    X = blobs[0].astype(np.float32)
    common = dict(n_components=3, covariance_type=cov_type, random_state=0, max_iter=10, tol=0)
    ours = GaussianMixture(**common).fit(X)
    ref = SkGaussianMixture(**common).fit(X)
    for name in ["weights_", "means_", "covariances_", "precisions_"]:
        assert getattr(ours, name).dtype == np.float32
    assert ours.predict_proba(X).dtype == np.float32
    # scikit-learn computes in float32, emseq accumulates in float64: close, not equal
    np.testing.assert_allclose(ours.lower_bounds_, ref.lower_bounds_, rtol=1e-5)
