"""The shared convergence record and stopping rule."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from emseq.em import (CONVERGENCE_COLUMNS, ConvergenceMonitor, ConvergenceWarning,
                      LikelihoodDecreaseWarning, read_convergence)


def test_relative_rule_stops_when_change_is_small():
    monitor = ConvergenceMonitor(tol=1e-3, max_iter=100)
    values = [-1000.0, -500.0, -400.0, -399.9]
    stops = [monitor.report(v) for v in values]
    assert stops == [False, False, False, True]
    assert monitor.converged
    frame = monitor.to_frame()
    assert list(frame.columns) == list(CONVERGENCE_COLUMNS)
    assert frame["iteration"].tolist() == [1, 2, 3, 4]
    assert math.isnan(frame["delta"].iloc[0])
    assert frame["delta"].iloc[1] == pytest.approx(500.0)
    assert frame["relative_delta"].iloc[3] == pytest.approx(0.1 / 399.9)
    assert (frame["seconds"] >= 0).all()


def test_absolute_rule_and_max_iter_warning():
    monitor = ConvergenceMonitor(tol=1e-9, max_iter=3, criterion="absolute", name="toy")
    assert [monitor.report(v) for v in (1.0, 2.0, 2.5)] == [False, False, True]
    assert not monitor.converged
    with pytest.warns(ConvergenceWarning, match="toy did not converge in 3"):
        monitor.warn_if_not_converged()


def test_engine_verdict_overrides_objective_rule():
    monitor = ConvergenceMonitor(tol=1e-12, max_iter=10)
    assert monitor.report(-10.0, converged=False) is False
    assert monitor.report(-5.0, converged=True) is True


def test_decrease_beyond_round_off_is_flagged_but_round_off_is_not():
    monitor = ConvergenceMonitor(tol=0, max_iter=10)
    monitor.report(-100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monitor.report(-100.0 - 1e-13)  # round-off
    with pytest.warns(LikelihoodDecreaseWarning, match="decreased at iteration 3"):
        monitor.report(-101.0)


def test_record_round_trips_through_tsv(tmp_path):
    monitor = ConvergenceMonitor(tol=0, max_iter=5)
    for v in (-3.0, -2.0, -1.5):
        monitor.report(v)
    path = tmp_path / "convergence.tsv"
    monitor.write(path)
    assert not (tmp_path / "convergence.tsv.tmp").exists()
    back = read_convergence(path)
    pd.testing.assert_frame_equal(back, monitor.to_frame(), check_dtype=False)
    assert np.all(np.diff(back["log_likelihood"]) >= 0)
