"""The widths searched: MEME's geometric grid, and EM from the best starts at each width."""

from __future__ import annotations

import logging
import math
from typing import Sequence

import numpy as np

from .fit import fit_start
from .inputs import SearchInput
from .starts import starting_points
from .windows import SequenceView

__all__ = ["width_grid", "search_widths", "refine_width", "REFINE_SPAN"]

logger = logging.getLogger("emseq.motif.search")
_LN10 = math.log(10.0)
#: widths tried around the grid's best: every width within this many columns of it, up to
#: its grid neighbours (crp0's true width 19-22 lies between the grid's 16 and 23)
REFINE_SPAN = 4


def width_grid(minw: int, maxw: int) -> list[int]:
    """MEME's widths: from ``minw`` multiply by sqrt(2) (step at least 2) up to ``maxw``."""
    widths = [minw]
    while widths[-1] < maxw:
        nxt = max(widths[-1] + 2, int(round(widths[-1] * math.sqrt(2))))
        widths.append(min(nxt, maxw))
    return widths


def search_widths(inp: SearchInput, view: SequenceView, widths: Sequence[int],
                  motif_index: int, bar) -> tuple[dict | None, list[dict]]:
    """Short EM runs (:func:`emseq.motif.fit.fit_start`) from the best starting points of
    every width, plus the best motif so far extended to the next width.

    Returns the selection of lowest E-value and every candidate selection.
    """
    best = None
    cands: list[dict] = []
    phase = "sample" if inp.sampled else "start"
    for w in widths:
        win = view.windows(w)
        if not (win.n_valid > 0).any():
            bar.update(1)
            continue
        skipped = int((win.n_valid == 0).sum())
        if skipped:
            logger.debug("width %d: %d sequence(s) have no possible site and are skipped",
                         w, skipped)
        starts = starting_points(inp, view, w)
        if best is not None and best["w"] < w:
            # extend the best motif so far: centred, background columns on both sides
            pad = w - best["w"]
            left = pad // 2
            theta_ext = np.tile(inp.background.freqs, (w, 1))
            theta_ext[left:left + best["w"]] = best["theta"]
            prior_ext = best["prior"]
            if inp.options.model == "tcm":
                prior_ext = min(prior_ext, 0.5 / w)
            starts.append((theta_ext, prior_ext, best["loge"]))
        for j, (theta0, prior0, loge0) in enumerate(starts):
            label = {"motif": motif_index, "width": w, "start": j + 1, "phase": phase}
            sel = fit_start(inp, view, win, theta0, prior0, label)
            if sel is None:
                continue
            logger.debug("motif %d width %d start %d: log10 E %.2f (seed %.2f), %d sites",
                         motif_index, w, j + 1, sel["loge"] / _LN10, loge0 / _LN10, sel["n"])
            sel["start"] = j + 1
            cands.append(sel)
            if best is None or sel["loge"] < best["loge"]:
                best = sel
        bar.update(1)
    return best, cands


def _placements(theta: np.ndarray, w: int, freqs: np.ndarray) -> list[np.ndarray]:
    """``theta`` fitted into ``w`` columns: wider, with background columns added on the left,
    on the right or on both sides; narrower, its most informative ``w`` consecutive columns."""
    w0 = len(theta)
    if w > w0:
        out = []
        for left in sorted({0, (w - w0) // 2, w - w0}):
            ext = np.tile(freqs, (w, 1))
            ext[left:left + w0] = theta
            out.append(ext)
        return out
    p = np.maximum(theta, 1e-300)
    ic = np.concatenate([[0.0], np.cumsum((p * np.log2(p / freqs)).sum(axis=1))])
    lo = int(np.argmax(ic[w:] - ic[:-w]))
    return [np.ascontiguousarray(theta[lo:lo + w])]


def refine_width(inp: SearchInput, view: SequenceView, best: dict, grid: Sequence[int],
                 motif_index: int) -> list[dict]:
    """Widths off the grid near the best motif (MEME's lengthening and shortening): every
    width within ``REFINE_SPAN`` columns of the best, strictly between its grid neighbours
    and within ``[minw, maxw]``, started from the best motif placed in that many columns
    (see :func:`_placements`) and fitted like any start. Returns the candidate selections."""
    opts = inp.options
    w0 = best["w"]
    below = [w for w in grid if w < w0]
    above = [w for w in grid if w > w0]
    lo = max(opts.minw, (below[-1] + 1) if below else opts.minw, w0 - REFINE_SPAN)
    hi = min(opts.maxw, (above[0] - 1) if above else opts.maxw, w0 + REFINE_SPAN)
    cands = []
    for w in range(lo, hi + 1):
        if w == w0 or w in grid:
            continue
        win = view.windows(w)
        if not (win.n_valid > 0).any():
            continue
        prior = min(best["prior"], 0.5 / w) if opts.model == "tcm" else best["prior"]
        for j, theta0 in enumerate(_placements(best["theta"], w, inp.background.freqs)):
            label = {"motif": motif_index, "width": w, "start": j + 1, "phase": "refine"}
            sel = fit_start(inp, view, win, theta0, prior, label)
            if sel is None:
                continue
            logger.debug("motif %d refine width %d placement %d: log10 E %.2f, %d sites",
                         motif_index, w, j + 1, sel["loge"] / _LN10, sel["n"])
            sel["start"] = best["start"]
            cands.append(sel)
    return cands
