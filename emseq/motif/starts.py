"""Starting points of EM for one width (MEME's idea of scoring many seeds cheaply).

Seeds are the most over-represented k-mers (Poisson log-likelihood ratio against the Markov
background) placed in the middle of the motif, plus substrings of the data (all of them in
small data sets, a bounded random sample otherwise). Each seed is scored against every window
of the scan set (Cython kernel, linear in the data), the best site per sequence is kept, and
the top ``n`` sites (``n`` on a geometric grid) are aligned and scored by their E-value; the
``n_starts`` best distinct alignments become starting points.
"""

from __future__ import annotations

import math

import numpy as np

from . import _kernels
from .alphabet import EncodedSequences
from .fit import mstep_theta
from .discriminative import enrichment_log_pvalues, test_of_model
from .inputs import SearchInput
from .stats import log_evalue
from .windows import SequenceView, Windows, log_alignments, site_letters

__all__ = ["kmer_seeds", "starting_points", "palindrome_counts", "SEED_PAIRS", "SEED_PROB"]

#: seed x window pairs scored per width in the starting-point search (bounds its cost)
SEED_PAIRS = 4_000_000
#: probability of a seed's own letter in its PWM (the rest shared by the other letters)
SEED_PROB = 0.7


def kmer_seeds(inp: SearchInput, scan: SequenceView, w: int) -> list[np.ndarray]:
    """PWMs of width ``w`` from the most over-represented k-mers (k = min(w, 8)), centred."""
    bg = inp.background
    opts = inp.options
    k = min(w, 8)
    win = scan.windows(k)
    counts = np.zeros(4 ** k)
    _kernels.count_words(scan.data.codes, win.logw, k, counts)
    total = counts.sum()
    if total <= 0:
        return []
    kmers = np.arange(4 ** k)
    digits = np.stack([(kmers >> (2 * (k - 1 - j))) & 3 for j in range(k)], axis=1)
    logp = np.zeros(4 ** k)
    offs = [0]
    for o in range(bg.order + 1):
        offs.append(offs[-1] + 4 ** (o + 1))
    for j in range(k):
        o = min(j, bg.order)
        ctx = np.zeros(4 ** k, dtype=np.int64)
        for q in range(j - o, j):
            ctx = ctx * 4 + digits[:, q]
        logp += bg.logcond[offs[o] + ctx * 4 + digits[:, j]]
    expected = total * np.exp(logp)
    if opts.revcomp:
        rc = np.zeros(4 ** k, dtype=np.int64)
        for j in range(k):
            rc = rc * 4 + (3 - digits[:, k - 1 - j])
        counts = counts + counts[rc]
        expected = expected + expected[rc]
        canonical = kmers <= rc
    else:
        canonical = np.ones(4 ** k, bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(counts > expected,
                         counts * np.log(counts / expected) - (counts - expected), 0.0)
    score[~canonical | (counts < 3)] = 0.0
    top = np.argsort(score)[::-1][:opts.n_kmers]
    top = top[score[top] > 0]
    seeds = []
    left = (w - k) // 2
    for km in top:
        pwm = np.tile(bg.freqs, (w, 1))
        for j in range(k):
            row = np.full(4, (1.0 - SEED_PROB) / 3.0)
            row[digits[km, j]] = SEED_PROB
            pwm[left + j] = row
        seeds.append(pwm)
    return seeds


def starting_points(inp: SearchInput, scan: SequenceView, w: int
                    ) -> list[tuple[np.ndarray, float, float]]:
    """The best starting points for width ``w``: (theta, prior, log E) of each."""
    opts = inp.options
    data = scan.data
    win = scan.windows(w)
    valid_pos = np.flatnonzero(np.isfinite(win.logw))
    if len(valid_pos) == 0:
        return []
    seeds = kmer_seeds(inp, scan, w)
    n_random = min(len(valid_pos), max(16, SEED_PAIRS // max(len(valid_pos), 1)))
    if n_random >= len(valid_pos):
        picks = valid_pos
    else:
        picks = np.sort(inp.rng.choice(valid_pos, size=n_random, replace=False))
    letters = data.codes[picks[:, None] + np.arange(w)]
    random_pwms = np.full((len(picks), w, 4), (1.0 - SEED_PROB) / 3.0)
    np.put_along_axis(random_pwms, letters[..., None].astype(np.int64), SEED_PROB, axis=2)
    lps = np.log(np.concatenate([np.array(seeds).reshape(-1, w, 4), random_pwms]))
    lps = np.ascontiguousarray(lps)
    n_seeds, nseq = len(lps), data.n_sequences
    score = np.empty((n_seeds, nseq))
    pos = np.empty((n_seeds, nseq), dtype=np.int64)
    strand = np.empty((n_seeds, nseq), dtype=np.int8)
    _kernels.best_sites(data.codes, data.offsets, lps, win.bgwin, win.logw, opts.revcomp,
                        score, pos, strand, inp.n_threads)
    used = win.n_valid > 0
    n_used = int(used.sum())
    if n_used < 2:
        return []
    if opts.model == "oops":
        grid = np.array([n_used])
    else:
        lo, hi = opts.site_range(n_used)
        if lo > n_used:
            return []
        grid = [lo]
        while grid[-1] * 2 < hi:
            grid.append(grid[-1] * 2)
        grid = np.unique(np.array(grid + [hi]))
    order = np.argsort(-score, axis=1, kind="stable")[:, :n_used]
    if opts.discriminative:
        seed_loge = _seed_log_pvalues(inp, scan, w, lps, np.take_along_axis(score, order, 1),
                                      grid)
    else:
        seed_loge = _seed_log_evalues(inp, data, win, pos, strand, order, grid)
    g = np.argmin(seed_loge, axis=1)
    best = sorted((float(seed_loge[i, g[i]]), i, int(grid[g[i]]))  # (logE, seed, n)
                  for i in range(n_seeds))
    # the same over the many-site counts only (see _start_order)
    many = np.flatnonzero(grid >= max(grid[0], math.sqrt(n_used)))
    gm = many[np.argmin(seed_loge[:, many], axis=1)]
    best_many = sorted((float(seed_loge[i, gm[i]]), i, int(grid[gm[i]])) for i in range(n_seeds))
    starts: list[tuple[np.ndarray, float, float]] = []
    seen: list[np.ndarray] = []
    ordered, n_starts = _start_order(best, best_many, opts.n_starts,
                                     inp.sampled and not opts.discriminative)
    for loge, sd, nsite in ordered:
        o = order[sd, :nsite]
        if opts.pal:
            counts = palindrome_counts(inp, data, win, pos[sd, o], strand[sd, o], w)
        else:
            lett = site_letters(data, pos[sd, o], strand[sd, o], w)
            counts = np.zeros((w, 4))
            np.add.at(counts, (np.broadcast_to(np.arange(w), lett.shape), lett), 1.0)
        theta = mstep_theta(inp, counts)
        if any(np.abs(theta - t).max() < 0.05 for t in seen):
            continue
        seen.append(theta)
        if opts.model == "zoops":
            prior = min(max(nsite / n_used, 1e-3), 1.0 - 1e-3)
        elif opts.model == "tcm":
            prior = min(max(nsite / float(win.n_valid.sum()), 1e-8), 0.5 / w)
        else:
            prior = 1.0
        starts.append((theta, prior, loge))
        if len(starts) >= n_starts:
            break
    return starts


def _start_order(best: list, best_many: list, n_starts: int, sampled: bool
                 ) -> tuple[list, int]:
    """Candidates in the order they become starting points, and how many starts to keep.

    The ``n_starts`` best by E-value, and when the scan set is a sample of the data and not
    even the best is significant (E > 1), one more next to them: the best candidate with many
    sites (>= sqrt of the sequences); never with de/se, whose seed scores are p-values. A seed
    alignment's E-value counts only the seed's own columns, so for a motif whose sites carry
    little more information than the number of possible alignments costs (long sequences, a
    15-wide CTCF in 1 kbp), every alignment of the true sites scores worse than a 2-site
    chance alignment, though EM from it finds a motif of E = 1e-134 (measured: 400 x 1 kbp,
    189 planted CTCF sites, missed without it). The choice among the starts is made after
    their EM runs, by the fitted motifs' E-values. The extra start is added, not taken from
    the E-value's, and only on sampled scans: on a small set (crp0 TCM) it won by a slightly
    better E-value (2.9e-4 against 6.6e-4) with a 16-wide motif where the known sites and
    MEME's motif are 20-22 wide.
    """
    if not sampled or not best or best[0][0] <= 0.0:
        return best, n_starts
    head = best[:n_starts]
    taken = {cand[1:] for cand in head}
    extra = next((cand for cand in best_many if cand[1:] not in taken), None)
    if extra is None:
        return best, n_starts
    return head + [extra] + [c for c in best[n_starts:] if c[1:] != extra[1:]], n_starts + 1


def _seed_log_evalues(inp: SearchInput, data: EncodedSequences, win: Windows,
                      pos: np.ndarray, strand: np.ndarray, order: np.ndarray, grid: np.ndarray
                      ) -> np.ndarray:
    """Classic E-values (natural log) of every seed's best ``grid`` sites aligned: array of
    shape (n_seeds, G); ``order`` ranks each seed's best site per sequence, best first."""
    opts = inp.options
    w = win.w
    n_seeds, n_used = order.shape
    nalign = log_alignments(opts.model, opts.n_strands, win, grid)
    out = np.empty((n_seeds, len(grid)))
    chunk = max(1, 2_000_000 // max(n_used * w * 4, 1))
    for lo in range(0, n_seeds, chunk):
        hi = min(n_seeds, lo + chunk)
        o = order[lo:hi]
        p = np.take_along_axis(pos[lo:hi], o, axis=1)
        s = np.take_along_axis(strand[lo:hi], o, axis=1)
        lett = site_letters(data, p, s, w)
        onehot = np.zeros(lett.shape + (4,), dtype=np.float32)
        np.put_along_axis(onehot, lett[..., None].astype(np.int64), 1.0, axis=-1)
        cum = np.cumsum(onehot, axis=1)[:, grid - 1]          # (chunk, G, w, 4)
        out[lo:hi] = log_evalue(cum.astype(float), inp.background.freqs, nalign[None, :])
    return out


def _seed_log_pvalues(inp: SearchInput, scan: SequenceView, w: int, lps: np.ndarray,
                      primary: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """de/se: p-values (natural log) of the enrichment of every seed's best ``grid`` sites
    (one per sequence, ``primary`` sorted best first) over its best sites in the control's
    sequences (same kernel); array of shape (n_seeds, G)."""
    opts = inp.options
    control = inp.control_of(scan.data)
    cwin = control.windows(w)
    cdata = control.data
    n_seeds = len(lps)
    cscore = np.empty((n_seeds, cdata.n_sequences))
    cpos = np.empty((n_seeds, cdata.n_sequences), dtype=np.int64)
    cstrand = np.empty((n_seeds, cdata.n_sequences), dtype=np.int8)
    _kernels.best_sites(cdata.codes, cdata.offsets, lps, cwin.bgwin,
                        cwin.logw, opts.revcomp, cscore, cpos, cstrand, inp.n_threads)
    return enrichment_log_pvalues(primary, cscore[:, cwin.n_valid > 0], grid,
                                  test_of_model(opts.model, per_window=False))


def palindrome_counts(inp: SearchInput, data: EncodedSequences, win: Windows, pos: np.ndarray,
                      strand: np.ndarray, w: int, max_shift: int = 3) -> np.ndarray:
    """Letter counts of the sites shifted so that their centre is a palindrome's centre.

    A seed's alignment can be off the centre of symmetry of a palindromic motif, and the
    palindrome-constrained EM cannot shift it; the shift (up to ``max_shift``) whose
    symmetrised PWM explains the sites best is kept.
    """
    best_counts, best_score = None, -np.inf
    logbg = np.log(inp.background.freqs)
    for d in range(-max_shift, max_shift + 1):
        p = pos + np.where(strand > 0, d, -d)
        ok = (p >= 0) & (p < len(data.codes))
        ok[ok] = np.isfinite(win.logw[p[ok]])
        if ok.sum() < max(2, int(0.8 * len(pos))):
            continue
        lett = site_letters(data, p[ok], strand[ok], w)
        counts = np.zeros((w, 4))
        np.add.at(counts, (np.broadcast_to(np.arange(w), lett.shape), lett), 1.0)
        theta = mstep_theta(inp, counts)
        score = float((counts * (np.log(theta) - logbg)).sum()) / ok.sum()
        if score > best_score:
            best_counts, best_score = counts, score
    if best_counts is None:
        lett = site_letters(data, pos, strand, w)
        best_counts = np.zeros((w, 4))
        np.add.at(best_counts, (np.broadcast_to(np.arange(w), lett.shape), lett), 1.0)
    return best_counts
