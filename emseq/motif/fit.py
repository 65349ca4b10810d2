"""EM fitting of one motif width: the MAP M-step, the EM run, and a short run from a start.

A run stops when the PWM moves less than ``theta_tol`` (Euclidean) or after ``max_iter``
iterations (MEME's rule) and is recorded by :class:`emseq.em.ConvergenceMonitor` (the MAP
objective never decreases).
"""

from __future__ import annotations

import numpy as np

from ..em import ConvergenceMonitor, run_em
from . import _kernels
from .alphabet import EncodedSequences
from .inputs import SearchInput
from .sites import select_sites
from .trim import (trim_insignificant_columns, trim_low_information,
                   trim_to_selective_columns)
from .windows import SequenceView, Windows

__all__ = ["mstep_theta", "log_prior", "fit_em", "fit_start", "SAMPLE_ITER"]

#: EM iterations per start before the winner is refined to convergence
SAMPLE_ITER = 20


def mstep_theta(inp: SearchInput, counts: np.ndarray) -> np.ndarray:
    """The MAP PWM of expected letter counts (Dirichlet prior; symmetrised under ``pal``)."""
    c = counts + inp.alpha
    if inp.options.pal:
        c = c + c[::-1, ::-1]
    return c / c.sum(axis=1, keepdims=True)


def log_prior(inp: SearchInput, theta: np.ndarray) -> float:
    """Log of the Dirichlet prior density of ``theta`` (up to a constant)."""
    with np.errstate(divide="ignore"):
        return float((inp.alpha * np.log(theta)).sum())


def fit_em(inp: SearchInput, data: EncodedSequences, win: Windows, theta0: np.ndarray,
           prior0: float, label: dict, max_iter: int | None = None
           ) -> tuple[np.ndarray, float, float]:
    """EM from ``(theta0, prior0)`` on ``data`` at the width of ``win``.

    Returns the PWM, the site prior and the last MAP objective; the run's convergence record,
    labelled with ``label``'s columns, is appended to ``inp.traces``.
    """
    opts = inp.options
    w = win.w
    T = inp.n_threads
    counts_t = np.zeros((T, w, 4))
    ll_seq = np.zeros(data.n_sequences)
    z_seq = np.zeros(data.n_sequences)
    n_seq = np.zeros(data.n_sequences)
    buf = np.zeros((T, 2 * int(data.lengths.max()) + 2))
    tcm = opts.model == "tcm"
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
        _kernels.estep(data.codes, data.offsets, lp, win.bgwin, win.logw, opts.model_code,
                       prior, opts.revcomp, counts_t, ll_seq, z_seq, n_seq, buf, T)
        ll = float(ll_seq.sum()) + (0.0 if tcm else win.bg_seq)
        objective = ll + log_prior(inp, theta)
        theta_new = mstep_theta(inp, counts_t.sum(axis=0))
        if opts.model == "zoops":
            prior_new = min(max(float(z_seq.sum()) / n_used, prior_lo), prior_hi)
        elif tcm:
            prior_new = min(max(float(z_seq.sum()) / n_windows, prior_lo), prior_hi)
        else:
            prior_new = 1.0
        last["ll"] = objective
        return np.concatenate([theta_new.ravel(), [prior_new]]), objective

    def converged(previous: np.ndarray, current: np.ndarray) -> bool:
        return float(np.linalg.norm(current[:-1] - previous[:-1])) < opts.theta_tol

    prior0 = min(max(prior0, prior_lo), prior_hi) if opts.model != "oops" else 1.0
    if opts.pal:
        # EM is monotone only from a feasible start: make it a palindrome
        theta0 = (theta0 + theta0[::-1, ::-1]) / 2.0
    monitor = ConvergenceMonitor(max_iter=max_iter or opts.max_iter, name=f"motif EM (w={w})")
    params = run_em(step, np.concatenate([theta0.ravel(), [prior0]]), monitor,
                    converged=converged)
    frame = monitor.to_frame()
    for key, value in reversed(list(label.items())):
        frame.insert(0, key, value)
    inp.traces.append(frame)
    return params[:-1].reshape(w, 4).copy(), float(params[-1]), last.get("ll", np.nan)


def fit_start(inp: SearchInput, view: SequenceView, win: Windows, theta0: np.ndarray,
              prior0: float, label: dict) -> dict | None:
    """``SAMPLE_ITER`` EM iterations from one start, trimming (``se``: to its selective
    columns), and the sites minimising the objective (see
    :func:`emseq.motif.sites.select_sites`); None if no two sites were found."""
    theta, prior, _ = fit_em(inp, view.data, win, theta0, prior0, label, SAMPLE_ITER)
    theta, wt = trim_low_information(inp, theta)
    if inp.options.objective == "se":
        theta, wt = trim_to_selective_columns(inp, theta)
    sel = select_sites(inp, view.data, view.windows(wt) if wt != win.w else win, theta)
    if sel is not None:
        lo, hi = trim_insignificant_columns(inp, sel["counts"])
        if hi - lo < sel["w"]:
            shorter = select_sites(inp, view.data, view.windows(hi - lo),
                                   np.ascontiguousarray(sel["theta"][lo:hi]))
            if shorter is not None and shorter["loge"] <= sel["loge"]:
                sel = shorter
    if sel is not None:
        sel["prior"] = prior
    return sel
