"""Trimming the edge columns of a motif that carry little information or no significance."""

from __future__ import annotations

import math

import numpy as np

from .discriminative import selective_columns
from .inputs import SearchInput
from .stats import column_log_pvalues

__all__ = ["trim_low_information", "trim_insignificant_columns",
           "trim_to_selective_columns", "TRIM_BITS", "TRIM_PVALUE"]

#: edge columns of the chosen sites with a larger column p-value are trimmed off
TRIM_PVALUE = 0.001
#: edge columns with less information than this (bits, vs the background) are trimmed off
TRIM_BITS = 0.25


def trim_low_information(inp: SearchInput, theta: np.ndarray) -> tuple[np.ndarray, int]:
    """Drop edge columns carrying less than ``TRIM_BITS`` of information (width >= minw)."""
    p = np.maximum(theta, 1e-300)
    ic = (p * np.log2(p / inp.background.freqs)).sum(axis=1)
    lo, hi = 0, len(theta)
    while hi - lo > inp.options.minw and (ic[lo] < TRIM_BITS or ic[hi - 1] < TRIM_BITS):
        if ic[lo] <= ic[hi - 1]:
            lo += 1
        else:
            hi -= 1
    return np.ascontiguousarray(theta[lo:hi]), hi - lo


def trim_insignificant_columns(inp: SearchInput, counts: np.ndarray) -> tuple[int, int]:
    """Edge columns of the chosen sites whose LLR p-value exceeds ``TRIM_PVALUE`` are cut
    (MEME shortens motifs the same way, by significance); returns the kept range."""
    logp = column_log_pvalues(counts, inp.background.freqs)
    lo, hi = 0, len(logp)
    cut = math.log(TRIM_PVALUE)
    while hi - lo > inp.options.minw and (logp[lo] > cut or logp[hi - 1] > cut):
        if logp[lo] >= logp[hi - 1]:
            lo += 1
        else:
            hi -= 1
    return lo, hi


def trim_to_selective_columns(inp: SearchInput, theta: np.ndarray) -> tuple[np.ndarray, int]:
    """``se``: the span of the columns the selective objective scores with (MEME's
    ``smhg_trim_motif``; see :func:`emseq.motif.discriminative.selective_columns`)."""
    kept = np.flatnonzero(selective_columns(theta, inp.background.freqs, inp.options.minw))
    lo, hi = int(kept.min()), int(kept.max()) + 1
    return np.ascontiguousarray(theta[lo:hi]), hi - lo
