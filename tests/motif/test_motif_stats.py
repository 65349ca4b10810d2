"""E-value and site p-value machinery against brute force."""

import itertools

import numpy as np
import pytest
from scipy.stats import chi2

from emseq.motif.stats import (column_log_pvalues, log_chi2_sf_3, log_chi2_sf_even, log_evalue,
                               log_n_alignments, site_pvalues)


def test_chi2_tails_match_scipy_and_stay_finite():
    x = np.array([0.1, 1.0, 5.0, 20.0, 80.0])
    np.testing.assert_allclose(log_chi2_sf_3(x), chi2.logsf(x, 3), rtol=1e-9)
    for df in (2, 8, 30):
        np.testing.assert_allclose(log_chi2_sf_even(x, df), chi2.logsf(x, df), rtol=1e-9,
                                   atol=1e-12)
    assert np.isfinite(log_chi2_sf_3(np.array([5000.0]))).all()
    assert np.isfinite(log_chi2_sf_even(np.array([1e5]), 40)).all()


def _llr(counts, bg):
    n = sum(counts)
    return sum(c * np.log(c / (n * b)) for c, b in zip(counts, bg) if c > 0)


@pytest.mark.parametrize("observed", [(5, 0, 0, 0), (3, 1, 1, 0), (2, 1, 1, 1), (0, 0, 4, 1)])
def test_exact_column_pvalue_matches_enumeration(observed):
    bg = np.array([0.3, 0.2, 0.2, 0.3])
    n = sum(observed)
    target = _llr(observed, bg)
    total = 0.0
    for word in itertools.product(range(4), repeat=n):
        counts = [word.count(a) for a in range(4)]
        if _llr(counts, bg) >= target - 1e-9:
            total += np.prod(bg[list(word)])
    got = np.exp(column_log_pvalues(np.array([observed], float), bg))[0]
    assert got == pytest.approx(total, rel=1e-9)


def test_large_columns_use_the_chi_square_law():
    bg = np.full(4, 0.25)
    counts = np.array([[80.0, 10.0, 5.0, 5.0]])
    llr = _llr(counts[0], bg)
    assert column_log_pvalues(counts, bg)[0] == pytest.approx(chi2.logsf(2 * llr, 3), rel=1e-9)


def test_site_pvalues_match_enumeration():
    rng = np.random.default_rng(0)
    pwm = rng.dirichlet(np.ones(4), size=4)
    bg = np.array([0.3, 0.2, 0.2, 0.3])
    lo = np.log2(pwm / bg)
    words = list(itertools.product(range(4), repeat=4))
    scores = np.array([lo[np.arange(4), w].sum() for w in words])
    probs = np.array([np.prod(bg[list(w)]) for w in words])
    got = site_pvalues(pwm, bg, scores)
    for s, p in zip(scores[:50], got[:50]):
        exact = probs[scores >= s - 0.02].sum()   # the DP rounds scores to 0.01 bit
        lower = probs[scores >= s + 0.02].sum()
        assert lower - 1e-12 <= p <= exact + 1e-12


def test_evalue_orders_motifs_sensibly():
    bg = np.full(4, 0.25)
    strong = np.tile([[10.0, 0, 0, 0]], (8, 1))
    weak = np.tile([[4.0, 2, 2, 2]], (8, 1))
    nal = log_n_alignments("zoops", 10, 20, 190.0, 3800.0, 2)
    assert log_evalue(strong, bg, nal) < log_evalue(weak, bg, nal)
    # more possible alignments, larger E-value
    nal_tcm = log_n_alignments("tcm", 10, 20, 190.0, 3800.0, 2)
    assert np.isfinite(nal_tcm) and nal_tcm > 0
