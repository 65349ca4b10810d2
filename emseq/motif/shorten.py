"""MEME's shortening: the most significant sub-range of a motif's columns, refitted."""

from __future__ import annotations

import logging
import math

import numpy as np

from .fit import fit_start
from .inputs import SearchInput
from .stats import column_log_pvalues, log_chi2_sf_even
from .windows import SequenceView, log_alignments

__all__ = ["shorten"]

logger = logging.getLogger("emseq.motif.search")
_LN10 = math.log(10.0)


def shorten(inp: SearchInput, best: dict, view: SequenceView, motif_index: int) -> dict | None:
    """The sub-range of at least ``minw`` columns of the chosen sites with the lowest E-value
    (same sites), refitted by EM at that width; None if the full width is already the best
    sub-range. The caller compares both after a full EM."""
    opts = inp.options
    w0 = best["w"]
    if w0 <= opts.minw:
        return None
    colp = column_log_pvalues(best["counts"], inp.background.freqs)
    cum = np.concatenate([[0.0], np.cumsum(colp)])
    n = best["n"]
    top = (0, w0, np.inf)
    for lo in range(0, w0 - opts.minw + 1):
        for hi in range(lo + opts.minw, w0 + 1):
            if hi - lo == w0:
                continue
            wt = hi - lo
            logp = float(log_chi2_sf_even(-2.0 * (cum[hi] - cum[lo]), 2 * wt))
            loge = logp + float(log_alignments(opts.model, opts.n_strands, view.windows(wt), n))
            if loge < top[2]:
                top = (lo, hi, loge)
    lo, hi, _ = top
    if hi - lo == w0:
        return None
    wt = hi - lo
    label = {"motif": motif_index, "width": wt, "start": 0, "phase": "shorten"}
    sel = fit_start(inp, view, view.windows(wt), np.ascontiguousarray(best["theta"][lo:hi]),
                    best["prior"], label)
    if sel is not None:
        logger.debug("motif %d shorten %d..%d: width %d log10 E %.2f (best %.2f)",
                     motif_index, lo, hi, sel["w"], sel["loge"] / _LN10, best["loge"] / _LN10)
        sel["start"] = best["start"]
    return sel
