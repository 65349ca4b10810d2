"""Significance of motifs (E-values) and of single sites (p-values).

E-value of a motif (how emseq computes it; an approximation of MEME's)
-----------------------------------------------------------------------
For the ``n`` sites of a motif of width ``w``, with ``c[k, a]`` the count of letter ``a`` in
column ``k`` and ``b`` the order-0 background frequencies:

1. Each column's log-likelihood ratio ``LLR_k = sum_a c[k, a] ln(c[k, a] / (n b[a]))`` is
   turned into a p-value ``P(LLR >= LLR_k)`` under a multinomial(n, b) column: exactly, by
   enumerating every composition of ``n`` letters, for ``n <= EXACT_MAX_SITES`` (as MEME does
   with its dynamic-programming tables), and with the asymptotic law ``2 LLR ~ chi2(3)``
   beyond (where it is accurate; for few sites it is far too optimistic).
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

from functools import lru_cache

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


#: columns of at most this many sites get exact LLR p-values (chi-square beyond)
EXACT_MAX_SITES = 50


@lru_cache(maxsize=512)
def _exact_llr_table(n: int, bg_key: tuple[float, float, float, float]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Every LLR value of a column of ``n`` letters (ascending) and ``ln P(LLR >= value)``."""
    bg = np.array(bg_key)
    a, b, c = np.meshgrid(*(np.arange(n + 1),) * 3, indexing="ij")
    keep = a + b + c <= n
    comps = np.stack([a[keep], b[keep], c[keep], n - (a + b + c)[keep]], axis=1).astype(float)
    logprob = gammaln(n + 1) - gammaln(comps + 1).sum(axis=1) + (comps * np.log(bg)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = np.where(comps > 0, comps * np.log(comps / (n * bg)), 0.0).sum(axis=1)
    order = np.argsort(-llr, kind="stable")
    llr, logprob = llr[order], logprob[order]
    tail = np.logaddexp.accumulate(logprob)      # ln P(LLR >= llr[i]) (ties resolved below)
    llr_asc = llr[::-1]
    tail_asc = tail[::-1]
    # for tied values keep the largest tail (all of the tie counts as ">=")
    uniq, first = np.unique(np.round(llr_asc, 9), return_index=True)
    return uniq, np.minimum(tail_asc[first], 0.0)


def _column_llr(counts: np.ndarray, bg: np.ndarray) -> np.ndarray:
    n = counts.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(counts > 0, counts * np.log(counts / (n * bg)), 0.0)
    return np.maximum(terms.sum(axis=-1), 0.0)


def column_log_pvalues(counts: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Natural-log p-value of each column's LLR; ``counts`` of shape (..., w, 4).

    Exact (multinomial enumeration) for integer columns of at most ``EXACT_MAX_SITES``
    letters, chi-square with 3 degrees of freedom otherwise.
    """
    counts = np.asarray(counts, dtype=float)
    llr = _column_llr(counts, bg)
    out = log_chi2_sf_3(2.0 * llr)
    n = counts.sum(axis=-1)
    exact = (n <= EXACT_MAX_SITES) & (np.abs(n - np.round(n)) < 1e-9) & (n >= 1)
    if exact.any():
        key = tuple(float(x) for x in np.asarray(bg, dtype=float))
        nn = np.round(n).astype(np.int64)
        for value in np.unique(nn[exact]):
            mask = exact & (nn == value)
            values, tails = _exact_llr_table(int(value), key)
            idx = np.searchsorted(values, np.round(llr[mask], 9) - 1e-9, side="left")
            idx = np.minimum(idx, len(values) - 1)
            out[mask] = tails[idx]
    return out


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
