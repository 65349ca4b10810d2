"""Gaussian mixtures fitted by EM with fused Cython kernels (a scikit-learn drop-in).

:class:`GaussianMixture` has scikit-learn's parameters, attributes and methods, plus
``sample_weight``, exact missing-value handling, classification EM, SQUAREM acceleration,
``n_threads`` and the per-iteration record ``convergence_``.
"""

from ._gmm import DegenerateCovarianceError, GaussianMixture

__all__ = ["DegenerateCovarianceError", "GaussianMixture"]
