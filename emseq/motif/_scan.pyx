"""Cython kernels of ``emseq motif scan`` (FIMO's method, Grant et al. 2011).

Sequences are one concatenated ``uint8`` code array (A, C, G, T = 0..3, unknown = 4) with
``offsets`` marking the sequences, as in :mod:`emseq.motif._kernels`. A motif is a log-odds
matrix ``lo`` of shape (w, 4); its minus-strand matrix is the reverse complement
``lo[::-1, ::-1]``. A window's integer score is ``nint((raw - w * lo_min) * scale)``, MEME's
``raw_to_scaled``; ``pvalue[s]`` is the probability of an integer score ``>= s`` under the
background (see :func:`emseq.motif.scan.score_pvalues`).
"""

from libc.math cimport floor
from libc.stdint cimport int64_t, uint8_t, int8_t

ctypedef uint8_t u8


cdef inline Py_ssize_t _scaled(double raw, int w, double lo_min, double scale,
                               Py_ssize_t top) noexcept nogil:
    cdef double x = (raw - w * lo_min) * scale
    cdef Py_ssize_t s = <Py_ssize_t>floor(x + 0.5)
    if s < 0:
        return 0
    if s > top:
        return top
    return s


def scan_hits(const u8[::1] seq,               # IN (n_letters,)
              const int64_t[::1] offsets,      # IN (n_sequences + 1,)
              const u8[::1] quad,              # IN (n_letters,) 4-mer codes (see quad_codes)
              const double[:, ::1] lo,         # IN (ceil(w / 4), 256) plus-strand 4-mer scores
              const double[:, ::1] lo_rev,     # IN (ceil(w / 4), 256) minus-strand 4-mer scores
              int w,
              double lo_min, double scale,
              const double[::1] pvalue,        # IN (max_score + 1,) P(score >= s)
              double threshold, bint both_strands,
              int64_t[::1] out_pos,            # OUT (capacity,) window start in the concatenation
              int8_t[::1] out_strand,          # OUT (capacity,) +1 or -1
              double[::1] out_score,           # OUT (capacity,) raw log-odds score (bits)
              double[::1] out_pvalue,          # OUT (capacity,)
              ):
    """Every window with ``pvalue < threshold``, on both strands if ``both_strands``.

    The log-odds matrices come as tables of 4-mer scores (:func:`quad_tables`): a window's
    score is ``sum_j lo[j, quad[p + 4 j]]``, a quarter of the lookups of one per column.
    Windows holding an unknown letter or running past their sequence's end are not tested.
    Hits beyond the capacity of the ``out_`` buffers are counted but not stored: the caller
    compares the returned count with the capacity and calls again with larger buffers.

    Returns
    -------
    (n_hits, n_tested) : tuple of int
        Hits found (stored if ``<= capacity``) and windows tested (both strands counted).
    """
    cdef Py_ssize_t n_seq = offsets.shape[0] - 1, capacity = out_pos.shape[0]
    cdef Py_ssize_t n_quads = lo.shape[0]
    cdef Py_ssize_t top = pvalue.shape[0] - 1
    cdef Py_ssize_t i, p, k, end, last_unknown
    cdef int64_t n_hits = 0, n_tested = 0
    cdef double fwd, rev, pv
    cdef u8 x
    with nogil:
        for i in range(n_seq):
            end = offsets[i + 1]
            # last_unknown: the last unknown letter seen; a window must start after it
            last_unknown = offsets[i] - 1
            for k in range(offsets[i], min(offsets[i] + w - 1, end)):
                if seq[k] > 3:
                    last_unknown = k
            for p in range(offsets[i], end - w + 1):
                if seq[p + w - 1] > 3:
                    last_unknown = p + w - 1
                if last_unknown >= p:
                    continue
                fwd = 0.0
                rev = 0.0
                for k in range(n_quads):
                    x = quad[p + 4 * k]
                    fwd = fwd + lo[k, x]
                    rev = rev + lo_rev[k, x]
                n_tested += 1
                pv = pvalue[_scaled(fwd, w, lo_min, scale, top)]
                if pv < threshold:
                    if n_hits < capacity:
                        out_pos[n_hits] = p
                        out_strand[n_hits] = 1
                        out_score[n_hits] = fwd
                        out_pvalue[n_hits] = pv
                    n_hits += 1
                if both_strands:
                    n_tested += 1
                    pv = pvalue[_scaled(rev, w, lo_min, scale, top)]
                    if pv < threshold:
                        if n_hits < capacity:
                            out_pos[n_hits] = p
                            out_strand[n_hits] = -1
                            out_score[n_hits] = rev
                            out_pvalue[n_hits] = pv
                        n_hits += 1
    return n_hits, n_tested


def quad_codes(const u8[::1] seq,      # IN (n_letters,)
               u8[::1] out,            # OUT (n_letters,)
               ):
    """``out[p]``: the 4-mer starting at ``p`` as a base-4 number (first letter most
    significant); unknown letters and letters past the end count as A (windows holding them
    are never scored)."""
    cdef Py_ssize_t n = seq.shape[0], p, t
    cdef int code
    cdef u8 x
    with nogil:
        for p in range(n):
            code = 0
            for t in range(4):
                x = seq[p + t] if p + t < n else 0
                if x > 3:
                    x = 0
                code = code * 4 + x
            out[p] = <u8> code
