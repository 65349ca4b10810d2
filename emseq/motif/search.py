"""MEME-style motif discovery: starting points, EM over OOPS/ZOOPS/TCM mixtures, selection.

The search, for each motif (``nmotifs`` rounds, with probabilistic erasing in between):

1. widths on MEME's geometric grid (factor sqrt 2, step >= 2) from ``minw`` to ``maxw``;
2. for each width, starting points: the most over-represented k-mers (Poisson log-likelihood
   ratio against the Markov background) placed in the middle of the motif, plus substrings of
   the data (all of them in small data sets, a bounded random sample otherwise); each seed is
   scored against every window of a bounded scan set (Cython kernel, linear in the data), the
   best site per sequence is kept and the top ``n`` sites (``n`` on a geometric grid) are
   aligned and scored by their E-value (:mod:`emseq.motif.stats`);
3. EM on the whole data from the ``n_starts`` best seeds, until the PWM moves less than
   ``theta_tol`` (Euclidean) or ``max_iter`` iterations (MEME's rule); each run is recorded by
   :class:`emseq.em.ConvergenceMonitor` (the MAP objective never decreases);
4. the sites of each EM solution are ranked and their number chosen to minimise the E-value;
   the motif of lowest E-value over widths and starts is kept;
5. MEME's shortening: the sub-range of its columns with the lowest E-value (same sites) is
   refitted at that width; both it and the winner get a full EM on all the data, and the one
   with the lower E-value after that EM is reported.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .._progress import progress
from .._threads import resolve_threads
from ..em import ConvergenceMonitor, run_em
from ..errors import InputError, UsageError
from ..io.fasta import FastaRecord, read_fasta
from . import _kernels
from .alphabet import LETTERS, EncodedSequences, encode
from .background import MAX_ORDER, Background
from .stats import column_log_pvalues, llr_bits, log_chi2_sf_even, log_evalue, log_n_alignments, site_pvalues

__all__ = ["discover", "Motif", "MotifSet", "MotifResult", "width_grid", "MODELS"]

logger = logging.getLogger(__name__)

MODELS = {"oops": 0, "zoops": 1, "tcm": 2, "anr": 2}
#: seed x window pairs scored per width in the starting-point search (bounds its cost)
SEED_PAIRS = 4_000_000
#: letters of the data the seeds are scored on (a random subset of sequences beyond this)
SCAN_LETTERS = 200_000
_LN10 = math.log(10.0)
#: probability of a seed's own letter in its PWM (the rest shared by the other letters)
SEED_PROB = 0.7
#: TCM considers up to max(5 x sequences, this) candidate sites (MEME: 5 x sequences)
TCM_MIN_CANDIDATES = 100
#: piece length of long sequences in the TCM starting-point search
TCM_CHUNK = 500
#: EM iterations per start before the winner is refined to convergence
SAMPLE_ITER = 20
#: edge columns of the chosen sites with a larger column p-value are trimmed off
TRIM_PVALUE = 0.001
#: edge columns with less information than this (bits, vs the background) are trimmed off
TRIM_BITS = 0.25
#: EM starts per width by model. OOPS scores each seed at one number of sites only, and on
#: crp0 its best start at width 16 ranks 5th by the seed E-value (4 starts: nPC 0.49 -> 0.63,
#: planted 20x200 OOPS unchanged); on TCM 4 starts find lower E-values that place fewer true
#: sites (20x200 nPC 0.73 -> 0.72), and ZOOPS does not change: both keep 2
DEFAULT_STARTS = {"oops": 4, "zoops": 2, "tcm": 2}
#: candidates (best first, distinct) refined by a full EM before the final choice, besides the
#: shortened winner (measured: 2 drops 20x200 OOPS nPC 0.85 -> 0.82, 3 drops 20x200 ZOOPS
#: 0.65 -> 0.63, while lifting crp0 TCM 0.63 -> 0.85)
FINAL_CANDIDATES = 1
#: MEME-style shortening of the best motif (the most significant sub-range of its columns)
SHORTEN = True


def width_grid(minw: int, maxw: int) -> list[int]:
    """MEME's widths: from ``minw`` multiply by sqrt(2) (step at least 2) up to ``maxw``."""
    widths = [minw]
    while widths[-1] < maxw:
        nxt = max(widths[-1] + 2, int(round(widths[-1] * math.sqrt(2))))
        widths.append(min(nxt, maxw))
    return widths


def consensus(pwm: np.ndarray) -> str:
    """Consensus: the best letter if its probability >= 0.5, a two-letter IUPAC code if the
    best two reach 0.75, else N."""
    pairs = {frozenset("AC"): "M", frozenset("AG"): "R", frozenset("AT"): "W",
             frozenset("CG"): "S", frozenset("CT"): "Y", frozenset("GT"): "K"}
    out = []
    for row in pwm:
        order = np.argsort(row)[::-1]
        if row[order[0]] >= 0.5:
            out.append(LETTERS[order[0]])
        elif row[order[0]] + row[order[1]] >= 0.75:
            out.append(pairs[frozenset(LETTERS[order[0]] + LETTERS[order[1]])])
        else:
            out.append("N")
    return "".join(out)


# --------------------------------------------------------------------------- results
@dataclass
class Motif:
    """One discovered motif.

    Attributes
    ----------
    id : str
        Its id in ``motifs.meme`` (``"1"``, ``"2"``, ...).
    pwm : ndarray of shape (width, 4)
        Letter probabilities (A, C, G, T) per column.
    nsites : int
        Number of sites chosen (the count that minimises the E-value).
    llr : float
        Log-likelihood ratio of the sites (bits) against the order-0 background.
    log10_e_value : float
        log10 of the E-value (see :mod:`emseq.motif.stats`).
    sites : DataFrame
        ``motif, sequence, start, end, strand, score, p_value, site`` (1-based, inclusive).
    """

    id: str
    pwm: np.ndarray
    nsites: int
    llr: float
    log10_e_value: float
    sites: pd.DataFrame
    model: str = "zoops"
    prior: float = 0.0

    @property
    def width(self) -> int:
        return int(self.pwm.shape[0])

    @property
    def consensus(self) -> str:
        return consensus(self.pwm)

    @property
    def e_value(self) -> float:
        return 10.0 ** self.log10_e_value if self.log10_e_value > -300 else 0.0

    @property
    def e_value_text(self) -> str:
        """The E-value as MEME prints it, also below the float range (e.g. ``3.1e-412``)."""
        exponent = math.floor(self.log10_e_value)
        mantissa = 10.0 ** (self.log10_e_value - exponent)
        if mantissa >= 9.95:
            mantissa, exponent = 1.0, exponent + 1
        return f"{mantissa:.1f}e{exponent:+04d}" if exponent < 0 else f"{mantissa:.1f}e+{exponent:03d}"


class MotifSet(list):
    """The motifs found (a list of :class:`Motif`) with a ``table`` and their ``pwms``."""

    @property
    def table(self) -> pd.DataFrame:
        """``motif, consensus, width, sites, llr, e_value, log10_e_value`` per motif."""
        rows = [{"motif": m.id, "consensus": m.consensus, "width": m.width, "sites": m.nsites,
                 "llr": round(m.llr, 1), "e_value": m.e_value_text,
                 "log10_e_value": round(m.log10_e_value, 3)} for m in self]
        return pd.DataFrame(rows, columns=["motif", "consensus", "width", "sites", "llr",
                                           "e_value", "log10_e_value"])

    @property
    def pwms(self) -> list[np.ndarray]:
        return [m.pwm for m in self]


@dataclass
class MotifResult:
    """What :func:`discover` returns.

    Attributes
    ----------
    motifs : MotifSet
        The motifs in the order found (``motifs.table`` is ``motifs.tsv``; ``motifs.pwms``).
    sites : DataFrame
        The sites of every motif (``sites.tsv``).
    convergence : DataFrame
        Every EM run's record: ``motif, width, start`` then the shared convergence columns.
    background : Background
        The background model used.
    params : dict
        The options of the run.
    """

    motifs: MotifSet
    sites: pd.DataFrame
    convergence: pd.DataFrame
    background: Background
    params: dict = field(default_factory=dict)
    n_sequences: int = 0

    def write(self, directory: str | os.PathLike[str]) -> None:
        """Write motifs.meme, motifs.jaspar, motifs.tsv, sites.tsv, convergence.tsv, logos and
        a summary (summary.html, summary.png) into ``directory``, atomically."""
        from .output import write_result

        write_result(self, directory)


# --------------------------------------------------------------------------- input
def _load(sequences, mask_lowercase: bool) -> EncodedSequences:
    if isinstance(sequences, (str, os.PathLike)):
        records = read_fasta(sequences)
        names = [r.name for r in records]
        strings = [r.sequence for r in records]
        source = str(sequences)
    else:
        strings, names = [], []
        for i, item in enumerate(sequences):
            if isinstance(item, FastaRecord):
                names.append(item.name)
                strings.append(item.sequence)
            elif isinstance(item, str):
                names.append(f"seq{i + 1}")
                strings.append(item)
            else:
                raise InputError(f"sequence {i + 1}: expected a string or FastaRecord, "
                                 f"got {type(item).__name__}")
        source = "input"
    if not strings:
        raise InputError(f"{source}: no sequences")
    total = sum(len(s) for s in strings)
    if total == 0:
        raise InputError(f"{source}: every sequence is empty")
    joined = "".join(strings).upper()
    nucleotide = sum(joined.count(c) for c in "ACGTUN")
    if nucleotide < 0.75 * total:
        raise InputError(f"{source}: only {100 * nucleotide / total:.0f}% of the letters are "
                         "A, C, G, T, U or N: this looks like protein, emseq motif needs DNA")
    bad = set(joined) - set("ACGTUNRYKMSWBDHV")
    if bad:
        raise InputError(f"{source}: unexpected letters {''.join(sorted(bad))!r} in DNA sequences")
    empty = sum(1 for s in strings if not s)
    if empty:
        logger.info("%d empty sequence(s) skipped", empty)
        names = [n for n, s in zip(names, strings) if s]
        strings = [s for s in strings if s]
    return encode(strings, names, mask_lowercase=mask_lowercase)


def _longest_known_run(data: EncodedSequences) -> int:
    """Length of the longest stretch of A/C/G/T letters inside one sequence."""
    breaks = (data.codes > 3).astype(np.int8)
    breaks_pos = np.flatnonzero(breaks)
    cuts = np.unique(np.concatenate([breaks_pos, breaks_pos + 1, data.offsets]))
    cuts = cuts[(cuts >= 0) & (cuts <= len(data.codes))]
    if len(cuts) < 2:
        return 0
    lengths = np.diff(cuts)
    known = breaks[cuts[:-1]] == 0 if len(data.codes) else np.zeros(0, bool)
    return int(lengths[known].max()) if known.any() else 0


def _chunked(data: EncodedSequences, size: int) -> EncodedSequences:
    """The same letters with every sequence cut into pieces of at most ``size`` letters."""
    offsets = [0]
    names = []
    for i in range(data.n_sequences):
        start, end = int(data.offsets[i]), int(data.offsets[i + 1])
        cuts = list(range(start + size, end, size))
        for j, cut in enumerate(cuts + [end]):
            offsets.append(cut)
            names.append(f"{data.names[i]}:{j + 1}")
    return EncodedSequences(data.codes, np.array(offsets, dtype=np.int64), names)


# --------------------------------------------------------------------------- windows
@dataclass
class _Windows:
    w: int
    logw: np.ndarray      # (n_letters,)
    bgwin: np.ndarray     # (n_letters,)
    n_valid: np.ndarray   # (n_sequences,) possible sites per sequence
    bg_seq: float         # background log-likelihood of the sequences with a possible site


def _windows(data: EncodedSequences, bglp: np.ndarray, w: int,
             erase: np.ndarray | None) -> _Windows:
    codes, offsets = data.codes, data.offsets
    n = len(codes)
    pos = np.arange(n)
    seq_end = np.repeat(offsets[1:], np.diff(offsets))
    end = np.minimum(pos + w, n)
    unknown = np.concatenate([[0], np.cumsum(codes > 3)])
    cbg = np.concatenate([[0.0], np.cumsum(bglp)])
    valid = (pos + w <= seq_end) & (unknown[end] - unknown[pos] == 0)
    bgwin = np.ascontiguousarray(cbg[end] - cbg[pos])
    logw = np.where(valid, 0.0, -np.inf)
    if erase is not None:
        padded = np.concatenate([erase, np.ones(w)])
        wmin = np.lib.stride_tricks.sliding_window_view(padded, w)[:n].min(axis=1)
        with np.errstate(divide="ignore"):
            logw = logw + np.log(wmin)
    counts = np.add.reduceat(valid.astype(np.int64), offsets[:-1]) if n else np.zeros(0)
    counts = np.where(np.diff(offsets) > 0, counts, 0) if n else counts
    used = counts > 0
    per_seq = np.add.reduceat(bglp, offsets[:-1]) if n else np.zeros(0)
    bg_seq = float(np.where(used & (np.diff(offsets) > 0), per_seq, 0.0).sum())
    return _Windows(w, np.ascontiguousarray(logw), bgwin, counts.astype(float), bg_seq)


# --------------------------------------------------------------------------- the engine
class _Search:
    def __init__(self, data: EncodedSequences, bg: Background, *, model: str, revcomp: bool,
                 pal: bool, prior_strength: float, n_threads: int, max_iter: int,
                 theta_tol: float, n_starts: int, n_kmers: int, rng: np.random.Generator,
                 minw: int) -> None:
        self.data = data
        self.bg = bg
        self.model = "tcm" if model == "anr" else model
        self.code = MODELS[model]
        self.revcomp = revcomp
        self.nstr = 2 if revcomp else 1
        self.pal = pal
        self.alpha = prior_strength * bg.freqs
        # OpenMP pays off only on enough data: below ~50 kbp per thread the barriers cost more
        self.n_threads = max(1, min(n_threads, len(data.codes) // 50_000))
        self.max_iter = max_iter
        self.theta_tol = theta_tol
        self.n_starts = n_starts
        self.n_kmers = n_kmers
        self.rng = rng
        self.minw = minw
        self.bglp = bg.logprob(data)
        self.maxlen = int(data.lengths.max())
        self.traces: list[pd.DataFrame] = []
        # the scan set of the starting-point search: all sequences, or a random subset
        n_letters = len(data.codes)
        if n_letters > SCAN_LETTERS:
            order = rng.permutation(data.n_sequences)
            cum = np.cumsum(data.lengths[order])
            keep = np.sort(order[:max(2, int(np.searchsorted(cum, SCAN_LETTERS)) + 1)])
            self.scan_index = keep
            self.scan = data.subset(keep)
        else:
            self.scan_index = np.arange(data.n_sequences)
            self.scan = data
        if self.model == "tcm" and int(self.scan.lengths.max()) > 2 * TCM_CHUNK:
            # TCM sites may crowd into a few long sequences: the starting-point search keeps
            # one site per sequence, so it sees long sequences as chunks (same letters)
            self.scan = _chunked(self.scan, TCM_CHUNK)
        self.scan_bglp = bg.logprob(self.scan)

    # ------------------------------------------------------------ helpers
    def _letters(self, data: EncodedSequences, pos: np.ndarray, strand: np.ndarray,
                 w: int) -> np.ndarray:
        """Site letters in motif orientation, shape pos.shape + (w,)."""
        idx = pos[..., None] + np.arange(w)
        letters = data.codes[idx]
        minus = strand < 0
        letters = np.where(minus[..., None], 3 - letters[..., ::-1], letters)
        return letters

    def _nalign(self, win: _Windows, nsites) -> np.ndarray:
        used = win.n_valid > 0
        n_used = int(used.sum())
        mean = float(win.n_valid[used].mean()) if n_used else 1.0
        return log_n_alignments(self.model, nsites, n_used, mean, float(win.n_valid.sum()),
                                self.nstr)

    def _mstep_theta(self, counts: np.ndarray) -> np.ndarray:
        c = counts + self.alpha
        if self.pal:
            c = c + c[::-1, ::-1]
        return c / c.sum(axis=1, keepdims=True)

    def _trim(self, theta: np.ndarray) -> tuple[np.ndarray, int]:
        """Drop edge columns carrying less than ``TRIM_BITS`` of information (width >= minw)."""
        p = np.maximum(theta, 1e-300)
        ic = (p * np.log2(p / self.bg.freqs)).sum(axis=1)
        lo, hi = 0, len(theta)
        while hi - lo > self.minw and (ic[lo] < TRIM_BITS or ic[hi - 1] < TRIM_BITS):
            if ic[lo] <= ic[hi - 1]:
                lo += 1
            else:
                hi -= 1
        return np.ascontiguousarray(theta[lo:hi]), hi - lo

    def _trim_columns(self, counts: np.ndarray) -> tuple[int, int]:
        """Edge columns of the chosen sites whose LLR p-value exceeds ``TRIM_PVALUE`` are cut
        (MEME shortens motifs the same way, by significance); returns the kept range."""
        logp = column_log_pvalues(counts, self.bg.freqs)
        lo, hi = 0, len(logp)
        cut = math.log(TRIM_PVALUE)
        while hi - lo > self.minw and (logp[lo] > cut or logp[hi - 1] > cut):
            if logp[lo] >= logp[hi - 1]:
                lo += 1
            else:
                hi -= 1
        return lo, hi

    def _log_prior(self, theta: np.ndarray) -> float:
        with np.errstate(divide="ignore"):
            return float((self.alpha * np.log(theta)).sum())

    # ------------------------------------------------------------ seeds
    def _kmer_seeds(self, w: int, erase_scan: np.ndarray | None) -> list[np.ndarray]:
        k = min(w, 8)
        win = _windows(self.scan, self.scan_bglp, k, erase_scan)
        counts = np.zeros(4 ** k)
        _kernels.count_words(self.scan.codes, win.logw, k, counts)
        total = counts.sum()
        if total <= 0:
            return []
        kmers = np.arange(4 ** k)
        digits = np.stack([(kmers >> (2 * (k - 1 - j))) & 3 for j in range(k)], axis=1)
        logp = np.zeros(4 ** k)
        offs = [0]
        for o in range(self.bg.order + 1):
            offs.append(offs[-1] + 4 ** (o + 1))
        for j in range(k):
            o = min(j, self.bg.order)
            ctx = np.zeros(4 ** k, dtype=np.int64)
            for q in range(j - o, j):
                ctx = ctx * 4 + digits[:, q]
            logp += self.bg.logcond[offs[o] + ctx * 4 + digits[:, j]]
        expected = total * np.exp(logp)
        if self.revcomp:
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
        top = np.argsort(score)[::-1][:self.n_kmers]
        top = top[score[top] > 0]
        seeds = []
        left = (w - k) // 2
        for km in top:
            pwm = np.tile(self.bg.freqs, (w, 1))
            for j in range(k):
                row = np.full(4, (1.0 - SEED_PROB) / 3.0)
                row[digits[km, j]] = SEED_PROB
                pwm[left + j] = row
            seeds.append(pwm)
        return seeds

    def _starts(self, w: int, erase_scan: np.ndarray | None) -> list[tuple[np.ndarray, float, float]]:
        """The best starting points for width ``w``: (theta, prior, log E) of each."""
        scan = self.scan
        win = _windows(scan, self.scan_bglp, w, erase_scan)
        valid_pos = np.flatnonzero(np.isfinite(win.logw))
        if len(valid_pos) == 0:
            return []
        seeds = self._kmer_seeds(w, erase_scan)
        n_random = min(len(valid_pos), max(16, SEED_PAIRS // max(len(valid_pos), 1)))
        if n_random >= len(valid_pos):
            picks = valid_pos
        else:
            picks = np.sort(self.rng.choice(valid_pos, size=n_random, replace=False))
        letters = scan.codes[picks[:, None] + np.arange(w)]
        random_pwms = np.full((len(picks), w, 4), (1.0 - SEED_PROB) / 3.0)
        np.put_along_axis(random_pwms, letters[..., None].astype(np.int64), SEED_PROB, axis=2)
        lps = np.log(np.concatenate([np.array(seeds).reshape(-1, w, 4), random_pwms]))
        lps = np.ascontiguousarray(lps)
        n_seeds, nseq = len(lps), scan.n_sequences
        score = np.empty((n_seeds, nseq))
        pos = np.empty((n_seeds, nseq), dtype=np.int64)
        strand = np.empty((n_seeds, nseq), dtype=np.int8)
        _kernels.best_sites(scan.codes, scan.offsets, lps, win.bgwin, win.logw, self.revcomp,
                            score, pos, strand, self.n_threads)
        used = win.n_valid > 0
        n_used = int(used.sum())
        if n_used < 2:
            return []
        if self.model == "oops":
            grid = np.array([n_used])
        else:
            grid = [2]
            while grid[-1] * 2 < n_used:
                grid.append(grid[-1] * 2)
            grid = np.unique(np.array(grid + [n_used]))
        nalign = self._nalign(win, grid)
        best: list[tuple[float, int, int]] = []  # (logE, seed, n)
        order = np.argsort(-score, axis=1, kind="stable")[:, :n_used]
        chunk = max(1, 2_000_000 // max(n_used * w * 4, 1))
        for lo in range(0, n_seeds, chunk):
            hi = min(n_seeds, lo + chunk)
            o = order[lo:hi]
            p = np.take_along_axis(pos[lo:hi], o, axis=1)
            s = np.take_along_axis(strand[lo:hi], o, axis=1)
            lett = self._letters(scan, p, s, w)
            onehot = np.zeros(lett.shape + (4,), dtype=np.float32)
            np.put_along_axis(onehot, lett[..., None].astype(np.int64), 1.0, axis=-1)
            cum = np.cumsum(onehot, axis=1)[:, grid - 1]          # (chunk, G, w, 4)
            loge = log_evalue(cum.astype(float), self.bg.freqs, nalign[None, :])
            for i in range(hi - lo):
                g = int(np.argmin(loge[i]))
                best.append((float(loge[i, g]), lo + i, int(grid[g])))
        best.sort()
        starts: list[tuple[np.ndarray, float, float]] = []
        seen: list[np.ndarray] = []
        for loge, sd, nsite in best:
            o = order[sd, :nsite]
            if self.pal:
                counts = self._pal_counts(scan, win, pos[sd, o], strand[sd, o], w)
            else:
                lett = self._letters(scan, pos[sd, o], strand[sd, o], w)
                counts = np.zeros((w, 4))
                np.add.at(counts, (np.broadcast_to(np.arange(w), lett.shape), lett), 1.0)
            theta = self._mstep_theta(counts)
            if any(np.abs(theta - t).max() < 0.05 for t in seen):
                continue
            seen.append(theta)
            if self.model == "zoops":
                prior = min(max(nsite / n_used, 1e-3), 1.0 - 1e-3)
            elif self.model == "tcm":
                prior = min(max(nsite / float(win.n_valid.sum()), 1e-8), 0.5 / w)
            else:
                prior = 1.0
            starts.append((theta, prior, loge))
            if len(starts) >= self.n_starts:
                break
        return starts

    def _pal_counts(self, data: EncodedSequences, win: _Windows, pos: np.ndarray,
                    strand: np.ndarray, w: int, max_shift: int = 3) -> np.ndarray:
        """Letter counts of the sites shifted so that their centre is a palindrome's centre.

        A seed's alignment can be off the centre of symmetry of a palindromic motif, and the
        palindrome-constrained EM cannot shift it; the shift (up to ``max_shift``) whose
        symmetrised PWM explains the sites best is kept.
        """
        best_counts, best_score = None, -np.inf
        logbg = np.log(self.bg.freqs)
        for d in range(-max_shift, max_shift + 1):
            p = pos + np.where(strand > 0, d, -d)
            ok = (p >= 0) & (p < len(data.codes))
            ok[ok] = np.isfinite(win.logw[p[ok]])
            if ok.sum() < max(2, int(0.8 * len(pos))):
                continue
            lett = self._letters(data, p[ok], strand[ok], w)
            counts = np.zeros((w, 4))
            np.add.at(counts, (np.broadcast_to(np.arange(w), lett.shape), lett), 1.0)
            theta = self._mstep_theta(counts)
            score = float((counts * (np.log(theta) - logbg)).sum()) / ok.sum()
            if score > best_score:
                best_counts, best_score = counts, score
        if best_counts is None:
            lett = self._letters(data, pos, strand, w)
            best_counts = np.zeros((w, 4))
            np.add.at(best_counts, (np.broadcast_to(np.arange(w), lett.shape), lett), 1.0)
        return best_counts

    # ------------------------------------------------------------ EM
    def _em(self, data: EncodedSequences, win: _Windows, theta0: np.ndarray, prior0: float,
            label: dict, max_iter: int | None = None) -> tuple[np.ndarray, float, float]:
        w = win.w
        T = self.n_threads
        counts_t = np.zeros((T, w, 4))
        ll_seq = np.zeros(data.n_sequences)
        z_seq = np.zeros(data.n_sequences)
        n_seq = np.zeros(data.n_sequences)
        buf = np.zeros((T, 2 * int(data.lengths.max()) + 2))
        tcm = self.model == "tcm"
        n_used = max(int((win.n_valid > 0).sum()), 1)
        n_windows = max(float(win.n_valid.sum()), 1.0)
        prior_hi = 0.5 / w if tcm else 1.0 - 1e-6
        prior_lo = 1e-8 if tcm else 1e-6
        last = {}

        def step(params: np.ndarray) -> tuple[np.ndarray, float]:
            theta = params[:-1].reshape(w, 4)
            prior = float(params[-1])
            counts_t.fill(0.0)
            with np.errstate(divide="ignore"):
                lp = np.ascontiguousarray(np.log(theta))
            _kernels.estep(data.codes, data.offsets, lp, win.bgwin, win.logw, self.code, prior,
                           self.revcomp, counts_t, ll_seq, z_seq, n_seq, buf, T)
            ll = float(ll_seq.sum()) + (0.0 if tcm else win.bg_seq)
            objective = ll + self._log_prior(theta)
            theta_new = self._mstep_theta(counts_t.sum(axis=0))
            if self.model == "zoops":
                prior_new = min(max(float(z_seq.sum()) / n_used, prior_lo), prior_hi)
            elif tcm:
                prior_new = min(max(float(z_seq.sum()) / n_windows, prior_lo), prior_hi)
            else:
                prior_new = 1.0
            last["ll"] = objective
            return np.concatenate([theta_new.ravel(), [prior_new]]), objective

        def converged(previous: np.ndarray, current: np.ndarray) -> bool:
            return float(np.linalg.norm(current[:-1] - previous[:-1])) < self.theta_tol

        prior0 = min(max(prior0, prior_lo), prior_hi) if self.model != "oops" else 1.0
        if self.pal:
            # EM is monotone only from a feasible start: make it a palindrome
            theta0 = (theta0 + theta0[::-1, ::-1]) / 2.0
        monitor = ConvergenceMonitor(max_iter=max_iter or self.max_iter, name=f"motif EM (w={w})")
        params = run_em(step, np.concatenate([theta0.ravel(), [prior0]]), monitor,
                        converged=converged)
        frame = monitor.to_frame()
        for key, value in reversed(list(label.items())):
            frame.insert(0, key, value)
        self.traces.append(frame)
        return params[:-1].reshape(w, 4).copy(), float(params[-1]), last.get("ll", np.nan)

    # ------------------------------------------------------------ sites of a solution
    def _candidate_sites(self, data: EncodedSequences, win: _Windows, theta: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Candidate sites ranked best first: (sequence, position, strand, score)."""
        w = win.w
        lp = np.ascontiguousarray(np.log(np.maximum(theta, 1e-300)))
        if self.model != "tcm":
            score = np.empty((1, data.n_sequences))
            pos = np.empty((1, data.n_sequences), dtype=np.int64)
            strand = np.empty((1, data.n_sequences), dtype=np.int8)
            _kernels.best_sites(data.codes, data.offsets, lp[None], win.bgwin, win.logw,
                                self.revcomp, score, pos, strand, self.n_threads)
            ok = np.flatnonzero(pos[0] >= 0)
            order = ok[np.argsort(-score[0, ok], kind="stable")]
            return order, pos[0, order], strand[0, order], score[0, order]
        fwd = np.empty(len(data.codes))
        rev = np.empty(len(data.codes))
        _kernels.score_windows(data.codes, lp, win.bgwin, win.logw, fwd, rev, self.n_threads)
        fwd += win.logw
        rev += win.logw
        if not self.revcomp:
            rev[:] = -np.inf
        best = np.maximum(fwd, rev)
        n_used = int((win.n_valid > 0).sum())
        k = int(min(max(5 * n_used, TCM_MIN_CANDIDATES), np.isfinite(best).sum()))
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

    def _select(self, data: EncodedSequences, win: _Windows, theta: np.ndarray) -> dict | None:
        """Choose the number of sites minimising the E-value."""
        seqs, pos, strand, score = self._candidate_sites(data, win, theta)
        w = win.w
        if len(pos) < 2:
            return None
        lett = self._letters(data, pos, strand, w)
        onehot = np.zeros(lett.shape + (4,))
        np.put_along_axis(onehot, lett[..., None].astype(np.int64), 1.0, axis=-1)
        cum = np.cumsum(onehot, axis=0)
        if self.model == "oops":
            ns = np.array([len(pos)])
        else:
            ns = np.arange(2, len(pos) + 1)
        loge = log_evalue(cum[ns - 1], self.bg.freqs, self._nalign(win, ns))
        g = int(np.argmin(loge))
        n = int(ns[g])
        return {"w": w, "theta": theta, "loge": float(loge[g]), "n": n,
                "seqs": seqs[:n], "pos": pos[:n], "strand": strand[:n], "counts": cum[n - 1]}

    # ------------------------------------------------------------ one motif
    def find_motif(self, widths: Sequence[int], erase: np.ndarray | None, motif_index: int,
                   bar) -> dict | None:
        """Search every width; EM from the best starts; keep the most significant motif.

        Each start gets ``SAMPLE_ITER`` EM iterations (on the scan subset when the data are
        larger than it); only the winner (and its shortening, see :meth:`_shorten`) is refined
        by EM to convergence on the whole data, and its sites are then chosen on all of it.
        """
        sampled = self.scan is not self.data
        erase_scan = None
        if erase is not None:
            erase_scan = erase if not sampled else np.concatenate(
                [erase[self.data.offsets[i]:self.data.offsets[i + 1]] for i in self.scan_index])
        em_data = self.scan if sampled else self.data
        em_bglp = self.scan_bglp if sampled else self.bglp
        erase_em = erase_scan if sampled else erase
        best = None
        cands: list[dict] = []
        win_cache: dict[int, _Windows] = {}
        for w in widths:
            win = _windows(em_data, em_bglp, w, erase_scan if sampled else erase)
            if not (win.n_valid > 0).any():
                bar.update(1)
                continue
            skipped = int((win.n_valid == 0).sum())
            if skipped:
                logger.debug("width %d: %d sequence(s) have no possible site and are skipped",
                             w, skipped)
            starts = self._starts(w, erase_scan)
            if best is not None and best["w"] < w:
                # extend the best motif so far: centred, background columns on both sides
                pad = w - best["w"]
                left = pad // 2
                theta_ext = np.tile(self.bg.freqs, (w, 1))
                theta_ext[left:left + best["w"]] = best["theta"]
                prior_ext = best["prior"]
                if self.model == "tcm":
                    prior_ext = min(prior_ext, 0.5 / w)
                starts.append((theta_ext, prior_ext, best["loge"]))
            for j, (theta0, prior0, loge0) in enumerate(starts):
                label = {"motif": motif_index, "width": w, "start": j + 1,
                         "phase": "sample" if sampled else "start"}
                sel = self._evaluate(em_data, em_bglp, win, win_cache, erase_em, theta0, prior0,
                                     label)
                if sel is None:
                    continue
                logger.debug("motif %d width %d start %d: log10 E %.2f (seed %.2f), %d sites",
                             motif_index, w, j + 1, sel["loge"] / _LN10, loge0 / _LN10, sel["n"])
                sel["start"] = j + 1
                cands.append(sel)
                if best is None or sel["loge"] < best["loge"]:
                    best = sel
            bar.update(1)
        if best is None:
            return best
        # full EM from the best candidate and from its MEME-style shortening; the lowest
        # E-value after the full EM wins (EM maximises the likelihood, not the E-value, so the
        # order of two candidates can change once both have converged)
        extra = []
        if SHORTEN:
            shorter = self._shorten(best, em_data, em_bglp, win_cache, erase_em, motif_index)
            if shorter is not None:
                extra.append(shorter)
        finalists: list[dict] = []
        for c in sorted(cands, key=lambda c: c["loge"]):
            if len(finalists) >= FINAL_CANDIDATES:
                break
            if any(c["w"] == f["w"] and np.abs(c["theta"] - f["theta"]).max() < 0.05
                   for f in finalists):
                continue
            finalists.append(c)
        finalists += extra
        chosen = None
        for cand in finalists:
            w = cand["w"]
            win = _windows(self.data, self.bglp, w, erase)
            label = {"motif": motif_index, "width": w, "start": cand["start"], "phase": "full"}
            theta, prior, _ = self._em(self.data, win, cand["theta"], cand["prior"], label)
            sel = self._select(self.data, win, theta)
            if sel is None:
                continue
            sel["prior"] = prior
            logger.debug("motif %d final EM width %d: log10 E %.2f (before %.2f)", motif_index,
                         w, sel["loge"] / _LN10, cand["loge"] / _LN10)
            if chosen is None or sel["loge"] < chosen["loge"]:
                chosen = sel
        return chosen

    def _evaluate(self, em_data: EncodedSequences, em_bglp: np.ndarray, win: _Windows,
                  win_cache: dict, erase_em: np.ndarray | None, theta0: np.ndarray,
                  prior0: float, label: dict) -> dict | None:
        """A few EM iterations from one start, trimming, and the E-value-minimising sites."""
        def windows(wt: int) -> _Windows:
            if wt not in win_cache:
                win_cache[wt] = _windows(em_data, em_bglp, wt, erase_em)
            return win_cache[wt]

        theta, prior, _ = self._em(em_data, win, theta0, prior0, label, SAMPLE_ITER)
        theta, wt = self._trim(theta)
        sel = self._select(em_data, windows(wt) if wt != win.w else win, theta)
        if sel is not None:
            lo, hi = self._trim_columns(sel["counts"])
            if hi - lo < sel["w"]:
                shorter = self._select(em_data, windows(hi - lo),
                                       np.ascontiguousarray(sel["theta"][lo:hi]))
                if shorter is not None and shorter["loge"] <= sel["loge"]:
                    sel = shorter
        if sel is not None:
            sel["prior"] = prior
        return sel

    def _shorten(self, best: dict, em_data: EncodedSequences, em_bglp: np.ndarray,
                 win_cache: dict, erase_em: np.ndarray | None, motif_index: int
                 ) -> dict | None:
        """MEME's shortening: the sub-range of at least ``minw`` columns of the chosen sites
        with the lowest E-value (same sites), refitted by EM at that width; None if the full
        width is already the best sub-range. The caller compares both after a full EM."""
        w0 = best["w"]
        if w0 <= self.minw:
            return None
        colp = column_log_pvalues(best["counts"], self.bg.freqs)
        cum = np.concatenate([[0.0], np.cumsum(colp)])
        n = best["n"]
        top = (0, w0, np.inf)
        for lo in range(0, w0 - self.minw + 1):
            for hi in range(lo + self.minw, w0 + 1):
                if hi - lo == w0:
                    continue
                wt = hi - lo
                logp = float(log_chi2_sf_even(-2.0 * (cum[hi] - cum[lo]), 2 * wt))
                if wt not in win_cache:
                    win_cache[wt] = _windows(em_data, em_bglp, wt, erase_em)
                loge = logp + float(self._nalign(win_cache[wt], n))
                if loge < top[2]:
                    top = (lo, hi, loge)
        lo, hi, _ = top
        if hi - lo == w0:
            return None
        wt = hi - lo
        label = {"motif": motif_index, "width": wt, "start": 0, "phase": "shorten"}
        sel = self._evaluate(em_data, em_bglp, win_cache[wt], win_cache, erase_em,
                             np.ascontiguousarray(best["theta"][lo:hi]), best["prior"], label)
        if sel is not None:
            logger.debug("motif %d shorten %d..%d: width %d log10 E %.2f (best %.2f)",
                         motif_index, lo, hi, sel["w"], sel["loge"] / _LN10,
                         best["loge"] / _LN10)
            sel["start"] = best["start"]
        return sel

    def erase_sites(self, erase: np.ndarray, theta: np.ndarray, prior: float) -> np.ndarray:
        """Probabilistic erasing: multiply each position's weight by P(not covered by a site)."""
        data = self.data
        w = theta.shape[0]
        win = _windows(data, self.bglp, w, erase)
        T = self.n_threads
        lp = np.ascontiguousarray(np.log(np.maximum(theta, 1e-300)))
        fwd = np.empty(len(data.codes))
        rev = np.empty(len(data.codes))
        _kernels.score_windows(data.codes, lp, win.bgwin, win.logw, fwd, rev, T)
        s = np.stack([fwd + win.logw, rev + win.logw if self.revcomp else np.full_like(fwd, -np.inf)])
        best = s.max(axis=0)
        if self.model == "tcm":
            a = math.log(max(prior, 1e-300)) - math.log(self.nstr)
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
            if self.model == "oops":
                post = np.where(win.n_valid > 0, 1.0, 0.0)
            else:
                a = math.log(max(prior, 1e-300)) - np.log(nv * self.nstr) + L
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

    def sites_frame(self, motif_id: str, sel: dict, pwm: np.ndarray) -> pd.DataFrame:
        """The chosen sites as a table (1-based inclusive coordinates, motif orientation)."""
        data = self.data
        w = sel["w"]
        order = np.lexsort((sel["pos"], sel["seqs"]))
        seqs, pos, strand = sel["seqs"][order], sel["pos"][order], sel["strand"][order]
        lett = self._letters(data, pos, strand, w)
        lo = np.log2(np.maximum(pwm, 1e-300) / self.bg.freqs)
        scores = lo[np.arange(w), lett].sum(axis=1) if len(lett) else np.zeros(0)
        pvals = site_pvalues(pwm, self.bg.freqs, scores)
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


# --------------------------------------------------------------------------- public API
def discover(sequences: str | os.PathLike[str] | Iterable[str] | Iterable[FastaRecord], *,
             n_threads: int | None = None, mod: str = "zoops", nmotifs: int = 1,
             minw: int = 6, maxw: int = 20, revcomp: bool = True, pal: bool = False,
             markov_order: int = 2, bfile: str | os.PathLike[str] | None = None,
             mask_lowercase: bool = False, prior_strength: float = 0.25, max_iter: int = 50,
             theta_tol: float = 1e-3, n_starts: int | None = None, n_kmers: int = 32,
             random_state: int | None = 0, progress_bar: bool | None = None) -> MotifResult:
    """Discover motifs in DNA sequences with MEME's mixture models fitted by EM.

    Parameters
    ----------
    sequences : path-like, or iterable of str or FastaRecord
        A FASTA file (plain or gzipped) or the sequences themselves.
    n_threads : int, optional
        Threads for the kernels (None: all cores).
    mod : {"zoops", "oops", "tcm", "anr"}, default="zoops"
        Zero-or-one, one, or any number of occurrences per sequence (``anr`` = ``tcm``).
    nmotifs : int, default=1
        Motifs to find; each next one after probabilistically erasing the sites of the previous.
    minw, maxw : int, default=6, 20
        Motif widths searched (MEME's geometric grid between them).
    revcomp : bool, default=True
        Sites on both strands (``False``: the given strand only).
    pal : bool, default=False
        Constrain motifs to be palindromes (equal to their reverse complement).
    markov_order : int, default=2
        Order of the background Markov model estimated from the sequences (0-5).
    bfile : path-like, optional
        MEME background file to use instead of estimating the background.
    mask_lowercase : bool, default=False
        Treat lowercase (soft-masked) letters as unknown.
    prior_strength : float, default=0.25
        Total pseudocount per PWM column (Dirichlet prior proportional to the background).
    max_iter, theta_tol : int, float
        EM stops when the PWM moves less than ``theta_tol`` (Euclidean) or after ``max_iter``.
    n_starts : int, optional
        EM runs per width, from the best starting points (None: ``DEFAULT_STARTS`` of the
        model, 4 for OOPS and 2 for ZOOPS/TCM).
    n_kmers : int, default=32
        Over-represented k-mers used as seeds (besides sampled substrings).
    random_state : int, optional
        Seed of the substring sampling.
    progress_bar : bool, optional
        Show a progress bar over widths (None: only on a terminal).

    Returns
    -------
    MotifResult
    """
    mod = str(mod).lower()
    if mod not in MODELS:
        raise UsageError(f"--mod must be one of oops, zoops, tcm, anr; got {mod!r}")
    if int(nmotifs) < 1:
        raise UsageError(f"--nmotifs must be at least 1, got {nmotifs}")
    if int(minw) < 2:
        raise UsageError(f"--minw must be at least 2, got {minw}")
    if int(maxw) > 300:
        raise UsageError(f"--maxw must be at most 300, got {maxw}")
    if int(minw) > int(maxw):
        raise UsageError(f"--minw {minw} is larger than --maxw {maxw}")
    if not 0 <= int(markov_order) <= MAX_ORDER:
        raise UsageError(f"--markov-order must be between 0 and {MAX_ORDER}, got {markov_order}")
    if prior_strength <= 0:
        raise UsageError(f"prior_strength must be positive, got {prior_strength}")
    if n_starts is None:
        n_starts = DEFAULT_STARTS["tcm" if mod == "anr" else mod]
    if int(n_starts) < 1:
        raise UsageError(f"--starts must be at least 1, got {n_starts}")
    threads = resolve_threads(n_threads)
    data = _load(sequences, mask_lowercase)
    # the longest run of known letters (within a sequence) decides whether any site is possible
    boundary_runs = _longest_known_run(data)
    if boundary_runs < minw:
        raise InputError(f"no sequence has {minw} consecutive known letters (longest "
                         f"{boundary_runs}); lower --minw or check the input")
    too_short = int((data.lengths < minw).sum())
    if too_short:
        logger.info("%d of %d sequences are shorter than --minw %d and are skipped", too_short,
                    data.n_sequences, minw)
    maxw_eff = min(int(maxw), boundary_runs)
    if maxw_eff < maxw:
        logger.info("--maxw lowered to %d, the longest run of known letters", maxw_eff)
    widths = width_grid(int(minw), maxw_eff)
    if bfile is not None:
        bg = Background.read(bfile)
    else:
        bg = Background.estimate(data, int(markov_order), revcomp=revcomp)
    logger.info("%d sequences, %d letters; background order %d; widths %s; model %s",
                data.n_sequences, len(data.codes), bg.order, widths, mod)
    rng = np.random.default_rng(random_state)
    search = _Search(data, bg, model=mod, revcomp=revcomp, pal=pal,
                     prior_strength=prior_strength, n_threads=threads, max_iter=max_iter,
                     theta_tol=theta_tol, n_starts=n_starts, n_kmers=n_kmers, rng=rng,
                     minw=int(minw))
    motifs = MotifSet()
    site_frames = []
    erase = np.ones(len(data.codes))
    with progress(total=len(widths) * int(nmotifs), desc="motif widths", unit="width",
                  enabled=progress_bar) as bar:
        for m in range(1, int(nmotifs) + 1):
            sel = search.find_motif(widths, None if m == 1 else erase, m, bar)
            if sel is None:
                logger.warning("motif %d: no further motif could be fitted; stopping", m)
                break
            pwm = sel["theta"]
            motif_id = str(m)
            sites = search.sites_frame(motif_id, sel, pwm)
            motif = Motif(motif_id, pwm, sel["n"], llr_bits(sel["counts"], bg.freqs),
                          sel["loge"] / _LN10, sites, model=search.model, prior=sel["prior"])
            motifs.append(motif)
            site_frames.append(sites)
            logger.info("motif %d: %s width %d, %d sites, E-value %s", m, motif.consensus,
                        motif.width, motif.nsites, motif.e_value_text)
            if m < nmotifs:
                erase = search.erase_sites(erase, pwm, sel["prior"])
    columns = ["motif", "sequence", "start", "end", "strand", "score", "p_value", "site"]
    sites = (pd.concat(site_frames, ignore_index=True) if site_frames
             else pd.DataFrame(columns=columns))
    convergence = (pd.concat(search.traces, ignore_index=True) if search.traces
                   else pd.DataFrame(columns=["motif", "width", "start", "phase", "iteration",
                                              "log_likelihood", "delta", "relative_delta",
                                              "seconds"]))
    params = dict(mod=mod, nmotifs=nmotifs, minw=minw, maxw=maxw, revcomp=revcomp, pal=pal,
                  markov_order=bg.order, bfile=str(bfile) if bfile else None,
                  mask_lowercase=mask_lowercase, n_threads=threads)
    return MotifResult(motifs, sites, convergence, bg, params, data.n_sequences)
