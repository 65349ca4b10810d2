"""Discriminative motif discovery: MEME's ``de`` and ``se`` objectives and the shuffled control.

With control sequences (``--neg control.fa``, or ``--neg shuffle``: the input shuffled
preserving its k-mers) a motif is scored by how much better its sites separate the primary
sequences from the control ones than chance, as MEME does with ``-objfun de|se``
(``discretize.c`` of MEME 5: ``get_best_nsites``, ``sort_maxima``, ``smhg_trim_motif``).

Objective (what is computed)
----------------------------
For a PWM of width ``w`` the candidate sites of both sets are scored by their log-likelihood
ratio against the (primary's) Markov background, including the erasing weight of earlier
motifs (:func:`emseq.motif.sites.candidate_sites`), and ranked together, best first; at a tie
control sites rank first (so a tie never makes a motif look better, MEME's rule). Taking the
best ``N`` primary sites means a score threshold; ``r_N`` is the rank of the ``N``-th primary
site, i.e. ``N`` primary and ``r_N - N`` control sites lie above it. Per model:

- ZOOPS (and the starting-point search of every model): one candidate per sequence (its best
  window); the p-value of ``N`` is the hypergeometric tail (one-sided Fisher exact test,
  MEME's default ``-test mhg``) ``P(X >= N)``, ``X ~ Hypergeom(total=P+C, successes=P,
  draws=r_N)`` with ``P``/``C`` the primary/control sequences that have a possible site;
- TCM: the candidates are the best non-overlapping windows (a bounded list), so the numbers
  of possible sites are the windows: the binomial tail ``P(X >= N)``, ``X ~ Bin(r_N, q)``,
  ``q = windows_P / (windows_P + windows_C)`` (MEME's ``-test mbn``);
- OOPS (every sequence has a site, ``N`` is fixed): the one-sided Wilcoxon rank-sum test of
  the primary sequences' best scores against the control's (MEME's choice for OOPS), normal
  approximation without tie correction (ties are already broken against the primary).

The number of sites is the ``N`` of smallest p-value (ties: more sites); widths, starts and
the final motif are chosen by that p-value. ``se`` (MEME's "selective" objective) ranks the
sites by the PWM's ``6 + (w - 6) // 3`` most informative columns only (the others replaced by
the background letter frequencies, MEME: uniform frequencies), and the motif is cut to the span
of those columns (at least ``minw``); otherwise as ``de``.

E-value (reported) and where it differs from MEME
-------------------------------------------------
``E = p x T``: a p-value of the chosen motif times ``T``, the number of EM starts whose motifs
were compared for it (every width, start, refinement and shortening), MEME's Bonferroni
correction over its starts (``logev = logpv + log(n_starts)`` in ``meme.c``). The p-value that
chose the motif was minimised over thresholds on the sequences the PWM was fitted to, so ``p``
is computed on held-out halves instead (:mod:`emseq.motif.heldout`). MEME holds its halves
out of the whole search (``-hsfrac 0.5``: EM on half the primary sequences, the threshold on
a quarter, the p-value on the last quarter against half of the control); emseq searches all
sequences and holds out only the significance (refit on one half, threshold from it, test on
the other), so ``-hsfrac`` is not settable. The starting points are scored with the same test
(each seed's best site per sequence in both sets).

Shuffled control
----------------
:func:`kmer_shuffle` permutes each sequence keeping its k-mer counts exactly (default k = 2,
MEME's ``-shuf 2``; STREME and DREME also use k-mer preserving shuffles). A sequence with
given (k-1)-mer transitions is an Eulerian path in the multigraph of its (k-1)-mers; the
Altschul-Erickson / Kandel et al. (1996) algorithm draws such paths uniformly: draw a random
spanning arborescence of "last exits" into the final (k-1)-mer (Wilson's loop-erased random
walk, each step along a random remaining edge, which weights arborescences by the product of
their edge multiplicities as the BEST theorem requires), permute the other out-edges of each
vertex at random, and walk. Letters other than A/C/G/T stay where they are and the runs
between them are shuffled separately (a k-mer holding an N is never created or destroyed).
This keeps the first and last k-1 letters of each run. k = 2 (dinucleotides) is the default
because it removes the motif while keeping the CpG depletion and the composition that a
control must match; k = 3 keeps more of the background at the cost of leaving short motifs
partly intact in short sequences.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln, logsumexp

from .alphabet import EncodedSequences

__all__ = ["kmer_shuffle", "shuffle_rng", "enrichment_log_pvalues", "threshold_log_pvalue",
           "log_hypergeom_sf", "selective_columns", "selective_mask", "test_of_model",
           "report_log_evalue"]


# --- the shuffled control --------------------------------------------------------------------

def shuffle_rng(random_state: int | None) -> np.random.Generator:
    """The random source of the shuffle, independent of the search's (same seed, own stream)."""
    return np.random.default_rng(np.random.SeedSequence(random_state, spawn_key=(1,)))


def _eulerian_shuffle(run: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """One run of A/C/G/T codes permuted uniformly among the sequences of the same k-mers."""
    n = len(run)
    if k == 1:
        return rng.permutation(run)
    if n <= k:
        return run.copy()
    mod = 4 ** (k - 1)
    weights = 4 ** np.arange(k - 2, -1, -1)
    windows = np.lib.stride_tricks.sliding_window_view(run.astype(np.int64), k - 1)
    vertex = windows @ weights                       # (k-1)-mer at every position
    src, nxt = vertex[:-1], run[k - 1:].astype(np.int64)  # edge i: src[i] --nxt[i]--> vertex[i+1]
    first, last = int(vertex[0]), int(vertex[-1])
    order = np.argsort(src, kind="stable")
    starts = np.searchsorted(src[order], np.arange(mod + 1))
    out = {int(v): nxt[order[starts[v]:starts[v + 1]]] for v in np.unique(src)}
    # Wilson's algorithm: a random arborescence of last exits pointing to `last`
    last_exit: dict[int, int] = {}
    in_tree = {last}
    for u in out:
        cur, step = u, {}
        while cur not in in_tree:
            edges = out[cur]
            j = int(rng.integers(len(edges)))
            step[cur] = j
            cur = (cur * 4 + int(edges[j])) % mod
        cur = u
        while cur not in in_tree:
            last_exit[cur] = step[cur]
            in_tree.add(cur)
            cur = (cur * 4 + int(out[cur][step[cur]])) % mod
    lists: dict[int, list[int]] = {}
    for v, edges in out.items():
        if v in last_exit:
            j = last_exit[v]
            rest = np.delete(edges, j)
            lists[v] = list(rng.permutation(rest)) + [int(edges[j])]
        else:
            lists[v] = list(rng.permutation(edges))
    pointer = dict.fromkeys(lists, 0)
    letters = np.empty(n - (k - 1), dtype=np.uint8)
    cur = first
    for i in range(len(letters)):
        c = lists[cur][pointer[cur]]
        pointer[cur] += 1
        letters[i] = c
        cur = (cur * 4 + int(c)) % mod
    return np.concatenate([run[:k - 1], letters])


def kmer_shuffle(data: EncodedSequences, k: int, rng: np.random.Generator) -> EncodedSequences:
    """Every sequence of ``data`` shuffled keeping its k-mer counts exactly (see module doc).

    Parameters
    ----------
    data : EncodedSequences
        The sequences (codes 0-3 for A/C/G/T, 4 for unknown letters, which stay in place).
    k : int
        Length of the preserved words (1: a plain permutation of each run).
    rng : numpy.random.Generator
        The random source (see :func:`shuffle_rng`).

    Returns
    -------
    EncodedSequences
        The shuffled sequences, same offsets, names suffixed ``_shuffled``.
    """
    codes = data.codes.copy()
    unknown = np.flatnonzero(codes > 3)
    cuts = np.unique(np.concatenate([data.offsets, unknown, unknown + 1]))
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        if hi - lo > 1 and codes[lo] <= 3:
            codes[lo:hi] = _eulerian_shuffle(codes[lo:hi], k, rng)
    return EncodedSequences(codes, data.offsets.copy(), [f"{n}_shuffled" for n in data.names])


# --- the enrichment tests --------------------------------------------------------------------

def test_of_model(model: str, per_window: bool) -> str:
    """The test of a model: ``ranksum`` (OOPS), ``binomial`` (TCM's window candidates,
    ``per_window``), ``hypergeometric`` otherwise (one candidate per sequence)."""
    if model == "oops":
        return "ranksum"
    return "binomial" if (model == "tcm" and per_window) else "hypergeometric"


def _log_choose(n, k):
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def log_hypergeom_sf(x, total: int, successes: int, draws) -> np.ndarray:
    """``ln P(X >= x)`` for ``X ~ Hypergeom(total, successes, draws)``, elementwise over ``x``
    and ``draws``: the log of the sum of the tail's probabilities (exact, far below 1e-300;
    scipy's ``hypergeom.logsf`` gives the same values but loops in Python)."""
    x, draws = np.broadcast_arrays(np.asarray(x, float), np.asarray(draws, float))
    shape = x.shape
    x, draws = x.ravel(), draws.ravel()
    lo = np.maximum(x, np.maximum(draws - (total - successes), 0.0))
    hi = np.minimum(draws, successes)
    out = np.full(len(x), -np.inf)
    out[x <= 0] = 0.0
    todo = np.flatnonzero((x > 0) & (lo <= hi))
    span = int((hi[todo] - lo[todo]).max()) + 1 if len(todo) else 0
    chunk = max(1, 4_000_000 // max(span, 1))
    for c in range(0, len(todo), chunk):
        idx = todo[c:c + chunk]
        k = lo[idx, None] + np.arange(span)
        d = draws[idx, None]
        terms = (_log_choose(successes, np.minimum(k, successes))
                 + _log_choose(total - successes, np.clip(d - k, 0, None))
                 - _log_choose(total, d))
        terms[k > hi[idx, None]] = -np.inf
        out[idx] = logsumexp(terms, axis=1)
    return np.minimum(out, 0.0).reshape(shape)


def _ranks_of_primary(primary: np.ndarray, control: np.ndarray) -> np.ndarray:
    """Rank (1 = best) of every primary score among both sets, each row ranked on its own;
    ``primary`` of shape (S, n) sorted best first, ``control`` of shape (S, m); control first
    at ties."""
    s, n = primary.shape
    scores = np.concatenate([primary, control], axis=1)
    is_primary = np.concatenate([np.ones_like(primary, bool), np.zeros_like(control, bool)],
                                axis=1)
    order = np.lexsort((is_primary, -scores), axis=-1)
    sorted_primary = np.take_along_axis(is_primary, order, axis=1)
    return (np.nonzero(sorted_primary)[1].reshape(s, n) + 1).astype(float)


def enrichment_log_pvalues(primary: np.ndarray, control: np.ndarray, nsites: np.ndarray,
                           test: str, success: float | None = None) -> np.ndarray:
    """Natural-log p-values of the enrichment of the best ``nsites`` primary sites.

    Parameters
    ----------
    primary : ndarray of shape (S, n)
        Scores of the primary candidates of ``S`` motifs, each row sorted best first.
    control : ndarray of shape (S, m)
        Scores of the control candidates of the same motifs (any order).
    nsites : ndarray of int of shape (G,)
        Numbers of sites (1..n) to test.
    test : {"hypergeometric", "binomial", "ranksum"}
        See the module doc (``ranksum`` ignores ``nsites``: all ``n`` sites).
    success : float, optional
        The binomial's success probability (default ``n / (n + m)``).

    Returns
    -------
    ndarray of shape (S, G)
    """
    primary = np.atleast_2d(np.asarray(primary, float))
    control = np.atleast_2d(np.asarray(control, float))
    n, m = primary.shape[1], control.shape[1]
    ranks = _ranks_of_primary(primary, control)
    nsites = np.asarray(nsites, dtype=np.int64)
    if test == "ranksum":
        total = n + m
        u = (total + 1.0 - ranks).sum(axis=1) - n * (n + 1) / 2.0   # U of the primary
        sigma = math.sqrt(max(n * m * (total + 1) / 12.0, 1e-300))
        from scipy.stats import norm  # here: scipy.stats is ~1/3 of emseq motif's start

        logp = norm.logsf((u - n * m / 2.0) / sigma) if m else np.zeros(len(u))
        return np.repeat(logp[:, None], len(nsites), axis=1)
    return _tail_log_pvalue(nsites[None, :], ranks[:, nsites - 1], n, m, test, success)


def _tail_log_pvalue(x, draws, n: int, m: int, test: str, success: float | None):
    """``ln P(X >= x)`` for ``x`` primary candidates among the best ``draws`` of ``n`` primary
    and ``m`` control ones: hypergeometric, or binomial with ``success`` (default
    ``n / (n + m)``)."""
    if test == "binomial":
        q = n / max(n + m, 1) if success is None else success
        from scipy.stats import binom  # here: see norm above

        return np.minimum(binom.logsf(np.asarray(x) - 1, draws, q), 0.0)
    return log_hypergeom_sf(x, n + m, n, draws)


def threshold_log_pvalue(primary: np.ndarray, control: np.ndarray, threshold: float,
                         test: str, success: float | None = None) -> float:
    """Natural-log p-value of the primary candidates scoring at least ``threshold`` (a fixed
    threshold: nothing is minimised), ``x`` of ``n`` primary and ``y`` of ``m`` control ones:
    ``P(X >= x)`` with ``X ~ Hypergeom(n + m, n, x + y)`` or, for ``binomial``,
    ``X ~ Bin(x + y, success)`` (default ``n / (n + m)``)."""
    n, m = len(primary), len(control)
    x = int((np.asarray(primary) >= threshold).sum())
    y = int((np.asarray(control) >= threshold).sum())
    if x == 0:
        return 0.0
    return float(_tail_log_pvalue(x, x + y, n, m, test, success))


# --- the selective objective -----------------------------------------------------------------

def selective_columns(theta: np.ndarray, freqs: np.ndarray, minw: int) -> np.ndarray:
    """Which columns ``se`` scores with: the ``6 + (w - 6) // 3`` most informative (MEME's
    rule), at least ``minw``; bool array of shape (w,)."""
    w = len(theta)
    keep = min(w, max(minw, 6 + (w - 6) // 3 if w > 6 else w))
    p = np.maximum(theta, 1e-300)
    info = (p * np.log2(p / freqs)).sum(axis=1)
    kept = np.zeros(w, bool)
    kept[np.argsort(-info, kind="stable")[:keep]] = True
    return kept


def selective_mask(theta: np.ndarray, freqs: np.ndarray, minw: int) -> np.ndarray:
    """``theta`` with the columns :func:`selective_columns` leaves out set to ``freqs``."""
    kept = selective_columns(theta, freqs, minw)
    return np.ascontiguousarray(np.where(kept[:, None], theta, freqs[None, :]))


def report_log_evalue(log_p: float, n_tests: int) -> float:
    """MEME's E-value of a de/se motif, natural log: ``ln p + ln T`` (see module doc)."""
    return float(log_p + math.log(max(int(n_tests), 1)))
