"""Cython kernels of ``emseq motif compare`` (Tomtom's method, Gupta et al. 2007).

One query of width ``w`` is compared with every database column at once. Its column scores
are integers in ``0..n_bins`` (see :mod:`emseq.motif.compare`); ``pmf[i]`` is the null
distribution of query column ``i``'s integer score (its histogram over all database columns,
both strands). An alignment puts query column ``i`` against target column ``i + offset``.
Its complete score is the sum of the integer scores of the aligned columns plus the median
``medians[i]`` of every query column left unaligned (Tomtom's complete scoring); its null
distribution is the sum of the aligned columns' null scores plus the same medians.
"""

import numpy

from cython.parallel cimport prange
from libc.math cimport expm1, floor, log1p, sqrt
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from libc.stdint cimport int32_t, int64_t, int8_t


def span_survival(const double[:, ::1] pmf,     # IN (w, n_bins + 1) per-column null pmf
                  double[:, :, ::1] out,        # OUT (w, w, w * n_bins + 1)
                  int n_threads=1):
    """Survival functions of the null score of every span of query columns.

    ``out[a, b, k]`` is the probability that the summed null scores of query columns
    ``a..b`` (``a <= b``) are ``>= k``, for ``k`` in ``0..(b - a + 1) * n_bins``; entries past
    that (and entries with ``b < a``) are not written. Products are taken only over each
    column's support (its first to last non-zero bin). Each span's pmf is the previous
    span's convolved with one more column; the survival is summed from the top so that small
    tails keep their relative precision.
    """
    cdef Py_ssize_t w = pmf.shape[0], nb = pmf.shape[1] - 1, length = out.shape[2]
    cdef Py_ssize_t a, b, k, j, top, low, new_top, new_low
    cdef double *cur
    cdef double *nxt
    cdef double *swap
    cdef double acc, x
    cdef Py_ssize_t[::1] lo = numpy.empty(w, dtype=numpy.intp)
    cdef Py_ssize_t[::1] hi = numpy.empty(w, dtype=numpy.intp)
    if length < w * nb + 1:
        raise ValueError("out.shape[2] must be at least w * n_bins + 1")
    # each column's support: its pmf is zero outside lo..hi, and so is every span's outside
    # the sums of its columns' supports (only those products are computed)
    for b in range(w):
        lo[b], hi[b] = 0, 0
        for k in range(nb + 1):
            if pmf[b, k] != 0.0:
                hi[b] = k
        for k in range(nb, -1, -1):
            if pmf[b, k] != 0.0:
                lo[b] = k
    for a in prange(w, nogil=True, num_threads=n_threads, schedule="dynamic"):
        cur = <double *> malloc(length * sizeof(double))
        nxt = <double *> malloc(length * sizeof(double))
        memset(cur, 0, length * sizeof(double))
        memset(nxt, 0, length * sizeof(double))
        for k in range(nb + 1):
            cur[k] = pmf[a, k]
        low = lo[a]
        top = hi[a]
        for b in range(a, w):
            if b > a:
                new_low = low + lo[b]
                new_top = top + hi[b]
                for k in range(new_low, new_top + 1):
                    nxt[k] = 0.0
                for k in range(low, top + 1):
                    x = cur[k]
                    if x == 0.0:
                        continue
                    for j in range(lo[b], hi[b] + 1):
                        nxt[k + j] += x * pmf[b, j]
                for k in range(low, top + 1):  # cur is all zero again, ready to be nxt
                    cur[k] = 0.0
                swap = cur
                cur = nxt
                nxt = swap
                low = new_low
                top = new_top
            acc = 0.0
            for k in range((b - a + 1) * nb, top, -1):
                out[a, b, k] = 0.0
            for k in range(top, low - 1, -1):
                acc = acc + cur[k]
                out[a, b, k] = acc if acc < 1.0 else 1.0
            for k in range(low - 1, -1, -1):
                out[a, b, k] = acc if acc < 1.0 else 1.0
        free(cur)
        free(nxt)


def best_alignments(const int32_t[:, ::1] scores,   # IN (n_columns, w) integer column scores
                    const int64_t[::1] starts,      # IN (n_targets + 1,) first column of each
                    int64_t shift,                  # target t is columns shift + starts[t]...
                    const int64_t[::1] medians,     # IN (w,) median null score per query column
                    const double[:, :, ::1] sv,     # IN span_survival's output (w * n_bins + 1)
                    int64_t[::1] out_score,         # OUT (n_targets,) best complete score
                    int64_t[::1] out_offset,        # OUT (n_targets,) its offset
                    int64_t[::1] out_overlap,       # OUT (n_targets,) aligned columns
                    double[::1] out_pvalue,         # OUT (n_targets,) p-value over offsets
                    int n_threads=1):
    """The best alignment of the query with each target, and its p-value over all offsets.

    Target ``t`` is the columns ``shift + starts[t]:shift + starts[t + 1]`` of ``scores``.
    Every offset with at least one aligned column is scored; the best is the highest complete
    score, ties going to the larger overlap, then to the smaller offset. Its p-value is that of
    the maximum over the target's offsets of independent null scores (Tomtom):
    ``1 - prod_o P(null_o < best)``.
    """
    cdef Py_ssize_t w = scores.shape[1], n_targets = starts.shape[0] - 1
    cdef Py_ssize_t nb = (sv.shape[2] - 1) // w
    cdef Py_ssize_t t, wt, o, i, i0, i1, base
    cdef int64_t total_median = 0, score, best, rest, x, overlap, best_overlap, best_offset
    cdef double log_cdf, s
    # prefix sums of the medians: the unaligned columns' total is one subtraction
    cdef int64_t[::1] med_before = numpy.zeros(w + 1, dtype=numpy.int64)
    for i in range(w):
        total_median += medians[i]
        med_before[i + 1] = total_median
    for t in prange(n_targets, nogil=True, num_threads=n_threads, schedule="static"):
        base = shift + starts[t]
        wt = starts[t + 1] - starts[t]
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
            rest = total_median - (med_before[i1] - med_before[i0])
            x = best - rest
            if x <= 0:
                s = 1.0
            elif x > (i1 - i0) * nb:
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


def integer_scores(const double[:, ::1] query,     # IN (w, 4) query columns, prepared
                   const double[:, ::1] columns,   # IN (n_columns, 4) database columns, prepared
                   const double[::1] norms,        # IN (n_columns,) squared norms (ed only)
                   bint euclidean, int n_bins,
                   int32_t[:, ::1] out,            # OUT (n_columns, w) integer scores
                   int64_t[:, ::1] counts,         # OUT (w, n_bins + 1) histograms, zeroed
                   ):
    """Score every query column against every database column and scale to ``0..n_bins``.

    Pearson (``euclidean`` false): ``query`` and ``columns`` are standardised rows (centred,
    unit norm) and the score is their dot product. The raw scores are kept in a scratch
    buffer of ``n_columns * w`` doubles between the two passes. Euclidean: the score is
    ``-sqrt(|q|^2 + norms - 2 q.c)``. The scores are mapped to integers by
    ``nint((s - min) * n_bins / (max - min))`` over all of them (0 when they are all equal)
    and counted per query column into ``counts``.

    Returns
    -------
    (low, high) : tuple of float
        The smallest and largest score.
    """
    cdef Py_ssize_t w = query.shape[0], n = columns.shape[0], c, i
    cdef double s, low = 1e300, high = -1e300, scale, d2, dot
    cdef double *raw
    cdef double *qn
    cdef int32_t v
    raw = <double *> malloc(n * w * sizeof(double))
    qn = <double *> malloc(w * sizeof(double))
    if raw == NULL or qn == NULL:
        free(raw)
        free(qn)
        raise MemoryError()
    with nogil:
        for i in range(w):
            qn[i] = (query[i, 0] * query[i, 0] + query[i, 1] * query[i, 1]
                     + query[i, 2] * query[i, 2] + query[i, 3] * query[i, 3])
        for c in range(n):
            for i in range(w):
                dot = (query[i, 0] * columns[c, 0] + query[i, 1] * columns[c, 1]
                       + query[i, 2] * columns[c, 2] + query[i, 3] * columns[c, 3])
                if euclidean:
                    d2 = qn[i] + norms[c] - 2.0 * dot
                    s = -sqrt(d2) if d2 > 0.0 else 0.0
                else:
                    s = dot
                raw[c * w + i] = s
                if s < low:
                    low = s
                if s > high:
                    high = s
        scale = n_bins / (high - low) if high > low else 0.0
        for c in range(n):
            for i in range(w):
                v = <int32_t> floor((raw[c * w + i] - low) * scale + 0.5)
                if v > n_bins:
                    v = n_bins
                out[c, i] = v
                counts[i, v] += 1
    free(raw)
    free(qn)
    return low, high
