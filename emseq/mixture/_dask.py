"""EM of a Gaussian mixture on a ``dask.array``: the E-step runs where the chunks live.

EM's sufficient statistics add up over rows. Each iteration sends the current parameters
(K weights, K x D means, the covariances) to one task per row-chunk; the task runs the fused
kernel on its chunk and returns the chunk's log-likelihood sum and statistics
``(nk, s1, s2)`` (about K x D x D numbers); the client adds them in chunk order and takes the
M-step. The result is therefore the in-memory fit's (to round-off: the sums are grouped by
chunk) and does not depend on the number of workers or on which worker ran which chunk; a
task lost with its worker is recomputed by Dask, with the same result.

Data movement: X is never gathered. A persisted array (``X.persist()``) stays in the
workers' memory; otherwise every iteration reads the chunks from their source again (a
memory-mapped ``.npy``, zarr...), which is how data larger than the workers' memory is fitted.

Choices (documented in the README):

- initialisation on a uniform sample of at most ``INIT_SAMPLE_ROWS`` rows (all rows when X is
  smaller, in which case the start is the in-memory fit's for the same ``random_state``);
- ``sample_weight`` and ``missing="marginalize"`` are not supported on Dask arrays;
- the client is the estimator's ``client``, else a client of its ``scheduler`` address, else
  the current default ``distributed`` client, else an embedded ``LocalCluster`` (one
  single-threaded worker process per core) for the duration of ``fit`` (:func:`dask_client`).
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any, Iterator

import numpy as np

from ..errors import InputError, UsageError

__all__ = ["INIT_SAMPLE_ROWS", "DaskProblem", "is_dask_array", "dask_client"]

logger = logging.getLogger(__name__)

#: rows drawn (uniformly, without replacement) for the initialisation of a Dask fit
INIT_SAMPLE_ROWS = 200_000


def is_dask_array(X: Any) -> bool:
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "chunks") \
        and hasattr(X, "to_delayed")


@contextlib.contextmanager
def dask_client(client=None, scheduler: str | None = None) -> Iterator[Any]:
    """The client a Dask fit runs on (the options of ``emseq batch``, in this order).

    Parameters
    ----------
    client : distributed.Client, optional
        Use this client.
    scheduler : str, optional
        Else join the scheduler at this address (``tcp://host:8786``) for the fit.

    Otherwise the current default client (``distributed.default_client()``, e.g. the last
    ``Client`` created or the one of a ``with client.as_current():`` block), else an embedded
    ``LocalCluster`` of one single-threaded worker process per core, closed after the fit.
    """
    from ..batch.cluster import open_client

    if client is None and not scheduler:
        from distributed import default_client

        try:
            client = default_client()
        except ValueError:  # no client in this process
            client = None
    with open_client(client=client, scheduler=scheduler) as workers:
        yield workers.client


# ------------------------------------------------------------------ tasks run on the workers

def _chunk_summary(block: np.ndarray, origin: np.ndarray, tied: bool):
    """Rows, ``sum(x - origin)``, (tied) ``sum (x - origin)(x - origin)^T``, first bad cell."""
    block = np.asarray(block)
    bad = ~np.isfinite(block)
    first_bad = None
    if bad.any():
        i, j = np.argwhere(bad)[0]
        first_bad = (int(i), int(j), "NaN" if np.isnan(block[i, j]) else "infinite")
    diff = block.astype(np.float64) - origin
    scatter = diff.T @ diff if tied else None
    return block.shape[0], diff.sum(axis=0), scatter, first_bad


def _chunk_estep(block: np.ndarray, cov_type: str, reg: float, hard: bool,
                 center: np.ndarray, weights, means, cov):
    """The fused E-step on one chunk: (log-likelihood sum, nk, s1, s2) around ``means``."""
    from ._blas import one_blas_thread
    from ._gmm import _precision_cholesky, _Problem

    X = np.ascontiguousarray(block)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    with one_blas_thread():
        problem = _Problem(X, None, cov_type, reg, 1, hard, None, center=center, scatter=False)
        pc = _precision_cholesky(cov, cov_type, reg)
        ll, nk, s1, s2, _ = problem.e_step(weights, means, pc, cov)
    return ll, nk, s1, s2


# ------------------------------------------------------------------ the client's side

class DaskProblem:
    """The data of one fit as row-chunks of a Dask array (same interface as ``_Problem``)."""

    def __init__(self, X, cov_type: str, reg_covar: float, hard: bool, client) -> None:
        from ._gmm import _Problem

        self._m_step = _Problem.m_step
        if X.ndim != 2:
            raise InputError(f"Expected a 2-D dask array, got {X.ndim} dimensions")
        if any(math.isnan(c) for dim in X.chunks for c in dim):
            raise InputError("the dask array has unknown chunk sizes (NaN in X.chunks); call "
                             "X.compute_chunk_sizes() first")
        if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
            raise InputError(f"the dask array has dtype {X.dtype}; expected numbers")
        if len(X.chunks[1]) > 1:  # each task needs whole rows
            X = X.rechunk({1: -1})
        self.cov_type = cov_type
        self.reg = float(reg_covar)
        self.hard = hard
        self.eps = float(np.finfo(np.float64).eps)
        self.n_samples, self.D = (int(v) for v in X.shape)
        self.dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        self.client = client
        self.X = X
        self.blocks = list(X.to_delayed().ravel())
        self.offsets = np.concatenate([[0], np.cumsum(X.chunks[0])])
        self.total_weight = float(self.n_samples)
        self.n_threads = 1
        self.missing = None
        self._summarise()

    def _compute(self, tasks):
        futures = self.client.compute(tasks, retries=3)
        return self.client.gather(futures)

    def _summarise(self) -> None:
        """One pass: the global centre, the tied scatter, and the NaN/infinity check."""
        import dask

        first = self.X[: min(self.n_samples, 1000)].compute()
        origin = np.asarray(first, dtype=np.float64).mean(axis=0)
        tied = self.cov_type == "tied"
        summaries = self._compute([dask.delayed(_chunk_summary)(b, origin, tied)
                                   for b in self.blocks])
        for index, (_, _, _, bad) in enumerate(summaries):
            if bad is not None:
                i, j, what = bad
                row = int(self.offsets[index]) + i
                if what == "NaN":
                    raise InputError(f"X contains NaN (row {row}, column {j}); impute it first "
                                     "(missing='marginalize' is not supported on dask arrays)")
                raise InputError(f"X contains infinity (row {row}, column {j}); only finite "
                                 "values are allowed")
        n = sum(s[0] for s in summaries)
        shift = sum((s[1] for s in summaries), np.zeros(self.D)) / n
        self.center = origin + shift
        self.scatter = None
        if tied:
            total = sum((s[2] for s in summaries), np.zeros((self.D, self.D)))
            self.scatter = total - n * np.outer(shift, shift)

    def sample(self, rng, size: int = INIT_SAMPLE_ROWS) -> np.ndarray:
        """A uniform sample of rows (all of them when X has at most ``size``), in memory."""
        if self.n_samples <= size:
            rows = self.X.compute()
        else:
            idx = np.sort(rng.choice(self.n_samples, size=size, replace=False))
            rows = self.X[idx].compute()
        return np.ascontiguousarray(rows, dtype=self.dtype)

    def e_step(self, weights, means, pc, covariances, hard: bool | None = None):
        import dask

        hard = self.hard if hard is None else hard
        task = dask.delayed(_chunk_estep, pure=False)
        results = self._compute([task(b, self.cov_type, self.reg, hard, self.center,
                                      weights, means, covariances) for b in self.blocks])
        ll = 0.0
        nk = s1 = s2 = None
        for r_ll, r_nk, r_s1, r_s2 in results:  # chunk order: independent of the workers
            ll += r_ll
            nk = r_nk if nk is None else nk + r_nk
            s1 = r_s1 if s1 is None else s1 + r_s1
            if r_s2 is not None:
                s2 = r_s2 if s2 is None else s2 + r_s2
        return ll, nk, s1, s2, self.scatter

    def m_step(self, means, nk, s1, s2, tied_scatter):
        return self._m_step(self, means, nk, s1, s2, tied_scatter)


def check_dask_options(gm, sample_weight) -> None:
    if sample_weight is not None:
        raise UsageError("sample_weight is not supported when X is a dask array")
    if gm.missing == "marginalize":
        raise UsageError("missing='marginalize' is not supported when X is a dask array")
