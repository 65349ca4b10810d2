"""Convergence record and stopping rule shared by every EM engine."""

from __future__ import annotations

import logging
import math
import os
import sys
import time
import warnings
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "CONVERGENCE_COLUMNS",
    "ConvergenceMonitor",
    "ConvergenceWarning",
    "LikelihoodDecreaseWarning",
    "read_convergence",
]

logger = logging.getLogger(__name__)


def __getattr__(name: str):
    # One warning class across the ecosystem: scikit-learn users already filter this one.
    # Imported on first use: importing scikit-learn costs about a second at every start.
    if name == "ConvergenceWarning":
        from sklearn.exceptions import ConvergenceWarning

        return ConvergenceWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


CONVERGENCE_COLUMNS = ("iteration", "log_likelihood", "delta", "relative_delta", "seconds")


class LikelihoodDecreaseWarning(RuntimeWarning):
    """The EM objective went down between two iterations by more than round-off.

    EM (and VBEM for its lower bound) never decreases its objective, so this is a bug in the
    engine. emseq's test suite turns this warning into an error.
    """


class ConvergenceMonitor:
    """Record an EM run's objective per iteration and decide when it has converged.

    Parameters
    ----------
    tol : float, default=1e-6
        Convergence threshold on the change of the objective between two iterations.
    max_iter : int, default=1000
        Iterations after which the run stops, converged or not.
    criterion : {"relative", "absolute"}, default="relative"
        ``"relative"`` stops when ``|delta| / max(|log_likelihood|, tiny) < tol``;
        ``"absolute"`` when ``|delta| < tol`` (scikit-learn's rule on the per-sample mean).
    decrease_rtol : float, default=1e-10
        A decrease larger than ``decrease_rtol * max(1, |log_likelihood|)`` is flagged with
        :class:`LikelihoodDecreaseWarning`; smaller ones are round-off.
    verbose : bool, default=False
        Report each iteration on stderr.
    name : str, default="EM"
        Name shown in reports and warnings.

    Attributes
    ----------
    history : list of float
        The objective at every recorded iteration.
    converged : bool
        Whether the stopping rule was met (as opposed to ``max_iter``).
    """

    def __init__(self, tol: float = 1e-6, max_iter: int = 1000, *,
                 criterion: Literal["relative", "absolute"] = "relative",
                 decrease_rtol: float = 1e-10, verbose: bool = False, name: str = "EM") -> None:
        if criterion not in ("relative", "absolute"):
            raise ValueError(f"criterion must be 'relative' or 'absolute', got {criterion!r}")
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self.criterion = criterion
        self.decrease_rtol = float(decrease_rtol)
        self.verbose = verbose
        self.name = name
        self.history: list[float] = []
        self._rows: list[tuple[int, float, float, float, float]] = []
        self.converged = False
        self._last_time = time.perf_counter()

    def restart_clock(self) -> None:
        """Start timing the next iteration now (call after initialisation)."""
        self._last_time = time.perf_counter()

    @property
    def n_iter(self) -> int:
        """Number of iterations recorded so far."""
        return len(self.history)

    def report(self, log_likelihood: float, *, converged: bool | None = None) -> bool:
        """Record the objective of one iteration; return whether the run should stop.

        Parameters
        ----------
        log_likelihood : float
            The objective at this iteration (log-likelihood, or the lower bound for VBEM).
        converged : bool, optional
            An engine-specific verdict (e.g. Salmon's per-transcript rule) that replaces the
            change-of-objective rule when given.

        Returns
        -------
        stop : bool
            True once converged or when ``max_iter`` iterations are recorded.
        """
        now = time.perf_counter()
        seconds, self._last_time = now - self._last_time, now
        value = float(log_likelihood)
        if not math.isfinite(value):
            delta = rel = math.nan
        elif self.history:
            previous = self.history[-1]
            delta = value - previous
            rel = abs(delta) / max(abs(value), np.finfo(float).tiny)
            if delta < -self.decrease_rtol * max(1.0, abs(value)):
                warnings.warn(
                    f"{self.name}: objective decreased at iteration {len(self.history) + 1} "
                    f"from {previous!r} to {value!r} (delta {delta:.3e}); EM never decreases "
                    "its objective, this is a bug",
                    LikelihoodDecreaseWarning, stacklevel=2)
        else:
            delta = rel = math.nan
        self.history.append(value)
        self._rows.append((len(self.history), value, delta, rel, seconds))
        if self.verbose:
            print(f"{self.name} iteration {len(self.history):5d}  objective {value: .10g}  "
                  f"delta {delta: .3e}  ({seconds:.3f} s)", file=sys.stderr)
        if converged is None:
            change = rel if self.criterion == "relative" else abs(delta)
            converged = len(self.history) > 1 and change < self.tol
        self.converged = bool(converged)
        return self.converged or len(self.history) >= self.max_iter

    def warn_if_not_converged(self, hint: str = "increase max_iter or tol") -> None:
        """Issue a :class:`ConvergenceWarning` if the run stopped at ``max_iter``."""
        if not self.converged:
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(f"{self.name} did not converge in {len(self.history)} iterations; "
                          f"{hint}", ConvergenceWarning, stacklevel=2)

    def to_frame(self) -> pd.DataFrame:
        """The convergence record, one row per iteration (:data:`CONVERGENCE_COLUMNS`)."""
        frame = pd.DataFrame(self._rows, columns=list(CONVERGENCE_COLUMNS))
        return frame.astype({"iteration": "int64"})

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the record as TSV (``convergence.tsv``), atomically."""
        from ..io.atomic import write_tsv

        write_tsv(self.to_frame(), path)


def read_convergence(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``convergence.tsv`` written by any emseq engine."""
    frame = pd.read_csv(path, sep="\t")
    missing = [c for c in CONVERGENCE_COLUMNS if c not in frame.columns]
    if missing:
        from ..errors import InputError

        raise InputError(f"{path}: not a convergence table, missing columns {missing}")
    return frame
