"""Cython kernels of ``emseq motif compare`` (Tomtom's method, Gupta et al. 2007).

One query of width ``w`` is compared with every database column at once. Its column scores
are integers in ``0..n_bins`` (see :mod:`emseq.motif.compare`); ``pmf[i]`` is the null
distribution of query column ``i``'s integer score (its histogram over all database columns,
both strands). An alignment puts query column ``i`` against target column ``i + offset``.
Its complete score is the sum of the integer scores of the aligned columns plus the median
``medians[i]`` of every query column left unaligned (Tomtom's complete scoring); its null
distribution is the sum of the aligned columns' null scores plus the same medians.
"""

from cython.parallel cimport prange
from libc.math cimport expm1, log1p
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from libc.stdint cimport int32_t, int64_t, int8_t


def span_survival(const double[:, ::1] pmf,     # IN (w, n_bins + 1) per-column null pmf
                  double[:, :, ::1] out,        # OUT (w, w, w * n_bins + 1)
                  int n_threads=1):
    """Survival functions of the null score of every span of query columns.

    ``out[a, b, k]`` is the probability that the summed null scores of query columns
    ``a..b`` (``a <= b``) are ``>= k``, for ``k`` in ``0..(b - a + 1) * n_bins``; entries past
    that are 0 and entries with ``b < a`` are not written. Each span's pmf is the previous
    span's convolved with one more column; the survival is summed from the top so that small
    tails keep their relative precision.
    """
    cdef Py_ssize_t w = pmf.shape[0], nb = pmf.shape[1] - 1, length = out.shape[2]
    cdef Py_ssize_t a, b, k, j, top, new_top
    cdef double *cur
    cdef double *nxt
    cdef double *swap
    cdef double acc, x
    if length < w * nb + 1:
        raise ValueError("out.shape[2] must be at least w * n_bins + 1")
    for a in prange(w, nogil=True, num_threads=n_threads, schedule="dynamic"):
        cur = <double *> malloc(length * sizeof(double))
        nxt = <double *> malloc(length * sizeof(double))
        memset(cur, 0, length * sizeof(double))
        for k in range(nb + 1):
            cur[k] = pmf[a, k]
        top = nb
        for b in range(a, w):
            if b > a:
                new_top = top + nb
                memset(nxt, 0, (new_top + 1) * sizeof(double))
                for k in range(top + 1):
                    x = cur[k]
                    if x == 0.0:
                        continue
                    for j in range(nb + 1):
                        nxt[k + j] += x * pmf[b, j]
                swap = cur
                cur = nxt
                nxt = swap
                top = new_top
            acc = 0.0
            for k in range(length - 1, top, -1):
                out[a, b, k] = 0.0
            for k in range(top, -1, -1):
                acc = acc + cur[k]
                out[a, b, k] = acc if acc < 1.0 else 1.0
        free(cur)
        free(nxt)


def best_alignments(const int32_t[:, ::1] scores,   # IN (n_columns, w) integer column scores
                    const int64_t[::1] starts,      # IN (n_targets + 1,) first column of each
                    const int64_t[::1] medians,     # IN (w,) median null score per query column
                    const double[:, :, ::1] sv,     # IN span_survival's output
                    int64_t[::1] out_score,         # OUT (n_targets,) best complete score
                    int64_t[::1] out_offset,        # OUT (n_targets,) its offset
                    int64_t[::1] out_overlap,       # OUT (n_targets,) aligned columns
                    double[::1] out_pvalue,         # OUT (n_targets,) p-value over offsets
                    int n_threads=1):
    """The best alignment of the query with each target, and its p-value over all offsets.

    Target ``t`` is the columns ``starts[t]:starts[t + 1]`` of ``scores``. Every offset with at
    least one aligned column is scored; the best is the highest complete score, ties going to
    the larger overlap, then to the smaller offset. Its p-value is that of the maximum over the
    target's offsets of independent null scores (Tomtom): ``1 - prod_o P(null_o < best)``.
    """
    cdef Py_ssize_t w = scores.shape[1], n_targets = starts.shape[0] - 1
    cdef Py_ssize_t length = sv.shape[2]
    cdef Py_ssize_t t, wt, o, i, i0, i1, base
    cdef int64_t total_median = 0, score, best, rest, x, overlap, best_overlap, best_offset
    cdef double log_cdf, s
    for i in range(w):
        total_median += medians[i]
    for t in prange(n_targets, nogil=True, num_threads=n_threads, schedule="static"):
        base = starts[t]
        wt = starts[t + 1] - base
        best = -1
        best_overlap = 0
        best_offset = 0
        for o in range(-(w - 1), wt):
            i0 = -o if o < 0 else 0
            i1 = wt - o if wt - o < w else w
            score = total_median
            for i in range(i0, i1):
                score = score + scores[base + i + o, i] - medians[i]
            overlap = i1 - i0
            if score > best or (score == best and overlap > best_overlap):
                best = score
                best_overlap = overlap
                best_offset = o
        # P(max_o null_o >= best) under independence of the offsets
        log_cdf = 0.0
        for o in range(-(w - 1), wt):
            i0 = -o if o < 0 else 0
            i1 = wt - o if wt - o < w else w
            rest = total_median
            for i in range(i0, i1):
                rest = rest - medians[i]
            x = best - rest
            if x <= 0:
                s = 1.0
            elif x >= length:
                s = 0.0
            else:
                s = sv[i0, i1 - 1, x]
            if s >= 1.0:
                log_cdf = -1e308
                break
            log_cdf = log_cdf + log1p(-s)
        out_score[t] = best
        out_offset[t] = best_offset
        out_overlap[t] = best_overlap
        out_pvalue[t] = -expm1(log_cdf)
