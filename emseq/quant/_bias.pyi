import numpy as np
from numpy.typing import NDArray

CONTEXT_LEFT: int
CONTEXT_WIDTH: int
KIND_PAIR: int
KIND_FORWARD: int
KIND_REVERSE: int

def block_bounds(offsets: NDArray[np.int64], n_blocks: int) -> NDArray[np.int64]: ...
def expected_pass(seq: NDArray[np.uint8], offsets: NDArray[np.int64],
                  counts: NDArray[np.float64], lengths: NDArray[np.int64],
                  mass: NDArray[np.float64], gc: NDArray[np.float64],
                  log5: NDArray[np.float64], log3: NDArray[np.float64],
                  pos: NDArray[np.float64], class_upper: NDArray[np.int64],
                  blocks: NDArray[np.int64], bias_sum: NDArray[np.float64],
                  mass_sum: NDArray[np.float64], exp_gc: NDArray[np.float64],
                  exp5: NDArray[np.float64], exp3: NDArray[np.float64],
                  exp_pos: NDArray[np.float64], rows: NDArray[np.int64],
                  gc_hist: NDArray[np.float64], pos_hist: NDArray[np.float64],
                  use_seq: bool, want_tables: bool = ...,
                  n_threads: int = ...) -> None: ...
def observed(seq: NDArray[np.uint8], offsets: NDArray[np.int64], tids: NDArray[np.int32],
             lo: NDArray[np.int64], span: NDArray[np.int64], kind: NDArray[np.uint8],
             weight: NDArray[np.float64], lengths: NDArray[np.int64],
             mass: NDArray[np.float64], class_upper: NDArray[np.int64],
             obs_gc: NDArray[np.float64], obs5: NDArray[np.float64],
             obs3: NDArray[np.float64], obs_pos: NDArray[np.float64]) -> None: ...
