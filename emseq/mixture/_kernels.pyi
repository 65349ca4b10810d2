"""Type stubs for :mod:`emseq.mixture._kernels` (the fused E-step of a Gaussian mixture)."""

import numpy as np
from numpy.typing import NDArray

def exp_neg(x: NDArray[np.float64]) -> NDArray[np.float64]: ...
def n_blocks(n_samples: int) -> int: ...
def full_uses_syrk(n_features: int) -> bool: ...
def uses_blas(n_features: int, cov: int, n_components: int) -> bool: ...
def estep(
    X: NDArray[np.floating],
    sample_weight: NDArray[np.float64],
    means: NDArray[np.float64],
    prec: NDArray[np.float64],
    aux: NDArray[np.float64],
    log_norm: NDArray[np.float64],
    cov: int,
    hard: bool,
    want_stats: bool,
    nk: NDArray[np.float64],
    s1: NDArray[np.float64],
    s2: NDArray[np.float64],
    ll_sum: NDArray[np.float64],
    ll_rows: NDArray[np.float64],
    resp: NDArray[np.floating],
    labels: NDArray[np.int64],
    n_threads: int,
) -> None: ...
def scatter(
    X: NDArray[np.floating],
    sample_weight: NDArray[np.float64],
    center: NDArray[np.float64],
    out: NDArray[np.float64],
    n_threads: int,
) -> None: ...
