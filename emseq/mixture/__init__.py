"""Gaussian mixtures fitted by EM with fused Cython kernels (a scikit-learn drop-in).

:class:`GaussianMixture` has scikit-learn's parameters, attributes and methods, plus
``sample_weight``, exact missing-value handling, classification EM, SQUAREM acceleration,
``n_threads``, the per-iteration record ``convergence_``, ``save``/``load`` (``.npz``, no
pickle), and ``fit`` on a ``dask.array`` (EM on the workers). :func:`select` fits a grid of
numbers of components and covariance types and keeps the best by BIC or AIC.
"""

from ._gmm import DegenerateCovarianceError, GaussianMixture
from ._selection import select

__all__ = ["DegenerateCovarianceError", "GaussianMixture", "select"]
