"""Type stubs of emseq.motif._kernels (see the .pyx for the algorithms)."""

import numpy as np
from numpy.typing import NDArray

def count_kmers(seq: NDArray[np.uint8], offsets: NDArray[np.int64], order: int,
                counts: NDArray[np.float64]) -> None: ...
def background_logprob(seq: NDArray[np.uint8], offsets: NDArray[np.int64], order: int,
                       logcond: NDArray[np.float64], out: NDArray[np.float64]) -> None: ...
def score_windows(seq: NDArray[np.uint8], lp: NDArray[np.float64], bgwin: NDArray[np.float64],
                  logw: NDArray[np.float64], out_fwd: NDArray[np.float64],
                  out_rev: NDArray[np.float64], n_threads: int = ...) -> None: ...
def estep(seq: NDArray[np.uint8], offsets: NDArray[np.int64], lp: NDArray[np.float64],
          bgwin: NDArray[np.float64], logw: NDArray[np.float64], model: int, prior: float,
          revcomp: bool, counts: NDArray[np.float64], ll_seq: NDArray[np.float64],
          z_seq: NDArray[np.float64], n_seq: NDArray[np.float64], buf: NDArray[np.float64],
          n_threads: int = ...) -> None: ...
def best_sites(seq: NDArray[np.uint8], offsets: NDArray[np.int64], lps: NDArray[np.float64],
               bgwin: NDArray[np.float64], logw: NDArray[np.float64], revcomp: bool,
               out_score: NDArray[np.float64], out_pos: NDArray[np.int64],
               out_strand: NDArray[np.int8], n_threads: int = ...) -> None: ...
def count_words(seq: NDArray[np.uint8], logw: NDArray[np.float64], k: int,
                counts: NDArray[np.float64]) -> None: ...
