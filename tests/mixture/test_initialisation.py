"""emseq's chunked initialisation against scikit-learn's, and its memory bound (<= 1x X)."""

import gc
import tracemalloc

import numpy as np
import pytest
from sklearn.cluster import KMeans, kmeans_plusplus as sk_kmeans_plusplus
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.utils import check_random_state

from emseq.mixture import GaussianMixture
from emseq.mixture import _initialisation as init

INITS = ["kmeans", "k-means++", "random", "random_from_data"]


def _clusters(n, d, k, seed, offset=50.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(k, d))
    return centres[rng.integers(0, k, n)] + rng.normal(size=(n, d)) + offset


@pytest.mark.parametrize("d, k", [(1, 3), (2, 5), (9, 8), (16, 16)])
@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_plusplus_picks_sklearns_rows(d, k, weighted):
    X = _clusters(4000, d, k, seed=d)
    sw = np.random.default_rng(1).uniform(0.2, 3.0, len(X)) if weighted else None
    _, ref = sk_kmeans_plusplus(X, k, random_state=check_random_state(5), sample_weight=sw)
    shift = X.mean(axis=0)
    _, ours = init.kmeans_plusplus(X, k, sw, check_random_state(5), shift, n_threads=2)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("d, k", [(2, 4), (9, 8), (16, 16)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kmeans_centres_equal_sklearns(d, k, dtype):
    X = _clusters(5000, d, k, seed=10 + d).astype(dtype)
    ref = KMeans(k, n_init=1, random_state=check_random_state(3)).fit(X).cluster_centers_
    ours = init.kmeans_centers(X, k, None, check_random_state(3), n_threads=2)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol)


def test_empty_cluster_is_relocated_like_sklearn():
    # duplicated rows: k-means++ seeds two identical centres, one of which goes empty
    rng = np.random.default_rng(0)
    X = np.repeat(rng.normal(size=(6, 2)), 50, axis=0)
    X = np.vstack([X, rng.normal(size=(4, 2)) * 1e-3 + 20.0])
    for seed in range(5):
        ref = KMeans(8, n_init=1, random_state=check_random_state(seed)).fit(X)
        ours = init.kmeans_centers(X, 8, None, check_random_state(seed), n_threads=1)
        np.testing.assert_allclose(np.sort(ours, axis=0), np.sort(ref.cluster_centers_, axis=0),
                                   atol=1e-9)


@pytest.mark.parametrize("cov_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("init_params", INITS)
def test_initial_parameters_as_sklearn_far_from_origin(cov_type, init_params):
    X = _clusters(3000, 5, 6, seed=4, offset=1e3)
    common = dict(n_components=6, covariance_type=cov_type, init_params=init_params,
                  random_state=2, max_iter=1, tol=0.0)
    ours = GaussianMixture(**common, n_threads=2).fit(X)
    # iteration 1's M-step from the initial parameters: equal when the starts are equal
    ref_fit = SkGaussianMixture(**common).fit(X)
    np.testing.assert_allclose(ours.means_, ref_fit.means_, rtol=1e-9)
    np.testing.assert_allclose(ours.covariances_, ref_fit.covariances_, rtol=1e-7, atol=1e-9)


def _peak_over_x(X, **params):
    gm = GaussianMixture(**params)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        gm.fit(X)
        return (tracemalloc.get_traced_memory()[1] - base) / X.nbytes
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("init_params", INITS)
@pytest.mark.parametrize("cov_type", ["full", "diag"])
def test_fit_allocates_less_than_x_whatever_the_init(init_params, cov_type):
    X = _clusters(150_000, 8, 8, seed=0)
    peak = _peak_over_x(X, n_components=8, covariance_type=cov_type, init_params=init_params,
                        max_iter=3, random_state=0, n_threads=1)
    assert peak <= 1.0, f"{init_params}/{cov_type}: peak {peak:.2f} x X"
