"""``emseq.mixture.GaussianMixture``: a drop-in for ``sklearn.mixture.GaussianMixture``.

The E-step, the log-likelihood and the sufficient statistics of the M-step come from one fused
Cython pass over the samples (:mod:`emseq.mixture._kernels`); this module owns validation,
initialisation (the same as scikit-learn's, draw for draw), the closed-form M-step, the
iteration (through :mod:`emseq.em`: convergence record, SQUAREM, restarts) and the fitted
attributes. Beyond scikit-learn: ``sample_weight`` in ``fit``, exact handling of missing
values (``missing="marginalize"``), classification EM (``hard=True``), SQUAREM acceleration
(``acceleration="squarem"``), ``n_threads`` with results identical for any thread count, and
``convergence_``, the per-iteration record.
"""

from __future__ import annotations

import copy
import logging
import math
import numbers
import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import cholesky, solve_triangular
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._threads import resolve_threads
from ..em import ConvergenceMonitor, ConvergenceWarning, Squarem, best_of_restarts, run_em
from ..errors import FitError, InputError, UsageError
from . import _kernels
from . import _initialisation as _init
from ._blas import one_blas_thread
from ._dask import is_dask_array
from ._missing import MissingRows, missing_estep

__all__ = ["GaussianMixture", "DegenerateCovarianceError"]

logger = logging.getLogger(__name__)

_COV_CODES = {"full": 0, "tied": 1, "diag": 2, "spherical": 3}
_INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
_LOG_2PI = math.log(2.0 * math.pi)
# below this many rows per thread, waking another thread costs more than it saves
_MIN_ROWS_PER_THREAD = 16384


def _threads_for(n_threads: int, n_rows: int) -> int:
    """Threads worth using for ``n_rows`` (results do not depend on it: see _kernels.pyx)."""
    return max(1, min(n_threads, n_rows // _MIN_ROWS_PER_THREAD))


class DegenerateCovarianceError(FitError, ValueError):
    """A covariance is not positive definite even with ``reg_covar`` on its diagonal."""


_DEGENERATE = ("Fitting the mixture model failed because component {k} has an ill-defined "
               "covariance (singleton or collapsed samples, or a constant column); increase "
               "reg_covar (now {reg}), use fewer components, or scale the data")


# ------------------------------------------------------------------------------------------
# parameter transforms
# ------------------------------------------------------------------------------------------

def _precision_cholesky(cov: np.ndarray, cov_type: str, reg: float) -> np.ndarray:
    """Upper-triangular factors ``U`` with ``U U^T = inv(cov)`` (sqrt precisions for diag)."""
    if cov_type in ("full", "tied"):
        mats = cov if cov_type == "full" else cov[None]
        out = np.empty_like(mats)
        eye = np.eye(mats.shape[-1])
        for k, c in enumerate(mats):
            if not np.all(np.isfinite(c)):
                raise DegenerateCovarianceError(_DEGENERATE.format(k=k, reg=reg))
            try:
                low = cholesky(c, lower=True, check_finite=False)
            except np.linalg.LinAlgError:
                raise DegenerateCovarianceError(_DEGENERATE.format(k=k, reg=reg)) from None
            out[k] = solve_triangular(low, eye, lower=True, check_finite=False).T
        return out if cov_type == "full" else out[0]
    if not np.all(cov > 0.0) or not np.all(np.isfinite(cov)):
        k = int(np.argwhere(~(cov > 0.0) | ~np.isfinite(cov))[0][0])
        raise DegenerateCovarianceError(_DEGENERATE.format(k=k, reg=reg))
    return 1.0 / np.sqrt(cov)


def _precision_cholesky_from_precisions(prec: np.ndarray, cov_type: str) -> np.ndarray:
    if cov_type in ("full", "tied"):
        mats = prec if cov_type == "full" else prec[None]
        out = np.stack([np.flipud(np.fliplr(cholesky(np.flipud(np.fliplr(p)), lower=True)))
                        for p in mats])
        return out if cov_type == "full" else out[0]
    return np.sqrt(prec)


def _covariance_from_precision_cholesky(pc: np.ndarray, cov_type: str) -> np.ndarray:
    if cov_type in ("full", "tied"):
        mats = pc if cov_type == "full" else pc[None]
        eye = np.eye(mats.shape[-1])
        out = np.empty_like(mats)
        for k, u in enumerate(mats):
            inv_u = solve_triangular(u, eye, lower=False)  # U^{-1}
            out[k] = inv_u.T @ inv_u  # cov = (U U^T)^{-1} = U^{-T} U^{-1}
        return out if cov_type == "full" else out[0]
    return 1.0 / pc**2


def _full_covariances(cov: np.ndarray, cov_type: str, K: int, D: int) -> np.ndarray:
    """Every component's covariance as a (K, D, D) array."""
    if cov_type == "full":
        return cov
    if cov_type == "tied":
        return np.broadcast_to(cov, (K, D, D))
    if cov_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return cov[:, None, None] * np.eye(D)[None]


def _kernel_arrays(weights, means, pc, cov_type, center=None):
    """``means``, ``prec``, ``aux``, ``log_norm`` in the kernel's layouts (see _kernels._block).

    ``center`` (full covariance with BLAS only): any point near the data, subtracted from
    every row so the raw second moments lose no digits to the data's offset.
    """
    K, D = means.shape
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    aux = np.empty((0, K))
    kmeans = means
    if cov_type == "full":
        log_det = np.log(np.diagonal(pc, axis1=1, axis2=2)).sum(axis=1)
        if _kernels.uses_blas(D, 0, K):
            c = means.mean(axis=0) if center is None else center
            prec = pc.transpose(1, 0, 2).reshape(D, K * D)  # [U_1 ... U_K]
            kmeans = np.einsum("kt,ktj->kj", means - c, pc)
            aux = c[None, :]
        else:
            prec = pc.transpose(1, 2, 0)  # (D, D, K)
    elif cov_type == "tied":
        log_det = np.full(K, np.log(np.diag(pc)).sum())
        prec, aux = pc, (means @ pc).T
    else:
        if cov_type == "diag":
            log_det = np.log(pc).sum(axis=1)
            p = pc**2
        else:
            log_det = D * np.log(pc)
            p = np.broadcast_to((pc**2)[:, None], (K, D))
        if _kernels.uses_blas(D, _COV_CODES[cov_type], K):  # expanded form, see _kernels
            prec, aux = p, means * p
            log_det = log_det - 0.5 * np.sum(means * means * p, axis=1)
        else:
            prec = p.T
    log_norm = log_w + log_det - 0.5 * D * _LOG_2PI
    return (np.ascontiguousarray(kmeans, dtype=np.float64),
            np.ascontiguousarray(prec, dtype=np.float64).reshape(-1),
            np.ascontiguousarray(aux, dtype=np.float64),
            np.ascontiguousarray(log_norm, dtype=np.float64))


# ------------------------------------------------------------------------------------------
# the data of one fit, and one EM iteration
# ------------------------------------------------------------------------------------------

class _Problem:
    """Data of one fit: complete rows for the kernel, incomplete rows for the NumPy path."""

    def __init__(self, X: np.ndarray, sample_weight: np.ndarray | None, cov_type: str,
                 reg_covar: float, n_threads: int, hard: bool, missing_mask: np.ndarray | None,
                 center: np.ndarray | None = None, scatter: bool = True):
        self.cov_type = cov_type
        self.reg = float(reg_covar)
        self.hard = hard
        # statistics are float64 whatever X is, so the M-step's guard uses float64's eps
        # (float32's 1.2e-6 would bias the means enough to lower the log-likelihood)
        self.eps = float(np.finfo(np.float64).eps)
        self.n_samples, self.D = X.shape
        self.n_threads = n_threads = _threads_for(n_threads, self.n_samples)
        self.sw_all = sample_weight
        self.total_weight = float(self.n_samples if sample_weight is None else sample_weight.sum())
        if missing_mask is not None and missing_mask.any():
            inc = np.flatnonzero(missing_mask)
            comp = np.flatnonzero(~missing_mask)
            w = np.ones(self.n_samples) if sample_weight is None else sample_weight
            self.missing: MissingRows | None = MissingRows.from_data(X, inc, w[inc])
            self.X = np.ascontiguousarray(X[comp])
            self.sw = None if sample_weight is None else np.ascontiguousarray(sample_weight[comp])
        else:
            self.missing = None
            self.X = X
            self.sw = sample_weight
        self.sw_kernel = self.sw if self.sw is not None else np.empty(0)
        self.n_blocks = _kernels.n_blocks(self.X.shape[0])
        # ``center``: a point near the data (a chunk of a Dask array gets the global one)
        self.center = np.zeros(self.D) if center is None else np.asarray(center, np.float64)
        if center is None and self.X.shape[0]:
            self.center = np.average(self.X, axis=0, weights=self.sw).astype(np.float64)
        self.scatter = None
        if cov_type == "tied" and scatter:
            self.scatter = _scatter(self.X, self.sw_kernel, self.center, n_threads)

    def s2_size(self, K: int) -> int:
        return {"full": K * self.D * self.D, "tied": 0}.get(self.cov_type, K * self.D)

    def e_step(self, weights, means, pc, covariances, hard: bool | None = None):
        """Weighted objective sum and the statistics (nk, s1, s2) over all rows.

        ``hard`` overrides the problem's classification-EM flag (the k-means initialisation
        takes one hard step whatever the fit does).
        """
        hard = self.hard if hard is None else hard
        K, D = means.shape
        kmeans, prec, aux, log_norm = _kernel_arrays(weights, means, pc, self.cov_type,
                                                     self.center)
        B = self.n_blocks
        nk = np.zeros((B, K))
        s1 = np.zeros((B, K * D))
        s2 = np.zeros((B, self.s2_size(K)))
        ll = np.zeros(B)
        empty = np.empty(0)
        _kernels.estep(self.X, self.sw_kernel, kmeans, prec, aux, log_norm, _COV_CODES[self.cov_type], hard, True,
                       nk, s1, s2, ll, empty, np.empty((0, K), dtype=self.X.dtype),
                       np.empty(0, dtype=np.int64), self.n_threads)
        ll_sum = float(ll.sum())
        nk_t = nk.sum(axis=0)
        blas = _kernels.uses_blas(D, _COV_CODES[self.cov_type], K)
        if blas and self.cov_type in ("diag", "spherical"):
            # raw sums R^T x, R^T x^2 -> moments around the current means
            a1 = s1.sum(axis=0).reshape(K, D)
            a2 = s2.sum(axis=0).reshape(K, D)
            s1_t = a1 - nk_t[:, None] * means
            s2 = (a2 - 2.0 * means * a1 + nk_t[:, None] * means**2).reshape(1, -1)
        else:
            s1_t = s1.sum(axis=0).reshape(D, K).T
        if self.cov_type == "full" and blas:
            # raw sums around the centre c -> moments around the current means
            a1 = s1.sum(axis=0).reshape(K, D)
            if _kernels.full_uses_syrk(D):
                a2 = _symmetrize(s2.sum(axis=0).reshape(K, D, D))
            else:
                a2 = s2.sum(axis=0).reshape(D, K, D).transpose(1, 0, 2)
            mc = means - self.center
            s1_t = a1 - nk_t[:, None] * mc
            s2_t = (a2 - np.einsum("ki,kj->kij", mc, a1) - np.einsum("ki,kj->kij", a1, mc)
                    + np.einsum("k,ki,kj->kij", nk_t, mc, mc))
            s2_t = 0.5 * (s2_t + np.swapaxes(s2_t, 1, 2))
        elif self.cov_type == "full":
            s2_t = _symmetrize(s2.sum(axis=0).reshape(D, D, K).transpose(2, 0, 1))
        elif self.cov_type == "tied":
            s2_t = None
        elif blas:
            s2_t = s2.sum(axis=0).reshape(K, D)
        else:
            s2_t = s2.sum(axis=0).reshape(D, K).T
        tied_scatter = self.scatter
        if self.missing is not None:
            full_cov = _full_covariances(covariances, self.cov_type, K, D)
            m_ll, _, _, _, m_nk, m_s1, m_s2 = missing_estep(self.missing, weights, means,
                                                            full_cov, hard=hard)
            ll_sum += m_ll
            nk_t = nk_t + m_nk
            s1_t = s1_t + m_s1
            if self.cov_type == "full":
                s2_t = s2_t + m_s2
            elif self.cov_type == "tied":
                e = means - self.center
                tied_scatter = (self.scatter + m_s2.sum(axis=0)
                                + np.einsum("ki,kj->ij", e, m_s1)
                                + np.einsum("ki,kj->ij", m_s1, e)
                                + np.einsum("k,ki,kj->ij", m_nk, e, e))
            else:
                s2_t = s2_t + np.diagonal(m_s2, axis1=1, axis2=2)
        return ll_sum, nk_t, s1_t, s2_t, tied_scatter

    def m_step(self, means, nk, s1, s2, tied_scatter):
        """Closed-form M-step (scikit-learn's estimates, ``reg_covar`` on the diagonal)."""
        K, D = means.shape
        nke = nk + 10.0 * self.eps
        new_means = means + s1 / nke[:, None]
        coef = 2.0 / nke - nk / nke**2
        if self.cov_type == "full":
            cov = (s2 - coef[:, None, None] * np.einsum("ki,kj->kij", s1, s1)) / nke[:, None, None]
            cov[:, np.arange(D), np.arange(D)] += self.reg
        elif self.cov_type == "tied":
            e = new_means - self.center
            cov = (tied_scatter - np.einsum("k,ki,kj->ij", nk, e, e)) / nk.sum()
            cov = 0.5 * (cov + cov.T)
            cov[np.arange(D), np.arange(D)] += self.reg
        else:
            cov = (s2 - coef[:, None] * s1**2) / nke[:, None] + self.reg
            if self.cov_type == "spherical":
                cov = cov.mean(axis=1)
        weights = nke / nke.sum()
        return weights, new_means, cov


def _symmetrize(lower: np.ndarray) -> np.ndarray:
    upper = np.triu(np.swapaxes(lower, -1, -2), 1)
    return np.tril(lower) + upper


def _scatter(X, sw, center, n_threads):
    D = X.shape[1]
    out = np.zeros((_kernels.n_blocks(X.shape[0]), D * D))
    _kernels.scatter(X, sw, np.ascontiguousarray(center, dtype=np.float64), out, n_threads)
    return _symmetrize(out.sum(axis=0).reshape(D, D))


# ------------------------------------------------------------------------------------------
# the estimator
# ------------------------------------------------------------------------------------------

class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by EM, a drop-in for ``sklearn.mixture.GaussianMixture``.

    Same parameters, attributes and methods as scikit-learn's estimator; the E-step and the
    sufficient statistics run in one fused multithreaded Cython pass that never allocates an
    ``(n_samples, n_components)`` array during ``fit``.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        Covariance parameterisation.
    tol : float, default=1e-3
        Convergence threshold on the change of the mean per-sample log-likelihood.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of the covariances.
    max_iter : int, default=100
        Number of EM iterations to perform.
    n_init : int, default=1
        Number of initialisations; the best log-likelihood is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
        Initialisation method (the same draws as scikit-learn for a given ``random_state``).
    weights_init : array-like of shape (n_components,), default=None
        Initial weights.
    means_init : array-like of shape (n_components, n_features), default=None
        Initial means.
    precisions_init : array-like, default=None
        Initial precisions; shape as ``precisions_``.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation and of :meth:`sample`.
    warm_start : bool, default=False
        Start from the previous fit's parameters (``n_init`` then ignored).
    verbose : int, default=0
        Report each iteration on stderr when positive.
    verbose_interval : int, default=10
        Kept for compatibility (every iteration is recorded in ``convergence_``).
    n_threads : int or None, default=None
        OpenMP threads of the kernel; None means all available cores. Results are identical
        to the last bit for any number of threads.
    missing : {"error", "marginalize"}, default="error"
        ``"error"`` rejects NaN like scikit-learn; ``"marginalize"`` fits incomplete rows
        exactly: missing coordinates are integrated out in the E-step and replaced by their
        conditional expectations (plus conditional covariance) in the M-step.
    hard : bool, default=False
        Classification EM: each sample is assigned wholly to its most probable component and
        the objective is the classification log-likelihood (k-means is its isotropic,
        equal-variance limit).
    acceleration : {None, "squarem"}, default=None
        SQUAREM extrapolation (Varadhan & Roland 2008) with a monotone safeguard.
    client : distributed.Client, default=None
        Where ``fit`` on a ``dask.array`` runs (the options of ``emseq batch``): this client;
        else a client of ``scheduler``; else the current default client
        (``distributed.default_client()``); else an embedded ``LocalCluster`` of one
        single-threaded worker process per core, started and closed by ``fit``. Ignored for
        in-memory X. :func:`sklearn.base.clone` shares the client (a connection, not state).
    scheduler : str, default=None
        Address of a running Dask scheduler (``tcp://host:8786``) that ``fit`` on a
        ``dask.array`` joins for the fit; exclusive with ``client``.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        Shape ``(n_components, n_features, n_features)`` (full), ``(n_features, n_features)``
        (tied), ``(n_components, n_features)`` (diag) or ``(n_components,)`` (spherical).
    precisions_ : ndarray
        Inverses of the covariances, same shape.
    precisions_cholesky_ : ndarray
        Upper-triangular Cholesky factors of the precisions, same shape.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood (weighted by ``sample_weight``) at the last iteration of the best
        initialisation.
    lower_bounds_ : list of float
        The same at every iteration.
    convergence_ : pandas.DataFrame
        ``iteration, log_likelihood, delta, relative_delta, seconds`` of the best run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when ``X`` has string feature names.

    Examples
    --------
    >>> import numpy as np
    >>> from emseq.mixture import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> gm.means_
    array([[10.,  2.],
           [ 1.,  2.]])
    >>> gm.predict([[0, 0], [12, 3]])
    array([1, 0])
    """

    def __init__(self, n_components: int = 1, *,
                 covariance_type: Literal["full", "tied", "diag", "spherical"] = "full",
                 tol: float = 1e-3, reg_covar: float = 1e-6, max_iter: int = 100,
                 n_init: int = 1, init_params: str = "kmeans", weights_init=None,
                 means_init=None, precisions_init=None, random_state=None,
                 warm_start: bool = False, verbose: int = 0, verbose_interval: int = 10,
                 n_threads: int | None = None,
                 missing: Literal["error", "marginalize"] = "error", hard: bool = False,
                 acceleration: Literal["squarem"] | None = None, client=None,
                 scheduler: str | None = None) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads
        self.missing = missing
        self.hard = hard
        self.acceleration = acceleration
        self.client = client
        self.scheduler = scheduler

    # -------------------------------------------------------------------- validation
    def _check_params(self) -> None:
        def integer(name, low):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
                raise UsageError(f"{name} must be an integer >= {low}, got {value!r}")

        def real(name):
            value = getattr(self, name)
            if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                    or not value >= 0 or not math.isfinite(value)):
                raise UsageError(f"{name} must be a finite number >= 0, got {value!r}")

        integer("n_components", 1)
        integer("max_iter", 0)
        integer("n_init", 1)
        integer("verbose_interval", 1)
        real("tol")
        real("reg_covar")
        if self.covariance_type not in _COV_CODES:
            raise UsageError("covariance_type must be one of 'full', 'tied', 'diag', "
                             f"'spherical', got {self.covariance_type!r}")
        if self.init_params not in _INIT_PARAMS:
            raise UsageError(f"init_params must be one of {', '.join(map(repr, _INIT_PARAMS))}, "
                             f"got {self.init_params!r}")
        if self.missing not in ("error", "marginalize"):
            raise UsageError(f"missing must be 'error' or 'marginalize', got {self.missing!r}")
        if self.acceleration not in (None, "squarem"):
            raise UsageError(f"acceleration must be None or 'squarem', got {self.acceleration!r}")
        if not isinstance(self.hard, (bool, np.bool_)):
            raise UsageError(f"hard must be True or False, got {self.hard!r}")
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise UsageError(f"warm_start must be True or False, got {self.warm_start!r}")
        if self.scheduler is not None and not isinstance(self.scheduler, str):
            raise UsageError("scheduler must be an address like 'tcp://host:8786', got "
                             f"{self.scheduler!r} (pass a Client as client=)")
        if self.client is not None and self.scheduler is not None:
            raise UsageError("client and scheduler exclude each other; give one")

    def _without_client(self) -> "GaussianMixture":
        """A shallow copy with ``client=None``, to send to Dask workers (a ``Client`` does
        not pickle)."""
        model = copy.copy(self)
        model.client = None
        return model

    def __sklearn_clone__(self):
        """``clone`` deep-copies parameters; a ``distributed.Client`` cannot be copied and
        is a connection rather than state: the clone shares it."""
        client = self.client
        if client is None:
            return super().__sklearn_clone__()
        self.client = None
        try:
            new = super().__sklearn_clone__()
        finally:
            self.client = client
        new.client = client
        return new

    def _validate_X(self, X, *, reset: bool) -> np.ndarray:
        try:
            X = validate_data(self, X, dtype=[np.float64, np.float32], order="C",
                              ensure_all_finite=False, reset=reset,
                              ensure_min_samples=2 if reset else 1)
        except ValueError as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(" ".join(str(exc).split())) from None
        if np.isinf(X).any():
            i, j = np.argwhere(np.isinf(X))[0]
            raise InputError(f"X contains infinity (row {i}, column {j}); only finite values "
                             "are allowed")
        if self.missing != "marginalize" and np.isnan(X).any():
            i, j = np.argwhere(np.isnan(X))[0]
            raise InputError(f"X contains NaN (row {i}, column {j}); impute it first or pass "
                             "missing='marginalize' to integrate missing values out exactly")
        return X

    def _validate_sample_weight(self, sample_weight, n: int) -> np.ndarray | None:
        if sample_weight is None:
            return None
        try:
            w = np.asarray(sample_weight, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError("sample_weight must be numeric") from None
        if w.ndim == 0:
            w = np.full(n, float(w))
        if w.shape != (n,):
            raise InputError(f"sample_weight has shape {w.shape}, expected ({n},)")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InputError("sample_weight must be finite and non-negative")
        if w.sum() <= 0:
            raise InputError("sample_weight sums to zero; at least one sample needs weight > 0")
        return np.ascontiguousarray(w)

    def _user_init(self, n_features: int):
        K, cov_type = self.n_components, self.covariance_type
        weights = means = prec = None
        if self.weights_init is not None:
            weights = np.asarray(self.weights_init, dtype=np.float64)
            if weights.shape != (K,):
                raise UsageError(f"weights_init should have the shape {(K,)}, got {weights.shape}")
            if np.any(weights < 0) or np.any(weights > 1):
                raise UsageError("weights_init should be in the range [0, 1], got "
                                 f"min {weights.min():.5f} max {weights.max():.5f}")
            if not np.isclose(weights.sum(), 1.0, rtol=0, atol=1e-6):
                raise UsageError(f"weights_init should be normalized, got sum {weights.sum():.5f}")
        if self.means_init is not None:
            means = np.asarray(self.means_init, dtype=np.float64)
            if means.shape != (K, n_features):
                raise UsageError(f"means_init should have the shape {(K, n_features)}, got "
                                 f"{means.shape}")
        if self.precisions_init is not None:
            prec = np.asarray(self.precisions_init, dtype=np.float64)
            shape = {"full": (K, n_features, n_features), "tied": (n_features, n_features),
                     "diag": (K, n_features), "spherical": (K,)}[cov_type]
            if prec.shape != shape:
                raise UsageError(f"precisions_init should have the shape {shape} for "
                                 f"covariance_type={cov_type!r}, got {prec.shape}")
            if cov_type in ("full", "tied"):
                for p in (prec if cov_type == "full" else prec[None]):
                    if not (np.allclose(p, p.T) and np.all(np.linalg.eigvalsh(p) > 0)):
                        raise UsageError(f"'{cov_type} precision' should be symmetric, "
                                         "positive-definite")
            elif np.any(prec <= 0):
                raise UsageError(f"'{cov_type} precision' should be positive")
        return weights, means, prec

    # -------------------------------------------------------------------- initialisation
    def _initial_parameters(self, X, sw, problem: _Problem, rng, user):
        """(weights, means, covariances) as scikit-learn's ``_initialize_parameters``.

        Computed chunk by chunk (:mod:`emseq.mixture._initialisation`): no array of the size
        of X or of ``(n_samples, n_components)`` is allocated.
        """
        weights_u, means_u, prec_u = user
        K, cov_type = self.n_components, self.covariance_type
        cov = None
        if weights_u is None or means_u is None or prec_u is None:
            w0, means0, cov = self._initial_estimate(X, sw, problem, rng)
        weights = w0 if weights_u is None else weights_u
        means = means0 if means_u is None else means_u
        if prec_u is not None:
            pc = _precision_cholesky_from_precisions(prec_u, cov_type)
            cov = _covariance_from_precision_cholesky(pc, cov_type)
        assert cov is not None and weights.shape == (K,)
        return np.array(weights, dtype=np.float64), np.array(means, dtype=np.float64), cov

    def _initial_estimate(self, X, sw, problem: _Problem, rng):
        n, D = X.shape
        K, cov_type, reg = self.n_components, self.covariance_type, self.reg_covar
        n_threads = problem.n_threads

        def tied_scatter():
            if cov_type != "tied":
                return None
            return _scatter(X, np.empty(0) if sw is None else sw, np.zeros(D), n_threads)

        if self.init_params == "random":
            return _init.random_resp_parameters(X, sw, K, rng, reg, cov_type, tied_scatter())
        if self.init_params in ("random_from_data", "k-means++"):
            if self.init_params == "random_from_data":
                idx = rng.choice(n, size=K, replace=False)
            else:
                shift = _init.mean_and_tolerance(X)[0]
                _, idx = _init.kmeans_plusplus(X, K, sw, rng, shift, n_threads)
            return _init.seed_parameters(X, sw, idx, reg, cov_type, tied_scatter())
        centers = _init.kmeans_centers(X, K, sw, rng, n_threads)
        if problem.missing is not None:  # clusters of the imputed rows, as before
            labels = _init.labels_of(X, centers, n_threads)
            resp = sp.csr_matrix((np.ones(n), (np.arange(n), labels)), shape=(n, K))
            return _estimate_from_resp(X, sw, resp, reg, cov_type, problem)
        # one hard E-step at the centres (unit covariances, equal weights: nearest centre)
        eye = {"full": np.broadcast_to(np.eye(D), (K, D, D)).copy(), "tied": np.eye(D),
               "diag": np.ones((K, D)), "spherical": np.ones(K)}[cov_type]
        weights = np.full(K, 1.0 / K)
        _, nk, s1, s2, tied = problem.e_step(weights, centers, eye, eye, hard=True)
        eps = problem.eps
        problem.eps = _init._eps(X)  # scikit-learn's 10 * eps(X.dtype) at initialisation
        try:
            return problem.m_step(centers, nk, s1, s2, tied)
        finally:
            problem.eps = eps

    # -------------------------------------------------------------------- fitting
    def fit(self, X, y=None, sample_weight=None) -> "GaussianMixture":
        """Estimate the parameters with EM (``n_init`` restarts, the best kept).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; float32 stays float32. NaN allowed with ``missing="marginalize"``.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights (frequency weights: an integer weight equals repeating the row).

        Returns
        -------
        self : GaussianMixture
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None) -> np.ndarray:
        """Fit, then return the most probable component of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        X = self._fit(X, sample_weight)
        if is_dask_array(X):
            return self.predict(X)
        return self._evaluate(X, labels=True)["labels"]

    def _fit(self, X, sample_weight):
        if is_dask_array(X):
            return self._fit_dask(X, sample_weight)
        self._check_params()
        X = self._validate_X(X, reset=True)
        n, D = X.shape
        sw = self._validate_sample_weight(sample_weight, n)
        K = self.n_components
        if n < K:
            raise InputError(f"Expected n_samples >= n_components but got n_components = {K}, "
                             f"n_samples = {n}")
        user = self._user_init(D)
        nan_mask = np.isnan(X)
        missing_rows = nan_mask.any(axis=1) if self.missing == "marginalize" else None
        if missing_rows is not None and missing_rows.any():
            empty = np.flatnonzero(nan_mask.all(axis=1))
            if empty.size:
                raise InputError(f"row {empty[0]} of X has no observed value; drop rows that "
                                 "are entirely missing")
            empty = np.flatnonzero(nan_mask.all(axis=0))
            if empty.size:
                raise InputError(f"column {empty[0]} of X has no observed value; drop columns "
                                 "that are entirely missing")
            X_init = X.copy()
            col_means = np.array([np.average(X[~nan_mask[:, j], j],
                                             weights=None if sw is None else sw[~nan_mask[:, j]])
                                  for j in range(D)])
            X_init[nan_mask] = np.take(col_means, np.nonzero(nan_mask)[1])
        else:
            X_init = X
        n_threads = resolve_threads(self.n_threads)
        with one_blas_thread():
            problem = _Problem(X, sw, self.covariance_type, self.reg_covar, n_threads,
                               bool(self.hard), missing_rows)

            def initial(rng):
                return self._initial_parameters(X_init, sw, problem, rng, user)

            self._fit_problem(problem, initial, X.dtype)
        return X

    def _fit_dask(self, X, sample_weight):
        """EM on a ``dask.array``: chunks' statistics computed on the workers and summed."""
        from ._dask import DaskProblem, check_dask_options, dask_client

        self._check_params()
        check_dask_options(self, sample_weight)
        K = self.n_components
        with dask_client(self.client, self.scheduler) as client:
            problem = DaskProblem(X, self.covariance_type, self.reg_covar, bool(self.hard),
                                  client)
            if problem.n_samples < K:
                raise InputError(f"Expected n_samples >= n_components but got n_components = "
                                 f"{K}, n_samples = {problem.n_samples}")
            user = self._user_init(problem.D)
            self.n_features_in_ = problem.D
            self.__dict__.pop("feature_names_in_", None)
            cache: dict[str, Any] = {}

            def initial(rng):
                if all(u is not None for u in user):
                    return self._initial_parameters(None, None, None, rng, user)
                if "sample" not in cache:
                    rows = problem.sample(rng)
                    cache["sample"] = rows, _Problem(
                        rows, None, self.covariance_type, self.reg_covar,
                        resolve_threads(self.n_threads), bool(self.hard), None)
                rows, sample_problem = cache["sample"]
                return self._initial_parameters(rows, None, sample_problem, rng, user)

            with one_blas_thread():
                self._fit_problem(problem, initial, problem.dtype)
        return X

    def _fit_problem(self, problem, initial, dtype) -> None:
        """Restarts, EM runs and the fitted attributes, for any ``problem`` with ``e_step``,
        ``m_step``, ``total_weight`` and ``D`` (in memory, or chunks on Dask workers)."""
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        rng = check_random_state(self.random_state)

        def fit_once(i):
            if do_init:
                start = initial(rng)
            else:
                start = (self.weights_.astype(np.float64), self.means_.astype(np.float64),
                         self.covariances_.astype(np.float64))
            return self._run(problem, start)

        result = best_of_restarts(fit_once, n_init, lambda r: r[2])
        (weights, means, cov), monitor, _ = result
        if not monitor.converged and self.max_iter > 0:
            warnings.warn("Best performing initialization did not converge. Try different init "
                          "parameters, or increase max_iter, tol, or check for degenerate data.",
                          ConvergenceWarning, stacklevel=4)
        pc = _precision_cholesky(cov, self.covariance_type, self.reg_covar)
        self.weights_ = weights.astype(dtype)
        self.means_ = means.astype(dtype)
        self.covariances_ = cov.astype(dtype)
        self.precisions_cholesky_ = pc.astype(dtype)
        if self.covariance_type == "full":
            self.precisions_ = np.einsum("kij,klj->kil", pc, pc).astype(dtype)
        elif self.covariance_type == "tied":
            self.precisions_ = (pc @ pc.T).astype(dtype)
        else:
            self.precisions_ = (pc**2).astype(dtype)
        self.converged_ = bool(monitor.converged)
        self.n_iter_ = monitor.n_iter
        self.lower_bounds_ = list(monitor.history)
        self.lower_bound_ = monitor.history[-1] if monitor.history else -np.inf
        self._convergence_monitor = monitor  # the frame is built on first access
        self._convergence_frame = None
        self._fit_params = (weights, means, cov, pc)

    def _run(self, problem: _Problem, start):
        """One EM run from ``start``; returns ((weights, means, cov), monitor, lower_bound)."""
        K, D, cov_type = self.n_components, problem.D, self.covariance_type
        monitor = ConvergenceMonitor(tol=self.tol, max_iter=max(self.max_iter, 1),
                                     criterion="absolute", verbose=bool(self.verbose),
                                     name="GaussianMixture")
        weights, means, cov = start
        if self.max_iter == 0:
            return (weights, means, cov), monitor, -np.inf
        cov_shape = cov.shape
        sizes = np.cumsum([K, K * D])

        def unpack(theta):
            return theta[:K], theta[K:sizes[1]].reshape(K, D), theta[sizes[1]:].reshape(cov_shape)

        def step(theta):
            w, mu, c = unpack(theta)
            pc = _precision_cholesky(c, cov_type, self.reg_covar)
            ll_sum, nk, s1, s2, tied = problem.e_step(w, mu, pc, c)
            objective = ll_sum / problem.total_weight
            nw, nmu, ncov = problem.m_step(mu, nk, s1, s2, tied)
            return np.concatenate([nw, nmu.ravel(), ncov.ravel()]), objective

        def project(theta):
            w, _, c = unpack(theta)
            if np.any(w < 0):
                return None
            if cov_type in ("diag", "spherical") and np.any(c <= 0):
                return None
            theta = theta.copy()
            theta[:K] /= theta[:K].sum()
            return theta

        theta0 = np.concatenate([weights, means.ravel(), cov.ravel()])
        accel = Squarem(project=project) if self.acceleration == "squarem" else None
        theta = run_em(step, theta0, monitor, acceleration=accel)
        w, mu, c = unpack(theta)
        return (w.copy(), mu.copy(), c.copy()), monitor, monitor.history[-1]

    @property
    def convergence_(self) -> pd.DataFrame:
        """``iteration, log_likelihood, delta, relative_delta, seconds`` of the best run.

        Built on first access (a DataFrame costs more than a whole fit of a small data set).
        """
        frame = self.__dict__.get("_convergence_frame")
        if frame is not None:
            return frame
        monitor = self.__dict__.get("_convergence_monitor")
        if monitor is None:
            raise AttributeError("'GaussianMixture' object has no attribute 'convergence_' "
                                 "(not fitted yet)")
        self._convergence_frame = monitor.to_frame()
        return self._convergence_frame

    def save(self, path) -> None:
        """Write the fitted model to ``path`` as ``.npz`` (no pickle; see
        :mod:`emseq.mixture._persistence` for the layout).

        Parameters
        ----------
        path : str or path-like
        """
        from ._persistence import save_model

        check_is_fitted(self)
        save_model(self, path)

    @classmethod
    def load(cls, path) -> "GaussianMixture":
        """Read a model written by :meth:`save` (any emseq with the same model format).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        model : GaussianMixture
            Fitted: ``predict``, ``score_samples``... work at once.
        """
        from ._persistence import load_model

        return load_model(cls, path)

    # -------------------------------------------------------------------- evaluation
    def _evaluate(self, X, *, ll_rows=False, resp=False, labels=False) -> dict[str, Any]:
        """Per-row outputs of the fitted model on validated ``X``."""
        weights, means, cov, pc = self._fit_params
        n, D = X.shape
        K = means.shape[0]
        cov_type = self.covariance_type
        nan_rows = np.isnan(X).any(axis=1) if self.missing == "marginalize" else None
        if nan_rows is not None and nan_rows.any():
            comp = np.flatnonzero(~nan_rows)
            Xk = np.ascontiguousarray(X[comp])
        else:
            comp, Xk = None, X
        out: dict[str, Any] = {}
        ll = np.empty(Xk.shape[0]) if ll_rows else np.empty(0)
        rs = np.empty((Xk.shape[0], K), dtype=X.dtype) if resp else np.empty((0, K), X.dtype)
        lab = np.empty(Xk.shape[0], dtype=np.int64) if labels else np.empty(0, np.int64)
        kmeans, prec, aux, log_norm = _kernel_arrays(weights, means, pc, cov_type)
        B = _kernels.n_blocks(Xk.shape[0])
        n_threads = _threads_for(resolve_threads(self.n_threads), Xk.shape[0])
        with one_blas_thread():
            _kernels.estep(Xk, np.empty(0), kmeans, prec, aux, log_norm,
                           _COV_CODES[cov_type], False, False, np.zeros((B, K)),
                           np.zeros((B, 0)), np.zeros((B, 0)), np.zeros(B), ll, rs, lab,
                           n_threads)
        if comp is None:
            if ll_rows:
                out["ll_rows"] = ll
            if resp:
                out["resp"] = rs
            if labels:
                out["labels"] = lab
            return out
        inc = np.flatnonzero(nan_rows)
        rows = MissingRows.from_data(X, inc, np.ones(inc.size))
        _, m_ll, m_resp, m_lab, _, _, _ = missing_estep(
            rows, weights, means, _full_covariances(cov, cov_type, K, D), want_stats=False)
        if ll_rows:
            full = np.empty(n)
            full[comp], full[inc] = ll, m_ll
            out["ll_rows"] = full
        if resp:
            full = np.empty((n, K), dtype=X.dtype)
            full[comp], full[inc] = rs, m_resp
            out["resp"] = full
        if labels:
            full = np.empty(n, dtype=np.int64)
            full[comp], full[inc] = lab, m_lab
            out["labels"] = full
        return out

    def score_samples(self, X) -> np.ndarray:
        """Log-likelihood of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        if is_dask_array(X):
            return self._map_dask(X, "score_samples")
        X = self._validate_X(X, reset=False)
        return self._evaluate(X, ll_rows=True)["ll_rows"]

    def _map_dask(self, X, method: str):
        """``method`` chunk by chunk on a dask array (lazy; a dask array is returned)."""
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputError(f"X has {X.shape[-1]} features, but GaussianMixture is expecting "
                             f"{self.n_features_in_} features as input")
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})
        fitted = self._without_client()

        def apply(block):
            return getattr(fitted, method)(np.asarray(block))

        if method == "predict_proba":
            dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
            return X.map_blocks(apply, chunks=(X.chunks[0], (self.n_components,)),
                                dtype=dtype)
        dtype = np.int64 if method == "predict" else np.float64
        return X.map_blocks(apply, drop_axis=1, dtype=dtype)

    def score(self, X, y=None) -> float:
        """Mean per-sample log-likelihood of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        log_likelihood : float
        """
        values = self.score_samples(X)
        return float(values.mean().compute() if is_dask_array(values) else np.mean(values))

    def predict(self, X) -> np.ndarray:
        """Most probable component of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        if is_dask_array(X):
            return self._map_dask(X, "predict")
        X = self._validate_X(X, reset=False)
        return self._evaluate(X, labels=True)["labels"]

    def predict_proba(self, X) -> np.ndarray:
        """Posterior probability of each component for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        if is_dask_array(X):
            return self._map_dask(X, "predict_proba")
        X = self._validate_X(X, reset=False)
        return self._evaluate(X, resp=True)["resp"]

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw samples from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component of each sample.
        """
        check_is_fitted(self)
        if n_samples < 1:
            raise UsageError(f"Invalid value for 'n_samples': {n_samples}. The sampling "
                             "requires at least one sample.")
        _, n_features = self.means_.shape
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_.astype(np.float64))
        if self.covariance_type == "full":
            X = np.vstack([rng.multivariate_normal(m, c, int(s))
                           for m, c, s in zip(self.means_, self.covariances_, counts)])
        elif self.covariance_type == "tied":
            X = np.vstack([rng.multivariate_normal(m, self.covariances_, int(s))
                           for m, s in zip(self.means_, counts)])
        else:
            X = np.vstack([m + rng.standard_normal(size=(s, n_features)) * np.sqrt(c)
                           for m, c, s in zip(self.means_, self.covariances_, counts)])
        y = np.concatenate([np.full(int(s), k, dtype=np.int64) for k, s in enumerate(counts)])
        return X, y

    def _n_parameters(self) -> int:
        _, D = self.means_.shape
        K = self.n_components
        cov_params = {"full": K * D * (D + 1) / 2.0, "diag": K * D,
                      "tied": D * (D + 1) / 2.0, "spherical": K}[self.covariance_type]
        return int(cov_params + D * K + K - 1)

    def bic(self, X) -> float:
        """Bayesian information criterion of the model on ``X`` (lower is better)."""
        X = np.asarray(X) if not hasattr(X, "shape") else X
        return -2 * self.score(X) * X.shape[0] + self._n_parameters() * math.log(X.shape[0])

    def aic(self, X) -> float:
        """Akaike information criterion of the model on ``X`` (lower is better)."""
        X = np.asarray(X) if not hasattr(X, "shape") else X
        return -2 * self.score(X) * X.shape[0] + 2 * self._n_parameters()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "marginalize"
        return tags


def _estimate_from_resp(X, sw, resp, reg, cov_type, problem: _Problem):
    """scikit-learn's ``_estimate_gaussian_parameters`` for the initial responsibilities.

    ``resp`` is dense (``init_params="random"``) or a sparse one-hot matrix (the other
    methods), which avoids an ``(n_samples, n_components)`` array.
    """
    n, D = X.shape
    K = resp.shape[1]
    eps = float(np.finfo(X.dtype).eps)  # as scikit-learn at initialisation
    w = np.ones(n) if sw is None else sw
    if sp.issparse(resp):
        rw = sp.csc_matrix(sp.diags(w) @ resp)
    else:
        rw = resp.astype(np.float64) * w[:, None]
    nk = np.asarray(rw.sum(axis=0)).ravel() + 10 * eps
    means = np.asarray(rw.T @ X, dtype=np.float64) / nk[:, None]

    def column(k):
        if sp.issparse(rw):
            lo, hi = rw.indptr[k], rw.indptr[k + 1]
            return rw.indices[lo:hi], rw.data[lo:hi]
        return slice(None), rw[:, k]

    if cov_type == "full":
        cov = np.empty((K, D, D))
        for k in range(K):
            rows, r = column(k)
            diff = np.asarray(X[rows], dtype=np.float64) - means[k]
            cov[k] = (r * diff.T) @ diff / nk[k]
            cov[k].flat[:: D + 1] += reg
    elif cov_type == "tied":
        xtx = _scatter(X, np.empty(0) if sw is None else sw, np.zeros(D), problem.n_threads)
        cov = (xtx - (nk * means.T) @ means) / nk.sum()
        cov.flat[:: D + 1] += reg
    else:
        cov = np.empty((K, D))
        for k in range(K):
            rows, r = column(k)
            xk = np.asarray(X[rows], dtype=np.float64)
            cov[k] = (r @ (xk * xk)) / nk[k] - means[k] ** 2 + reg
        if cov_type == "spherical":
            cov = cov.mean(axis=1)
    # scikit-learn keeps nk / n_samples here, which sums to K / n_samples for the seed-based
    # methods (k-means++, random_from_data) and to 1 + O(eps) otherwise; emseq normalises so
    # the first recorded log-likelihood is that of a proper mixture (later iterations agree).
    weights = nk / nk.sum()
    return weights, means, cov
