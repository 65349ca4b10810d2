"""BLAS thread limits resolved once per process; the convergence frame built on demand."""

import pickle

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from emseq.mixture import GaussianMixture
from emseq.mixture._blas import one_blas_thread


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_one_blas_thread_limits_and_restores():
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with one_blas_thread():
            assert set(_blas_threads()) == {1}
        assert _blas_threads() == before
    with pytest.raises(RuntimeError):  # restored on error too
        with threadpool_limits(limits=2, user_api="blas"):
            with one_blas_thread():
                raise RuntimeError("boom")
    assert _blas_threads() == before or not before


def test_convergence_frame_is_lazy_but_complete(blobs):
    gm = GaussianMixture(3, random_state=0)
    with pytest.raises(AttributeError):
        gm.convergence_
    gm.fit(blobs[0])
    assert gm.__dict__["_convergence_frame"] is None
    frame = gm.convergence_
    assert list(frame["log_likelihood"]) == gm.lower_bounds_
    assert gm.convergence_ is frame
    again = pickle.loads(pickle.dumps(gm))
    np.testing.assert_array_equal(again.convergence_["log_likelihood"], frame["log_likelihood"])
