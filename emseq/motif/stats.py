"""Significance of motifs (E-values) and of single sites (p-values).

E-value of a motif (how emseq computes it; an approximation of MEME's)
-----------------------------------------------------------------------
For the ``n`` sites of a motif of width ``w``, with ``c[k, a]`` the count of letter ``a`` in
column ``k`` and ``b`` the order-0 background frequencies:

1. Each column's log-likelihood ratio ``LLR_k = sum_a c[k, a] ln(c[k, a] / (n b[a]))`` is
   turned into a p-value with the asymptotic law ``2 LLR_k ~ chi2(3)`` (MEME uses exact
   dynamic-programming tables for this step; the chi-square law is its large-sample limit).
2. The ``w`` column p-values are combined into the p-value of their product (Fisher:
   ``-2 sum ln p_k ~ chi2(2 w)``), which is exactly MEME's "p-value of the product of
   p-values" for independent uniform p-values.
3. ``E = p * N_align`` with ``N_align`` the number of possible alignments of ``n`` sites:
   ``C(N, n) * (S m)^n`` for OOPS/ZOOPS (``N`` sequences, ``m`` mean number of windows per
   sequence, ``S`` strands) and ``C(S M, n)`` for TCM (``M`` windows in all), as in MEME.

Everything is computed in logs with closed forms of the chi-square tails, so E-values far
below 1e-300 are still ordered correctly (``log10_e_value``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfcx, gammaln, logsumexp

__all__ = ["log_chi2_sf_3", "log_chi2_sf_even", "column_log_pvalues", "log_evalue",
           "log_n_alignments", "site_pvalues", "llr_bits"]

_LN10 = np.log(10.0)


def log_chi2_sf_3(x: np.ndarray) -> np.ndarray:
    """``ln P(chi2(3) >= x)``, stable far in the tail."""
    x = np.maximum(np.asarray(x, dtype=float), 0.0)
    y = np.sqrt(x / 2.0)
    with np.errstate(divide="ignore"):
        a = np.log(erfcx(y)) - y * y
        b = 0.5 * np.log(2.0 * x / np.pi) - x / 2.0
    return np.logaddexp(a, b)


def log_chi2_sf_even(x: np.ndarray, df: int) -> np.ndarray:
    """``ln P(chi2(df) >= x)`` for even ``df``: ``exp(-x/2) sum_{i<df/2} (x/2)^i / i!``."""
    x = np.maximum(np.asarray(x, dtype=float), 1e-300)
    half = x / 2.0
    i = np.arange(df // 2)
    terms = i * np.log(half)[..., None] - gammaln(i + 1)
    return np.minimum(0.0, -half + logsumexp(terms, axis=-1))


def column_log_pvalues(counts: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Natural-log p-value of each column's LLR; ``counts`` of shape (..., w, 4)."""
    counts = np.asarray(counts, dtype=float)
    n = counts.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = counts / (n * bg)
        terms = np.where(counts > 0, counts * np.log(ratio), 0.0)
    llr = np.maximum(terms.sum(axis=-1), 0.0)
    return log_chi2_sf_3(2.0 * llr)


def log_n_alignments(model: str, nsites: np.ndarray | int, n_sequences: int,
                     mean_windows: float, total_windows: float, n_strands: int) -> np.ndarray:
    """Natural log of the number of possible alignments of ``nsites`` sites (see module doc)."""
    n = np.asarray(nsites, dtype=float)
    if model == "tcm":
        big = n_strands * total_windows
        return gammaln(big + 1) - gammaln(n + 1) - gammaln(np.maximum(big - n, 0) + 1)
    big = float(n_sequences)
    choose = gammaln(big + 1) - gammaln(n + 1) - gammaln(np.maximum(big - n, 0) + 1)
    return choose + n * np.log(max(n_strands * mean_windows, 1.0))


def log_evalue(counts: np.ndarray, bg: np.ndarray, log_nalign: np.ndarray) -> np.ndarray:
    """Natural-log E-value of motifs given their site counts of shape (..., w, 4)."""
    colp = column_log_pvalues(counts, bg)
    w = colp.shape[-1]
    logp = log_chi2_sf_even(-2.0 * colp.sum(axis=-1), 2 * w)
    return logp + log_nalign


def llr_bits(counts: np.ndarray, bg: np.ndarray) -> float:
    """Log-likelihood ratio (bits) of the sites' letters under their own frequencies vs ``bg``."""
    counts = np.asarray(counts, dtype=float)
    n = counts.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(counts > 0, counts * np.log2(counts / (n * bg)), 0.0)
    return float(terms.sum())


def site_pvalues(pwm: np.ndarray, bg: np.ndarray, scores_bits: np.ndarray,
                 resolution: float = 0.01) -> np.ndarray:
    """P-values of log-odds scores (bits, vs order-0 ``bg``) of a PWM, as FIMO computes them.

    The exact null distribution of the score of a random background word is built by dynamic
    programming over the columns on scores rounded to ``resolution`` bits.
    """
    lo = np.log2(np.maximum(pwm, 1e-300) / bg)
    ints = np.round(lo / resolution).astype(np.int64)
    mins = ints.min(axis=1)
    shifted = ints - mins[:, None]
    size = int(shifted.max(axis=1).sum()) + 1
    dist = np.zeros(size)
    dist[0] = 1.0
    top = 0
    for k in range(len(pwm)):
        new = np.zeros(size)
        for a in range(4):
            s = shifted[k, a]
            new[s:s + top + 1] += bg[a] * dist[:top + 1]
        top += int(shifted[k].max())
        dist = new
    tail = np.cumsum(dist[::-1])[::-1]
    idx = np.round(np.asarray(scores_bits) / resolution).astype(np.int64) - int(mins.sum())
    idx = np.clip(idx, 0, size - 1)
    return np.clip(tail[idx], 0.0, 1.0)
