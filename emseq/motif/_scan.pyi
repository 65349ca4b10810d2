"""Type stubs of emseq.motif._scan (see the .pyx for the algorithm)."""

import numpy as np
from numpy.typing import NDArray

def scan_hits(seq: NDArray[np.uint8], offsets: NDArray[np.int64], quad: NDArray[np.uint8],
              lo: NDArray[np.float64], lo_rev: NDArray[np.float64], w: int, lo_min: float,
              scale: float,
              pvalue: NDArray[np.float64], threshold: float, both_strands: bool,
              out_pos: NDArray[np.int64], out_strand: NDArray[np.int8],
              out_score: NDArray[np.float64], out_pvalue: NDArray[np.float64]
              ) -> tuple[int, int]: ...
def quad_codes(seq: NDArray[np.uint8], out: NDArray[np.uint8]) -> None: ...
