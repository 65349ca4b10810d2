"""Cython kernels of emseq.motif: background, scoring, E-step and starting-point search.

Sequences are one concatenated ``uint8`` array of codes (A, C, G, T = 0..3, anything else = 4,
"unknown") with ``offsets`` of shape (n_sequences + 1,) marking where each sequence starts.
A window of width ``w`` is identified by its first position ``p`` in the concatenation.
``logw[p]`` is the log prior weight of the window starting at ``p``: ``-inf`` when the window
is not a possible site (it runs past its sequence's end or holds an unknown letter), otherwise
``log`` of its erasing weight (0 when nothing is erased). ``bgwin[p]`` is the background
log-probability of the window's letters under the Markov background (forward context).

A site on the minus strand at ``p`` is the reverse complement of the window: its column ``k``
reads the letter ``3 - seq[p + w - 1 - k]``; equivalently letter ``seq[p + k]`` meets column
``w - 1 - k`` complemented. Kernels are stateless: they fill buffers the caller allocated
(marked ``# OUT``); the Python layer owns iteration and convergence.
"""

from cython.parallel cimport prange, threadid
from libc.math cimport exp, log, log1p, INFINITY, fabs
from libc.stdint cimport int64_t, uint8_t, int8_t

ctypedef uint8_t u8

#: posteriors below this are left out of the expected counts (their total effect on a column
#: is below 1e-9 sites per million windows, far below the round-off the monitor tolerates)
cdef double ZMIN = 1e-15
#: log-space margin below which a term is skipped (exp(-37) < 1e-16, under double round-off)
cdef double SKIP = 37.0

cdef enum:
    OOPS = 0
    ZOOPS = 1
    TCM = 2


cdef inline double _logaddexp(double a, double b) noexcept nogil:
    if a == -INFINITY:
        return b
    if b == -INFINITY:
        return a
    if a > b:
        return a + log1p(exp(b - a))
    return b + log1p(exp(a - b))


def count_kmers(const u8[::1] seq,            # IN (n_letters,)
                const int64_t[::1] offsets,   # IN (n_sequences + 1,)
                int order,
                double[::1] counts,           # OUT sum_{o<=order} 4^(o+1), zeroed by caller
                ):
    """Count the (o+1)-mers of every order ``o <= order`` that contain no unknown letter.

    ``counts`` holds one block per order, block ``o`` of size ``4**(o+1)`` starting at
    ``sum(4**(q+1) for q < o)``; a k-mer's index is its base-4 number (first letter most
    significant).
    """
    cdef Py_ssize_t n_seq = offsets.shape[0] - 1, i, p
    cdef int o, run
    cdef int64_t code, block, size
    cdef u8 x
    with nogil:
        for i in range(n_seq):
            run = 0
            code = 0
            for p in range(offsets[i], offsets[i + 1]):
                x = seq[p]
                if x > 3:
                    run = 0
                    code = 0
                    continue
                code = (code * 4 + x) % (<int64_t> 1 << (2 * (order + 1)))
                run += 1
                block = 0
                size = 4
                for o in range(order + 1):
                    if run > o:
                        counts[block + code % size] += 1.0
                    block += size
                    size *= 4


def background_logprob(const u8[::1] seq,             # IN (n_letters,)
                       const int64_t[::1] offsets,    # IN (n_sequences + 1,)
                       int order,
                       const double[::1] logcond,     # IN layout of count_kmers
                       double[::1] out,               # OUT (n_letters,)
                       ):
    """Log-probability of each letter given its preceding context under the Markov background.

    The context is the ``order`` previous letters, shortened at a sequence start or after an
    unknown letter (lower-order tables are used there). Unknown letters get 0.
    """
    cdef Py_ssize_t n_seq = offsets.shape[0] - 1, i, p
    cdef int o, run
    cdef int64_t code, block, q
    cdef int64_t modulus = (<int64_t> 1) << (2 * order) if order > 0 else 1
    cdef u8 x
    with nogil:
        for i in range(n_seq):
            run = 0
            code = 0
            for p in range(offsets[i], offsets[i + 1]):
                x = seq[p]
                if x > 3:
                    out[p] = 0.0
                    run = 0
                    code = 0
                    continue
                o = run if run < order else order
                block = 0
                for q in range(o):
                    block += (<int64_t> 4) << (2 * q)
                out[p] = logcond[block + (code % ((<int64_t> 1) << (2 * o))) * 4 + x]
                if order > 0:
                    code = (code * 4 + x) % modulus
                run += 1


def score_windows(const u8[::1] seq,          # IN (n_letters,)
                  const double[:, ::1] lp,    # IN (w, 4) log-probabilities of the PWM
                  const double[::1] bgwin,    # IN (n_letters,)
                  const double[::1] logw,     # IN (n_letters,) -inf where no site may start
                  double[::1] out_fwd,        # OUT (n_letters,)
                  double[::1] out_rev,        # OUT (n_letters,)
                  int n_threads=1):
    """Log-likelihood ratio (PWM vs background) of every window on both strands (-inf if invalid)."""
    cdef Py_ssize_t n = seq.shape[0], p
    cdef int w = lp.shape[0], k
    cdef double sf, sr
    cdef u8 x
    for p in prange(n, nogil=True, num_threads=n_threads, schedule="static"):
        if logw[p] == -INFINITY:
            out_fwd[p] = -INFINITY
            out_rev[p] = -INFINITY
            continue
        sf = 0.0
        sr = 0.0
        for k in range(w):
            x = seq[p + k]
            sf = sf + lp[k, x]
            sr = sr + lp[w - 1 - k, 3 - x]
        out_fwd[p] = sf - bgwin[p]
        out_rev[p] = sr - bgwin[p]


def estep(const u8[::1] seq,               # IN (n_letters,)
          const int64_t[::1] offsets,      # IN (n_sequences + 1,)
          const double[:, ::1] lp,         # IN (w, 4) log-probabilities of the PWM
          const double[::1] bgwin,         # IN (n_letters,)
          const double[::1] logw,          # IN (n_letters,)
          int model,                       # 0 OOPS, 1 ZOOPS, 2 TCM
          double prior,                    # gamma (ZOOPS) or lambda (TCM); ignored for OOPS
          bint revcomp,
          double[:, :, ::1] counts,        # OUT (n_threads, w, 4) zeroed by caller
          double[::1] ll_seq,              # OUT (n_sequences,) log-likelihood (ratio) per sequence
          double[::1] z_seq,               # OUT (n_sequences,) sum of site posteriors
          double[::1] n_seq,               # OUT (n_sequences,) number of possible sites
          double[:, ::1] buf,              # scratch (n_threads, 2 * max_length)
          int n_threads=1):
    """One E-step of the OOPS / ZOOPS / TCM mixture, with expected letter counts per column.

    With ``s`` the log-likelihood ratio of a window (plus its ``logw``) and ``m`` the number
    of possible sites of the sequence times the number of strands:

    - OOPS: ``ll = logsumexp(s) - log m``, posterior ``exp(s - logsumexp(s))``;
    - ZOOPS: ``ll = log((1 - gamma) + gamma / m * sum exp(s))``;
    - TCM: each window independently, ``ll = sum log((1 - lambda) + lambda / n_strands * sum_strand
      exp(s)) + bgwin`` (the background log-probability of the windows is included, as the data
      of the TCM mixture are the windows).

    For OOPS and ZOOPS ``ll_seq`` is the log-likelihood ratio against the all-background
    sequence (the caller adds the background log-likelihood).
    """
    cdef Py_ssize_t n_s = offsets.shape[0] - 1, i, p, j, start, n_win
    cdef int w = lp.shape[0], k, t, nstr = 2 if revcomp else 1
    cdef double sf, sr, mx, tot, L, lognorm, a, lse, post, zf, zr, nvalid
    cdef double log1m = log1p(-prior) if (model != OOPS and prior < 1.0) else -INFINITY
    cdef double logpi = log(prior) if (model != OOPS and prior > 0.0) else -INFINITY
    cdef double lognstr = log(<double> nstr)
    cdef u8 x
    for i in prange(n_s, nogil=True, num_threads=n_threads, schedule="dynamic", chunksize=4):
        t = threadid()
        start = offsets[i]
        n_win = offsets[i + 1] - start - w + 1
        ll_seq[i] = 0.0
        z_seq[i] = 0.0
        n_seq[i] = 0.0
        if n_win <= 0:
            continue
        mx = -INFINITY
        nvalid = 0.0
        for j in range(n_win):
            p = start + j
            if logw[p] == -INFINITY:
                buf[t, 2 * j] = -INFINITY
                buf[t, 2 * j + 1] = -INFINITY
                continue
            nvalid = nvalid + 1.0
            sf = 0.0
            sr = 0.0
            for k in range(w):
                x = seq[p + k]
                sf = sf + lp[k, x]
                sr = sr + lp[w - 1 - k, 3 - x]
            sf = sf + logw[p] - bgwin[p]
            if revcomp:
                sr = sr + logw[p] - bgwin[p]
            else:
                sr = -INFINITY
            buf[t, 2 * j] = sf
            buf[t, 2 * j + 1] = sr
            if sf > mx:
                mx = sf
            if sr > mx:
                mx = sr
        n_seq[i] = nvalid
        if nvalid == 0.0:
            continue
        if model == TCM:
            tot = 0.0
            zf = 0.0
            for j in range(n_win):
                p = start + j
                if logw[p] == -INFINITY:
                    continue
                a = logpi - lognstr
                sf = a + buf[t, 2 * j]
                sr = a + buf[t, 2 * j + 1]
                if sf < log1m - SKIP and sr < log1m - SKIP:
                    # the site term is below 1e-16 of the background term: no exp/log needed
                    tot = tot + log1m + bgwin[p]
                    continue
                lse = _logaddexp(log1m, _logaddexp(sf, sr))
                tot = tot + lse + bgwin[p]
                sf = exp(a + buf[t, 2 * j] - lse)
                sr = exp(a + buf[t, 2 * j + 1] - lse)
                zf = zf + sf + sr
                if sf + sr < ZMIN:
                    continue
                for k in range(w):
                    x = seq[p + k]
                    counts[t, k, x] += sf
                    counts[t, w - 1 - k, 3 - x] += sr
            ll_seq[i] = tot
            z_seq[i] = zf
            continue
        # OOPS / ZOOPS: log-sum-exp over all windows and strands
        tot = 0.0
        for j in range(2 * n_win):
            if buf[t, j] > mx - SKIP:
                tot = tot + exp(buf[t, j] - mx)
        L = mx + log(tot)
        lognorm = log(nvalid) + lognstr
        if model == OOPS:
            ll_seq[i] = L - lognorm
            post = 1.0
        else:
            a = logpi - lognorm + L
            lse = _logaddexp(log1m, a)
            ll_seq[i] = lse
            post = exp(a - lse)
        z_seq[i] = post
        for j in range(n_win):
            p = start + j
            if logw[p] == -INFINITY:
                continue
            if buf[t, 2 * j] < L - SKIP and buf[t, 2 * j + 1] < L - SKIP:
                continue
            sf = post * exp(buf[t, 2 * j] - L)
            sr = post * exp(buf[t, 2 * j + 1] - L)
            if sf + sr < ZMIN:
                continue
            for k in range(w):
                x = seq[p + k]
                counts[t, k, x] += sf
                counts[t, w - 1 - k, 3 - x] += sr


def best_sites(const u8[::1] seq,              # IN (n_letters,)
               const int64_t[::1] offsets,     # IN (n_sequences + 1,)
               const double[:, :, ::1] lps,    # IN (n_seeds, w, 4) log-probabilities
               const double[::1] bgwin,        # IN (n_letters,)
               const double[::1] logw,         # IN (n_letters,)
               bint revcomp,
               double[:, ::1] out_score,       # OUT (n_seeds, n_sequences)
               int64_t[:, ::1] out_pos,        # OUT (n_seeds, n_sequences) window start, -1 if none
               int8_t[:, ::1] out_strand,      # OUT (n_seeds, n_sequences) +1 / -1
               int n_threads=1):
    """For every seed PWM and every sequence, the best-scoring window (score + logw) and strand.

    The starting-point search: the cost is n_seeds x n_letters x w x strands, linear in the
    data for a bounded number of seeds. Parallel over sequences; each thread scans one
    sequence against every seed while the sequence is in cache.
    """
    cdef Py_ssize_t n_s = offsets.shape[0] - 1, n_seeds = lps.shape[0], i, s, p, start, end
    cdef int w = lps.shape[1], k
    cdef double sf, sr, best
    cdef int64_t bpos
    cdef int8_t bstr
    cdef u8 x
    for i in prange(n_s, nogil=True, num_threads=n_threads, schedule="dynamic", chunksize=4):
        start = offsets[i]
        end = offsets[i + 1] - w + 1
        for s in range(n_seeds):
            best = -INFINITY
            bpos = -1
            bstr = 1
            for p in range(start, end):
                if logw[p] == -INFINITY:
                    continue
                sf = 0.0
                sr = 0.0
                for k in range(w):
                    x = seq[p + k]
                    sf = sf + lps[s, k, x]
                    sr = sr + lps[s, w - 1 - k, 3 - x]
                sf = sf + logw[p] - bgwin[p]
                sr = sr + logw[p] - bgwin[p]
                if sf > best:
                    best = sf
                    bpos = p
                    bstr = 1
                if revcomp and sr > best:
                    best = sr
                    bpos = p
                    bstr = -1
            out_score[s, i] = best
            out_pos[s, i] = bpos
            out_strand[s, i] = bstr


def count_words(const u8[::1] seq,       # IN (n_letters,)
                const double[::1] logw,  # IN (n_letters,) for windows of width k
                int k,
                double[::1] counts,      # OUT (4**k,) zeroed by caller
                ):
    """Weighted counts of the k-mers (forward strand) over windows whose ``logw`` is finite."""
    cdef Py_ssize_t n = seq.shape[0], p
    cdef int q
    cdef int64_t code
    with nogil:
        for p in range(n):
            if logw[p] == -INFINITY:
                continue
            code = 0
            for q in range(k):
                code = code * 4 + seq[p + q]
            counts[code] += exp(logw[p])
