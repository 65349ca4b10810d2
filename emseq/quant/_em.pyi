import numpy as np
from numpy.typing import NDArray

def e_step(offsets: NDArray[np.int64], tids: NDArray[np.int32], weights: NDArray[np.float64],
           counts: NDArray[np.float64], theta: NDArray[np.float64],
           inv_efflen: NDArray[np.float64], out: NDArray[np.float64],
           n_threads: int = ...) -> float: ...
