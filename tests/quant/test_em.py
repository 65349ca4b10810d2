"""The EM kernel against a plain NumPy EM, monotone objectives, EM vs SQUAREM, VB vs EM."""

from __future__ import annotations

import numpy as np
import pytest

from emseq.em import ConvergenceMonitor
from emseq.quant import EMOptions, EqClasses, estimate
from emseq.quant import _em


def _classes(spec, n_tx):
    """spec: list of (tids, weights, count)."""
    offsets = np.zeros(len(spec) + 1, dtype=np.int64)
    tids, weights, counts = [], [], []
    for c, (t, w, n) in enumerate(spec):
        offsets[c + 1] = offsets[c] + len(t)
        tids += list(t)
        weights += list(w)
        counts.append(n)
    return EqClasses(offsets, np.array(tids, dtype=np.int32), np.array(weights, dtype=float),
                     np.array(counts, dtype=float), np.zeros(10), {}, {})


SPEC = [((0,), (1.0,), 40), ((0, 1), (0.7, 0.3), 100), ((1, 2), (0.5, 0.5), 60),
        ((2,), (1.0,), 5), ((0, 1, 2), (0.2, 0.3, 0.5), 30), ((3,), (1.0,), 12)]
EFFLEN = np.array([800.0, 1200.0, 400.0, 1000.0])


def numpy_em_step(spec, alpha, efflen):
    out = np.zeros_like(alpha)
    ll = 0.0
    for tids, w, n in spec:
        tids = np.array(tids)
        p = alpha[tids] * np.array(w) / efflen[tids]
        ll += n * np.log(p.sum())
        out[tids] += n * p / p.sum()
    return out, ll


@pytest.mark.parametrize("threads", [1, 2])
def test_kernel_matches_numpy(threads):
    rng = np.random.default_rng(0)
    # many copies so the parallel path (>= 32768 entries) runs too
    spec = SPEC * 3000
    eq = _classes(spec, 4)
    alpha = rng.uniform(0.5, 3.0, 4)
    out = np.empty(4)
    ll = _em.e_step(eq.offsets, eq.tids, eq.weights, eq.counts, alpha, 1.0 / EFFLEN, out, threads)
    ref_out, ref_ll = numpy_em_step(spec, alpha, EFFLEN)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12)
    assert ll == pytest.approx(ref_ll, rel=1e-12)


def test_em_matches_numpy_fixed_point():
    eq = _classes(SPEC, 4)
    alpha = np.full(4, 1.0)
    for _ in range(3000):
        alpha, _ = numpy_em_step(SPEC, alpha, EFFLEN)
    ours, monitor = estimate(eq, EFFLEN, EMOptions(vb=False, squarem=False, rel_tol=1e-10,
                                                    abundance_cutoff=1e-6, min_iter=10))
    np.testing.assert_allclose(ours, alpha, rtol=1e-5, atol=1e-6)
    assert monitor.converged


@pytest.mark.parametrize("vb", [False, True])
@pytest.mark.parametrize("squarem", [False, True])
def test_objective_never_decreases(vb, squarem):
    # LikelihoodDecreaseWarning is an error in the test suite; check the trace explicitly too
    eq = _classes(SPEC * 3, 4)
    _, monitor = estimate(eq, EFFLEN, EMOptions(vb=vb, squarem=squarem, rel_tol=1e-8,
                                                 abundance_cutoff=1e-6))
    trace = np.array(monitor.history)
    assert len(trace) > 5
    assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace[1:]))


def test_em_and_squarem_reach_same_optimum():
    eq = _classes(SPEC, 4)
    opts = dict(vb=False, rel_tol=1e-9, abundance_cutoff=1e-6, min_iter=5)
    plain, m1 = estimate(eq, EFFLEN, EMOptions(squarem=False, **opts))
    fast, m2 = estimate(eq, EFFLEN, EMOptions(squarem=True, **opts))
    np.testing.assert_allclose(plain, fast, rtol=1e-5, atol=1e-6)
    assert m2.history[-1] == pytest.approx(m1.history[-1], rel=1e-9)
    assert m2.n_iter < m1.n_iter


def test_vb_and_em_agree_on_unambiguous():
    eq = _classes(SPEC, 4)
    em, _ = estimate(eq, EFFLEN, EMOptions(vb=False))
    vb, _ = estimate(eq, EFFLEN, EMOptions(vb=True))
    # transcript 3 only ever appears alone
    assert em[3] == pytest.approx(12.0, rel=1e-6)
    assert vb[3] == pytest.approx(12.0, rel=1e-2)
    assert em.sum() == pytest.approx(vb.sum())


def test_tiny_abundances_truncated():
    spec = [((0, 1), (0.999999, 1e-6), 100)]
    eq = _classes(spec, 2)
    est, _ = estimate(eq, np.array([500.0, 500.0]), EMOptions(vb=False, squarem=False,
                                                              max_iter=3000, rel_tol=1e-12))
    assert est[1] == 0.0
    assert est[0] == pytest.approx(100.0)
