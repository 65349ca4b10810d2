"""Exact E-step for rows with missing coordinates (NaN), grouped by missingness pattern.

For a row with observed coordinates ``O`` and missing ``M``, component ``k`` contributes the
marginal density ``N(x_O; mu_O, S_OO)``. The M-step needs the expected complete-data
statistics: ``E[x_M | x_O, k] = mu_M + S_MO S_OO^{-1} (x_O - mu_O)`` and the conditional
covariance ``S_MM - S_MO S_OO^{-1} S_OM``, which is added to the second moment. Rows sharing a
pattern are handled together with one Cholesky factor per component. These rows are usually a
small part of the data, so this path is NumPy; complete rows go through the Cython kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, cholesky, solve_triangular
from scipy.special import logsumexp

from ..errors import FitError

__all__ = ["MissingRows", "missing_estep"]

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class MissingRows:
    """Rows with at least one NaN, grouped by pattern.

    Attributes
    ----------
    X : ndarray of shape (n_rows, n_features)
        The incomplete rows (float64, NaN where missing).
    index : ndarray of shape (n_rows,)
        Their positions in the original data.
    weight : ndarray of shape (n_rows,)
        Their sample weights.
    groups : list of (rows, observed)
        Positions within ``X`` of the rows sharing a boolean ``observed`` mask.
    """

    X: np.ndarray
    index: np.ndarray
    weight: np.ndarray
    groups: list[tuple[np.ndarray, np.ndarray]]

    @classmethod
    def from_data(cls, X: np.ndarray, rows: np.ndarray, weight: np.ndarray) -> "MissingRows":
        sub = np.asarray(X[rows], dtype=np.float64)
        observed = ~np.isnan(sub)
        patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
        groups = [(np.flatnonzero(inverse == g), patterns[g]) for g in range(len(patterns))]
        return cls(sub, rows, np.asarray(weight, dtype=np.float64), groups)


def missing_estep(rows: MissingRows, weights: np.ndarray, means: np.ndarray,
                  covariances: np.ndarray, *, hard: bool = False, want_stats: bool = True):
    """E-step and expected sufficient statistics of the incomplete rows.

    Parameters
    ----------
    rows : MissingRows
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray of shape (n_components, n_features, n_features)
        Full covariance of every component (tied/diag/spherical expanded by the caller).
    hard : bool
        Classification EM: one-hot responsibilities, objective ``max_k`` log-density.
    want_stats : bool
        Also return ``nk``, ``s1``, ``s2`` (second moments around ``means``, full matrices).

    Returns
    -------
    ll_sum : float
        Weighted sum of the per-row objective.
    ll_rows, resp, labels : ndarray
        Per-row log-likelihood, responsibilities (unweighted), most probable component.
    nk, s1, s2 : ndarray or None
    """
    n, d = rows.X.shape
    K = means.shape[0]
    ll_rows = np.empty(n)
    resp = np.empty((n, K))
    labels = np.empty(n, dtype=np.int64)
    nk = np.zeros(K) if want_stats else None
    s1 = np.zeros((K, d)) if want_stats else None
    s2 = np.zeros((K, d, d)) if want_stats else None
    ll_sum = 0.0
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    for idx, obs in rows.groups:
        mis = ~obs
        xo = rows.X[np.ix_(idx, obs)]
        w = rows.weight[idx]
        n_obs = int(obs.sum())
        L = np.empty((len(idx), K))
        factors = []
        for k in range(K):
            s_oo = covariances[k][np.ix_(obs, obs)]
            try:
                c = cholesky(s_oo, lower=True, check_finite=False)
            except np.linalg.LinAlgError:
                raise FitError(f"component {k}: covariance of the observed coordinates is not "
                               "positive definite; increase reg_covar") from None
            diff = xo - means[k, obs]
            z = solve_triangular(c, diff.T, lower=True, check_finite=False)
            L[:, k] = (log_w[k] - 0.5 * n_obs * _LOG_2PI - np.log(np.diag(c)).sum()
                       - 0.5 * np.einsum("ij,ij->j", z, z))
            factors.append((c, diff))
        lse = logsumexp(L, axis=1)
        ll_rows[idx] = lse
        labels[idx] = np.argmax(L, axis=1)
        r = np.exp(L - lse[:, None])
        resp[idx] = r
        if hard:
            ll_sum += float(w @ L.max(axis=1))
            r = np.zeros_like(r)
            r[np.arange(len(idx)), labels[idx]] = 1.0
        else:
            ll_sum += float(w @ lse)
        if not want_stats:
            continue
        r = r * w[:, None]
        for k in range(K):
            rk = r[:, k]
            total = rk.sum()
            if total == 0.0:
                continue
            c, diff = factors[k]
            full = np.empty((len(idx), d))
            full[:, obs] = diff
            if mis.any():
                alpha = cho_solve((c, True), diff.T, check_finite=False)
                s_mo = covariances[k][np.ix_(mis, obs)]
                full[:, mis] = (s_mo @ alpha).T
                cond = (covariances[k][np.ix_(mis, mis)]
                        - s_mo @ cho_solve((c, True), s_mo.T, check_finite=False))
                s2[k][np.ix_(mis, mis)] += total * cond
            nk[k] += total
            s1[k] += rk @ full
            s2[k] += (full.T * rk) @ full
    return ll_sum, ll_rows, resp, labels, nk, s1, s2
