"""What scikit-learn's GaussianMixture does not do, each checked against known truth."""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from emseq.mixture import GaussianMixture

COV_TYPES = ["full", "tied", "diag", "spherical"]


def _monotone(trace, rtol=1e-12):
    trace = np.asarray(trace)
    return np.all(np.diff(trace) >= -rtol * np.maximum(1.0, np.abs(trace[1:])))


def _match(fitted_means, true_means):
    """Permutation of fitted components matching the true ones (by nearest mean)."""
    return [int(np.argmin(np.linalg.norm(fitted_means - m, axis=1))) for m in true_means]


# ---------------------------------------------------------------- sample_weight
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_sample_weight_equals_repetition(cov_type, blobs):
    X = blobs[0][:300]
    rng = np.random.default_rng(1)
    w = rng.integers(0, 4, size=len(X))
    start = GaussianMixture(3, covariance_type=cov_type, max_iter=0, random_state=0).fit(X)
    init = dict(weights_init=start.weights_, means_init=start.means_,
                precisions_init=start.precisions_)
    common = dict(n_components=3, covariance_type=cov_type, max_iter=15, tol=0, **init)
    weighted = GaussianMixture(**common).fit(X, sample_weight=w)
    repeated = GaussianMixture(**common).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-10)
    for name in ["weights_", "means_", "covariances_"]:
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name),
                                   rtol=1e-8, atol=1e-10)


def test_sample_weight_recovers_population_weights():
    """Equal-size samples per component, reweighted to the population: weights_ recovers it."""
    rng = np.random.default_rng(5)
    true_w = np.array([0.6, 0.3, 0.1])
    means = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    X = np.vstack([rng.normal(m, 1.0, size=(2000, 2)) for m in means])
    z = np.repeat(np.arange(3), 2000)
    sw = true_w[z] / (1.0 / 3.0)
    gm = GaussianMixture(3, random_state=0).fit(X, sample_weight=sw)
    order = _match(gm.means_, means)
    np.testing.assert_allclose(gm.weights_[order], true_w, atol=0.005)
    unweighted = GaussianMixture(3, random_state=0).fit(X)
    np.testing.assert_allclose(unweighted.weights_, 1 / 3, atol=0.005)


# ---------------------------------------------------------------- missing values
def _with_holes(X, frac, seed):
    rng = np.random.default_rng(seed)
    holes = rng.random(X.shape) < frac
    holes[holes.all(axis=1), 0] = False  # keep at least one observed value per row
    Xm = X.copy()
    Xm[holes] = np.nan
    return Xm


@pytest.fixture(scope="module")
def correlated(request):
    rng = np.random.default_rng(21)
    means = np.array([[0.0, 0.0, 0.0], [6.0, 6.0, -3.0]])
    covs = np.array([[[2.0, 1.5, 0.5], [1.5, 2.0, 0.3], [0.5, 0.3, 1.0]],
                     [[1.0, -0.6, 0.0], [-0.6, 1.5, 0.4], [0.0, 0.4, 0.8]]])
    n = np.array([3000, 2000])
    X = np.vstack([rng.multivariate_normal(m, c, size=k) for m, c, k in zip(means, covs, n)])
    return X, means, covs, n / n.sum()


def test_missing_values_recover_truth(correlated):
    X, means, covs, weights = correlated
    Xm = _with_holes(X, 0.25, seed=2)
    gm = GaussianMixture(2, missing="marginalize", tol=1e-10, max_iter=500,
                         random_state=0).fit(Xm)
    assert gm.converged_ and _monotone(gm.lower_bounds_)
    order = _match(gm.means_, means)
    np.testing.assert_allclose(gm.weights_[order], weights, atol=0.02)
    np.testing.assert_allclose(gm.means_[order], means, atol=0.1)
    np.testing.assert_allclose(gm.covariances_[order], covs, atol=0.2)
    # mean imputation, the usual workaround, shrinks variances and correlations
    imputed = np.where(np.isnan(Xm), np.nanmean(Xm, axis=0), Xm)
    naive = GaussianMixture(2, random_state=0).fit(imputed)
    err_ours = np.abs(gm.covariances_[order] - covs).max()
    err_naive = np.abs(naive.covariances_[_match(naive.means_, means)] - covs).max()
    assert err_ours < 0.5 * err_naive


def test_missing_values_likelihood_is_the_marginal(correlated):
    X, *_ = correlated
    Xm = _with_holes(X[:400], 0.3, seed=4)
    gm = GaussianMixture(2, missing="marginalize", random_state=0).fit(Xm)
    expected = []
    for x in Xm:
        obs = ~np.isnan(x)
        comps = [np.log(w) + multivariate_normal(m[obs], c[np.ix_(obs, obs)]).logpdf(x[obs])
                 for w, m, c in zip(gm.weights_, gm.means_, gm.covariances_)]
        expected.append(logsumexp(comps))
    np.testing.assert_allclose(gm.score_samples(Xm), expected, rtol=1e-10)
    proba = gm.predict_proba(Xm)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(gm.predict(Xm), proba.argmax(axis=1))


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_missing_values_every_covariance_type(cov_type, correlated):
    X, means, *_ = correlated
    Xm = _with_holes(X, 0.2, seed=3)
    gm = GaussianMixture(2, covariance_type=cov_type, missing="marginalize", tol=1e-9,
                         max_iter=300, random_state=0).fit(Xm)
    assert _monotone(gm.lower_bounds_)
    np.testing.assert_allclose(gm.means_[_match(gm.means_, means)], means, atol=0.15)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_marginalize_without_nan_is_plain_em(cov_type, blobs):
    X = blobs[0]
    common = dict(n_components=3, covariance_type=cov_type, random_state=0, max_iter=20, tol=0)
    a = GaussianMixture(**common).fit(X)
    b = GaussianMixture(missing="marginalize", **common).fit(X)
    assert a.lower_bounds_ == b.lower_bounds_


# ---------------------------------------------------------------- hard (classification EM)
def test_hard_em_is_kmeans_in_the_isotropic_limit(blobs):
    X, z, *_ = blobs
    gm = GaussianMixture(3, covariance_type="spherical", hard=True, tol=0, max_iter=50,
                         random_state=0).fit(X)
    assert _monotone(gm.lower_bounds_)
    labels = gm.predict(X)
    assert adjusted_rand_score(z, labels) == 1.0
    km = KMeans(3, n_init=1, random_state=0).fit(X)
    order = _match(gm.means_, km.cluster_centers_)
    np.testing.assert_allclose(gm.means_[order], km.cluster_centers_, rtol=1e-10)
    # a fixed point of classification EM: each mean is the centroid of its hard cluster
    for k in range(3):
        np.testing.assert_allclose(gm.means_[k], X[labels == k].mean(axis=0), rtol=1e-10)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_hard_em_monotone(cov_type, simulate):
    X, *_ = simulate(n=3000, d=3, k=4, seed=9, spread=2.5)
    gm = GaussianMixture(4, covariance_type=cov_type, hard=True, tol=0, max_iter=40,
                         random_state=1, init_params="random_from_data").fit(X)
    assert _monotone(gm.lower_bounds_)
    # the objective is the classification log-likelihood: sum of the best joint log-density
    assert gm.lower_bounds_[-1] <= gm.score(X) + 1e-12


# ---------------------------------------------------------------- SQUAREM
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_squarem_same_optimum_fewer_iterations(cov_type, simulate):
    X, *_ = simulate(n=4000, d=2, k=3, seed=4, spread=2.0)  # overlapping: slow plain EM
    common = dict(n_components=3, covariance_type=cov_type, tol=1e-10, max_iter=2000,
                  random_state=0)
    plain = GaussianMixture(**common).fit(X)
    fast = GaussianMixture(acceleration="squarem", **common).fit(X)
    assert plain.converged_ and fast.converged_
    assert _monotone(fast.lower_bounds_)
    assert fast.lower_bound_ == pytest.approx(plain.lower_bound_, abs=1e-7)
    assert fast.n_iter_ < plain.n_iter_


# ---------------------------------------------------------------- monotone everywhere
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_log_likelihood_never_decreases(cov_type, init_params, simulate):
    X, *_ = simulate(n=2000, d=4, k=5, seed=13, spread=2.0)
    gm = GaussianMixture(5, covariance_type=cov_type, init_params=init_params, tol=0,
                         max_iter=60, random_state=3).fit(X)
    assert _monotone(gm.lower_bounds_)
    frame = gm.convergence_
    assert list(frame.columns) == ["iteration", "log_likelihood", "delta", "relative_delta",
                                   "seconds"]
    assert len(frame) == gm.n_iter_ == 60
