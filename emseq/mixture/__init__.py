"""Gaussian mixtures fitted by EM with fused Cython kernels (a scikit-learn drop-in)."""

from ._gmm import GaussianMixture

__all__ = ["GaussianMixture"]
