"""The significance of a de/se motif on sequences it was not fitted to (MEME's hold-out idea).

The p-value that chose a motif's width and sites was minimised over thresholds on the same
sequences the PWM was fitted to, so even a meaningless PWM separates the primary from the
control there (measured: a junk second motif of a 60-sequence set got E = 1e-5). MEME
therefore fits on half the primary sequences and tests on the others (``-hsfrac 0.5``). emseq
keeps the search on all the sequences and computes the reported p-value like this:

1. both sets are split at random into halves, ``T`` and ``H`` (primary) and ``Tc``/``Hc``;
2. the chosen motif is refitted by EM on ``T`` only (``phase`` ``holdout`` in
   ``convergence.tsv``);
3. its score threshold is the one of smallest enrichment p-value of ``T`` over ``Tc``;
4. the p-value is that of ``H`` over ``Hc`` at that fixed threshold (one hypergeometric or
   binomial tail, nothing minimised; OOPS: the rank-sum test of ``H`` against ``Hc``).

The refit starts from the motif found on all the data, so ``H`` is not perfectly unseen; a
motif that is not enriched in the data still gets p ~ U(0, 1) on ``H`` (tested).
"""

from __future__ import annotations

import numpy as np

from .discriminative import (enrichment_log_pvalues, selective_mask, test_of_model,
                             threshold_log_pvalue)
from .fit import fit_em
from .inputs import SearchInput, letters_of
from .sites import candidate_sites, enrichment_of_sites
from .windows import SequenceView

__all__ = ["heldout_log_pvalue"]


def _halves(view: SequenceView, rng: np.random.Generator) -> tuple[SequenceView, SequenceView]:
    """``view``'s sequences split at random into two halves (the first gets the odd one)."""
    order = rng.permutation(view.data.n_sequences)
    cut = (len(order) + 1) // 2
    out = []
    for index in (np.sort(order[:cut]), np.sort(order[cut:])):
        erase = None if view.erase is None else letters_of(view.erase, view.data, index)
        out.append(SequenceView(view.data.subset(index), letters_of(view.bglp, view.data, index),
                                erase))
    return out[0], out[1]


def heldout_log_pvalue(inp: SearchInput, full: SequenceView, sel: dict,
                       motif_index: int) -> float | None:
    """Natural-log p-value of the motif ``sel`` (fitted on ``full``, this round's primary
    sequences) on the held-out halves (see module doc); None when a half has fewer than two
    sequences with a possible site (the caller keeps the in-sample p-value)."""
    opts = inp.options
    w = sel["w"]
    train, test = _halves(full, inp.rng)
    ctrain, ctest = _halves(inp.control, inp.rng)
    views = (train, test, ctrain, ctest)
    if any(int((v.windows(w).n_valid > 0).sum()) < 2 for v in views):
        return None
    label = {"motif": motif_index, "width": w, "start": sel.get("start", 0), "phase": "holdout"}
    theta, _, _ = fit_em(inp, train.data, train.windows(w), sel["theta"], sel["prior"], label)
    if opts.objective == "se":
        theta = selective_mask(theta, inp.background.freqs, opts.minw)
    scores = [candidate_sites(inp, v.data, v.windows(w), theta)[3] for v in views]
    test_name = test_of_model(opts.model, per_window=True)
    if test_name == "ranksum":
        return float(enrichment_log_pvalues(scores[1][None], scores[3][None], np.array([1]),
                                            "ranksum")[0, 0])
    lo, hi = opts.site_range(len(scores[0]))
    if lo > len(scores[0]):
        return None
    ns = np.arange(lo, hi + 1)
    logp = enrichment_of_sites(inp, ctrain, train.windows(w), theta, scores[0], ns)
    threshold = scores[0][int(ns[len(ns) - 1 - int(np.argmin(logp[::-1]))]) - 1]
    windows = [float(v.windows(w).n_valid.sum()) for v in (test, ctest)]
    return threshold_log_pvalue(scores[1], scores[3], threshold, test_name,
                                success=windows[0] / max(sum(windows), 1.0))
