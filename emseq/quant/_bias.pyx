# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Kernels of the fragment bias models: observed and expected distributions, bias weights.

A fragment ``[s, s + l)`` of a transcript gets the bias weight

    b(s, l) = gc[bin(GC of the fragment)] * exp(seq5(s) + seq3(s + l - 1)) * pos[class, bin(mid)]

where ``seq5(s)`` is the log-ratio of the sequence context around the fragment's 5' end (the
start of a forward read) and ``seq3(e)`` that of the reverse-complemented context around its
3' end (the start of a reverse read), each a position-specific first-order Markov chain over
``CONTEXT_WIDTH`` bases from ``CONTEXT_LEFT`` bases before the read start. The expected
distributions sum over every position of every transcript and a small set of representative
fragment lengths (``lengths``/``mass``), each position weighted by the transcript's fragment
rate ``rho`` and the *other* factors' current weights (backfitting); the same pass gives each
transcript's sum of bias weights, from which the effective length is corrected.

Tables: ``gc`` (n_gc_bins,), ``log5``/``log3`` (CONTEXT_WIDTH, 5, 4) indexed by position,
previous base (4: none or N) and base; ``pos`` (n_classes, n_pos_bins), the class of a
transcript being the number of ``class_upper`` bounds its length is not below.

All kernels run without the GIL; the expected pass splits the transcripts into ``n_blocks``
contiguous blocks of about equal total length, each summed in order into its own accumulators
(so results do not depend on the number of threads), OpenMP over blocks.
"""

from cython.parallel cimport prange
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from libc.math cimport exp
from libc.stdint cimport int64_t, int32_t, uint8_t

import numpy as np

CONTEXT_LEFT = 4
CONTEXT_WIDTH = 12
DEF LEFT = 4
DEF WIDTH = 12
DEF CTX = 20          # 5 previous states x 4 bases per context position

DEF K_PAIR = 0
DEF K_FORWARD = 1
KIND_PAIR = K_PAIR
KIND_FORWARD = K_FORWARD
KIND_REVERSE = 2

cdef uint8_t CODE[256]
cdef int _i
for _i in range(256):
    CODE[_i] = 4
CODE[ord("A")] = 0
CODE[ord("C")] = 1
CODE[ord("G")] = 2
CODE[ord("T")] = 3
CODE[ord("U")] = 3


cdef inline int _is_gc(uint8_t c) noexcept nogil:
    return c == 67 or c == 71  # 'C', 'G'


cdef inline int _gc_bin(int64_t gc, int64_t length, int n_bins) noexcept nogil:
    if length <= 0:
        return 0
    return <int> ((gc * (n_bins - 1) + length // 2) // length)


cdef inline int _pos_bin(int64_t s, int64_t l, int64_t L, int n_bins) noexcept nogil:
    cdef int64_t b = ((2 * s + l) * n_bins) // (2 * L)
    if b < 0:
        return 0
    return <int> (b if b < n_bins else n_bins - 1)


cdef inline int _class_of(int64_t L, const int64_t *upper, int n_upper) noexcept nogil:
    cdef int c = 0
    while c < n_upper and L >= upper[c]:
        c += 1
    return c


cdef inline int _base(const uint8_t *seq, int64_t L, int64_t q, int reverse) noexcept nogil:
    """Code of the base at ``q`` (complemented on the reverse strand); 4 outside or N."""
    cdef int c
    if q < 0 or q >= L:
        return 4
    c = CODE[seq[q]]
    if reverse and c < 4:
        return 3 - c
    return c


cdef inline double _context_log(const double *table, const uint8_t *seq, int64_t L, int64_t p,
                                int reverse) noexcept nogil:
    """Log-ratio of the context of a read starting at ``p`` (reading leftwards if reverse)."""
    cdef int j, prev = 4, c
    cdef double acc = 0.0
    for j in range(WIDTH):
        c = _base(seq, L, p - LEFT + j if not reverse else p + LEFT - j, reverse)
        if c < 4:
            acc += table[j * CTX + prev * 4 + c]
        prev = c
    return acc


cdef inline void _context_add(double *table, const uint8_t *seq, int64_t L, int64_t p,
                              int reverse, double w) noexcept nogil:
    cdef int j, prev = 4, c
    for j in range(WIDTH):
        c = _base(seq, L, p - LEFT + j if not reverse else p + LEFT - j, reverse)
        if c < 4:
            table[j * CTX + prev * 4 + c] += w
        prev = c


def block_bounds(const int64_t[::1] offsets, int n_blocks):
    """Split transcripts into ``n_blocks`` contiguous blocks of about equal total length."""
    n = offsets.shape[0] - 1
    total = offsets[n]
    targets = (np.arange(1, n_blocks) * total) // max(1, n_blocks)
    cuts = np.searchsorted(np.asarray(offsets), targets)
    return np.unique(np.concatenate(([0], np.clip(cuts, 0, n), [n]))).astype(np.int64)


def expected_pass(const uint8_t[::1] seq,              # IN  all transcripts, ASCII
                  const int64_t[::1] offsets,          # IN  (n_tx + 1,)
                  const double[::1] counts,            # IN  (n_tx,) fragments per transcript
                  const int64_t[::1] lengths,          # IN  (K,) representative lengths
                  const double[::1] mass,              # IN  (K,) their probabilities
                  const double[::1] gc,                # IN  (G,) current GC weights
                  const double[:, :, ::1] log5,        # IN  (WIDTH, 5, 4)
                  const double[:, :, ::1] log3,        # IN  (WIDTH, 5, 4)
                  const double[:, ::1] pos,            # IN  (C, P)
                  const int64_t[::1] class_upper,      # IN  (C - 1,)
                  const int64_t[::1] blocks,           # IN  (n_blocks + 1,) transcript cuts
                  double[::1] bias_sum,                # OUT (n_tx,) sum of m * b(s, l)
                  double[::1] mass_sum,                # OUT (n_tx,) sum of m
                  double[:, ::1] exp_gc,               # OUT (n_blocks, G)
                  double[:, :, :, ::1] exp5,           # OUT (n_blocks, WIDTH, 5, 4)
                  double[:, :, :, ::1] exp3,           # OUT (n_blocks, WIDTH, 5, 4)
                  double[:, :, ::1] exp_pos,           # OUT (n_blocks, C, P)
                  const int64_t[::1] rows,             # IN  (n_tx,) row in the histograms
                  double[:, ::1] gc_hist,              # OUT (n_rows, G)
                  double[:, ::1] pos_hist,             # OUT (n_rows, P)
                  bint use_seq, bint want_tables=True, int n_threads=1):
    """One pass over every fragment position of the expressed transcripts.

    Transcripts with ``counts[t] <= 0`` are skipped (their sums stay 0: no correction). For
    the others, ``bias_sum``/``mass_sum`` receive the sum of the bias weights of their fragment
    positions; with ``want_tables``, the transcript's ``counts[t]`` fragments are also spread
    over its positions in proportion to their bias weight (the positions' distribution given
    the transcript, which does not depend on the abundances), and each factor's table receives
    the positions' fragments divided by that factor's weight, so that ``observed / expected``
    is that factor's updated weight (iterative proportional fitting, one factor given the
    others). One sweep: the spread is accumulated per transcript unnormalised and scaled by
    ``counts[t] / bias_sum[t]`` at the end. A transcript shorter than every representative
    length counts as one fragment covering it.

    With ``want_tables``, row ``rows[t]`` of ``gc_hist`` (when it has rows) also receives the transcript's
    fragment positions per GC bin weighted by the sequence and positional factors (so that
    ``bias_sum[t] = gc_hist[rows[t]] @ gc``), and of ``pos_hist`` its positions per positional
    bin weighted by the GC and sequence factors: the GC and positional factors can then be
    fitted to convergence without another pass (they are confounded with the abundances
    when transcripts differ in GC more than their fragments do).
    """
    cdef int n_blocks = blocks.shape[0] - 1
    cdef int K = lengths.shape[0], G = gc.shape[0], C = pos.shape[0], P = pos.shape[1]
    cdef int n_upper = class_upper.shape[0]
    cdef int blk
    if n_blocks <= 0:
        return
    exp_gc[:, :] = 0.0
    exp5[:, :, :, :] = 0.0
    exp3[:, :, :, :] = 0.0
    exp_pos[:, :, :] = 0.0
    for blk in prange(n_blocks, nogil=True, schedule="dynamic", num_threads=max(1, n_threads)):
        _expected_block(&seq[0], &offsets[0], &counts[0], &lengths[0], &mass[0], K, &gc[0], G,
                        &log5[0, 0, 0], &log3[0, 0, 0], &pos[0, 0], C, P,
                        &class_upper[0] if n_upper > 0 else NULL, n_upper,
                        blocks[blk], blocks[blk + 1], &bias_sum[0], &mass_sum[0],
                        &exp_gc[blk, 0], &exp5[blk, 0, 0, 0], &exp3[blk, 0, 0, 0],
                        &exp_pos[blk, 0, 0], &rows[0],
                        &gc_hist[0, 0] if gc_hist.shape[0] > 0 else NULL,
                        &pos_hist[0, 0] if pos_hist.shape[0] > 0 else NULL,
                        use_seq, want_tables)


cdef void _expected_block(const uint8_t *seq, const int64_t *offsets, const double *counts,
                          const int64_t *lengths, const double *mass, int K, const double *gc,
                          int G, const double *log5, const double *log3, const double *pos,
                          int C, int P, const int64_t *class_upper, int n_upper,
                          int64_t t0, int64_t t1, double *bias_sum, double *mass_sum,
                          double *exp_gc, double *exp5, double *exp3, double *exp_pos,
                          const int64_t *rows, double *gc_hist, double *pos_hist,
                          bint use_seq, bint want_tables) noexcept nogil:
    cdef int64_t t, L, s, e, l, max_len = 0, n_pos
    cdef int k, g, c, pb, fits
    cdef const uint8_t *tx
    cdef int32_t *gcpre
    cdef double *r5
    cdef double *r3
    cdef double *w5
    cdef double *w3
    cdef double *tgc
    cdef double *tpos
    cdef double m, b, pg, pp, q53, bs, ms, rt
    cdef int64_t two_l_p, bound, max_frag = 0
    cdef int *gc_lut         # GC bin of each GC count, per representative length
    cdef int64_t *lut_start
    for t in range(t0, t1):
        L = offsets[t + 1] - offsets[t]
        if L > max_len and counts[t] > 0:
            max_len = L
    for k in range(K):
        max_frag += lengths[k] + 1
    max_frag += max_len + 1            # the whole-transcript fragment of short transcripts
    gc_lut = <int *> malloc(max_frag * sizeof(int))
    lut_start = <int64_t *> malloc((K + 1) * sizeof(int64_t))
    if gc_lut == NULL or lut_start == NULL:
        free(gc_lut); free(lut_start)
        return
    lut_start[0] = 0
    for k in range(K):
        lut_start[k + 1] = lut_start[k] + (lengths[k] + 1 if lengths[k] > 0 else 0)
        for g in range(<int> (lengths[k] + 1) if lengths[k] > 0 else 0):
            gc_lut[lut_start[k] + g] = _gc_bin(g, lengths[k], G)
    gcpre = <int32_t *> malloc((max_len + 1) * sizeof(int32_t))
    r5 = <double *> malloc((max_len + 1) * sizeof(double))
    r3 = <double *> malloc((max_len + 1) * sizeof(double))
    w5 = <double *> malloc((max_len + 1) * sizeof(double))
    w3 = <double *> malloc((max_len + 1) * sizeof(double))
    tgc = <double *> malloc(G * sizeof(double))
    tpos = <double *> malloc(P * sizeof(double))
    if (gcpre == NULL or r5 == NULL or r3 == NULL or w5 == NULL or w3 == NULL or tgc == NULL
            or tpos == NULL):
        free(gcpre); free(r5); free(r3); free(w5); free(w3); free(tgc); free(tpos)
        free(gc_lut); free(lut_start)
        return
    for t in range(t0, t1):
        L = offsets[t + 1] - offsets[t]
        bias_sum[t] = 0.0
        mass_sum[t] = 0.0
        if L <= 0 or counts[t] <= 0:
            continue
        tx = seq + offsets[t]
        c = _class_of(L, class_upper, n_upper)
        gcpre[0] = 0
        for s in range(L):
            gcpre[s + 1] = gcpre[s] + _is_gc(tx[s])
            if use_seq:
                r5[s] = exp(_context_log(log5, tx, L, s, 0))
                r3[s] = exp(_context_log(log3, tx, L, s, 1))
            else:
                r5[s] = 1.0
                r3[s] = 1.0
        if want_tables:
            memset(w5, 0, L * sizeof(double))
            memset(w3, 0, L * sizeof(double))
            memset(tgc, 0, G * sizeof(double))
            memset(tpos, 0, P * sizeof(double))
        bs = 0.0
        ms = 0.0
        fits = 0
        for k in range(K + 1):
            if k < K:
                l = lengths[k]
                m = mass[k]
                if l > L or l <= 0:
                    continue
                fits = 1
            else:
                if fits:
                    break
                l = L          # no representative length fits: one fragment, the transcript
                m = 1.0
            n_pos = L - l + 1
            ms = ms + m * n_pos
            if k == K:         # whole-transcript fragment: its own GC bins after the others
                for g in range(<int> (l + 1)):
                    gc_lut[lut_start[K] + g] = _gc_bin(g, l, G)
            # positional bin of the midpoint, advanced without a division per position:
            # bin pb holds the starts s with 2 L pb <= (2 s + l) P < 2 L (pb + 1)
            pb = _pos_bin(0, l, L, P)
            two_l_p = 2 * L
            bound = two_l_p * (pb + 1)
            for s in range(n_pos):
                e = s + l - 1
                while (2 * s + l) * P >= bound and pb < P - 1:
                    pb += 1
                    bound += two_l_p
                g = gc_lut[lut_start[k] + gcpre[s + l] - gcpre[s]]
                pg = m * gc[g]
                pp = pos[c * P + pb]
                q53 = r5[s] * r3[e]
                b = pg * q53 * pp
                bs = bs + b
                if want_tables:
                    tgc[g] += m * q53 * pp
                    tpos[pb] += pg * q53
                    w5[s] += pg * r3[e] * pp
                    w3[e] += pg * r5[s] * pp
        bias_sum[t] = bs
        mass_sum[t] = ms
        if not want_tables or bs <= 0:
            continue
        rt = counts[t] / bs
        for g in range(G):
            exp_gc[g] += rt * tgc[g]
        for pb in range(P):
            exp_pos[c * P + pb] += rt * tpos[pb]
        if rows[t] >= 0 and gc_hist != NULL:
            for g in range(G):
                gc_hist[rows[t] * G + g] = tgc[g]
        if rows[t] >= 0 and pos_hist != NULL:
            for pb in range(P):
                pos_hist[rows[t] * P + pb] = tpos[pb]
        if use_seq:
            for s in range(L):
                if w5[s] > 0:
                    _context_add(exp5, tx, L, s, 0, rt * w5[s])
                if w3[s] > 0:
                    _context_add(exp3, tx, L, s, 1, rt * w3[s])
    free(gcpre); free(r5); free(r3); free(w5); free(w3); free(tgc); free(tpos)
    free(gc_lut); free(lut_start)


def observed(const uint8_t[::1] seq,            # IN  all transcripts, ASCII
             const int64_t[::1] offsets,        # IN  (n_tx + 1,)
             const int32_t[::1] tids,           # IN  (n,) sampled alignments
             const int64_t[::1] lo,             # IN  (n,) fragment / read start
             const int64_t[::1] span,           # IN  (n,) fragment length / read span
             const uint8_t[::1] kind,           # IN  (n,) KIND_PAIR / FORWARD / REVERSE
             const double[::1] weight,          # IN  (n,) posterior weight
             const int64_t[::1] lengths,        # IN  (K,) representative fragment lengths
             const double[::1] mass,            # IN  (K,)
             const int64_t[::1] class_upper,    # IN  (C - 1,)
             double[::1] obs_gc,                # OUT (G,)  accumulated
             double[:, :, ::1] obs5,            # OUT (WIDTH, 5, 4)
             double[:, :, ::1] obs3,            # OUT (WIDTH, 5, 4)
             double[:, ::1] obs_pos):           # OUT (C, P)
    """Add the sampled alignments' fragment ends, GC and positions, weighted.

    A single read's unseen end is integrated over the representative lengths that fit.
    """
    cdef int64_t n = tids.shape[0], i, t, L, s, e, l, a, z
    cdef int K = lengths.shape[0], G = obs_gc.shape[0], P = obs_pos.shape[1]
    cdef int n_upper = class_upper.shape[0], c, k
    cdef const uint8_t *tx
    cdef double w, total_m
    with nogil:
        for i in range(n):
            w = weight[i]
            t = tids[i]
            if w <= 1e-9 or t < 0 or t >= offsets.shape[0] - 1:
                continue
            L = offsets[t + 1] - offsets[t]
            tx = &seq[offsets[t]]
            s = lo[i]
            l = span[i]
            if L <= 0 or l <= 0 or s < 0 or s + l > L:
                continue
            c = _class_of(L, &class_upper[0] if n_upper > 0 else NULL, n_upper)
            if kind[i] == K_PAIR:
                e = s + l - 1
                _fragment_add(tx, s, l, L, c, w, &obs_gc[0], G, &obs_pos[0, 0], P)
                _context_add(&obs5[0, 0, 0], tx, L, s, 0, w)
                _context_add(&obs3[0, 0, 0], tx, L, e, 1, w)
                continue
            # single read: the fragment starts at its 5' end and extends over an unseen length
            if kind[i] == K_FORWARD:
                _context_add(&obs5[0, 0, 0], tx, L, s, 0, w)
                z = L - s          # room to the right
            else:
                e = s + l - 1
                _context_add(&obs3[0, 0, 0], tx, L, e, 1, w)
                z = e + 1          # room to the left
            total_m = 0.0
            for k in range(K):
                if lengths[k] <= z:
                    total_m += mass[k]
            if total_m <= 0:       # no representative length fits: the fragment fills the room
                a = s if kind[i] == K_FORWARD else s + span[i] - z
                _fragment_add(tx, a, z, L, c, w, &obs_gc[0], G, &obs_pos[0, 0], P)
                continue
            for k in range(K):
                l = lengths[k]
                if l > z:
                    continue
                a = s if kind[i] == K_FORWARD else s + span[i] - l
                _fragment_add(tx, a, l, L, c, w * mass[k] / total_m, &obs_gc[0], G,
                              &obs_pos[0, 0], P)


cdef inline void _fragment_add(const uint8_t *tx, int64_t s, int64_t l, int64_t L, int c,
                               double w, double *obs_gc, int G, double *obs_pos,
                               int P) noexcept nogil:
    """Add a fragment ``[s, s + l)``'s GC bin and positional bin."""
    cdef int64_t a, gc = 0
    for a in range(s, s + l):
        gc += _is_gc(tx[a])
    obs_gc[_gc_bin(gc, l, G)] += w
    obs_pos[c * P + _pos_bin(s, l, L, P)] += w
