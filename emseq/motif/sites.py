"""The sites of a fitted PWM: candidates ranked best first, the number of sites that
minimises the E-value, and the sites table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _kernels
from .alphabet import LETTERS, EncodedSequences
from .discriminative import enrichment_log_pvalues, selective_mask, test_of_model
from .inputs import TCM_CHUNK, SearchInput
from .stats import log_evalue, site_pvalues
from .windows import SequenceView, Windows, log_alignments, site_letters

__all__ = ["candidate_sites", "select_sites", "enrichment_of_sites", "sites_frame",
           "TCM_MIN_CANDIDATES"]

#: TCM considers up to max(5 x sequences, this) candidate sites (MEME: 5 x sequences; a
#: sequence longer than TCM_CHUNK counts as its pieces)
TCM_MIN_CANDIDATES = 100


def _tcm_candidate_limit(data: EncodedSequences, win: Windows) -> int:
    """The most TCM candidate sites kept: max(5 x sequences with a possible site, 100), a
    sequence longer than ``TCM_CHUNK`` counted as its pieces (3 sequences of 100 kbp would
    otherwise cap 180 planted sites at 100)."""
    pieces = int(np.ceil(data.lengths[win.n_valid > 0] / TCM_CHUNK).sum())
    return max(5 * pieces, TCM_MIN_CANDIDATES)


def candidate_sites(inp: SearchInput, data: EncodedSequences, win: Windows, theta: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate sites ranked best first: (sequence, position, strand, score).

    OOPS/ZOOPS: the best window of each sequence; TCM: the best non-overlapping windows.
    """
    opts = inp.options
    w = win.w
    lp = np.ascontiguousarray(np.log(np.maximum(theta, 1e-300)))
    if opts.model != "tcm":
        score = np.empty((1, data.n_sequences))
        pos = np.empty((1, data.n_sequences), dtype=np.int64)
        strand = np.empty((1, data.n_sequences), dtype=np.int8)
        _kernels.best_sites(data.codes, data.offsets, lp[None], win.bgwin, win.logw,
                            opts.revcomp, score, pos, strand, inp.n_threads)
        ok = np.flatnonzero(pos[0] >= 0)
        order = ok[np.argsort(-score[0, ok], kind="stable")]
        return order, pos[0, order], strand[0, order], score[0, order]
    fwd = np.empty(len(data.codes))
    rev = np.empty(len(data.codes))
    _kernels.score_windows(data.codes, lp, win.bgwin, win.logw, fwd, rev, inp.n_threads)
    fwd += win.logw
    rev += win.logw
    if not opts.revcomp:
        rev[:] = -np.inf
    best = np.maximum(fwd, rev)
    k = int(min(_tcm_candidate_limit(data, win), np.isfinite(best).sum()))
    if k == 0:
        return (np.zeros(0, np.int64),) * 2 + (np.zeros(0, np.int8), np.zeros(0))
    cand = np.argpartition(-best, min(k * 3, len(best) - 1))[:min(k * 3, len(best))]
    cand = cand[np.isfinite(best[cand])]
    cand = cand[np.argsort(-best[cand], kind="stable")]
    taken = np.zeros(len(data.codes) + w, dtype=bool)
    chosen = []
    for p in cand:
        if taken[p:p + w].any():
            continue
        taken[p:p + w] = True
        chosen.append(p)
        if len(chosen) >= k:
            break
    chosen = np.array(chosen, dtype=np.int64)
    seqs = np.searchsorted(data.offsets, chosen, side="right") - 1
    strand = np.where(fwd[chosen] >= rev[chosen], 1, -1).astype(np.int8)
    return seqs, chosen, strand, best[chosen]


def select_sites(inp: SearchInput, data: EncodedSequences, win: Windows, theta: np.ndarray
                 ) -> dict | None:
    """Choose the number of sites minimising the objective: the E-value (``classic``) or the
    p-value of the sites' enrichment over the control (``de``/``se``, see
    :mod:`emseq.motif.discriminative`; ``se`` ranks the sites by its selective columns).

    Returns a selection: ``w, theta, loge`` (natural log of the E-value, or of the p-value for
    de/se), ``n`` (sites), their ``seqs, pos, strand`` and letter ``counts`` of shape (w, 4);
    None below two sites.
    """
    opts = inp.options
    rank_theta = (selective_mask(theta, inp.background.freqs, opts.minw)
                  if opts.objective == "se" else theta)
    seqs, pos, strand, score = candidate_sites(inp, data, win, rank_theta)
    w = win.w
    if len(pos) < 2:
        return None
    lett = site_letters(data, pos, strand, w)
    onehot = np.zeros(lett.shape + (4,))
    np.put_along_axis(onehot, lett[..., None].astype(np.int64), 1.0, axis=-1)
    cum = np.cumsum(onehot, axis=0)
    if opts.model == "oops":
        ns = np.array([len(pos)])
    else:
        lo, hi = opts.site_range(len(pos))
        if lo > len(pos):
            return None
        ns = np.arange(lo, hi + 1)
    if opts.discriminative:
        loge = enrichment_of_sites(inp, inp.control_of(data), win, rank_theta, score, ns)
        # ties (a p-value flat over thresholds): the most sites, as MEME
        g = len(ns) - 1 - int(np.argmin(loge[::-1]))
    else:
        nalign = log_alignments(opts.model, opts.n_strands, win, ns)
        loge = log_evalue(cum[ns - 1], inp.background.freqs, nalign)
        g = int(np.argmin(loge))
    n = int(ns[g])
    return {"w": w, "theta": theta, "loge": float(loge[g]), "n": n,
            "seqs": seqs[:n], "pos": pos[:n], "strand": strand[:n], "counts": cum[n - 1]}


def enrichment_of_sites(inp: SearchInput, control: SequenceView, win: Windows,
                        theta: np.ndarray, score: np.ndarray, ns: np.ndarray) -> np.ndarray:
    """Log p-values of the enrichment of the best ``ns`` candidates (scores ``score``, best
    first, in the windows ``win``) over the candidates of the same PWM in ``control``."""
    cwin = control.windows(win.w)
    _, _, _, cscore = candidate_sites(inp, control.data, cwin, theta)
    test = test_of_model(inp.options.model, per_window=True)
    if test != "binomial":
        return enrichment_log_pvalues(score[None], cscore[None], ns, test)[0]
    windows_p, windows_c = float(win.n_valid.sum()), float(cwin.n_valid.sum())
    logp = enrichment_log_pvalues(score[None], cscore[None], ns, test,
                                  success=windows_p / max(windows_p + windows_c, 1.0))[0]
    if len(cscore) >= _tcm_candidate_limit(control.data, cwin):
        # the control's list is bounded: below its last score the ranks are unknown
        logp = np.where(score[ns - 1] >= cscore.min(), logp, 0.0)
    return logp


def sites_frame(inp: SearchInput, motif_id: str, sel: dict, pwm: np.ndarray) -> pd.DataFrame:
    """The chosen sites as a table (1-based inclusive coordinates, motif orientation)."""
    data = inp.data
    freqs = inp.background.freqs
    w = sel["w"]
    order = np.lexsort((sel["pos"], sel["seqs"]))
    seqs, pos, strand = sel["seqs"][order], sel["pos"][order], sel["strand"][order]
    lett = site_letters(data, pos, strand, w)
    lo = np.log2(np.maximum(pwm, 1e-300) / freqs)
    scores = lo[np.arange(w), lett].sum(axis=1) if len(lett) else np.zeros(0)
    pvals = site_pvalues(pwm, freqs, scores)
    start = pos - data.offsets[seqs] + 1
    return pd.DataFrame({
        "motif": motif_id,
        "sequence": [data.names[i] for i in seqs],
        "start": start.astype(np.int64),
        "end": (start + w - 1).astype(np.int64),
        "strand": np.where(strand > 0, "+", "-"),
        "score": np.round(scores, 3),
        "p_value": pvals,
        "site": ["".join(LETTERS[c] for c in row) for row in lett],
    })
