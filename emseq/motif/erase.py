"""Probabilistic erasing of a found motif's sites before the search for the next one."""

from __future__ import annotations

import math

import numpy as np

from . import _kernels
from .inputs import SearchInput
from .windows import SequenceView

__all__ = ["erase_sites"]


def erase_sites(inp: SearchInput, view: SequenceView, theta: np.ndarray, prior: float
                ) -> np.ndarray:
    """MEME's erasing: each position's weight (``view.erase``) times P(not covered by a site)
    under the motif ``theta`` with site prior ``prior``; returns the new weights."""
    opts = inp.options
    data = view.data
    erase = view.erase if view.erase is not None else np.ones(len(data.codes))
    w = theta.shape[0]
    win = view.windows(w)
    T = inp.n_threads
    lp = np.ascontiguousarray(np.log(np.maximum(theta, 1e-300)))
    fwd = np.empty(len(data.codes))
    rev = np.empty(len(data.codes))
    _kernels.score_windows(data.codes, lp, win.bgwin, win.logw, fwd, rev, T)
    s = np.stack([fwd + win.logw,
                  rev + win.logw if opts.revcomp else np.full_like(fwd, -np.inf)])
    best = s.max(axis=0)
    if opts.model == "tcm":
        a = math.log(max(prior, 1e-300)) - math.log(opts.n_strands)
        lse = np.logaddexp(math.log1p(-min(prior, 1 - 1e-12)), np.logaddexp(a + s[0], a + s[1]))
        z = np.exp(a + s[0] - lse) + np.exp(a + s[1] - lse)
        z[~np.isfinite(best)] = 0.0
    else:
        starts = data.offsets[:-1]
        nonempty = np.diff(data.offsets) > 0
        mx = np.maximum.reduceat(best, starts)
        mx_pos = np.repeat(np.where(nonempty, mx, 0.0), np.diff(data.offsets))
        mx_pos = np.where(np.isfinite(mx_pos), mx_pos, 0.0)
        e = np.exp(s - mx_pos)
        tot = np.add.reduceat(e.sum(axis=0), starts)
        with np.errstate(divide="ignore"):
            L = np.where(nonempty, np.log(tot) + np.where(np.isfinite(mx), mx, 0.0), -np.inf)
        nv = np.maximum(win.n_valid, 1.0)
        if opts.model == "oops":
            post = np.where(win.n_valid > 0, 1.0, 0.0)
        else:
            a = math.log(max(prior, 1e-300)) - np.log(nv * opts.n_strands) + L
            post = np.exp(a - np.logaddexp(math.log1p(-min(prior, 1 - 1e-12)), a))
            post = np.where(win.n_valid > 0, post, 0.0)
        # both strands of a window erase the same letters: sum their posteriors
        L_pos = np.repeat(np.where(np.isfinite(L), L, 0.0), np.diff(data.offsets))
        zz = np.where(np.isfinite(s), np.exp(s - L_pos), 0.0)
        z = zz.sum(axis=0) * np.repeat(post, np.diff(data.offsets))
    cz = np.concatenate([[0.0], np.cumsum(z)])
    n = len(z)
    idx = np.arange(n)
    covered = cz[idx + 1] - cz[np.maximum(idx + 1 - w, 0)]
    return erase * (1.0 - np.clip(covered, 0.0, 1.0))
