"""The iteration driver: plain EM, SQUAREM-accelerated EM, and restarts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Protocol, TypeVar

import numpy as np

from ..errors import FitError
from .monitor import ConvergenceMonitor

__all__ = ["EMStep", "Squarem", "best_of_restarts", "run_em"]

logger = logging.getLogger(__name__)

Params = np.ndarray
Result = TypeVar("Result")


class EMStep(Protocol):
    """One EM iteration: ``step(params) -> (next_params, objective_at_params)``.

    The objective is the log-likelihood (or the VB lower bound) of the parameters passed *in*,
    which every E-step computes on its way; ``next_params`` is the M-step's output. For SQUAREM
    the parameters are a flat float64 vector (an engine packs and unpacks its own).
    """

    def __call__(self, params: Params, /) -> tuple[Params, float]: ...


@dataclass
class Squarem:
    """SQUAREM acceleration (Varadhan & Roland 2008, scheme S3) with a monotone safeguard.

    Two EM steps ``θ1 = F(θ0)``, ``θ2 = F(θ1)`` give ``r = θ1 - θ0`` and
    ``v = θ2 - 2 θ1 + θ0``; the extrapolated point is ``θ0 - 2 α r + α² v`` with
    ``α = -‖r‖ / ‖v‖`` clamped to ``[-step_max, -1]`` (``α = -1`` is the plain EM point
    ``θ2``). One EM step from the extrapolated point stabilises it. The point is *accepted*
    only when it is feasible (``project`` does not reject it, its step raises nothing) and its
    objective is not below the last recorded one; otherwise the driver falls back to the plain
    EM step from ``θ2``, so the recorded objective never decreases.

    Parameters
    ----------
    step_max : float, default=1.0
        Initial bound on ``-α``.
    step_factor : float, default=4.0
        ``step_max`` grows by this factor whenever the bound was hit and the point accepted.
    project : callable, optional
        ``project(θ) -> θ or None``: map an extrapolated vector back into the parameter space
        (e.g. clip abundances at zero); ``None`` rejects it.
    """

    step_max: float = 1.0
    step_factor: float = 4.0
    project: Callable[[Params], Params | None] | None = None
    accepted: int = 0
    rejected: int = 0


_REJECTABLE = (FitError, FloatingPointError, np.linalg.LinAlgError, ValueError)


def run_em(step: EMStep, params: Params, monitor: ConvergenceMonitor, *,
           acceleration: Squarem | None = None,
           converged: Callable[[Params, Params], bool] | None = None) -> Params:
    """Iterate ``step`` from ``params`` until ``monitor`` says stop; return the last parameters.

    Parameters
    ----------
    step : EMStep
        One EM iteration, see :class:`EMStep`.
    params : ndarray
        Starting parameters.
    monitor : ConvergenceMonitor
        Records the objective of each iteration and decides when to stop.
    acceleration : Squarem, optional
        SQUAREM options; plain EM when None.
    converged : callable, optional
        ``converged(previous, current) -> bool``: an engine's own parameter-based rule (e.g.
        Salmon's relative change per transcript) that replaces the monitor's objective rule.

    Returns
    -------
    params : ndarray
        The parameters after the last M-step (one EM step past the last recorded objective).
    """
    monitor.restart_clock()

    def advance(current: Params) -> tuple[Params, bool]:
        following, objective = step(current)
        verdict = None if converged is None else bool(converged(current, following))
        return following, monitor.report(objective, converged=verdict)

    if acceleration is None:
        while True:
            params, stop = advance(params)
            if stop:
                return params

    sq = acceleration
    while True:
        theta1, stop = advance(params)
        if stop:
            return theta1
        theta2, stop = advance(theta1)
        if stop:
            return theta2
        r = theta1 - params
        v = theta2 - theta1 - r
        r_norm, v_norm = float(np.linalg.norm(r)), float(np.linalg.norm(v))
        alpha = -1.0 if v_norm == 0.0 or not np.isfinite(v_norm) else -r_norm / v_norm
        alpha = min(-1.0, max(-sq.step_max, alpha))
        candidate: Params | None = theta2
        if alpha < -1.0:
            candidate = params - 2.0 * alpha * r + alpha * alpha * v
            if sq.project is not None:
                candidate = sq.project(candidate)
        accepted = False
        if candidate is not None and alpha < -1.0 and np.all(np.isfinite(candidate)):
            try:
                following, objective = step(candidate)
            except _REJECTABLE as exc:
                logger.debug("SQUAREM point rejected: %s", exc)
            else:
                if np.isfinite(objective) and objective >= monitor.history[-1]:
                    accepted = True
                    verdict = None if converged is None else bool(converged(candidate, following))
                    stop = monitor.report(objective, converged=verdict)
                    params = following
                    if alpha <= -sq.step_max:
                        sq.step_max *= sq.step_factor
        if accepted:
            sq.accepted += 1
        else:
            if alpha < -1.0:
                sq.rejected += 1
            params, stop = advance(theta2)
            if alpha == -1.0 and sq.step_max == 1.0 and r_norm > v_norm:
                # the bound alone held the step at plain EM: allow longer steps next time
                sq.step_max *= sq.step_factor
        if stop:
            return params


def best_of_restarts(fit_once: Callable[[int], Result], n_init: int,
                     score: Callable[[Result], float]) -> Result:
    """Run ``fit_once(i)`` for ``i in range(n_init)`` and keep the result of highest ``score``.

    EM finds local optima; restarts from different initialisations and keeping the best
    objective is the standard remedy. Ties keep the earliest run, so results are reproducible.
    """
    if n_init < 1:
        raise ValueError(f"n_init must be at least 1, got {n_init}")
    best: Result | None = None
    best_score = -np.inf
    for i in range(n_init):
        result = fit_once(i)
        value = score(result)
        if best is None or value > best_score:
            best, best_score = result, value
    assert best is not None
    return best
