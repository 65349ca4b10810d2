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

__all__ = ["width_grid", "search_widths"]

logger = logging.getLogger("emseq.motif.search")
_LN10 = math.log(10.0)


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
