"""Saved Gaussian mixtures: a NumPy ``.npz`` archive with no pickled object in it.

Layout of ``model.npz`` (format ``emseq.mixture.GaussianMixture`` version 1), read with
``numpy.load(path, allow_pickle=False)``:

- ``metadata``: a 0-d unicode array holding JSON: ``format``, ``format_version``,
  ``emseq_version``, ``covariance_type``, ``n_components``, ``n_features``,
  ``feature_names`` (list of str or null), ``params`` (the estimator's scalar parameters),
  ``converged``, ``n_iter``, ``lower_bound``;
- ``weights`` (K,), ``means`` (K, D), ``covariances`` (shape as ``covariances_``),
  ``precisions_cholesky`` (same shape), float64 whatever the training dtype (``dtype`` in
  the metadata);
- ``convergence``: (n_iter, 5) float64, the columns of ``convergence_``.

Any program that reads ``.npz`` and JSON can use the model; ``GaussianMixture.load`` checks the
format, its version, the shapes and that the covariances are positive definite.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..em.monitor import CONVERGENCE_COLUMNS
from ..errors import InputError

__all__ = ["FORMAT", "FORMAT_VERSION", "load_model", "save_model"]

FORMAT = "emseq.mixture.GaussianMixture"
FORMAT_VERSION = 1
_SCALAR_PARAMS = ("n_components", "covariance_type", "tol", "reg_covar", "max_iter", "n_init",
                  "init_params", "random_state", "warm_start", "verbose", "verbose_interval",
                  "n_threads", "missing", "hard", "acceleration")


def save_model(gm, path: str | os.PathLike[str]) -> None:
    """Write the fitted ``gm`` to ``path`` (``.npz``), atomically."""
    from ..io.atomic import atomic_write

    weights, means, cov, pc = gm._fit_params
    names = getattr(gm, "feature_names_in_", None)
    params = {}
    for key in _SCALAR_PARAMS:
        value = getattr(gm, key)
        if isinstance(value, (np.integer, np.floating, np.bool_)):
            value = value.item()
        if key == "random_state" and not (value is None or isinstance(value, int)):
            value = None  # a generator object is not part of a portable model
        params[key] = value
    meta = dict(format=FORMAT, format_version=FORMAT_VERSION, emseq_version=__version__,
                covariance_type=gm.covariance_type, n_components=int(means.shape[0]),
                n_features=int(means.shape[1]),
                feature_names=None if names is None else [str(n) for n in names],
                dtype=str(gm.means_.dtype), params=params, converged=bool(gm.converged_),
                n_iter=int(gm.n_iter_), lower_bound=float(gm.lower_bound_))
    try:
        convergence = gm.convergence_[list(CONVERGENCE_COLUMNS)].to_numpy(dtype=np.float64)
    except AttributeError:
        convergence = np.empty((0, len(CONVERGENCE_COLUMNS)))
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        np.savez(handle, metadata=np.array(json.dumps(meta)), weights=weights, means=means,
                 covariances=cov, precisions_cholesky=pc, convergence=convergence)


def load_model(cls, path: str | os.PathLike[str]):
    """Read a model written by :func:`save_model`; raises InputError naming what is wrong."""
    from ._gmm import _precision_cholesky

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not an emseq model (.npz without pickles): {exc}") from None
    try:
        meta = json.loads(str(arrays["metadata"]))
    except (KeyError, json.JSONDecodeError):
        raise InputError(f"{path}: not an emseq model (no readable 'metadata' entry)") from None
    if meta.get("format") != FORMAT:
        raise InputError(f"{path}: not an emseq Gaussian mixture (format {meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{path}: model format version {meta.get('format_version')!r} "
                         f"(written by emseq {meta.get('emseq_version')}); this emseq "
                         f"{__version__} reads version {FORMAT_VERSION}: refit the model")
    cov_type = meta["covariance_type"]
    K, D = meta["n_components"], meta["n_features"]
    shapes = {"weights": (K,), "means": (K, D),
              "covariances": {"full": (K, D, D), "tied": (D, D), "diag": (K, D),
                              "spherical": (K,)}.get(cov_type)}
    for key, shape in shapes.items():
        if key not in arrays or arrays[key].shape != shape:
            got = arrays[key].shape if key in arrays else "nothing"
            raise InputError(f"{path}: '{key}' has shape {got}, expected {shape} for "
                             f"{K} {cov_type} components in {D} features")
    params = dict(meta["params"])
    gm = cls(**params)
    weights = arrays["weights"].astype(np.float64)
    means = arrays["means"].astype(np.float64)
    cov = arrays["covariances"].astype(np.float64)
    try:
        pc = _precision_cholesky(cov, cov_type, gm.reg_covar)
    except Exception:
        raise InputError(f"{path}: a covariance is not positive definite") from None
    dtype = np.dtype(meta.get("dtype", "float64"))
    gm.weights_ = weights.astype(dtype)
    gm.means_ = means.astype(dtype)
    gm.covariances_ = cov.astype(dtype)
    gm.precisions_cholesky_ = pc.astype(dtype)
    if cov_type == "full":
        gm.precisions_ = np.einsum("kij,klj->kil", pc, pc).astype(dtype)
    elif cov_type == "tied":
        gm.precisions_ = (pc @ pc.T).astype(dtype)
    else:
        gm.precisions_ = (pc**2).astype(dtype)
    gm.converged_ = bool(meta["converged"])
    gm.n_iter_ = int(meta["n_iter"])
    gm.lower_bound_ = float(meta["lower_bound"])
    conv = arrays.get("convergence", np.empty((0, len(CONVERGENCE_COLUMNS))))
    gm.lower_bounds_ = [float(v) for v in conv[:, 1]] if conv.size else [gm.lower_bound_]
    gm.n_features_in_ = D
    if meta.get("feature_names"):
        gm.feature_names_in_ = np.array(meta["feature_names"], dtype=object)
    frame = pd.DataFrame(conv, columns=list(CONVERGENCE_COLUMNS)).astype({"iteration": "int64"})
    gm._convergence_monitor = None
    gm._convergence_frame = frame
    gm._fit_params = (weights, means, cov, pc)
    return gm
