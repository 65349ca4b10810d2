"""q-values of motif matches: Benjamini–Hochberg's and Storey's."""

from __future__ import annotations

import numpy as np

__all__ = ["bh_qvalues", "storey_qvalues"]


def bh_qvalues(pvalues: np.ndarray, n_tests: int | None = None) -> np.ndarray:
    """Benjamini–Hochberg q-values (step-up, monotone, at most 1).

    Parameters
    ----------
    pvalues : array-like of shape (n,)
    n_tests : int, optional
        The number of tests, when ``pvalues`` are only the smallest ``n`` of them (the rest,
        all larger, were not kept: FIMO's hits below a threshold). Default ``n``.

    Returns
    -------
    ndarray of shape (n,)
    """
    p = np.asarray(pvalues, dtype=np.float64)
    n = len(p)
    if n == 0:
        return p.copy()
    m = n if n_tests is None else n_tests
    if m < n:
        raise ValueError(f"n_tests={m} is smaller than the {n} p-values given")
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(ranked, 1.0)
    return out


def storey_qvalues(pvalues: np.ndarray, lam: float = 0.5) -> np.ndarray:
    """Storey's q-values: Benjamini–Hochberg's times the estimated share of true nulls
    ``pi0 = #{p > lam} / ((1 - lam) n)`` (at most 1, at least ``1 / n``)."""
    p = np.asarray(pvalues, dtype=np.float64)
    if len(p) == 0:
        return p.copy()
    pi0 = min(1.0, float(np.sum(p > lam)) / ((1.0 - lam) * len(p)))
    return np.minimum(bh_qvalues(p) * max(pi0, 1.0 / len(p)), 1.0)
