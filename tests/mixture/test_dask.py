"""EM on a dask.array over a real LocalCluster with worker processes."""

import os
import signal
import threading
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from emseq.errors import InputError, UsageError  # noqa: E402
from emseq.mixture import GaussianMixture  # noqa: E402

COV_TYPES = ["full", "tied", "diag", "spherical"]


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as c:
            yield c


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    K, D, N = 4, 3, 12000
    return rng.normal(size=(N, D)) + rng.normal(0, 4, (K, D))[rng.integers(0, K, N)] + 20.0


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_same_fit_as_in_memory(cov_type, client, data):
    common = dict(n_components=4, covariance_type=cov_type, random_state=0, tol=0,
                  max_iter=12)
    ref = GaussianMixture(**common).fit(data)
    ours = GaussianMixture(**common).fit(da.from_array(data, chunks=(2500, 3)))
    np.testing.assert_allclose(ours.lower_bounds_, ref.lower_bounds_, rtol=1e-10, atol=0)
    for name in ["weights_", "means_", "covariances_"]:
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-10,
                                   atol=1e-12, err_msg=name)
    assert np.all(np.diff(ours.lower_bounds_) >= -1e-12)
    dX = da.from_array(data, chunks=(5000, 3))
    np.testing.assert_array_equal(ours.predict(dX).compute(), ref.predict(data))
    np.testing.assert_allclose(ours.score_samples(dX).compute(), ref.score_samples(data),
                               rtol=1e-10)


def test_chunking_and_column_chunks_do_not_matter(client, data):
    fits = [GaussianMixture(3, random_state=1, max_iter=8, tol=0).fit(
        da.from_array(data, chunks=chunks)) for chunks in [(1000, 3), (7000, 2)]]
    np.testing.assert_allclose(fits[0].means_, fits[1].means_, rtol=1e-12)


def test_worker_killed_mid_fit_gives_the_same_result(client, data):
    common = dict(n_components=4, random_state=0, tol=0, max_iter=25)
    X = da.from_array(data, chunks=(1500, 3))
    ref = GaussianMixture(**common).fit(X)
    pids = list(client.run(os.getpid).values())

    def kill():
        time.sleep(1.0)
        os.kill(pids[0], signal.SIGKILL)

    killer = threading.Thread(target=kill)
    killer.start()
    ours = GaussianMixture(**common).fit(X)
    killer.join()
    assert ours.lower_bounds_ == ref.lower_bounds_
    client.wait_for_workers(1)


def test_bad_dask_input(client, data):
    X = da.from_array(data, chunks=(3000, 3))
    unknown = X[X[:, 0] > 20]
    with pytest.raises(InputError, match="unknown chunk sizes"):
        GaussianMixture(2).fit(unknown)
    holes = data.copy()
    holes[7777, 1] = np.nan
    with pytest.raises(InputError, match=r"NaN \(row 7777, column 1\)"):
        GaussianMixture(2).fit(da.from_array(holes, chunks=(3000, 3)))
    with pytest.raises(UsageError, match="sample_weight"):
        GaussianMixture(2).fit(X, sample_weight=np.ones(len(data)))
