"""Fragment length model, effective lengths, and EM/VBEM over equivalence classes."""

from __future__ import annotations

import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator

import numpy as np
from scipy.special import digamma, gammaln

from ..em import ConvergenceMonitor, Squarem, run_em
from . import _em
from .bam import EqClasses

__all__ = ["FragmentLengthModel", "effective_lengths", "EMOptions", "estimate", "bootstrap"]

logger = logging.getLogger(__name__)


@dataclass
class FragmentLengthModel:
    """Fragment length distribution: the pmf over lengths ``0..max`` and its moments."""

    pmf: np.ndarray
    observed: int

    @property
    def mean(self) -> float:
        lengths = np.arange(self.pmf.size)
        return float((lengths * self.pmf).sum())

    @property
    def sd(self) -> float:
        lengths = np.arange(self.pmf.size)
        return float(np.sqrt(((lengths - self.mean) ** 2 * self.pmf).sum()))

    @classmethod
    def from_histogram(cls, hist: np.ndarray, mean: float = 250.0, sd: float = 25.0,
                       prior_weight: float = 10.0) -> "FragmentLengthModel":
        """Observed lengths plus a Normal(mean, sd) prior of ``prior_weight`` fragments,
        smoothed with a binomial kernel (the same model the reader uses after its burn-in)."""
        hist = np.asarray(hist, dtype=np.float64)
        lengths = np.arange(hist.size, dtype=np.float64)
        prior = np.exp(-0.5 * ((lengths - mean) / sd) ** 2)
        prior[0] = 0.0
        prior /= prior.sum()
        smoothed = np.convolve(hist + prior_weight * prior,
                               np.array([1, 4, 6, 4, 1], dtype=np.float64) / 16, mode="same")
        return cls(smoothed / smoothed.sum(), int(hist.sum()))


def effective_lengths(lengths: np.ndarray, fld: FragmentLengthModel) -> np.ndarray:
    """Salmon-style effective lengths: length minus the mean fragment length that fits.

    ``efflen = L - E[l | l <= L]`` under the fragment length distribution; where that is
    below 1 the raw length is used (Salmon's rule), so it is never below 1.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    pmf = fld.pmf
    cum_p = np.cumsum(pmf)
    cum_lp = np.cumsum(pmf * np.arange(pmf.size))
    capped = np.minimum(lengths, pmf.size - 1)
    mass = cum_p[capped]
    mean = np.divide(cum_lp[capped], mass, out=np.zeros(lengths.size), where=mass > 0)
    eff = lengths - mean
    return np.where(eff >= 1.0, eff, lengths.astype(np.float64))


@dataclass
class EMOptions:
    """Options of the abundance EM.

    ``rel_tol``/``abundance_cutoff``: Salmon's rule, converged when every abundance above the
    cutoff changed by less than ``rel_tol`` (relative) in one iteration; ``min_iter`` and
    ``max_iter`` as in Salmon (50, 10,000). Expected counts below ``truncate_below`` are set
    to zero at the end: the stopping rule never looks at values below ``abundance_cutoff``, so
    such values are not converged (Salmon truncates at 1e-8; 0.01 fragments removes the
    unconverged tails of transcripts EM is driving to zero: with ``--em`` on a 1M-pair
    benchmark BAM, absent transcripts given reads went from 57 to 13 of 195, MARD 0.120 → 0.072). ``vb_prior`` is the Dirichlet prior of each
    transcript (Salmon's default, ``perTranscriptPrior``), or of each nucleotide of effective
    length with ``per_nucleotide_prior``.
    """

    vb: bool = True
    vb_prior: float = 0.01
    per_nucleotide_prior: bool = False
    squarem: bool = True
    rel_tol: float = 1e-2
    abundance_cutoff: float = 1e-2
    min_iter: int = 50
    max_iter: int = 10_000
    truncate_below: float = 1e-2
    n_threads: int = 1


def _dirichlet_kl(alpha: np.ndarray, beta: np.ndarray, *, digamma_alpha: np.ndarray | None = None,
                  beta_terms: float | None = None) -> float:
    """KL(Dir(alpha) || Dir(beta)). ``digamma_alpha`` (``digamma(alpha)``) and
    ``beta_terms`` (``gammaln(beta.sum()) - gammaln(beta).sum()``, constant over a VB run)
    may be passed in to save two passes of special functions over the transcripts; the
    value is the same to the last bit."""
    sa = alpha.sum()
    if beta_terms is None:
        beta_terms = _dirichlet_beta_terms(beta)
    if digamma_alpha is None:
        digamma_alpha = digamma(alpha)
    return float(gammaln(sa) - gammaln(alpha).sum() - beta_terms[0] + beta_terms[1]
                 + ((alpha - beta) * (digamma_alpha - digamma(sa))).sum())


def _dirichlet_beta_terms(beta: np.ndarray) -> tuple[float, float]:
    """``gammaln(beta.sum())`` and ``gammaln(beta).sum()``: the prior's part of the KL."""
    return gammaln(beta.sum()), gammaln(beta).sum()


_blas_lock = threading.Lock()
_blas_state: dict = {"depth": 0, "saved": None, "controller": None}


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """BLAS held to one thread while the EM's OpenMP kernel runs (SQUAREM's norms are BLAS
    calls on vectors of n_transcripts: on a busy 2-core machine a second BLAS thread made them
    ~25 ms each instead of ~0.1). Re-entrant across the bootstrap threads: the first to enter
    sets the limit, the last to leave restores it."""
    with _blas_lock:
        if _blas_state["depth"] == 0:
            try:
                if _blas_state["controller"] is None:
                    from threadpoolctl import ThreadpoolController

                    _blas_state["controller"] = ThreadpoolController()
                blas = _blas_state["controller"].select(user_api="blas")
                libraries = [lib for lib in blas.lib_controllers if lib.num_threads != 1]
                _blas_state["saved"] = [(lib, lib.num_threads) for lib in libraries]
                for lib in libraries:
                    lib.set_num_threads(1)
            except Exception:  # no threadpoolctl support here: run as is
                _blas_state["saved"] = []
        _blas_state["depth"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_state["depth"] -= 1
            if _blas_state["depth"] == 0:
                for lib, n in _blas_state["saved"] or []:
                    lib.set_num_threads(n)
                _blas_state["saved"] = None


def estimate(classes: EqClasses, efflen: np.ndarray, options: EMOptions, *,
             counts: np.ndarray | None = None, start: np.ndarray | None = None,
             monitor: ConvergenceMonitor | None = None) -> tuple[np.ndarray, ConvergenceMonitor]:
    """Run EM (or VBEM) over the classes; return expected fragment counts per transcript.

    Parameters
    ----------
    classes : EqClasses
    efflen : ndarray of shape (n_transcripts,)
    options : EMOptions
    counts : ndarray of shape (n_classes,), optional
        Class counts to use instead of ``classes.counts`` (bootstraps).
    start : ndarray of shape (n_transcripts,), optional
        Starting expected counts (default: uniform).

    Returns
    -------
    num_reads : ndarray of shape (n_transcripts,)
        Expected fragments per transcript, abundances below ``truncate_below`` set to zero.
    monitor : ConvergenceMonitor
        The objective trace: the log-likelihood (EM) or the evidence lower bound (VB).
    """
    n_tx = efflen.shape[0]
    counts = classes.counts if counts is None else np.ascontiguousarray(counts, dtype=np.float64)
    total = float(counts.sum())
    inv_eff = np.ascontiguousarray(1.0 / efflen, dtype=np.float64)
    offsets, tids, weights = classes.offsets, classes.tids, classes.weights
    out = np.empty(n_tx, dtype=np.float64)
    threads = int(options.n_threads)
    if monitor is None:
        monitor = ConvergenceMonitor(tol=0.0, max_iter=options.max_iter,
                                     name="VBEM" if options.vb else "EM")
    if start is None:
        start = np.full(n_tx, total / max(1, n_tx))
    if options.vb:
        prior = options.vb_prior * (efflen if options.per_nucleotide_prior
                                    else np.ones_like(efflen))
        params0 = np.maximum(np.asarray(start, dtype=np.float64), 0.0) + prior
        prior_terms = _dirichlet_beta_terms(prior)

        def step(alpha: np.ndarray) -> tuple[np.ndarray, float]:
            digamma_alpha = digamma(alpha)
            exp_theta = np.exp(digamma_alpha - digamma(alpha.sum()))
            ll = _em.e_step(offsets, tids, weights, counts, exp_theta, inv_eff, out, threads)
            return prior + out, ll - _dirichlet_kl(alpha, prior, digamma_alpha=digamma_alpha,
                                                   beta_terms=prior_terms)

        def project(x: np.ndarray) -> np.ndarray | None:
            return np.maximum(x, prior)

        def value(x: np.ndarray) -> np.ndarray:
            return x - prior
    else:
        params0 = np.asarray(start, dtype=np.float64).copy()

        def step(alpha: np.ndarray) -> tuple[np.ndarray, float]:
            ll = _em.e_step(offsets, tids, weights, counts, np.ascontiguousarray(alpha),
                            inv_eff, out, threads)
            s = alpha.sum()
            return out.copy(), (ll - total * np.log(s)) if s > 0 else -np.inf

        def project(x: np.ndarray) -> np.ndarray | None:
            x = np.maximum(x, 0.0)
            return x if x.sum() > 0 else None

        def value(x: np.ndarray) -> np.ndarray:
            return x

    def converged(previous: np.ndarray, current: np.ndarray) -> bool:
        if monitor.n_iter + 1 < options.min_iter:
            return False
        a, b = value(previous), value(current)
        mask = b > options.abundance_cutoff
        if not mask.any():
            return True
        return bool(np.all(np.abs(a[mask] - b[mask]) / b[mask] < options.rel_tol))

    accel = Squarem(project=project) if options.squarem else None
    with _one_blas_thread():
        params = run_em(step, params0, monitor, acceleration=accel, converged=converged)
    if not monitor.converged:
        monitor.warn_if_not_converged("raise max_iter")
    num_reads = np.maximum(value(params), 0.0)
    num_reads[num_reads < options.truncate_below] = 0.0
    if num_reads.sum() > 0:
        num_reads *= total / num_reads.sum()
    return num_reads, monitor


#: Gamma shape of each transcript's rate in the Gibbs sampler (see :func:`gibbs`).
GIBBS_PRIOR = 1.0
#: Sweeps per kept Gibbs sample (Salmon: 16; see :func:`gibbs` and ``quantify``).
GIBBS_THINNING = 64
#: Weight of the full-data estimate in each bootstrap replicate's start (see :func:`bootstrap`).
BOOTSTRAP_START_WEIGHT = 0.5


def _blended_start(start: np.ndarray, efflen: np.ndarray, active: np.ndarray,
                   start_weight: float) -> np.ndarray:
    """Expected counts ``w * start + (1 - w) * flat``, both summing to ``start``'s total.

    ``flat`` gives every active transcript the same rate per nucleotide of effective length,
    inactive ones (in no class) zero. A chain or an EM started there can reach a transcript
    that ``start`` set to zero; started at ``start`` alone (``w = 1``) it cannot.
    """
    start = np.maximum(np.asarray(start, dtype=np.float64), 0.0)
    total = start.sum()
    flat = np.where(active, efflen, 0.0)
    if flat.sum() > 0:
        flat *= (total if total > 0 else 1.0) / flat.sum()
    return start_weight * start + (1.0 - start_weight) * flat


def bootstrap(classes: EqClasses, efflen: np.ndarray, options: EMOptions, n: int, *,
              start: np.ndarray, start_weight: float = BOOTSTRAP_START_WEIGHT, seed: int = 0,
              n_threads: int = 1) -> np.ndarray:
    """``n`` bootstrap replicates: class counts resampled (multinomial), EM re-run each time.

    Each replicate's EM starts from ``start_weight * start + (1 - start_weight) * flat``
    (:func:`_blended_start`): from ``start`` alone, a transcript the full-data estimate set to
    zero stays zero in every replicate, since EM's multiplicative update cannot leave zero.
    Replicates run in parallel threads (the kernel releases the GIL), one kernel thread each.

    Returns
    -------
    ndarray of shape (n, n_transcripts)
    """
    total = int(round(classes.counts.sum()))
    p = classes.counts / classes.counts.sum()
    seeds = np.random.SeedSequence(seed).spawn(n)
    active = np.bincount(classes.tids, minlength=efflen.shape[0]) > 0
    start = _blended_start(start, np.asarray(efflen, dtype=np.float64), active, start_weight)
    single = EMOptions(**{**options.__dict__, "n_threads": 1})

    def one(i: int) -> np.ndarray:
        rng = np.random.default_rng(seeds[i])
        counts = rng.multinomial(total, p).astype(np.float64)
        monitor = ConvergenceMonitor(tol=0.0, max_iter=options.max_iter, name=f"bootstrap {i}")
        values, _ = estimate(classes, efflen, single, counts=counts, start=start, monitor=monitor)
        return values

    if n_threads <= 1 or n <= 1:
        return np.array([one(i) for i in range(n)]).reshape(n, efflen.shape[0])
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        return np.array(list(pool.map(one, range(n)))).reshape(n, efflen.shape[0])


def gibbs(classes: EqClasses, efflen: np.ndarray, start: np.ndarray, n: int, *,
          thinning: int = GIBBS_THINNING, prior: float = GIBBS_PRIOR, beta: float = 0.1,
          burn_in: int | None = None, start_weight: float = 0.0, seed: int = 0) -> np.ndarray:
    """Posterior samples of expected fragment counts by Gibbs sampling over the classes.

    Salmon's sampler: each sweep

    1. splits every class's count over its transcripts with a multinomial draw (as a chain
       of binomials) in proportion to ``mu_t * weight``;
    2. draws each transcript's per-nucleotide rate from its posterior given the counts,
       ``mu_t ~ Gamma(prior + count_t, 1 / (beta + efflen_t))``.

    The sweeps run in a nogil kernel (``_gibbs.sweeps``) on the seeded generator's bits.

    Every ``thinning`` sweeps (after ``burn_in`` sweeps, default ``4 * thinning``), the sample
    kept is the abundance itself, ``mu_t * efflen_t`` scaled to the total count, not the
    integer assignment of step 1: a transcript whose fragments are all unambiguous has a fixed
    assignment, and its spread comes only from step 2 (Poisson-like, ``sd ≈ sqrt(count)``).

    Two choices decide whether the intervals hold the truth where fragments are shared
    (measured in ``benchmarks/bench_replicates.py``):

    * ``prior`` is the Gibbs prior, not the VB one: a Gamma shape of 0.01 (Salmon's VB prior)
      puts most of its mass next to zero, and a transcript whose fragments are all shared
      with a sibling stays at zero in every draw although the data cannot tell the two
      apart. A shape of 1 (an exponential prior on the rate) keeps zero possible without
      making it absorbing; 0.1 covered the truth less often where fragments are shared.
    * The chain starts flat (the same rate on every transcript that has a compatible
      fragment), or from ``start_weight * start + (1 - start_weight) * flat``, not from the
      EM estimate: EM's zeros are fixed points of the sweep above only when the chain starts
      there.

    Transcripts that no class names have no likelihood and stay at zero in every draw
    (Salmon's inactive transcripts).

    Returns
    -------
    ndarray of shape (n, n_transcripts)
        Expected fragment counts per transcript, one row per kept sample (each row sums to
        the total class count).
    """
    from . import _gibbs

    rng = np.random.default_rng(seed)
    offsets = np.ascontiguousarray(classes.offsets, dtype=np.int64)
    tids = np.ascontiguousarray(classes.tids, dtype=np.int32)
    counts = np.rint(classes.counts).astype(np.int64)
    total_count = float(classes.counts.sum())
    n_tx = efflen.shape[0]
    efflen = np.asarray(efflen, dtype=np.float64)
    burn_in = 4 * thinning if burn_in is None else int(burn_in)
    active = np.bincount(tids, minlength=n_tx) > 0
    mu = np.ascontiguousarray(_blended_start(start, efflen, active, start_weight) / efflen)
    # classes of a single transcript: their assignment never changes
    single = np.diff(offsets) == 1
    fixed = np.bincount(tids[offsets[:-1][single]], weights=counts[single],
                        minlength=n_tx).astype(np.int64)
    args = (offsets, tids, np.ascontiguousarray(classes.weights, dtype=np.float64), counts,
            fixed, active.astype(np.uint8), 1.0 / (beta + efflen), float(prior), mu,
            np.empty(n_tx, dtype=np.int64), rng.bit_generator)
    _gibbs.sweeps(*args, burn_in)
    samples = np.empty((n, n_tx), dtype=np.float64)
    for kept in range(n):
        _gibbs.sweeps(*args, thinning)
        abundance = mu * efflen
        mass = abundance.sum()
        samples[kept] = abundance * (total_count / mass) if mass > 0 else 0.0
    return samples
