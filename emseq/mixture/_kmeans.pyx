# Chunked k-means kernels for the initialisation of a Gaussian mixture (no N x K array).
#
# Same layout as _kernels.pyx: the rows are cut into ``n_blocks(n_samples)`` contiguous blocks
# (a number that depends on n_samples only); one OpenMP thread handles a whole block, in row
# order, into that block's own accumulators, and the caller sums the blocks in block order, so
# results are identical for any number of threads. Inside a block, rows are processed in
# chunks of CHUNK rows copied to float64 and shifted by ``shift`` (the data's mean, as
# scikit-learn's KMeans centres X, but without a copy of X); the centres passed in are already
# shifted. Squared distances use scikit-learn's expansion ||x||^2 - 2 x.c + ||c||^2 (one dgemm
# per chunk) when D >= BLAS_MIN_D, else the direct sum of squared differences; they are
# clipped at zero.
#
# The only per-row memory is what the caller asks for: ``closest`` (n_samples float64, the
# k-means++ potential) and ``labels`` (n_samples int64, only to relocate empty clusters).

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc
from scipy.linalg.cython_blas cimport dgemm

cdef enum:
    CHUNK = 128
    MAX_BLOCKS = 32
    BLAS_MIN_D = 8


def n_blocks(Py_ssize_t n_samples):
    """Number of accumulation blocks for ``n_samples`` rows (independent of the thread count)."""
    return int(max(1, min(MAX_BLOCKS, (n_samples + CHUNK - 1) // CHUNK)))


cdef inline void _load_shifted(const floating* X, Py_ssize_t start, Py_ssize_t n, Py_ssize_t D,
                               const double* shift, double* xc) noexcept nogil:
    cdef Py_ssize_t i, j
    for i in range(n):
        for j in range(D):
            xc[i * D + j] = <double>X[(start + i) * D + j] - shift[j]


cdef void _distances(const double* xc, Py_ssize_t n, Py_ssize_t D, const double* C,
                     const double* cc, Py_ssize_t K, double* dist) noexcept nogil:
    """dist (n, K) = squared distances of the chunk's rows to the K centres C (K, D)."""
    cdef Py_ssize_t i, j, k
    cdef double acc, v, xx
    cdef int iD = <int>D, iN = <int>n, iK = <int>K
    cdef double one = 1.0, zero = 0.0
    cdef char cN = b'N', cT = b'T'
    if D >= BLAS_MIN_D:
        dgemm(&cT, &cN, &iK, &iN, &iD, &one, <double*>C, &iD, <double*>xc, &iD, &zero, dist,
              &iK)
        for i in range(n):
            xx = 0.0
            for j in range(D):
                xx = xx + xc[i * D + j] * xc[i * D + j]
            for k in range(K):
                v = xx - 2.0 * dist[i * K + k] + cc[k]
                dist[i * K + k] = v if v > 0.0 else 0.0
    else:
        for i in range(n):
            for k in range(K):
                acc = 0.0
                for j in range(D):
                    v = xc[i * D + j] - C[k * D + j]
                    acc = acc + v * v
                dist[i * K + k] = acc


cdef void _assign_block(const floating* X, Py_ssize_t row0, Py_ssize_t row1, Py_ssize_t D,
                        Py_ssize_t K, const double* sw, const double* shift, const double* C,
                        const double* cc, double* counts, double* sums, double* inertia,
                        double* closest, long long* labels, int closest_mode,
                        double* xc, double* dist) noexcept nogil:
    cdef Py_ssize_t start, n, i, j, k, best
    cdef double w, dmin
    start = row0
    while start < row1:
        n = row1 - start
        if n > CHUNK:
            n = CHUNK
        _load_shifted(X, start, n, D, shift, xc)
        _distances(xc, n, D, C, cc, K, dist)
        for i in range(n):
            best = 0
            dmin = dist[i * K]
            for k in range(1, K):
                if dist[i * K + k] < dmin:
                    dmin = dist[i * K + k]
                    best = k
            w = 1.0 if sw == NULL else sw[start + i]
            inertia[0] += w * dmin
            if counts != NULL:
                counts[best] += w
            if sums != NULL:
                for j in range(D):
                    sums[best * D + j] += w * xc[i * D + j]
            if closest != NULL:
                if closest_mode == 0 or dmin < closest[start + i]:
                    closest[start + i] = dmin
            if labels != NULL:
                labels[start + i] = best
        start = start + n


def assign(const floating[:, ::1] X, const double[::1] sample_weight, const double[::1] shift,
           const double[:, ::1] centers, double[:, ::1] counts, double[:, ::1] sums,
           double[::1] inertia, double[::1] closest, long long[::1] labels,
           int closest_mode, int n_threads):
    """Nearest centre of every row; per-block counts, sums and inertia.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous  # IN
    sample_weight : ndarray of shape (n_samples,) or (0,) for unit weights  # IN
    shift : ndarray of shape (n_features,)  subtracted from every row  # IN
    centers : ndarray of shape (n_centers, n_features), already minus ``shift``  # IN
    counts : ndarray (B, n_centers) or (B, 0)  weight of the rows nearest each centre  # OUT
    sums : ndarray (B, n_centers * n_features) or (B, 0)  weighted sums of (x - shift)  # OUT
    inertia : ndarray (B,)  weighted sum of the squared distances to the nearest centre  # OUT
    closest : ndarray (n_samples,) or (0,)  squared distance to the nearest centre  # OUT
    labels : ndarray (n_samples,) or (0,)  index of the nearest centre  # OUT
    closest_mode : int  0 writes ``closest``; 1 keeps ``min(closest, new distance)``
    n_threads : int

    Accumulators (counts, sums, inertia) are added to, one row per block.
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], K = centers.shape[0]
    cdef Py_ssize_t B = inertia.shape[0], blk, k, j
    cdef const double* swp = NULL
    cdef double* cp = NULL
    cdef double* sp = NULL
    cdef double* clp = NULL
    cdef long long* lp = NULL
    cdef double* xc
    cdef double* dist
    if B != n_blocks(N):
        raise ValueError("accumulators must have n_blocks(n_samples) rows")
    if N == 0:
        return
    import numpy as np
    cc_np = np.einsum("kj,kj->k", np.asarray(centers), np.asarray(centers))
    cdef const double[::1] cc = cc_np
    if sample_weight.shape[0] == N:
        swp = &sample_weight[0]
    if closest.shape[0] == N:
        clp = &closest[0]
    if labels.shape[0] == N:
        lp = &labels[0]
    cdef bint want_counts = counts.shape[1] == K
    cdef bint want_sums = sums.shape[1] == K * D
    with nogil, parallel(num_threads=n_threads):
        xc = <double*>malloc(CHUNK * D * sizeof(double))
        dist = <double*>malloc(CHUNK * K * sizeof(double))
        for blk in prange(B, schedule="dynamic", chunksize=1):
            _assign_block(&X[0, 0], (blk * N) // B, ((blk + 1) * N) // B, D, K, swp,
                          &shift[0], &centers[0, 0], &cc[0],
                          &counts[blk, 0] if want_counts else NULL,
                          &sums[blk, 0] if want_sums else NULL,
                          &inertia[blk], clp, lp, closest_mode, xc, dist)
        free(xc)
        free(dist)


cdef void _potential_block(const floating* X, Py_ssize_t row0, Py_ssize_t row1, Py_ssize_t D,
                           Py_ssize_t T, const double* sw, const double* shift, const double* C,
                           const double* cc, const double* closest, double* pot,
                           double* xc, double* dist) noexcept nogil:
    cdef Py_ssize_t start, n, i, t
    cdef double w, d, c
    start = row0
    while start < row1:
        n = row1 - start
        if n > CHUNK:
            n = CHUNK
        _load_shifted(X, start, n, D, shift, xc)
        _distances(xc, n, D, C, cc, T, dist)
        for i in range(n):
            w = 1.0 if sw == NULL else sw[start + i]
            c = closest[start + i]
            for t in range(T):
                d = dist[i * T + t]
                pot[t] += w * (d if d < c else c)
        start = start + n


def potentials(const floating[:, ::1] X, const double[::1] sample_weight,
               const double[::1] shift, const double[:, ::1] candidates,
               const double[::1] closest, double[:, ::1] pot, int n_threads):
    """k-means++ potential of each candidate: ``sum_n w_n min(closest_n, |x_n - c_t|^2)``.

    ``candidates`` (T, D) are already minus ``shift``; ``pot`` (B, T) is added to.  # OUT
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], T = candidates.shape[0]
    cdef Py_ssize_t B = pot.shape[0], blk
    cdef const double* swp = NULL
    cdef double* xc
    cdef double* dist
    if B != n_blocks(N):
        raise ValueError("accumulators must have n_blocks(n_samples) rows")
    if closest.shape[0] != N:
        raise ValueError("closest must have one value per row")
    if N == 0:
        return
    import numpy as np
    cc_np = np.einsum("kj,kj->k", np.asarray(candidates), np.asarray(candidates))
    cdef const double[::1] cc = cc_np
    if sample_weight.shape[0] == N:
        swp = &sample_weight[0]
    with nogil, parallel(num_threads=n_threads):
        xc = <double*>malloc(CHUNK * D * sizeof(double))
        dist = <double*>malloc(CHUNK * T * sizeof(double))
        for blk in prange(B, schedule="dynamic", chunksize=1):
            _potential_block(&X[0, 0], (blk * N) // B, ((blk + 1) * N) // B, D, T, swp,
                             &shift[0], &candidates[0, 0], &cc[0], &closest[0], &pot[blk, 0],
                             xc, dist)
        free(xc)
        free(dist)


def weighted_searchsorted(const double[::1] closest, const double[::1] sample_weight,
                          const double[::1] targets, long long[::1] out):
    """``np.searchsorted(np.cumsum(w * closest), targets)`` without the cumulative array.

    ``targets`` must be sorted ascending; indices past the end are clipped to n - 1 (as
    scikit-learn's k-means++ does). The running sum is sequential, as ``np.cumsum``.
    """
    cdef Py_ssize_t N = closest.shape[0], T = targets.shape[0], i, j = 0
    cdef double acc = 0.0
    cdef bint weighted = sample_weight.shape[0] == N
    with nogil:
        for i in range(N):
            if weighted:
                acc = acc + sample_weight[i] * closest[i]
            else:
                acc = acc + closest[i]
            while j < T and acc >= targets[j]:
                out[j] = i
                j = j + 1
            if j == T:
                break
        while j < T:
            out[j] = N - 1
            j = j + 1
