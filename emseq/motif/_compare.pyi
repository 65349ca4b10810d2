"""Type stubs of emseq.motif._compare (see the .pyx for the algorithms)."""

import numpy as np
from numpy.typing import NDArray

def span_survival(pmf: NDArray[np.float64], out: NDArray[np.float64],
                  n_threads: int = ...) -> None: ...
def best_alignments(scores: NDArray[np.int32], starts: NDArray[np.int64], shift: int,
                    medians: NDArray[np.int64], sv: NDArray[np.float64],
                    out_score: NDArray[np.int64], out_offset: NDArray[np.int64],
                    out_overlap: NDArray[np.int64], out_pvalue: NDArray[np.float64],
                    n_threads: int = ...) -> None: ...
def integer_scores(query: NDArray[np.float64], columns: NDArray[np.float64],
                   norms: NDArray[np.float64], euclidean: bool, n_bins: int,
                   out: NDArray[np.int32], counts: NDArray[np.int64]) -> tuple[float, float]: ...
