from typing import Callable

import numpy as np
import pysam
from numpy.typing import NDArray

LIB_NAMES: tuple[str, ...]
RC: dict[str, int]
LIB_CODES: dict[str, int]
BAD_NAMES: dict[int, str]

class EqBuilder:
    n_records: int
    n_supplementary: int
    n_unmapped_records: int
    n_qcfail: int
    n_fragments: int
    n_assigned: int
    n_paired_fragments: int
    n_single_fragments: int
    n_orphan_fragments: int
    n_orphans_dropped: int
    n_missing_mate: int
    n_incompatible: int
    n_unique_pairs: int
    n_alignments_used: int
    n_other_format: int
    n_burnin_fragments: int
    detected_lib: int
    sort_bytes: int
    first_missing_mate: str | None
    problem_read: str | None
    n_past_end: int
    records_read: int
    read_status: int
    read_errno: int
    bgzf_errcode: int
    bad_record: int
    bad_what: int
    bad_tid: int
    bad_value: int
    bad_limit: int
    @property
    def first_past_end(self) -> str | None: ...
    def invalid_record(self) -> dict[str, int | str]: ...
    def transcript_of(self, ref: int) -> int: ...
    def __init__(self, n_tx: int, tid_map: NDArray[np.int32], tx_len: NDArray[np.int64], *,
                 lib_type: int = ..., burnin: int = ..., max_fraglen: int = ...,
                 fld_mean: float = ..., fld_sd: float = ..., prior_weight: float = ...,
                 score_exp: float = ..., use_scores: int = ..., incompat_prior: float = ...,
                 n_bins: int = ..., discard_orphans: int = ..., track_order: int = ...) -> None: ...
    def classes(self) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float64],
                               NDArray[np.float64]]: ...
    def fld_histogram(self) -> NDArray[np.float64]: ...
    def format_counts(self) -> dict[str, int]: ...
    @property
    def library_name(self) -> str: ...
    def read_stream(self, f: pysam.AlignmentFile, n_threads: int = ...,
                    progress: Callable[[int], object] | None = ...,
                    progress_every: int = ...) -> int: ...
    def read_grouped(self, f: pysam.AlignmentFile, n_threads: int = ...,
                     progress: Callable[[int], object] | None = ...,
                     memory_limit: int = ...) -> int: ...
