"""Plain and SQUAREM-accelerated EM on a problem with a known answer.

The problem: a two-component mixture of known densities with unknown weight ``w`` (the classic
slow EM when the components overlap). Its EM step is closed form and its MLE is found by a
1-d root search, so both drivers can be checked against truth.
"""

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from emseq.em import ConvergenceMonitor, Squarem, best_of_restarts, run_em


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(7)
    n, w_true = 5000, 0.3
    z = rng.random(n) < w_true
    x = np.where(z, rng.normal(0.0, 1.0, n), rng.normal(0.8, 1.0, n))
    f1, f2 = norm.pdf(x, 0.0, 1.0), norm.pdf(x, 0.8, 1.0)

    def step(theta):
        w = theta[0]
        mix = w * f1 + (1 - w) * f2
        loglik = float(np.log(mix).sum())
        return np.array([np.mean(w * f1 / mix)]), loglik

    def score(w):
        return np.sum((f1 - f2) / (w * f1 + (1 - w) * f2))

    w_hat = brentq(score, 1e-6, 1 - 1e-6, xtol=1e-14)
    return step, w_hat


def test_plain_em_reaches_the_mle_monotonically(problem):
    step, w_hat = problem
    monitor = ConvergenceMonitor(tol=1e-13, max_iter=20000)
    theta = run_em(step, np.array([0.9]), monitor)
    assert monitor.converged
    assert theta[0] == pytest.approx(w_hat, abs=1e-4)
    assert np.all(np.diff(monitor.history) >= -1e-9 * abs(monitor.history[-1]))


def test_squarem_needs_fewer_iterations_and_never_decreases(problem):
    step, w_hat = problem
    plain = ConvergenceMonitor(tol=1e-13, max_iter=20000)
    run_em(step, np.array([0.9]), plain)
    fast = ConvergenceMonitor(tol=1e-13, max_iter=20000)
    sq = Squarem(project=lambda t: t if 0 < t[0] < 1 else None)
    theta = run_em(step, np.array([0.9]), fast, acceleration=sq)
    assert fast.converged
    assert theta[0] == pytest.approx(w_hat, abs=1e-5)
    assert fast.n_iter * 3 < plain.n_iter
    assert np.all(np.diff(fast.history) >= 0)
    assert sq.accepted > 0


def test_squarem_safeguard_falls_back_when_extrapolation_is_infeasible(problem):
    step, w_hat = problem
    monitor = ConvergenceMonitor(tol=1e-12, max_iter=5000)
    sq = Squarem(project=lambda t: None)  # reject every extrapolated point
    theta = run_em(step, np.array([0.9]), monitor, acceleration=sq)
    assert sq.accepted == 0 and sq.rejected > 0
    assert np.all(np.diff(monitor.history) >= 0)
    assert theta[0] == pytest.approx(w_hat, abs=1e-3)


def test_parameter_rule_replaces_objective_rule(problem):
    step, _ = problem
    monitor = ConvergenceMonitor(tol=0.0, max_iter=10000)
    run_em(step, np.array([0.9]), monitor,
           converged=lambda old, new: abs(new[0] - old[0]) < 1e-3)
    assert monitor.converged and monitor.n_iter < 10000


def test_best_of_restarts_keeps_highest_score():
    results = {0: 1.0, 1: 5.0, 2: 5.0, 3: -2.0}
    assert best_of_restarts(lambda i: (i, results[i]), 4, score=lambda r: r[1]) == (1, 5.0)
    with pytest.raises(ValueError):
        best_of_restarts(lambda i: i, 0, score=float)
