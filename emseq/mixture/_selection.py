"""``emseq.mixture.select``: fit a grid of mixtures (numbers of components x covariance types)
and keep the one with the lowest BIC or AIC.

Every fit of the grid is independent; they run on threads (the kernels release the GIL) or
on a Dask client's workers (X sent once with ``scatter``). Each fit gets the same
``random_state`` (an int), as a grid search would, so the table does not depend on where or
in what order the fits ran.
"""

from __future__ import annotations

import math
import numbers
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .._threads import resolve_threads
from ..errors import UsageError
from ._dask import is_dask_array
from ._gmm import _COV_CODES, GaussianMixture

__all__ = ["SELECTION_COLUMNS", "select"]

#: columns of the table returned by :func:`select` (and of ``selection.tsv``)
SELECTION_COLUMNS = ("n_components", "covariance_type", "log_likelihood", "n_parameters",
                     "bic", "aic", "converged", "n_iter", "seconds")


def _fit_one(X, sample_weight, params: dict[str, Any]):
    """Fit one model of the grid; returns (model, row of the table)."""
    start = time.perf_counter()
    gm = GaussianMixture(**params).fit(X, sample_weight=sample_weight)
    seconds = time.perf_counter() - start
    n = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    ll_rows = gm.score_samples(X)
    if is_dask_array(ll_rows):  # on the fit's client (the default one when none was given)
        total = float(ll_rows.sum().compute() if gm.client is None
                      else gm.client.compute(ll_rows.sum()).result())
    else:
        total = float(np.dot(ll_rows, sample_weight) if sample_weight is not None
                      else ll_rows.sum())
    p = gm._n_parameters()
    row = dict(n_components=gm.n_components, covariance_type=gm.covariance_type,
               log_likelihood=total, n_parameters=p, bic=-2.0 * total + p * math.log(n),
               aic=-2.0 * total + 2.0 * p, converged=bool(gm.converged_), n_iter=gm.n_iter_,
               seconds=seconds)
    return gm, row


def _as_list(values, name: str) -> list:
    if isinstance(values, (str, numbers.Integral)):
        return [values]
    values = list(values)
    if not values:
        raise UsageError(f"{name} is empty; give at least one value")
    return values


def select(X, n_components: int | Iterable[int] = range(1, 11),
           covariance_type: str | Sequence[str] = "full", *, criterion: str = "bic",
           sample_weight=None, n_jobs: int | None = None, client=None,
           **params) -> tuple[GaussianMixture, pd.DataFrame]:
    """Fit every (number of components, covariance type) and keep the best by BIC or AIC.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int or iterable of int, default=range(1, 11)
    covariance_type : str or sequence of str, default="full"
        Any of "full", "tied", "diag", "spherical".
    criterion : {"bic", "aic"}, default="bic"
        Lower is better; ties go to the simpler model (fewer parameters, then earlier in
        the grid).
    sample_weight : array-like of shape (n_samples,), default=None
        Frequency weights (the criteria then count ``sum(sample_weight)`` samples).
    n_jobs : int or None, default=None
        Fits run at once on threads; None means one per available core. The cores are
        shared: each fit gets ``n_threads = max(1, cores // n_jobs)`` unless ``n_threads``
        is given in ``params``.
    client : distributed.Client, optional
        Run the fits on this Dask client's workers instead of local threads. When ``X`` is a
        ``dask.array`` the fits run one after the other, each of them on the workers (the
        client, else as :class:`GaussianMixture`'s ``client`` says).
    **params
        Any other :class:`GaussianMixture` parameter (``n_init``, ``random_state``, ``tol``,
        ``max_iter``, ``init_params``...), the same for every fit.

    Returns
    -------
    best : GaussianMixture
        The fitted model with the lowest criterion.
    table : pandas.DataFrame
        One row per fit, in grid order (:data:`SELECTION_COLUMNS`); the column ``best`` marks
        the chosen model.

    Examples
    --------
    >>> import numpy as np
    >>> from emseq.mixture import select
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2))])
    >>> best, table = select(X, n_components=range(1, 5), random_state=0)
    >>> best.n_components
    2
    """
    if criterion not in ("bic", "aic"):
        raise UsageError(f"criterion must be 'bic' or 'aic', got {criterion!r}")
    ks = _as_list(n_components, "n_components")
    for k in ks:
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
            raise UsageError(f"n_components must be integers >= 1, got {k!r}")
    covs = _as_list(covariance_type, "covariance_type")
    for c in covs:
        if c not in _COV_CODES:
            raise UsageError("covariance_type must be among 'full', 'tied', 'diag', "
                             f"'spherical', got {c!r}")
    for reserved in ("n_components", "covariance_type"):
        params.pop(reserved, None)
    rs = params.get("random_state")
    if rs is not None and not isinstance(rs, numbers.Integral):
        # one draw, the same for every fit: results do not depend on the order of the fits
        params["random_state"] = int(np.random.RandomState(rs).randint(2**31 - 1)) \
            if not isinstance(rs, np.random.RandomState) else int(rs.randint(2**31 - 1))
    grid = [dict(params, n_components=int(k), covariance_type=c) for c in covs for k in ks]
    lazy = is_dask_array(X)
    X_checked = X if lazy or hasattr(X, "columns") else \
        GaussianMixture()._validate_X(X, reset=True)
    if lazy:
        results = [_fit_one(X, sample_weight, dict(g, client=client)) for g in grid]
    elif client is not None:
        results = _run_on_client(client, X_checked, sample_weight, grid)
    else:
        jobs = min(len(grid), resolve_threads(n_jobs))
        per_fit = max(1, resolve_threads(None) // jobs)
        for g in grid:
            g.setdefault("n_threads", per_fit)
        if jobs == 1:
            results = [_fit_one(X_checked, sample_weight, g) for g in grid]
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                results = list(pool.map(lambda g: _fit_one(X_checked, sample_weight, g), grid))
    table = pd.DataFrame([row for _, row in results], columns=list(SELECTION_COLUMNS))
    scores = table[criterion].to_numpy()
    order = np.lexsort((np.arange(len(table)), table["n_parameters"].to_numpy(), scores))
    best = int(order[0])
    table["best"] = np.arange(len(table)) == best
    return results[best][0], table


def _run_on_client(client, X, sample_weight, grid):
    data = client.scatter(X, broadcast=False)
    weights = None if sample_weight is None else client.scatter(sample_weight)
    futures = [client.submit(_fit_one, data, weights, g, pure=False,
                             key=f"emseq-select-{g['covariance_type']}-{g['n_components']}-"
                                 f"{time.monotonic_ns()}", retries=1)
               for g in grid]
    return client.gather(futures)
