"""Initial parameters of a Gaussian mixture, with no array larger than a chunk of rows.

scikit-learn's ``GaussianMixture`` initialises through ``KMeans`` (which copies X to centre
it, and keeps labels and squared norms per row: about 1.8x the size of X) or a dense
``(n_samples, n_components)`` matrix of random responsibilities. emseq draws the same random
numbers in the same order and computes the same quantities chunk by chunk:

- ``k-means++`` seeding (greedy, ``2 + int(log K)`` local trials, as scikit-learn): the only
  per-row array is the current squared distance to the nearest seed (``n_samples`` float64,
  ``1/D`` of X); the candidates' potentials and the inverse-CDF search run in one pass each
  (:mod:`emseq.mixture._kmeans`), without the ``trials x n_samples`` distance matrix or the
  cumulative sum;
- Lloyd iterations on the rows shifted by the data's mean (as scikit-learn centres X, but
  without a copy), stopping at a total squared centre shift within ``1e-4`` times the mean
  column variance or after 300 iterations (scikit-learn's defaults; its "labels unchanged"
  rule is the special case of a zero shift); an empty cluster is moved to the rows farthest
  from their centres, as scikit-learn does;
- the mixture's initial parameters from the final centres by one hard (one-hot) E-step of the
  fused kernel: the same sums over each cluster that scikit-learn forms from its one-hot
  responsibility matrix;
- ``random``: the uniform responsibilities are drawn chunk by chunk (the same stream as one
  ``uniform(size=(n_samples, K))`` call), and drawn again from the saved generator state for
  the second, centred pass of the full covariances.

Floating-point sums are formed in another order than scikit-learn's, so initial parameters
agree to round-off (the test suite checks the fits to ``rtol=1e-8``) rather than to the bit;
a near-tie in a nearest-centre decision may in principle go the other way.
"""

from __future__ import annotations

import numpy as np

from . import _kmeans

__all__ = ["ROWS_PER_PASS", "kmeans_centers", "kmeans_plusplus", "random_resp_parameters",
           "seed_parameters"]

#: rows handled at once by the NumPy loops of this module (responsibility chunks)
ROWS_PER_PASS = 1 << 13
KMEANS_TOL = 1e-4
KMEANS_MAX_ITER = 300


def _row_slices(n: int):
    for start in range(0, n, ROWS_PER_PASS):
        yield slice(start, min(n, start + ROWS_PER_PASS))


def mean_and_tolerance(X: np.ndarray) -> tuple[np.ndarray, float]:
    """Column means of X and scikit-learn's KMeans tolerance ``mean(var(X, axis=0)) * 1e-4``."""
    n, D = X.shape
    total = np.zeros(D)
    for rows in _row_slices(n):
        total += X[rows].sum(axis=0, dtype=np.float64)
    mean = total / n
    ss = np.zeros(D)
    for rows in _row_slices(n):
        diff = X[rows] - mean
        ss += np.einsum("ij,ij->j", diff, diff)
    return mean, float(np.mean(ss / n)) * KMEANS_TOL


def _sw(sw: np.ndarray | None) -> np.ndarray:
    return np.empty(0) if sw is None else sw


def kmeans_plusplus(X: np.ndarray, K: int, sw: np.ndarray | None, rng, shift: np.ndarray,
                    n_threads: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-means++ seeds (scikit-learn's draws); returns (seeds - shift, row indices)."""
    n, D = X.shape
    B = _kmeans.n_blocks(n)
    w = np.ones(n) if sw is None else sw
    trials = 2 + int(np.log(K))
    centers = np.empty((K, D))
    indices = np.full(K, -1, dtype=np.int64)
    first = rng.choice(n, p=w / w.sum())
    centers[0] = X[first] - shift
    indices[0] = first
    closest = np.empty(n)
    inertia = np.zeros(B)
    none2, none1 = np.zeros((B, 0)), np.empty(0, dtype=np.int64)
    _kmeans.assign(X, _sw(sw), shift, centers[:1], none2, none2, inertia, closest, none1, 0,
                   n_threads)
    current = float(inertia.sum())
    for c in range(1, K):
        targets = rng.uniform(size=trials) * current
        order = np.argsort(targets, kind="stable")
        found = np.empty(trials, dtype=np.int64)
        _kmeans.weighted_searchsorted(closest, _sw(sw), np.ascontiguousarray(targets[order]),
                                      found)
        ids = np.empty(trials, dtype=np.int64)
        ids[order] = found
        candidates = np.ascontiguousarray(X[ids], dtype=np.float64) - shift
        pot = np.zeros((B, trials))
        _kmeans.potentials(X, _sw(sw), shift, candidates, closest, pot, n_threads)
        pots = pot.sum(axis=0)
        best = int(np.argmin(pots))
        current = float(pots[best])
        centers[c] = candidates[best]
        indices[c] = ids[best]
        _kmeans.assign(X, _sw(sw), shift, centers[c:c + 1], none2, none2, np.zeros(B),
                       closest, none1, 1, n_threads)
    return centers, indices


def kmeans_centers(X: np.ndarray, K: int, sw: np.ndarray | None, rng,
                   n_threads: int) -> np.ndarray:
    """Lloyd's k-means from k-means++ seeds, as ``KMeans(K, n_init=1)``; returns the centres."""
    n, D = X.shape
    B = _kmeans.n_blocks(n)
    shift, tol = mean_and_tolerance(X)
    centers, _ = kmeans_plusplus(X, K, sw, rng, shift, n_threads)
    none1, nonef = np.empty(0, dtype=np.int64), np.empty(0)
    w = np.ones(n) if sw is None else sw
    for _ in range(KMEANS_MAX_ITER):
        counts, sums, inertia = np.zeros((B, K)), np.zeros((B, K * D)), np.zeros(B)
        _kmeans.assign(X, _sw(sw), shift, centers, counts, sums, inertia, nonef, none1, 0,
                       n_threads)
        weight = counts.sum(axis=0)
        total = sums.sum(axis=0).reshape(K, D)
        empty = np.flatnonzero(weight == 0)
        if empty.size:  # scikit-learn's _relocate_empty_clusters_dense
            closest, labels = np.empty(n), np.empty(n, dtype=np.int64)
            _kmeans.assign(X, _sw(sw), shift, centers, np.zeros((B, 0)), np.zeros((B, 0)),
                           np.zeros(B), closest, labels, 0, n_threads)
            far = np.argpartition(closest, -empty.size)[: -empty.size - 1: -1]
            for new, row in zip(empty, far):
                x = np.asarray(X[row], dtype=np.float64) - shift
                old = labels[row]
                total[old] -= x * w[row]
                total[new] = x * w[row]
                weight[new] = w[row]
                weight[old] -= w[row]
            del closest, labels
        new_centers = centers.copy()
        filled = weight > 0
        new_centers[filled] = total[filled] / weight[filled, None]
        shift_total = float(((new_centers - centers) ** 2).sum())
        centers = new_centers
        if shift_total <= tol:
            break
    return centers + shift


def labels_of(X: np.ndarray, centers: np.ndarray, n_threads: int) -> np.ndarray:
    """Index of the nearest of ``centers`` for every row (n_samples int64)."""
    n, D = X.shape
    B = _kmeans.n_blocks(n)
    shift = np.zeros(D)
    labels = np.empty(n, dtype=np.int64)
    _kmeans.assign(X, np.empty(0), shift, np.ascontiguousarray(centers, dtype=np.float64),
                   np.zeros((B, 0)), np.zeros((B, 0)), np.zeros(B), np.empty(0), labels, 0,
                   n_threads)
    return labels


def _eps(X: np.ndarray) -> float:
    return float(np.finfo(X.dtype).eps)  # as scikit-learn at initialisation


def seed_parameters(X, sw, idx, reg, cov_type, tied_scatter):
    """Parameters from one-hot responsibilities at the rows ``idx`` (one row per component).

    ``tied_scatter`` is ``sum_n w_n x_n x_n^T`` over all rows (scikit-learn's tied estimate
    uses every row, whatever the responsibilities).
    """
    K = len(idx)
    D = X.shape[1]
    w = np.ones(K) if sw is None else np.asarray(sw)[idx]
    x = np.asarray(X[idx], dtype=np.float64)
    nk = w + 10 * _eps(X)
    means = w[:, None] * x / nk[:, None]
    diff = x - means
    if cov_type == "full":
        cov = w[:, None, None] * np.einsum("ki,kj->kij", diff, diff) / nk[:, None, None]
        cov[:, np.arange(D), np.arange(D)] += reg
    elif cov_type == "tied":
        cov = (tied_scatter - (nk * means.T) @ means) / nk.sum()
        cov.flat[:: D + 1] += reg
    else:
        cov = w[:, None] * diff**2 / nk[:, None] + reg
        if cov_type == "spherical":
            cov = cov.mean(axis=1)
    return nk / nk.sum(), means, cov


def _random_chunks(rng, n: int, K: int, dtype):
    for rows in _row_slices(n):
        resp = rng.uniform(size=(rows.stop - rows.start, K)).astype(dtype)
        resp /= resp.sum(axis=1)[:, np.newaxis]
        yield rows, resp


def random_resp_parameters(X, sw, K, rng, reg, cov_type, tied_scatter):
    """Parameters from uniform random responsibilities (scikit-learn's ``init_params="random"``),
    drawn and used chunk by chunk."""
    n, D = X.shape
    state = rng.get_state()
    nk = np.zeros(K)
    s1 = np.zeros((K, D))
    s2 = np.zeros((K, D))
    diag = cov_type in ("diag", "spherical")
    for rows, resp in _random_chunks(rng, n, K, X.dtype):
        rw = resp.astype(np.float64)
        if sw is not None:
            rw *= sw[rows, None]
        x = np.asarray(X[rows], dtype=np.float64)
        nk += rw.sum(axis=0)
        s1 += rw.T @ x
        if diag:
            s2 += rw.T @ (x * x)
    nk += 10 * _eps(X)
    means = s1 / nk[:, None]
    if cov_type == "full":
        after = rng.get_state()
        rng.set_state(state)
        cov = np.zeros((K, D, D))
        for rows, resp in _random_chunks(rng, n, K, X.dtype):
            rw = resp.astype(np.float64)
            if sw is not None:
                rw *= sw[rows, None]
            x = np.asarray(X[rows], dtype=np.float64)
            for k in range(K):
                diff = x - means[k]
                cov[k] += (rw[:, k] * diff.T) @ diff
        rng.set_state(after)
        cov /= nk[:, None, None]
        cov[:, np.arange(D), np.arange(D)] += reg
    elif cov_type == "tied":
        cov = (tied_scatter - (nk * means.T) @ means) / nk.sum()
        cov.flat[:: D + 1] += reg
    else:
        cov = s2 / nk[:, None] - means**2 + reg
        if cov_type == "spherical":
            cov = cov.mean(axis=1)
    return nk / nk.sum(), means, cov
