"""The EM core every engine shares.

- :class:`ConvergenceMonitor` records one row per iteration (``iteration, log_likelihood,
  delta, relative_delta, seconds``), decides convergence, warns when ``max_iter`` is reached
  (:class:`ConvergenceWarning`) and when the objective decreases beyond round-off
  (:class:`LikelihoodDecreaseWarning`, an error in emseq's tests: a decrease is a bug).
- :func:`run_em` iterates an engine's EM step under a monitor, plainly or with
  SQUAREM acceleration (:class:`Squarem`, safeguarded so the objective never decreases).
- :func:`best_of_restarts` runs a fit ``n_init`` times and keeps the best.
"""

from .monitor import (
    CONVERGENCE_COLUMNS,
    ConvergenceMonitor,
    LikelihoodDecreaseWarning,
    read_convergence,
)
from .driver import EMStep, Squarem, best_of_restarts, run_em


def __getattr__(name: str):
    if name == "ConvergenceWarning":  # scikit-learn's, imported on first use (see monitor)
        from . import monitor

        return monitor.ConvergenceWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CONVERGENCE_COLUMNS",
    "ConvergenceMonitor",
    "ConvergenceWarning",
    "LikelihoodDecreaseWarning",
    "read_convergence",
    "EMStep",
    "Squarem",
    "best_of_restarts",
    "run_em",
]
