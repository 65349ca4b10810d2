"""EM on a dask.array over a real LocalCluster with worker processes."""

import os
import pickle
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


def test_users_client_or_scheduler_address(client, data):
    """The options of ``emseq batch``: a Client, or the address of a running scheduler."""
    from sklearn.base import clone

    common = dict(n_components=3, covariance_type="diag", random_state=2, tol=0, max_iter=6)
    ref = GaussianMixture(**common).fit(data)
    X = da.from_array(data, chunks=(2000, 3))
    given = GaussianMixture(client=client, **common)
    joined = GaussianMixture(scheduler=client.scheduler.address, **common)
    for gm in (given.fit(X), joined.fit(X)):
        np.testing.assert_allclose(gm.lower_bounds_, ref.lower_bounds_, rtol=1e-10, atol=0)
        np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-10)
        np.testing.assert_array_equal(gm.predict(X).compute(), ref.predict(data))
    assert clone(given).client is client and clone(given).get_params()["n_components"] == 3
    with pytest.raises(UsageError, match="exclude each other"):
        GaussianMixture(client=client, scheduler="tcp://127.0.0.1:1").fit(X)
    with pytest.raises(UsageError, match="scheduler must be an address"):
        GaussianMixture(scheduler=client).fit(X)


def test_select_on_a_dask_array_equals_in_memory(client, data):
    from emseq.mixture import select

    common = dict(random_state=0, tol=1e-4, max_iter=30)
    best, table = select(data, [2, 4, 5], ["full", "spherical"], **common)
    dbest, dtable = select(da.from_array(data, chunks=(2500, 3)), [2, 4, 5],
                           ["full", "spherical"], client=client, **common)
    assert best.n_components == dbest.n_components == 4
    assert list(dtable["best"]) == list(table["best"])
    np.testing.assert_allclose(dtable["bic"], table["bic"], rtol=1e-10)
    np.testing.assert_array_equal(dtable["n_iter"], table["n_iter"])


def test_npy_and_zarr_read_by_the_workers(client, data, tmp_path):
    from emseq.io.arrays import open_array

    np.save(tmp_path / "x.npy", data)
    X = open_array(tmp_path / "x.npy", chunk_rows=2500)
    assert X.chunks[0] == (2500,) * 4 + (2000,)
    assert len(pickle.dumps(X.__dask_graph__())) < 10_000  # the path, not the rows
    common = dict(n_components=4, random_state=0, tol=0, max_iter=8)
    ref = GaussianMixture(**common).fit(data)
    fitted = GaussianMixture(**common).fit(X)
    np.testing.assert_allclose(fitted.lower_bounds_, ref.lower_bounds_, rtol=1e-10, atol=0)
    zarr = pytest.importorskip("zarr", reason="zarr not installed (pip install zarr)")
    store = zarr.create_array(str(tmp_path / "x.zarr"), shape=data.shape, chunks=(3000, 3),
                              dtype="f8")
    store[:] = data
    Z = open_array(tmp_path / "x.zarr")
    assert Z.chunks[0] == (3000,) * 4
    np.testing.assert_allclose(GaussianMixture(**common).fit(Z).means_, ref.means_,
                               rtol=1e-10)
