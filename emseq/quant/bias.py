"""Fragment bias models learnt from the sample: read-start sequence, fragment GC, position.

As Salmon, Cufflinks and alpine do, each model compares the distribution *observed* over the
sample's fragments (weighted by their assignment probabilities after a first EM) with the
distribution *expected* from the current abundances with uniform fragment positions and the
fragment length distribution. Their ratio is a weight per fragment, and each transcript's
effective length becomes the sum of the weights of its fragment positions (Salmon's
bias-corrected effective length); the EM is then run again with them.

* **Sequence** (``seq``): a position-specific first-order Markov chain over 12 bases (4 before,
  8 from the read start) at each fragment end — the 5' end read by a forward read and the
  3' end read (reverse-complemented) by a reverse read. Random-hexamer priming acts on the
  bases under and just before the primer (Hansen et al. 2010); a first-order chain captures
  the dinucleotide preferences a position weight matrix misses with 2 x 240 parameters, which
  a sample of 10^5 fragments estimates well (Salmon's and Cufflinks' variable-order models
  need more data per context and the benefit over order 1 is small at this window).
* **GC** (``gc``): the GC fraction of the whole fragment in 51 bins; for single-end reads the
  unseen end is integrated over the fragment length distribution (Salmon refuses GC correction
  for single-end reads; the expectation over the unseen end is what the model predicts).
* **Position** (``pos``): the fragment midpoint's relative position along the transcript in 20
  bins, within 5 transcript length classes (the shape of the curve within a class).

The three are fitted jointly by backfitting: each factor's expected distribution is computed
with the positions weighted by the other factors' current weights, for ``rounds`` rounds.
Each cell's observed and expected counts get ``prior`` pseudo-fragments (a cell expected to
hold about a fragment keeps a weight near 1), and weights are clipped to [1/100, 100]. The GC
and positional factors are confounded with the abundances when transcripts differ in GC more
than their fragments do: after each pass they are fitted to convergence from per-transcript
histograms (no further pass over the positions), the sequence factor by one update per pass.

Cost: one pass over every position of every expressed transcript per round, times ``n_lengths``
representative fragment lengths (quantiles of the fragment length distribution, each carrying
``1 / n_lengths`` of its mass) rather than every length (what makes Salmon's GC correction slow
on large transcriptomes), in a nogil kernel over blocks of transcripts (OpenMP).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError
from . import _bias
from .bam import AlignmentSample
from .model import FragmentLengthModel
from .transcripts import TranscriptIndex

__all__ = ["BiasOptions", "BiasModel", "learn_bias", "gc_departure", "needs_sequences",
           "resolve_bias", "BIAS_FILES", "GC_HINT_SAMPLE", "GC_HINT_SPREAD"]

logger = logging.getLogger(__name__)

#: The files :meth:`BiasModel.write` puts in ``aux_info/`` (Salmon's names, text inside).
BIAS_FILES = ("obs_gc.gz", "exp_gc.gz", "obs5_seq.gz", "exp5_seq.gz", "obs3_seq.gz",
              "exp3_seq.gz", "obs_pos.gz", "exp_pos.gz")

#: Fragments sampled, without correction, to check whether fragment GC departs from expectation.
GC_HINT_SAMPLE = 100_000
#: The hint shows when the largest observed / expected fragment GC ratio over the busy GC bins
#: (:func:`gc_departure`) is this many times the smallest (unbiased samples stay within a few
#: percent).
GC_HINT_SPREAD = 1.5

_BASES = "ACGT"
_PREV = ("A", "C", "G", "T", "-")


@dataclass(frozen=True)
class BiasOptions:
    """Which bias models to learn, and how.

    Attributes
    ----------
    seq, gc, pos : bool
        Learn and correct read-start sequence, fragment GC and positional bias.
    sample_fragments : int
        Fragments kept (a uniform sample of the file) to learn the observed distributions.
    min_fragments : int
        Fewer sampled fragments than this: no model is learnt (a warning says so).
    gc_bins : int
        Bins of fragment GC fraction (0, 1/(gc_bins-1), ..., 1).
    pos_bins : int
        Bins of relative position along the transcript.
    length_classes : tuple of int
        Upper bounds of the transcript length classes of the positional model.
    n_lengths : int
        Representative fragment lengths for the expected distributions.
    rounds : int
        Backfitting rounds (one kernel pass each, plus one for the effective lengths).
    prior : float
        Pseudo-fragments added to the observed and the expected count of every cell of every
        model (shrinks the weights of thinly populated cells towards 1).
    max_ratio : float
        Bias weights are clipped to ``[1 / max_ratio, max_ratio]``.
    """

    seq: bool = False
    gc: bool = False
    pos: bool = False
    sample_fragments: int = 200_000
    min_fragments: int = 5_000
    gc_bins: int = 51
    pos_bins: int = 20
    length_classes: tuple[int, ...] = (800, 1500, 2500, 4000)
    n_lengths: int = 8
    rounds: int = 3
    prior: float = 5.0
    max_ratio: float = 100.0

    @property
    def any(self) -> bool:
        return self.seq or self.gc or self.pos

    def validate(self) -> None:
        if self.sample_fragments < 1 or self.min_fragments < 0:
            raise UsageError("bias sample_fragments must be >= 1 and min_fragments >= 0")
        if self.gc_bins < 2 or self.pos_bins < 1 or self.n_lengths < 1 or self.rounds < 1:
            raise UsageError("bias gc_bins >= 2, pos_bins >= 1, n_lengths >= 1, rounds >= 1")
        if not (self.prior >= 0 and self.max_ratio >= 1):
            raise UsageError("bias prior must be >= 0 and max_ratio >= 1")
        if list(self.length_classes) != sorted(self.length_classes):
            raise UsageError("bias length_classes must be increasing")


def resolve_bias(options: BiasOptions | None, seq: bool | None, gc: bool | None,
                 pos: bool = False, has_sequences: bool = True) -> BiasOptions:
    """The bias models :func:`~emseq.quant.quantify` learns: the one rule for its defaults.

    ``seq`` and ``gc`` (``seq_bias``/``gc_bias``; ``--seq-bias``/``--gc-bias``) set to None
    are on when the transcript sequences are given (``has_sequences``) or when ``options``
    asks for them; True or False says so, whatever ``options`` says (``--no-bias-correction``
    is both False). ``pos`` adds to ``options.pos``.
    """
    options = options if options is not None else BiasOptions()
    return replace(options, seq=(options.seq or has_sequences) if seq is None else seq,
                   gc=(options.gc or has_sequences) if gc is None else gc,
                   pos=options.pos or pos)


def needs_sequences(options: BiasOptions | None = None, seq: bool | None = None,
                    gc: bool | None = None) -> bool:
    """Whether quantifying with a transcript FASTA and these bias options reads the
    sequences (sequence or GC bias correction, on by default: :func:`resolve_bias`); only
    ``seq=False, gc=False`` (``--no-bias-correction``) lets a loader drop them."""
    resolved = resolve_bias(options, seq, gc, has_sequences=True)
    return resolved.seq or resolved.gc


@dataclass
class BiasModel:
    """The learnt models: observed and expected distributions and the weights used.

    ``gc_*`` have shape (gc_bins,); ``seq5_*``/``seq3_*`` (12, 5, 4): context position,
    previous base (A, C, G, T, none) and base; ``pos_*`` (n_classes, pos_bins). ``gc``,
    ``log5``, ``log3`` and ``pos`` are the weights (log-ratios for the sequence chains)
    applied; a model that was not requested keeps weights of 1 (log 0).
    """

    options: BiasOptions
    n_fragments: int
    gc_obs: np.ndarray
    gc_exp: np.ndarray
    gc: np.ndarray
    seq5_obs: np.ndarray
    seq5_exp: np.ndarray
    log5: np.ndarray
    seq3_obs: np.ndarray
    seq3_exp: np.ndarray
    log3: np.ndarray
    pos_obs: np.ndarray
    pos_exp: np.ndarray
    pos: np.ndarray
    correction: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    def gc_ratio_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """GC fractions and observed / expected fragment share per bin (NaN where empty)."""
        obs = self.gc_obs / max(self.gc_obs.sum(), 1e-300)
        exp = self.gc_exp / max(self.gc_exp.sum(), 1e-300)
        x = np.linspace(0.0, 1.0, self.gc_obs.size)
        return x, np.divide(obs, exp, out=np.full(obs.size, np.nan), where=exp > 0)

    def write(self, directory: str | os.PathLike[str]) -> None:
        """Write the distributions as gzipped TSV (Salmon's file names) into ``directory``.

        ``obs_gc.gz``/``exp_gc.gz``: ``gc_fraction  weight``; ``{obs,exp}{5,3}_seq.gz``:
        ``position  previous  A  C  G  T`` (position relative to the read start, previous
        base ``-`` for none); ``{obs,exp}_pos.gz``: ``length_class  upper_bound  bin  weight``.
        Weights are the (unnormalised) fragment weights summed per cell.
        """
        from ..io.atomic import write_gzip

        directory = Path(directory)
        gcx = np.linspace(0.0, 1.0, self.gc_obs.size)
        upper = list(self.options.length_classes) + ["inf"]

        def emit(name: str, lines: list[str]) -> None:
            write_gzip(directory / name, ("\n".join(lines) + "\n").encode())

        for tag, table in (("obs", self.gc_obs), ("exp", self.gc_exp)):
            emit(f"{tag}_gc.gz", ["gc_fraction\tweight"]
                 + [f"{x:.4f}\t{v:.6g}" for x, v in zip(gcx, table)])
        for end, obs, exp in (("5", self.seq5_obs, self.seq5_exp),
                              ("3", self.seq3_obs, self.seq3_exp)):
            for tag, table in (("obs", obs), ("exp", exp)):
                lines = ["position\tprevious\tA\tC\tG\tT"]
                for j in range(table.shape[0]):
                    for p in range(5):
                        lines.append(f"{j - _bias.CONTEXT_LEFT}\t{_PREV[p]}\t"
                                     + "\t".join(f"{v:.6g}" for v in table[j, p]))
                emit(f"{tag}{end}_seq.gz", lines)
        for tag, table in (("obs", self.pos_obs), ("exp", self.pos_exp)):
            lines = ["length_class\tupper_bound\tbin\tweight"]
            for c in range(table.shape[0]):
                lines += [f"{c}\t{upper[c]}\t{b}\t{v:.6g}" for b, v in enumerate(table[c])]
            emit(f"{tag}_pos.gz", lines)


def representative_lengths(fld: FragmentLengthModel, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` fragment lengths at the quantiles ``(i + 0.5) / n`` of the distribution, each
    with probability ``1 / n`` (equal lengths merged)."""
    cdf = np.cumsum(fld.pmf)
    cdf /= cdf[-1]
    q = (np.arange(n) + 0.5) / n
    lengths = np.maximum(1, np.searchsorted(cdf, q)).astype(np.int64)
    values, counts = np.unique(lengths, return_counts=True)
    return values.astype(np.int64), counts / counts.sum()


def _posteriors(sample: AlignmentSample, num_reads: np.ndarray,
                efflen: np.ndarray) -> np.ndarray:
    """Each sampled alignment's assignment probability given the abundances."""
    rate = np.divide(num_reads, efflen, out=np.zeros_like(num_reads), where=efflen > 0)
    with np.errstate(divide="ignore"):
        logw = sample.log_weight + np.log(rate[sample.tids])
    frag = np.repeat(np.arange(sample.n_fragments), np.diff(sample.offsets))
    starts = sample.offsets[:-1]
    nonempty = np.diff(sample.offsets) > 0
    best = np.full(sample.n_fragments, -np.inf)
    if frag.size:
        best[nonempty] = np.maximum.reduceat(logw, starts[nonempty])
    ok = np.isfinite(best)
    w = np.zeros(logw.size)
    keep = ok[frag]
    w[keep] = np.exp(logw[keep] - best[frag[keep]])
    total = np.bincount(frag, weights=w, minlength=sample.n_fragments)
    return np.divide(w, total[frag], out=np.zeros_like(w), where=total[frag] > 0)


def _ratio(obs: np.ndarray, exp: np.ndarray, prior: float, max_ratio: float,
           axis: int | tuple[int, ...] | None) -> np.ndarray:
    """Smoothed observed / expected ratio, the shares taken along ``axis`` (None: all cells).

    The expected distribution is scaled to the observed total along ``axis``; ``prior``
    pseudo-fragments are added to both counts of every cell, so that a cell expected to hold
    a fragment or less keeps a weight near 1 whatever it holds, and a cell without any
    expected mass (no position of any transcript falls in it) gets exactly 1.
    """
    exp_total = exp.sum(axis=axis, keepdims=True)
    obs_total = obs.sum(axis=axis, keepdims=True)
    expected = np.divide(exp * obs_total, exp_total, out=np.zeros_like(exp),
                         where=exp_total > 0)
    ratio = np.divide(obs + prior, expected + prior, out=np.ones_like(obs),
                      where=(exp > 0) & (expected + prior > 0))
    return np.clip(ratio, 1.0 / max_ratio, max_ratio)


def _fit_factor(obs: np.ndarray, weights: np.ndarray, expected, axis: int | None,
                prior: float, cap: float, max_iter: int = 500,
                tol: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """One factor's weights given the others, to convergence.

    ``expected(weights)`` is the factor's expected distribution under ``weights`` computed
    from per-transcript histograms (no pass over the positions); iterating
    ``weights = observed / expected`` resolves the confounding of GC (or position) with the
    abundances — transcripts differ in GC more than their fragments do — that a single update
    per pass leaves half done.
    """
    exp = np.zeros_like(obs)
    for _ in range(max_iter):
        exp = expected(weights)
        new = _ratio(obs, exp, prior, cap, axis)
        done = np.max(np.abs(np.log(new) - np.log(weights))) < tol
        weights = new
        if done:
            break
    return weights, exp


def _expected_gc(hist: np.ndarray, counts: np.ndarray):
    """``gc -> hist.T @ (counts / (hist @ gc))``: ``hist[t] @ gc`` is transcript ``t``'s sum of
    bias weights (``hist`` its positions per GC bin, weighted by the other factors)."""
    def expected(gc: np.ndarray) -> np.ndarray:
        bs = hist @ gc
        return hist.T @ np.divide(counts, bs, out=np.zeros_like(bs), where=bs > 0)
    return expected


def _expected_positional(hist: np.ndarray, tx_class: np.ndarray, counts: np.ndarray,
                         shape: tuple[int, int]):
    """As :func:`_expected_gc`, each transcript's positions weighted by its length class's
    curve and summed into that class's row."""
    def expected(pos: np.ndarray) -> np.ndarray:
        bs = np.einsum("tb,tb->t", hist, pos[tx_class])
        rate = np.divide(counts, bs, out=np.zeros_like(bs), where=bs > 0)
        exp = np.zeros(shape)
        np.add.at(exp, tx_class, hist * rate[:, None])
        return exp
    return expected


def _kernel_inputs(index: TranscriptIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sequences and offsets as the kernels take them, and the transcript blocks."""
    seq = np.ascontiguousarray(index.sequence_buffer, dtype=np.uint8)
    offsets = np.ascontiguousarray(index.offsets, dtype=np.int64)
    return seq, offsets, _bias.block_bounds(offsets, max(1, min(32, len(index))))


def _observe(seq: np.ndarray, offsets: np.ndarray, sample: AlignmentSample,
             weight: np.ndarray, lengths: np.ndarray, mass: np.ndarray, upper: np.ndarray,
             gc_obs: np.ndarray, seq5_obs: np.ndarray, seq3_obs: np.ndarray,
             pos_obs: np.ndarray) -> None:
    """Add the sampled alignments, weighted, to the observed tables (:func:`_bias.observed`)."""
    _bias.observed(seq, offsets, np.ascontiguousarray(sample.tids, dtype=np.int32),
                   np.ascontiguousarray(sample.lo, dtype=np.int64),
                   np.ascontiguousarray(sample.span, dtype=np.int64),
                   np.ascontiguousarray(sample.kind, dtype=np.uint8), weight, lengths, mass,
                   upper, gc_obs, seq5_obs, seq3_obs, pos_obs)


def learn_bias(index: TranscriptIndex, sample: AlignmentSample | None, num_reads: np.ndarray,
               efflen: np.ndarray, fld: FragmentLengthModel, options: BiasOptions,
               n_threads: int = 1, warn: bool = True) -> tuple[BiasModel | None, np.ndarray]:
    """Learn the requested bias models and return them with the corrected effective lengths.

    Parameters
    ----------
    index : TranscriptIndex
        With sequences (``sequence_buffer``).
    sample : AlignmentSample
        The sampled fragments' alignments (:attr:`EqClasses.sample`).
    num_reads, efflen : ndarray of shape (n_transcripts,)
        The first EM's expected counts and the effective lengths it used.
    fld : FragmentLengthModel
    options : BiasOptions
    n_threads : int
    warn : bool
        Log a sample too small to learn from as a warning (asked for) rather than info (the
        default correction, skipped quietly on small inputs).

    Returns
    -------
    model : BiasModel or None
        None when the sample is too small to learn from (``efflen`` is then returned as is).
    efflen : ndarray of shape (n_transcripts,)
        ``efflen`` times each transcript's mean bias weight over its fragment positions,
        normalised so that the expected fragments' mean weight is 1; at least 1.
    """
    options.validate()
    if index.sequence_buffer is None:
        raise InputError("sequence and GC bias correction need the transcript sequences: "
                         "pass the transcript FASTA")
    if sample is None or sample.n_fragments < options.min_fragments:
        n = 0 if sample is None else sample.n_fragments
        logger.log(logging.WARNING if warn else logging.INFO,
                   "bias correction skipped: %d fragments were sampled, at least %d are "
                   "needed to learn the bias models", n, options.min_fragments)
        return None, efflen
    seq, offsets, blocks = _kernel_inputs(index)
    lengths, mass = representative_lengths(fld, options.n_lengths)
    upper = np.asarray(options.length_classes, dtype=np.int64)
    n_classes = upper.size + 1
    W = _bias.CONTEXT_WIDTH
    G, P = options.gc_bins, options.pos_bins

    weight = _posteriors(sample, np.asarray(num_reads, float), np.asarray(efflen, float))
    gc_obs = np.zeros(G)
    seq5_obs = np.zeros((W, 5, 4))
    seq3_obs = np.zeros((W, 5, 4))
    pos_obs = np.zeros((n_classes, P))
    _observe(seq, offsets, sample, weight, lengths, mass, upper, gc_obs, seq5_obs, seq3_obs,
             pos_obs)

    counts = np.ascontiguousarray(num_reads, dtype=np.float64)
    n_tx = len(index)
    nb = blocks.size - 1
    gc = np.ones(G)
    log5 = np.zeros((W, 5, 4))
    log3 = np.zeros((W, 5, 4))
    pos = np.ones((n_classes, P))
    bias_sum = np.zeros(n_tx)
    mass_sum = np.zeros(n_tx)
    exp_gc = np.zeros((nb, G))
    exp5 = np.zeros((nb, W, 5, 4))
    exp3 = np.zeros((nb, W, 5, 4))
    exp_pos = np.zeros((nb, n_classes, P))
    prior, cap = options.prior, options.max_ratio
    rows = np.full(n_tx, -1, dtype=np.int64)
    expressed = np.flatnonzero(counts > 0)
    rows[expressed] = np.arange(expressed.size)
    # per-transcript histograms, only for the factors fitted from them
    gc_hist = np.zeros((expressed.size if options.gc else 0, G))
    pos_hist = np.zeros((expressed.size if options.pos else 0, P))
    tx_class = np.searchsorted(upper, np.asarray(index.lengths)[expressed], side="right")
    expected_gc = _expected_gc(gc_hist, counts[expressed])
    expected_pos = _expected_positional(pos_hist, tx_class, counts[expressed], pos.shape)
    totals = None
    for _ in range(options.rounds):
        _bias.expected_pass(seq, offsets, counts, lengths, mass, gc, log5, log3, pos, upper,
                            blocks, bias_sum, mass_sum, exp_gc, exp5, exp3, exp_pos, rows,
                            gc_hist, pos_hist, options.seq, True, n_threads)
        totals = [exp_gc.sum(0), exp5.sum(0), exp3.sum(0), exp_pos.sum(0)]
        if options.seq:
            log5 = np.log(_ratio(seq5_obs, totals[1], prior, cap, 2))
            log3 = np.log(_ratio(seq3_obs, totals[2], prior, cap, 2))
        if options.pos:
            pos, totals[3] = _fit_factor(pos_obs, pos, expected_pos, 1, prior, cap)
        if options.gc:
            gc, totals[0] = _fit_factor(gc_obs, gc, expected_gc, None, prior, cap)
    # the effective lengths with the final weights (no expected tables needed); transcripts
    # without fragments in the first EM keep their effective length (an EM cannot give them
    # fragments back, and skipping them keeps the pass proportional to what is expressed)
    _bias.expected_pass(seq, offsets, counts, lengths, mass, gc, log5, log3, pos, upper,
                        blocks, bias_sum, mass_sum, exp_gc, exp5, exp3, exp_pos, rows,
                        gc_hist, pos_hist, options.seq, False, n_threads)
    mean_bias = np.divide(bias_sum, mass_sum, out=np.ones(n_tx), where=mass_sum > 0)
    fragments = np.asarray(num_reads, dtype=np.float64)
    scale = (float((fragments * mean_bias).sum() / fragments.sum())
             if fragments.sum() > 0 else 1.0)
    corrected = np.maximum(efflen * mean_bias / scale, 1.0)
    model = BiasModel(options, sample.n_fragments, gc_obs, totals[0], gc, seq5_obs, totals[1],
                      log5, seq3_obs, totals[2], log3, pos_obs, totals[3], pos,
                      correction=corrected / efflen)
    logger.info("bias models (%s) learnt from %d fragments: effective lengths corrected by "
                "x%.2f to x%.2f (5-95%%)", ", ".join(
                    n for n, on in (("seq", options.seq), ("gc", options.gc),
                                    ("pos", options.pos)) if on),
                sample.n_fragments, *np.percentile(corrected / efflen, [5, 95]))
    return model, corrected


def gc_departure(index: TranscriptIndex, sample: AlignmentSample | None,
                 num_reads: np.ndarray, efflen: np.ndarray, fld: FragmentLengthModel,
                 n_threads: int = 1, gc_bins: int = 21,
                 min_share: float = 0.01) -> tuple[float, float] | None:
    """How far the sample's fragment GC departs from what the abundances predict.

    The check behind the hint that ``--gc-bias`` would help, without correcting anything: the
    observed GC distribution of the sampled fragments against the one expected from the
    abundances with uniform positions, over ``gc_bins`` bins and two representative fragment
    lengths (one pass over the expressed transcripts, no sequence context).

    Returns
    -------
    (low, high) or None
        The smallest and largest observed / expected ratio over the bins holding at least
        ``min_share`` of the fragments; None without sequences or with too few fragments.
    """
    if index.sequence_buffer is None or sample is None or sample.n_fragments < 1000:
        return None
    seq, offsets, blocks = _kernel_inputs(index)
    lengths, mass = representative_lengths(fld, 2)
    upper = np.zeros(0, dtype=np.int64)
    W = _bias.CONTEXT_WIDTH
    weight = _posteriors(sample, np.asarray(num_reads, float), np.asarray(efflen, float))
    obs = np.zeros(gc_bins)
    _observe(seq, offsets, sample, weight, lengths, mass, upper, obs, np.zeros((W, 5, 4)),
             np.zeros((W, 5, 4)), np.zeros((1, 1)))
    counts = np.ascontiguousarray(num_reads, dtype=np.float64)
    n_tx = len(index)
    nb = blocks.size - 1
    exp = np.zeros((nb, gc_bins))
    _bias.expected_pass(seq, offsets, counts, lengths, mass, np.ones(gc_bins),
                        np.zeros((W, 5, 4)), np.zeros((W, 5, 4)), np.ones((1, 1)), upper,
                        blocks, np.zeros(n_tx), np.zeros(n_tx), exp, np.zeros((nb, W, 5, 4)),
                        np.zeros((nb, W, 5, 4)), np.zeros((nb, 1, 1)),
                        np.full(n_tx, -1, dtype=np.int64), np.zeros((0, gc_bins)),
                        np.zeros((0, 1)), False, True, n_threads)
    exp = exp.sum(0)
    if obs.sum() <= 0 or exp.sum() <= 0:
        return None
    p_obs, p_exp = obs / obs.sum(), exp / exp.sum()
    busy = (p_obs >= min_share) & (p_exp > 0)
    if not busy.any():
        return None
    ratio = p_obs[busy] / p_exp[busy]
    return float(ratio.min()), float(ratio.max())
