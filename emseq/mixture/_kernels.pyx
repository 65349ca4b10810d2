# Fused E-step + sufficient statistics of a Gaussian mixture, one pass over the samples.
#
# Layout: the samples are cut into ``n_blocks`` contiguous blocks (a number that depends on
# n_samples only, never on the number of threads). One OpenMP thread processes a whole block,
# in row order, into that block's own accumulators; the caller then sums the blocks in block
# order. The result is therefore the same to the last bit with 1 or N threads.
# Inside a block, rows are handled in chunks of CHUNK rows: copy to float64, log-densities of
# the chunk (CHUNK x K), stable log-sum-exp with a vectorised exp, responsibilities, then the
# statistics. No N x K (or N x K x D) array is ever allocated unless the caller asks for the
# responsibilities (predict_proba) or labels.
#
# Two routes, chosen by ``uses_blas(D, cov, K)`` (D >= BLAS_MIN_D):
# - direct: loops over components innermost (transposed (D, K) parameter layouts), written
#   once in C below and compiled for SSE2 and AVX2+FMA with a run-time choice;
# - BLAS (scipy.linalg.cython_blas) on each chunk: full covariance through one dgemm against
#   all precision factors [U_1 ... U_K] on centred rows, tied through x @ U, diag/spherical
#   through the expanded quadratic form; second moments through dgemm/dsyrk.
# The exact layouts of every argument and accumulator are listed at the top of ``_block`` and
# unpacked by emseq/mixture/_gmm.py (_kernel_arrays, _Problem.e_step).
# ``r_nk`` in the statistics includes the sample weight.

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport log, sqrt, INFINITY
from libc.stdlib cimport free, malloc
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemm, dsyrk

import numpy as np

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* exp(x) for x <= 0 (including -inf), relative error below 3e-16 on [-708, 0]; results
       below exp(-708) flush to 0. Branch-free plain arithmetic so that gcc vectorises loops
       calling it (libm's exp is a scalar call, and a floating-point comparison would block the
       vectoriser under the default -ftrapping-math). Cody-Waite reduction x = n ln2 + r,
       |r| <= ln2/2, degree-12 Taylor polynomial for exp(r), 2^n assembled in the exponent
       bits; inputs below -708 (or -inf) are zeroed through an integer mask made from the sign
       of x + 708. */
    static inline double emseq_exp_neg(double x) {
        const double shifter = 6755399441055744.0; /* 1.5 * 2^52: rounds to nearest integer */
        double s = x + 708.0;
        int64_t sb;
        memcpy(&sb, &s, sizeof sb);
        uint64_t keep = (uint64_t)(~(sb >> 63)); /* all ones when x >= -708 */
        double t = x * 1.4426950408889634 + shifter;
        double n = t - shifter;
        double r = x - n * 0.6931471803691238;
        r = r - n * 1.9082149292705877e-10;
        /* degree-12 Taylor polynomial (truncation < 2e-16 for |r| <= ln2/2), evaluated by
           Estrin's scheme: 4 dependent levels instead of 12 for Horner's, so the vectorised
           loop is not bound by the multiply-add latency chain */
        double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
        double p01 = 1.0 + r;
        double p23 = 0.5 + 0.16666666666666666 * r;
        double p45 = 0.041666666666666664 + 0.008333333333333333 * r;
        double p67 = 0.001388888888888889 + 0.0001984126984126984 * r;
        double p89 = 2.48015873015873e-05 + 2.7557319223985893e-06 * r;
        double p1011 = 2.755731922398589e-07 + 2.505210838544172e-08 * r;
        double q0 = p01 + p23 * r2;
        double q1 = p45 + p67 * r2;
        double q2 = p89 + p1011 * r2;
        double s0 = q0 + q1 * r4;
        double s1 = q2 + 2.08767569878681e-09 * r4;
        double p = s0 + s1 * r8;
        uint64_t bits;
        memcpy(&bits, &t, sizeof bits);
        bits = (bits + 1023u) << 52;
        double scale;
        memcpy(&scale, &bits, sizeof scale);
        double e = p * scale;
        uint64_t eb;
        memcpy(&eb, &e, sizeof eb);
        eb &= keep;
        memcpy(&e, &eb, sizeof e);
        return e;
    }
    /* Row-chunk loops of the kernel, written once as always-inline bodies and compiled twice:
       baseline (SSE2) and AVX2+FMA, chosen at run time when the CPU has both (x86-64 gcc; no
       -march flag in the build). Inner loops run over the K components, contiguous in the
       transposed layouts, so they vectorise. */
    #define EMSEQ_BODY static inline __attribute__((always_inline))
    EMSEQ_BODY void b_exp(double *restrict x, Py_ssize_t n) {
        for (Py_ssize_t i = 0; i < n; i++) x[i] = emseq_exp_neg(x[i]);
    }
    /* L[i,k] = log_norm[k] - 0.5 sum_j (x_ij - mT[j,k])^2 pT[j,k]  (pT NULL: unit weights) */
    EMSEQ_BODY void b_diag_logdens(const double *restrict x, Py_ssize_t n, Py_ssize_t D,
                                   Py_ssize_t K, const double *restrict mT,
                                   const double *restrict pT, const double *restrict log_norm,
                                   double *restrict L) {
        for (Py_ssize_t i = 0; i < n; i++) {
            double *restrict Li = L + i * K;
            const double *restrict xi = x + i * D;
            for (Py_ssize_t k = 0; k < K; k++) Li[k] = 0.0;
            for (Py_ssize_t j = 0; j < D; j++) {
                const double xj = xi[j];
                const double *restrict mj = mT + j * K;
                if (pT) {
                    const double *restrict pj = pT + j * K;
                    for (Py_ssize_t k = 0; k < K; k++) {
                        double v = xj - mj[k];
                        Li[k] += v * v * pj[k];
                    }
                } else {
                    for (Py_ssize_t k = 0; k < K; k++) {
                        double v = xj - mj[k];
                        Li[k] += v * v;
                    }
                }
            }
            for (Py_ssize_t k = 0; k < K; k++) Li[k] = log_norm[k] - 0.5 * Li[k];
        }
    }
    /* nk[k] += r_ik; s1[j,k] += r_ik (x_ij - mT[j,k]); s2[j,k] += r_ik (x_ij - mT[j,k])^2 */
    EMSEQ_BODY void b_diag_stats(const double *restrict x, Py_ssize_t n, Py_ssize_t D,
                                 Py_ssize_t K, const double *restrict mT,
                                 const double *restrict R, double *restrict nk,
                                 double *restrict s1, double *restrict s2) {
        for (Py_ssize_t i = 0; i < n; i++) {
            const double *restrict Ri = R + i * K;
            const double *restrict xi = x + i * D;
            for (Py_ssize_t k = 0; k < K; k++) nk[k] += Ri[k];
            for (Py_ssize_t j = 0; j < D; j++) {
                const double xj = xi[j];
                const double *restrict mj = mT + j * K;
                double *restrict a1 = s1 + j * K;
                if (s2) {
                    double *restrict a2 = s2 + j * K;
                    for (Py_ssize_t k = 0; k < K; k++) {
                        double v = xj - mj[k], rv = Ri[k] * v;
                        a1[k] += rv;
                        a2[k] += rv * v;
                    }
                } else {
                    for (Py_ssize_t k = 0; k < K; k++) a1[k] += Ri[k] * (xj - mj[k]);
                }
            }
        }
    }
    /* full covariance, small D: U[(t*D + j)*K + k] = U_k[t, j] (upper triangular) */
    EMSEQ_BODY void b_full_logdens(const double *restrict x, Py_ssize_t n, Py_ssize_t D,
                                   Py_ssize_t K, const double *restrict mT,
                                   const double *restrict U, const double *restrict log_norm,
                                   double *restrict L, double *restrict diff,
                                   double *restrict y) {
        for (Py_ssize_t i = 0; i < n; i++) {
            double *restrict Li = L + i * K;
            const double *restrict xi = x + i * D;
            for (Py_ssize_t k = 0; k < K; k++) Li[k] = 0.0;
            for (Py_ssize_t t = 0; t < D; t++)
                for (Py_ssize_t k = 0; k < K; k++) diff[t * K + k] = xi[t] - mT[t * K + k];
            for (Py_ssize_t j = 0; j < D; j++) {
                for (Py_ssize_t k = 0; k < K; k++) y[k] = 0.0;
                for (Py_ssize_t t = 0; t <= j; t++) {
                    const double *restrict u = U + (t * D + j) * K;
                    const double *restrict d = diff + t * K;
                    for (Py_ssize_t k = 0; k < K; k++) y[k] += d[k] * u[k];
                }
                for (Py_ssize_t k = 0; k < K; k++) Li[k] += y[k] * y[k];
            }
            for (Py_ssize_t k = 0; k < K; k++) Li[k] = log_norm[k] - 0.5 * Li[k];
        }
    }
    /* nk, s1 (D, K), s2 (D, D, K) lower triangle a >= b */
    EMSEQ_BODY void b_full_stats(const double *restrict x, Py_ssize_t n, Py_ssize_t D,
                                 Py_ssize_t K, const double *restrict mT,
                                 const double *restrict R, double *restrict nk,
                                 double *restrict s1, double *restrict s2,
                                 double *restrict diff, double *restrict y) {
        for (Py_ssize_t i = 0; i < n; i++) {
            const double *restrict Ri = R + i * K;
            const double *restrict xi = x + i * D;
            for (Py_ssize_t k = 0; k < K; k++) nk[k] += Ri[k];
            for (Py_ssize_t t = 0; t < D; t++) {
                for (Py_ssize_t k = 0; k < K; k++) {
                    double v = xi[t] - mT[t * K + k];
                    diff[t * K + k] = v;
                    y[t * K + k] = Ri[k] * v;
                    s1[t * K + k] += Ri[k] * v;
                }
            }
            for (Py_ssize_t a = 0; a < D; a++)
                for (Py_ssize_t b = 0; b <= a; b++) {
                    double *restrict acc = s2 + (a * D + b) * K;
                    const double *restrict ya = y + a * K;
                    const double *restrict db = diff + b * K;
                    for (Py_ssize_t k = 0; k < K; k++) acc[k] += ya[k] * db[k];
                }
        }
    }

    /* per row: m = max_k L[i,k] (four interleaved maxima), L[i,k] -= m, rowmax[i] = m */
    EMSEQ_BODY void b_shift(double *restrict L, Py_ssize_t n, Py_ssize_t K,
                            double *restrict rowmax) {
        for (Py_ssize_t i = 0; i < n; i++) {
            double *restrict Li = L + i * K;
            double m0 = Li[0], m1 = m0, m2 = m0, m3 = m0;
            Py_ssize_t k = 0;
            for (; k + 4 <= K; k += 4) {
                m0 = Li[k] > m0 ? Li[k] : m0;
                m1 = Li[k + 1] > m1 ? Li[k + 1] : m1;
                m2 = Li[k + 2] > m2 ? Li[k + 2] : m2;
                m3 = Li[k + 3] > m3 ? Li[k + 3] : m3;
            }
            for (; k < K; k++) m0 = Li[k] > m0 ? Li[k] : m0;
            m0 = m1 > m0 ? m1 : m0;
            m2 = m3 > m2 ? m3 : m2;
            m0 = m2 > m0 ? m2 : m0;
            rowmax[i] = m0;
            for (k = 0; k < K; k++) Li[k] -= m0;
        }
    }
    /* per row: rowsum[i] = sum_k L[i,k] (four partial sums, fixed order) */
    EMSEQ_BODY void b_rowsum(const double *restrict L, Py_ssize_t n, Py_ssize_t K,
                             double *restrict rowsum) {
        for (Py_ssize_t i = 0; i < n; i++) {
            const double *restrict Li = L + i * K;
            double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
            Py_ssize_t k = 0;
            for (; k + 4 <= K; k += 4) {
                a0 += Li[k]; a1 += Li[k + 1]; a2 += Li[k + 2]; a3 += Li[k + 3];
            }
            for (; k < K; k++) a0 += Li[k];
            rowsum[i] = (a0 + a1) + (a2 + a3);
        }
    }

    #define EMSEQ_VARIANTS(ATTR, SUF) \
    ATTR static void exp_##SUF(double *x, Py_ssize_t n) { b_exp(x, n); } \
    ATTR static void shift_##SUF(double *L, Py_ssize_t n, Py_ssize_t K, double *mx) \
        { b_shift(L, n, K, mx); } \
    ATTR static void rowsum_##SUF(const double *L, Py_ssize_t n, Py_ssize_t K, double *sm) \
        { b_rowsum(L, n, K, sm); } \
    ATTR static void diag_logdens_##SUF(const double *x, Py_ssize_t n, Py_ssize_t D, \
        Py_ssize_t K, const double *mT, const double *pT, const double *ln, double *L) \
        { b_diag_logdens(x, n, D, K, mT, pT, ln, L); } \
    ATTR static void diag_stats_##SUF(const double *x, Py_ssize_t n, Py_ssize_t D, \
        Py_ssize_t K, const double *mT, const double *R, double *nk, double *s1, double *s2) \
        { b_diag_stats(x, n, D, K, mT, R, nk, s1, s2); } \
    ATTR static void full_logdens_##SUF(const double *x, Py_ssize_t n, Py_ssize_t D, \
        Py_ssize_t K, const double *mT, const double *U, const double *ln, double *L, \
        double *diff, double *y) { b_full_logdens(x, n, D, K, mT, U, ln, L, diff, y); } \
    ATTR static void full_stats_##SUF(const double *x, Py_ssize_t n, Py_ssize_t D, \
        Py_ssize_t K, const double *mT, const double *R, double *nk, double *s1, double *s2, \
        double *diff, double *y) { b_full_stats(x, n, D, K, mT, R, nk, s1, s2, diff, y); }

    EMSEQ_VARIANTS(, base)
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    EMSEQ_VARIANTS(__attribute__((target("avx2,fma"))), avx2)
    static int emseq_has_avx2 = -1;
    static inline int emseq_avx2(void) {
        if (emseq_has_avx2 < 0)  /* benign race: every thread computes the same value */
            emseq_has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        return emseq_has_avx2;
    }
    #define EMSEQ_DISPATCH(name, ...) \
        do { if (emseq_avx2()) name##_avx2(__VA_ARGS__); else name##_base(__VA_ARGS__); } while (0)
    #else
    #define EMSEQ_DISPATCH(name, ...) name##_base(__VA_ARGS__)
    #endif
    static void emseq_exp_neg_array(double *x, Py_ssize_t n) { EMSEQ_DISPATCH(exp, x, n); }
    static void emseq_shift(double *L, Py_ssize_t n, Py_ssize_t K, double *mx) {
        EMSEQ_DISPATCH(shift, L, n, K, mx);
    }
    static void emseq_rowsum(const double *L, Py_ssize_t n, Py_ssize_t K, double *sm) {
        EMSEQ_DISPATCH(rowsum, L, n, K, sm);
    }
    static void emseq_diag_logdens(const double *x, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                                   const double *mT, const double *pT, const double *ln,
                                   double *L) {
        EMSEQ_DISPATCH(diag_logdens, x, n, D, K, mT, pT, ln, L);
    }
    static void emseq_diag_stats(const double *x, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                                 const double *mT, const double *R, double *nk, double *s1,
                                 double *s2) {
        EMSEQ_DISPATCH(diag_stats, x, n, D, K, mT, R, nk, s1, s2);
    }
    static void emseq_full_logdens(const double *x, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                                   const double *mT, const double *U, const double *ln,
                                   double *L, double *diff, double *y) {
        EMSEQ_DISPATCH(full_logdens, x, n, D, K, mT, U, ln, L, diff, y);
    }
    static void emseq_full_stats(const double *x, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                                 const double *mT, const double *R, double *nk, double *s1,
                                 double *s2, double *diff, double *y) {
        EMSEQ_DISPATCH(full_stats, x, n, D, K, mT, R, nk, s1, s2, diff, y);
    }
    """
    double emseq_exp_neg(double x) noexcept nogil
    void emseq_exp_neg_array(double* x, Py_ssize_t n) noexcept nogil
    void emseq_shift(double* L, Py_ssize_t n, Py_ssize_t K, double* mx) noexcept nogil
    void emseq_rowsum(const double* L, Py_ssize_t n, Py_ssize_t K, double* sm) noexcept nogil
    void emseq_diag_logdens(const double* x, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                            const double* mT, const double* pT, const double* ln,
                            double* L) noexcept nogil
    void emseq_diag_stats(const double* x, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                          const double* mT, const double* R, double* nk, double* s1,
                          double* s2) noexcept nogil
    void emseq_full_logdens(const double* x, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                            const double* mT, const double* U, const double* ln, double* L,
                            double* diff, double* y) noexcept nogil
    void emseq_full_stats(const double* x, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                          const double* mT, const double* R, double* nk, double* s1,
                          double* s2, double* diff, double* y) noexcept nogil

cdef enum:
    CHUNK = 128
    MAX_BLOCKS = 32
    BLAS_MIN_D = 12
    SYRK_MIN_D = 32
    FULL = 0
    TIED = 1
    DIAG = 2
    SPHERICAL = 3


def exp_neg(double[::1] x):
    """The kernel's exp for x <= 0, in place (exposed for tests)."""
    if x.shape[0]:
        emseq_exp_neg_array(&x[0], x.shape[0])
    return np.asarray(x)


def n_blocks(Py_ssize_t n_samples):
    """Number of accumulation blocks for ``n_samples`` rows (independent of the thread count)."""
    return int(max(1, min(MAX_BLOCKS, (n_samples + CHUNK - 1) // CHUNK)))


cdef inline void _load(const floating* X, Py_ssize_t start, Py_ssize_t n, Py_ssize_t D,
                       double* xc) noexcept nogil:
    cdef Py_ssize_t t
    for t in range(n * D):
        xc[t] = X[start * D + t]


cdef void _block(const floating* X, Py_ssize_t row0, Py_ssize_t row1, Py_ssize_t D,
                 Py_ssize_t K, const double* sw, const double* means, const double* meansT,
                 const double* prec, const double* aux, const double* log_norm, int cov,
                 bint hard, bint use_blas, bint want_stats, double* nk,
                 double* s1, double* s2, double* ll_sum, double* ll_rows, floating* resp,
                 long long* labels, double* xc, double* L, double* diff, double* y,
                 double* rowmax, double* rowsum, long long* arg) noexcept nogil:
    # Layouts. U_k: upper-triangular Cholesky factor of precision k (P_k = U_k U_k^T).
    # log_norm[k] = log w_k + log det U_k - D/2 log(2 pi) (minus 0.5 sum_j mu_kj^2 P_kj on the
    # diag/spherical BLAS route). means (K, D), meansT (D, K) = the current means m_k, except
    # full/BLAS where means[k] = (m_k - c) U_k.
    #   direct route                          | BLAS route
    #   full:  prec (D, D, K) = U_k[t, j]     | prec (D, K*D) = [U_1 ... U_K], aux (1, D) = c
    #   tied:  prec (D, D) = U, aux (D, K) = (means @ U)^T (both routes)
    #   diag/spherical: prec (D, K) = P^T     | prec (K, D) = P, aux (K, D) = means * P
    # Accumulators (this block's): nk (K,);
    #   direct: s1 (D, K) = sum r (x - m_k); s2 diag/spherical (D, K) = sum r (x - m_k)^2,
    #           full (D, D, K) lower (a >= b) of sum r (x - m_k)(x - m_k)^T; tied: none.
    #   BLAS:   raw sums: diag/spherical s1 (K, D) = sum r x, s2 (K, D) = sum r x^2;
    #           full on centred rows: s1 (K, D) = sum r (x - c), s2 (D, K*D) of
    #           sum r (x - c)(x - c)^T, or (K, D, D) lower when D >= SYRK_MIN_D (dsyrk);
    #           tied s1 (D, K) as direct.
    cdef Py_ssize_t start, n, i, k, j, t, a, b, best
    cdef double maha, m, m2, m3, m4, s, s2_, s3, s4, w, r, lr, rd, val, xj, acc
    cdef bint want_arg = hard or labels != NULL
    cdef const double* mu
    cdef const double* U
    cdef const double* row
    cdef double* Li
    cdef double* dk
    cdef int iD = <int>D, iN, iK = <int>K, iKD = <int>(K * D)
    cdef double one = 1.0, zero = 0.0, mtwo = -2.0
    cdef char cN = b'N', cU = b'U', cT = b'T'

    start = row0
    while start < row1:
        n = row1 - start
        if n > CHUNK:
            n = CHUNK
        iN = <int>n
        _load(X, start, n, D, xc)

        # ---- phase 1: log-densities L[i, k] ----
        if cov == FULL and use_blas:
            # centred rows (aux = centre c); one dgemm for every component at once:
            # y (n, K*D) = xc @ [U_1 ... U_K] (prec is that (D, K*D) matrix), and
            # maha_ik = ||y_i,k - (m_k - c) U_k||^2 with ``means`` holding (m_k - c) U_k.
            for i in range(n):
                for j in range(D):
                    xc[i * D + j] = xc[i * D + j] - aux[j]
            dgemm(&cN, &cN, &iKD, &iN, &iD, &one, <double*>prec, &iKD, xc, &iD, &zero, y,
                  &iKD)
            for i in range(n):
                for k in range(K):
                    row = y + i * K * D + k * D
                    mu = means + k * D
                    maha = 0.0
                    for j in range(D):
                        val = row[j] - mu[j]
                        maha = maha + val * val
                    L[i * K + k] = log_norm[k] - 0.5 * maha
        elif use_blas and cov >= DIAG:  # diag/spherical, many features: expanded quadratic form via BLAS
            # L = log_norm - 0.5 (x^2 @ P^T - 2 x @ (mu P)^T); prec = P (K, D), aux = mu P,
            # sum_j mu_kj^2 P_kj folded into log_norm by the caller. diff holds x^2.
            for t in range(n * D):
                diff[t] = xc[t] * xc[t]
            dgemm(&cT, &cN, &iK, &iN, &iD, &one, <double*>prec, &iD, diff, &iD, &zero, L, &iK)
            dgemm(&cT, &cN, &iK, &iN, &iD, &mtwo, <double*>aux, &iD, xc, &iD, &one, L, &iK)
            for i in range(n):
                Li = L + i * K
                for k in range(K):
                    Li[k] = log_norm[k] - 0.5 * Li[k]
        elif cov == FULL:
            emseq_full_logdens(xc, n, D, K, meansT, prec, log_norm, L, diff, y)
        elif cov == TIED:
            if use_blas:
                dgemm(&cN, &cN, &iD, &iN, &iD, &one, <double*>prec, &iD, xc, &iD, &zero, y, &iD)
            else:
                for i in range(n):
                    for j in range(D):
                        acc = 0.0
                        for t in range(j + 1):
                            acc = acc + xc[i * D + t] * prec[t * D + j]
                        y[i * D + j] = acc
            emseq_diag_logdens(y, n, D, K, aux, NULL, log_norm, L)
        else:  # diag, spherical (precisions expanded to (D, K))
            emseq_diag_logdens(xc, n, D, K, meansT, prec, log_norm, L)

        # ---- phase 2: log-sum-exp, responsibilities ----
        emseq_shift(L, n, K, rowmax)
        if want_arg:  # first component at the maximum (now 0 after the shift)
            for i in range(n):
                Li = L + i * K
                best = 0
                for k in range(K):
                    if Li[k] == 0.0:
                        best = k
                        break
                arg[i] = best
        emseq_exp_neg_array(L, n * K)
        emseq_rowsum(L, n, K, rowsum)
        for i in range(n):
            Li = L + i * K
            s = rowsum[i]
            m = rowmax[i]
            rowmax[i] = m + log(s)  # now log p(x_i)
            w = 1.0 if sw == NULL else sw[start + i]
            if hard:
                # classification log-likelihood: the best joint log-density
                ll_sum[0] += w * m
            else:
                ll_sum[0] += w * rowmax[i]
            if ll_rows != NULL:
                ll_rows[start + i] = rowmax[i]
            if labels != NULL:
                labels[start + i] = arg[i]
            s = 1.0 / s
            if resp != NULL:
                for k in range(K):
                    resp[(start + i) * K + k] = <floating>(Li[k] * s)
            if hard:
                for k in range(K):
                    Li[k] = 0.0
                Li[arg[i]] = w
            else:
                s = s * w
                for k in range(K):
                    Li[k] = Li[k] * s

        # ---- phase 3: sufficient statistics ----
        if want_stats:
            if cov == FULL and use_blas:
                # raw centred sums: s1 (K, D) += R^T xc ; s2 (D, K*D) += xc^T [r_k xc]_k
                for i in range(n):
                    Li = L + i * K
                    for k in range(K):
                        nk[k] += Li[k]
                    if D < SYRK_MIN_D:
                        for k in range(K):
                            r = Li[k]
                            for j in range(D):
                                y[i * K * D + k * D + j] = r * xc[i * D + j]
                dgemm(&cN, &cT, &iD, &iK, &iN, &one, xc, &iD, L, &iK, &one, s1, &iD)
                if D >= SYRK_MIN_D:
                    # flop-bound: per component, the lower triangle only (s2 (K, D, D))
                    for k in range(K):
                        for i in range(n):
                            rd = sqrt(L[i * K + k])
                            for j in range(D):
                                y[i * D + j] = rd * xc[i * D + j]
                        dsyrk(&cU, &cN, &iD, &iN, &one, y, &iD, &one, s2 + k * D * D, &iD)
                else:
                    dgemm(&cN, &cT, &iKD, &iD, &iN, &one, y, &iKD, xc, &iD, &one, s2, &iKD)
            elif use_blas and cov >= DIAG:  # diag/spherical: raw sums R^T x and R^T x^2, (K, D) row-major
                for i in range(n):
                    Li = L + i * K
                    for k in range(K):
                        nk[k] += Li[k]
                dgemm(&cN, &cT, &iD, &iK, &iN, &one, xc, &iD, L, &iK, &one, s1, &iD)
                dgemm(&cN, &cT, &iD, &iK, &iN, &one, diff, &iD, L, &iK, &one, s2, &iD)
            elif cov == FULL:
                emseq_full_stats(xc, n, D, K, meansT, L, nk, s1, s2, diff, y)
            elif cov == TIED:
                emseq_diag_stats(xc, n, D, K, meansT, L, nk, s1, NULL)
            else:
                emseq_diag_stats(xc, n, D, K, meansT, L, nk, s1, s2)
        start = start + n


def estep(const floating[:, ::1] X, const double[::1] sample_weight,
          const double[:, ::1] means, const double[::1] prec, const double[:, ::1] aux,
          const double[::1] log_norm, int cov, bint hard, bint want_stats,
          double[:, ::1] nk, double[:, ::1] s1, double[:, ::1] s2, double[::1] ll_sum,
          double[::1] ll_rows, floating[:, ::1] resp, long long[::1] labels, int n_threads):
    """One fused pass: per-row log-likelihood, responsibilities and sufficient statistics.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous  # IN
    sample_weight : ndarray of shape (n_samples,) or (0,) for unit weights  # IN
    means : ndarray of shape (n_components, n_features)  # IN
    prec, aux, log_norm : precision parameters in the layout of :func:`uses_blas` and the
        comment of ``_block``  # IN
    cov : int  covariance code (0 full, 1 tied, 2 diag, 3 spherical)
    hard : bool  classification EM (one-hot responsibilities, objective sum of max log-density)
    want_stats : bool  accumulate nk, s1, s2 (else only the outputs below)
    nk, s1, s2, ll_sum : per-block accumulators, shapes (B, K), (B, D*K), (B, S2), (B,)  # OUT
    ll_rows : ndarray (n_samples,) or (0,)  per-row log p(x_n)  # OUT
    resp : ndarray (n_samples, K) or (0, K)  responsibilities (without sample weight)  # OUT
    labels : ndarray (n_samples,) or (0,)  most probable component  # OUT
    n_threads : int
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], K = means.shape[0]
    cdef Py_ssize_t B = nk.shape[0], blk, row0, row1
    cdef bint use_blas = uses_blas(D, cov, K)
    cdef double* xc
    cdef double* L
    cdef double* diff
    cdef double* y
    cdef double* rowmax
    cdef double* rowsum
    cdef long long* arg
    cdef const double* swp = NULL
    cdef double* llr = NULL
    cdef floating* rp = NULL
    cdef long long* lab = NULL
    cdef const double* auxp = NULL
    cdef double* s2p
    cdef Py_ssize_t scratch = CHUNK * D * K  # full/BLAS: one chunk of y (n, K*D)
    if B != n_blocks(N):
        raise ValueError("accumulators must have n_blocks(n_samples) rows")
    if N == 0:
        return
    means_t = np.ascontiguousarray(np.asarray(means).T)
    cdef const double[:, ::1] meansT = means_t
    if sample_weight.shape[0] == N:
        swp = &sample_weight[0]
    if ll_rows.shape[0] == N:
        llr = &ll_rows[0]
    if resp.shape[0] == N:
        rp = &resp[0, 0]
    if labels.shape[0] == N:
        lab = &labels[0]
    if aux.shape[0] > 0:
        auxp = &aux[0, 0]
    s2p = &s2[0, 0] if s2.shape[1] > 0 else NULL
    with nogil, parallel(num_threads=n_threads):
        xc = <double*>malloc(CHUNK * D * sizeof(double))
        L = <double*>malloc(CHUNK * K * sizeof(double))
        diff = <double*>malloc(scratch * sizeof(double))
        y = <double*>malloc(scratch * sizeof(double))
        rowmax = <double*>malloc(CHUNK * sizeof(double))
        rowsum = <double*>malloc(CHUNK * sizeof(double))
        arg = <long long*>malloc(CHUNK * sizeof(long long))
        for blk in prange(B, schedule="dynamic", chunksize=1):
            row0 = (blk * N) // B
            row1 = ((blk + 1) * N) // B
            _block(&X[0, 0], row0, row1, D, K, swp, &means[0, 0], &meansT[0, 0], &prec[0],
                   auxp, &log_norm[0], cov, hard, use_blas, want_stats,
                   &nk[blk, 0], &s1[blk, 0],
                   (s2p + blk * s2.shape[1]) if s2p != NULL else NULL, &ll_sum[blk],
                   llr, rp, lab, xc, L, diff, y, rowmax, rowsum, arg)
        free(xc)
        free(L)
        free(diff)
        free(y)
        free(rowmax)
        free(rowsum)
        free(arg)


def full_uses_syrk(Py_ssize_t n_features):
    """Full/BLAS second moments: per-component dsyrk, shape (K, D, D) lower (else one dgemm
    for all components, shape (D, K*D))."""
    return n_features >= SYRK_MIN_D


def uses_blas(Py_ssize_t n_features, int cov, Py_ssize_t n_components):
    """Whether the kernel takes the blocked-BLAS path (many features; measured faster there
    than the direct loops vectorised over components, also for ``full`` with D=16, K=16)."""
    return n_features >= BLAS_MIN_D


cdef void _scatter_block(const floating* X, Py_ssize_t row0, Py_ssize_t row1, Py_ssize_t D,
                         const double* sw, const double* c, double* out, double* xc,
                         bint use_blas) noexcept nogil:
    cdef Py_ssize_t start, n, i, j, a, b
    cdef double w, rd
    cdef int iD = <int>D, iN
    cdef double one = 1.0
    cdef char cN = b'N', cU = b'U'
    start = row0
    while start < row1:
        n = row1 - start
        if n > CHUNK:
            n = CHUNK
        iN = <int>n
        _load(X, start, n, D, xc)
        for i in range(n):
            w = 1.0 if sw == NULL else sw[start + i]
            rd = sqrt(w)
            for j in range(D):
                xc[i * D + j] = rd * (xc[i * D + j] - c[j])
        if use_blas:
            dsyrk(&cU, &cN, &iD, &iN, &one, xc, &iD, &one, out, &iD)
        else:
            for i in range(n):
                for a in range(D):
                    for b in range(a + 1):
                        out[a * D + b] += xc[i * D + a] * xc[i * D + b]
        start = start + n


def scatter(const floating[:, ::1] X, const double[::1] sample_weight, const double[::1] center,
            double[:, ::1] out, int n_threads):
    """Per-block lower triangles of ``sum_n w_n (x_n - c)(x_n - c)^T`` (for ``tied``).

    ``out`` has shape (n_blocks(n_samples), D*D) and is accumulated into.  # OUT
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], B = out.shape[0], blk
    cdef const double* swp = NULL
    cdef double* xc
    cdef bint use_blas = D >= BLAS_MIN_D
    if B != n_blocks(N):
        raise ValueError("accumulators must have n_blocks(n_samples) rows")
    if N == 0:
        return
    if sample_weight.shape[0] == N:
        swp = &sample_weight[0]
    with nogil, parallel(num_threads=n_threads):
        xc = <double*>malloc(CHUNK * D * sizeof(double))
        for blk in prange(B, schedule="dynamic", chunksize=1):
            _scatter_block(&X[0, 0], (blk * N) // B, ((blk + 1) * N) // B, D, swp,
                           &center[0], &out[blk, 0], xc, use_blas)
        free(xc)
