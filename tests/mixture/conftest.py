import numpy as np
import warnings

import pytest


def simulate(n=1500, seed=0, d=2, k=3, spread=6.0):
    """Seeded Gaussian mixture: returns X, labels, true weights, means, covariances."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(k, 5.0))
    means = rng.normal(0.0, spread, size=(k, d))
    covs = []
    for _ in range(k):
        a = rng.normal(size=(d, d))
        covs.append(a @ a.T / d + 0.5 * np.eye(d))
    covs = np.array(covs)
    z = rng.choice(k, size=n, p=weights)
    X = np.empty((n, d))
    for j in range(k):
        idx = z == j
        X[idx] = rng.multivariate_normal(means[j], covs[j], size=idx.sum())
    return X, z, weights, means, covs


@pytest.fixture(scope="session")
def blobs():
    return simulate()


@pytest.fixture(name="simulate", scope="session")
def simulate_fixture():
    """The simulator itself, for tests that need other sizes."""
    return simulate


@pytest.fixture(autouse=True)
def _no_convergence_noise():
    """Fixed-iteration runs (tol=0) are not expected to converge: keep the log readable."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="session")
def client():
    """A real LocalCluster of 2 single-threaded worker processes, and its client."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as c:
            yield c
