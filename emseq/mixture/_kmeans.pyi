"""Type stubs for :mod:`emseq.mixture._kmeans` (chunked k-means kernels of the initialisation)."""

import numpy as np
from numpy.typing import NDArray

def n_blocks(n_samples: int) -> int: ...
def assign(
    X: NDArray[np.floating],
    sample_weight: NDArray[np.float64],
    shift: NDArray[np.float64],
    centers: NDArray[np.float64],
    counts: NDArray[np.float64],
    sums: NDArray[np.float64],
    inertia: NDArray[np.float64],
    closest: NDArray[np.float64],
    labels: NDArray[np.int64],
    closest_mode: int,
    n_threads: int,
) -> None: ...
def potentials(
    X: NDArray[np.floating],
    sample_weight: NDArray[np.float64],
    shift: NDArray[np.float64],
    candidates: NDArray[np.float64],
    closest: NDArray[np.float64],
    pot: NDArray[np.float64],
    n_threads: int,
) -> None: ...
def weighted_searchsorted(
    closest: NDArray[np.float64],
    sample_weight: NDArray[np.float64],
    targets: NDArray[np.float64],
    out: NDArray[np.int64],
) -> None: ...
