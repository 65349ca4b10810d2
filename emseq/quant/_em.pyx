# cython: language_level=3
"""EM kernel over equivalence classes: one E-step with its sufficient statistics.

A class ``c`` holds transcripts ``tids[offsets[c]:offsets[c+1]]`` with mean conditional weights
``weights[...]`` and is seen ``counts[c]`` times. Given per-transcript factors ``theta`` (the
abundances for EM, ``exp(E[log θ])`` for VBEM) the E-step splits each class's count over its
transcripts in proportion to ``theta[t] * weights * inv_efflen[t]``. Parallel over classes with
one accumulator per thread, reduced at the end (scikit-learn's pattern).
"""

from cython.parallel cimport prange, parallel, threadid
from libc.math cimport log, INFINITY
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport calloc, free

import numpy as np


def e_step(const int64_t[::1] offsets,     # IN (n_classes + 1,)
           const int32_t[::1] tids,        # IN (nnz,)
           const double[::1] weights,      # IN (nnz,)
           const double[::1] counts,       # IN (n_classes,)
           const double[::1] theta,        # IN (n_tx,)
           const double[::1] inv_efflen,   # IN (n_tx,)
           double[::1] out,                # OUT (n_tx,) expected counts
           int n_threads=1):
    """One E-step; fill ``out`` and return ``sum_c counts[c] * log(sum_j theta w / efflen)``.

    A class whose denominator is zero contributes ``-inf`` (and nothing to ``out``).
    """
    cdef int64_t n_classes = counts.shape[0]
    cdef int n_tx = theta.shape[0]
    cdef int64_t c, j, lo, hi
    cdef int t, k, nt
    cdef double denom, ll = 0.0, scale
    cdef double *buf
    cdef double *mine
    if offsets.shape[0] != n_classes + 1 or out.shape[0] != n_tx or inv_efflen.shape[0] != n_tx:
        raise ValueError("e_step: inconsistent array shapes")
    nt = n_threads if n_threads > 1 else 1
    if tids.shape[0] < 32768:
        # a parallel region costs more than a small E-step (and far more on a loaded machine)
        nt = 1
    buf = <double *> calloc(<size_t> nt * n_tx, sizeof(double))
    if buf == NULL:
        raise MemoryError()
    try:
        with nogil, parallel(num_threads=nt):
            mine = buf + <int64_t> threadid() * n_tx
            for c in prange(n_classes, schedule="static"):
                lo = offsets[c]
                hi = offsets[c + 1]
                denom = 0.0
                for j in range(lo, hi):
                    denom = denom + theta[tids[j]] * weights[j] * inv_efflen[tids[j]]
                if denom > 0.0:
                    ll += counts[c] * log(denom)
                    scale = counts[c] / denom
                    for j in range(lo, hi):
                        mine[tids[j]] += scale * theta[tids[j]] * weights[j] * inv_efflen[tids[j]]
                elif counts[c] > 0.0:
                    ll += -INFINITY
        for t in range(n_tx):
            out[t] = 0.0
        for k in range(nt):
            for t in range(n_tx):
                out[t] += buf[<int64_t> k * n_tx + t]
    finally:
        free(buf)
    return ll
