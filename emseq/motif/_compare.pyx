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
    that (and entries with ``b < a``) are not written. Each span's pmf is the previous
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
            for k in range(top, -1, -1):
                acc = acc + cur[k]
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

    Target ``t`` is the columns ``shift + starts[t]:shift + starts[t + 1]`` of ``scores``. Every offset with at
    least one aligned column is scored; the best is the highest complete score, ties going to
    the larger overlap, then to the smaller offset. Its p-value is that of the maximum over the
    target's offsets of independent null scores (Tomtom): ``1 - prod_o P(null_o < best)``.
    """
    cdef Py_ssize_t w = scores.shape[1], n_targets = starts.shape[0] - 1
    cdef Py_ssize_t nb = (sv.shape[2] - 1) // w
    cdef Py_ssize_t t, wt, o, i, i0, i1, base
    cdef int64_t total_median = 0, score, best, rest, x, overlap, best_overlap, best_offset
    cdef double log_cdf, s
    for i in range(w):
        total_median += medians[i]
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
            rest = total_median
            for i in range(i0, i1):
                rest = rest - medians[i]
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
    unit norm) and the score is their dot product. Euclidean: the score is
    ``-sqrt(|q|^2 + norms - 2 q.c)``. The scores are mapped to integers by
    ``nint((s - min) * n_bins / (max - min))`` over all of them (0 when they are all equal)
    and counted per query column into ``counts``.

    Returns
    -------
    (low, high) : tuple of float
        The smallest and largest score.
    """
    cdef Py_ssize_t w = query.shape[0], n = columns.shape[0], c, i
    cdef double s, low = 1e300, high = -1e300, scale, d2
    cdef double qn[512]
    cdef int32_t v
    if w > 512:
        raise ValueError("query motifs wider than 512 columns are not supported")
    with nogil:
        for i in range(w):
            qn[i] = (query[i, 0] * query[i, 0] + query[i, 1] * query[i, 1]
                     + query[i, 2] * query[i, 2] + query[i, 3] * query[i, 3])
        # pass 1: the range of the scores (pass 2 recomputes them: cheaper than storing)
        for c in range(n):
            for i in range(w):
                s = _score(query, columns, norms, qn, euclidean, c, i)
                if s < low:
                    low = s
                if s > high:
                    high = s
        scale = n_bins / (high - low) if high > low else 0.0
        for c in range(n):
            for i in range(w):
                s = _score(query, columns, norms, qn, euclidean, c, i)
                v = <int32_t> floor((s - low) * scale + 0.5)
                if v > n_bins:
                    v = n_bins
                out[c, i] = v
                counts[i, v] += 1
    return low, high


cdef inline double _score(const double[:, ::1] query, const double[:, ::1] columns,
                          const double[::1] norms, double *qn, bint euclidean,
                          Py_ssize_t c, Py_ssize_t i) noexcept nogil:
    cdef double dot = (query[i, 0] * columns[c, 0] + query[i, 1] * columns[c, 1]
                       + query[i, 2] * columns[c, 2] + query[i, 3] * columns[c, 3])
    cdef double d2
    if not euclidean:
        return dot
    d2 = qn[i] + norms[c] - 2.0 * dot
    return -sqrt(d2) if d2 > 0.0 else 0.0
