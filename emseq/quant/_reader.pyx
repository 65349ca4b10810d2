# cython: language_level=3
"""BAM record loop for ``emseq quant``: records -> fragments -> rich equivalence classes.

The loop walks records through pysam's C API (``sam_read1`` on the ``htsFile`` of an opened
``pysam.AlignmentFile``) with no Python object per record. Records of one read name are
collected (they are adjacent in aligner output), mates are paired by their mate fields
(reference, position) so ``samtools collate`` order works, and each fragment becomes a list of
(transcript, fragment length, orientation, alignment score). The first ``burnin`` fragments are
buffered to learn the fragment length distribution and the library type; then every fragment's
conditional weights are computed, normalised, binned, and the fragment is counted in its rich
equivalence class (transcript set + binned weights) in an open-addressing hash table.

A coordinate-sorted input is handled by :func:`read_bam` with ``group_by_name=True``: all kept
records are copied into memory (up to ``sort_memory`` bytes) and sorted by read name first.
"""

from libc.stdlib cimport malloc, realloc, free, qsort
from libc.string cimport memcpy, strcmp, strlen, memset
from libc.math cimport exp, log, sqrt, floor, INFINITY
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from pysam.libcalignmentfile cimport AlignmentFile
from pysam.libchtslib cimport (bam1_t, bam_init1, bam_destroy1, bam_dup1, sam_read1,
                               bam_endpos, bam_get_qname, bam_aux_get, bam_aux2i,
                               hts_set_threads, htsFile, sam_hdr_t)

import numpy as np
cimport numpy as cnp

cnp.import_array()

# flags
DEF F_PAIRED = 1
DEF F_UNMAP = 4
DEF F_MUNMAP = 8
DEF F_REVERSE = 16
DEF F_READ1 = 64
DEF F_READ2 = 128
DEF F_QCFAIL = 512
DEF F_SUPPL = 2048

# observed orientations (Salmon's names)
DEF FMT_ISF = 0
DEF FMT_ISR = 1
DEF FMT_SF = 2
DEF FMT_SR = 3
DEF FMT_OTHER = 4
DEF N_FMT = 5

# expected library types
LIB_NAMES = ("IU", "ISF", "ISR", "U", "SF", "SR")
DEF LIB_IU = 0
DEF LIB_ISF = 1
DEF LIB_ISR = 2
DEF LIB_U = 3
DEF LIB_SF = 4
DEF LIB_SR = 5
DEF LIB_AUTO = -1

DEF NO_SCORE = -2147483647

# stop codes of the loop
DEF RC_OK = 0
DEF RC_TRUNCATED = 1
DEF RC_RECURRING = 2
DEF RC_ZERO_SPAN = 3
DEF RC_NAME_TOO_LONG = 4
DEF RC_MEMORY = 5


cdef struct Rec:
    int32_t tid
    int32_t mtid
    int64_t pos
    int64_t end
    int64_t mpos
    uint16_t flag
    int32_t score
    int32_t used


cdef struct FAln:
    int32_t tid
    int32_t fraglen     # -1: unknown (single-end or orphan)
    int32_t fmt
    int32_t score       # NO_SCORE when missing


cdef struct SortRec:
    const char *name
    int64_t index


cdef int _cmp_sortrec(const void *a, const void *b) noexcept nogil:
    cdef const SortRec *x = <const SortRec *> a
    cdef const SortRec *y = <const SortRec *> b
    cdef int c = strcmp(x.name, y.name)
    if c != 0:
        return c
    return -1 if x.index < y.index else (1 if x.index > y.index else 0)


cdef int rec_from_bam(bam1_t *b, Rec *r) noexcept nogil:
    """Reduce a record to the fields the fragment logic needs (RC_ZERO_SPAN if unplaceable)."""
    cdef uint8_t *aux
    r.tid = b.core.tid
    r.mtid = b.core.mtid
    r.pos = b.core.pos
    r.mpos = b.core.mpos
    r.flag = b.core.flag
    r.used = 0
    r.end = r.pos
    r.score = NO_SCORE
    if (r.flag & (F_UNMAP | F_SUPPL | F_QCFAIL)) or r.tid < 0:
        return RC_OK
    if b.core.n_cigar == 0:
        return RC_ZERO_SPAN
    r.end = bam_endpos(b)
    if r.end <= r.pos:
        return RC_ZERO_SPAN
    aux = bam_aux_get(b, "AS")
    if aux != NULL:
        r.score = <int32_t> bam_aux2i(aux)
    else:
        # no alignment score: -6 per edit (bowtie2's mismatch penalty) from NM if present
        aux = bam_aux_get(b, "NM")
        r.score = <int32_t> (-6 * bam_aux2i(aux)) if aux != NULL else NO_SCORE
    return RC_OK


cdef inline uint64_t _hash_bytes(const char *s, uint64_t h) noexcept nogil:
    # FNV-1a 64
    cdef size_t i = 0
    while s[i] != 0:
        h ^= <uint8_t> s[i]
        h *= 1099511628211ULL
        i += 1
    return h


cdef inline uint64_t _mix(uint64_t h, uint64_t v) noexcept nogil:
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)
    return h


cdef class EqBuilder:
    """Fragments -> rich equivalence classes; owns every C buffer of one BAM pass."""

    # ---- options
    cdef int n_tx, max_fraglen, lib_type, burnin, n_bins, use_scores, paired_seen
    cdef double score_exp, incompat_log, fld_mean, fld_sd, prior_weight
    cdef int discard_orphans
    cdef int32_t *tid_map
    cdef int64_t *tx_len
    # ---- group buffer
    cdef Rec *recs
    cdef int n_recs, cap_recs
    cdef char name[1024]
    cdef int have_name
    # ---- fragment buffer (burn-in or current fragment)
    cdef FAln *fa
    cdef int64_t n_fa, cap_fa
    cdef int64_t *frag_off
    cdef int64_t n_frag_buf, cap_frag
    cdef int in_burnin
    # ---- fragment length model
    cdef double *fld_hist        # all uniquely aligned pairs
    cdef double *burn_hist       # uniquely aligned pairs within the burn-in
    cdef double *log_pmf
    cdef double *cdf
    # ---- classes
    cdef int64_t n_classes, cap_classes
    cdef int64_t *cls_off
    cdef uint64_t *cls_hash
    cdef double *cls_count
    cdef int64_t nnz, cap_nnz
    cdef int32_t *e_tid
    cdef uint8_t *e_bin
    cdef double *e_wsum
    cdef int64_t *table
    cdef int64_t table_cap
    # ---- scratch per fragment
    cdef int32_t *s_tid
    cdef double *s_w
    cdef uint8_t *s_bin
    cdef int s_cap
    # ---- recurring-name detection (coordinate-sorted input without SO:coordinate)
    cdef uint64_t *seen
    cdef int64_t seen_cap, seen_n
    cdef int track_order
    cdef int32_t last_tid
    cdef int64_t last_pos
    # ---- counters
    cdef public int64_t n_records, n_supplementary, n_unmapped_records, n_qcfail
    cdef public int64_t n_fragments, n_assigned, n_paired_fragments, n_single_fragments
    cdef public int64_t n_orphan_fragments, n_orphans_dropped, n_missing_mate, n_incompatible
    cdef public int64_t n_unique_pairs, n_alignments_used, n_other_format
    cdef public int64_t n_burnin_fragments
    cdef int64_t fmt_counts[N_FMT]
    cdef public int detected_lib
    cdef public int64_t sort_bytes
    cdef public object first_missing_mate
    cdef public object problem_read

    def __cinit__(self, int n_tx, int32_t[::1] tid_map, int64_t[::1] tx_len, *,
                  int lib_type=LIB_AUTO, int burnin=50000, int max_fraglen=1000,
                  double fld_mean=250.0, double fld_sd=25.0, double prior_weight=10.0,
                  double score_exp=1.0, int use_scores=1, double incompat_prior=0.0,
                  int n_bins=4, int discard_orphans=0, int track_order=1):
        cdef int i
        self.n_tx = n_tx
        self.max_fraglen = max_fraglen
        self.lib_type = lib_type
        self.detected_lib = lib_type
        self.burnin = burnin
        self.fld_mean = fld_mean
        self.fld_sd = fld_sd
        self.prior_weight = prior_weight
        self.score_exp = score_exp
        self.use_scores = use_scores
        self.incompat_log = log(incompat_prior) if incompat_prior > 0 else -INFINITY
        self.n_bins = max(1, min(n_bins, 255))
        self.discard_orphans = discard_orphans
        self.track_order = track_order
        self.last_tid = -1
        self.last_pos = -1
        self.tid_map = <int32_t *> malloc(max(1, tid_map.shape[0]) * sizeof(int32_t))
        for i in range(tid_map.shape[0]):
            self.tid_map[i] = tid_map[i]
        self.tx_len = <int64_t *> malloc(max(1, n_tx) * sizeof(int64_t))
        for i in range(n_tx):
            self.tx_len[i] = tx_len[i]
        self.cap_recs = 64
        self.recs = <Rec *> malloc(self.cap_recs * sizeof(Rec))
        self.cap_fa = 4096
        self.fa = <FAln *> malloc(self.cap_fa * sizeof(FAln))
        self.cap_frag = 1024
        self.frag_off = <int64_t *> malloc((self.cap_frag + 1) * sizeof(int64_t))
        self.frag_off[0] = 0
        self.in_burnin = 1
        self.fld_hist = <double *> malloc((max_fraglen + 1) * sizeof(double))
        self.burn_hist = <double *> malloc((max_fraglen + 1) * sizeof(double))
        self.log_pmf = <double *> malloc((max_fraglen + 1) * sizeof(double))
        self.cdf = <double *> malloc((max_fraglen + 1) * sizeof(double))
        memset(self.fld_hist, 0, (max_fraglen + 1) * sizeof(double))
        memset(self.burn_hist, 0, (max_fraglen + 1) * sizeof(double))
        self.cap_classes = 1024
        self.cls_off = <int64_t *> malloc((self.cap_classes + 1) * sizeof(int64_t))
        self.cls_off[0] = 0
        self.cls_hash = <uint64_t *> malloc(self.cap_classes * sizeof(uint64_t))
        self.cls_count = <double *> malloc(self.cap_classes * sizeof(double))
        self.cap_nnz = 4096
        self.e_tid = <int32_t *> malloc(self.cap_nnz * sizeof(int32_t))
        self.e_bin = <uint8_t *> malloc(self.cap_nnz * sizeof(uint8_t))
        self.e_wsum = <double *> malloc(self.cap_nnz * sizeof(double))
        self.table_cap = 4096
        self.table = <int64_t *> malloc(self.table_cap * sizeof(int64_t))
        for i in range(self.table_cap):
            self.table[i] = -1
        self.s_cap = 256
        self.s_tid = <int32_t *> malloc(self.s_cap * sizeof(int32_t))
        self.s_w = <double *> malloc(self.s_cap * sizeof(double))
        self.s_bin = <uint8_t *> malloc(self.s_cap * sizeof(uint8_t))
        self.seen_cap = 0
        self.seen = NULL
        self.seen_n = 0
        memset(self.fmt_counts, 0, N_FMT * sizeof(int64_t))
        self.first_missing_mate = None
        self.problem_read = None
        if (self.tid_map == NULL or self.tx_len == NULL or self.recs == NULL or self.fa == NULL
                or self.frag_off == NULL or self.fld_hist == NULL or self.table == NULL
                or self.e_tid == NULL or self.s_tid == NULL):
            raise MemoryError()

    def __dealloc__(self):
        free(self.tid_map); free(self.tx_len); free(self.recs); free(self.fa)
        free(self.frag_off); free(self.fld_hist); free(self.burn_hist); free(self.log_pmf)
        free(self.cdf); free(self.cls_off); free(self.cls_hash); free(self.cls_count)
        free(self.e_tid); free(self.e_bin); free(self.e_wsum); free(self.table)
        free(self.s_tid); free(self.s_w); free(self.s_bin); free(self.seen)

    # ------------------------------------------------------------------ record level
    cdef int add_record(self, bam1_t *b) noexcept nogil:
        """Feed one record; return an RC_* code."""
        cdef Rec r
        cdef int rc = rec_from_bam(b, &r)
        if rc != RC_OK:
            self.set_name(bam_get_qname(b))
            return rc
        return self.add_rec(bam_get_qname(b), &r)

    cdef int set_name(self, const char *qname) noexcept nogil:
        cdef size_t n = strlen(qname)
        if n >= 1023:
            return RC_NAME_TOO_LONG
        memcpy(self.name, qname, n + 1)
        self.have_name = 1
        return RC_OK

    cdef int add_rec(self, const char *qname, const Rec *src) noexcept nogil:
        """Feed one record already reduced to a :c:type:`Rec`; return an RC_* code."""
        cdef uint16_t flag = src.flag
        cdef int rc = RC_OK
        self.n_records += 1
        if self.have_name == 0 or strcmp(qname, self.name) != 0:
            if self.have_name:
                rc = self.end_group()
                if rc != RC_OK:
                    return rc
            rc = self.set_name(qname)
            if rc != RC_OK:
                return rc
        if self.track_order:
            if src.tid >= 0 and (src.tid < self.last_tid or
                                 (src.tid == self.last_tid and src.pos < self.last_pos)):
                self.track_order = 0
                free(self.seen)
                self.seen = NULL
            elif src.tid >= 0:
                self.last_tid = src.tid
                self.last_pos = src.pos
        if flag & F_SUPPL:
            self.n_supplementary += 1
            return RC_OK
        if flag & F_QCFAIL:
            self.n_qcfail += 1
            return RC_OK
        if flag & F_UNMAP or src.tid < 0:
            self.n_unmapped_records += 1
            return RC_OK
        if self.n_recs == self.cap_recs:
            self.cap_recs *= 2
            self.recs = <Rec *> realloc(self.recs, self.cap_recs * sizeof(Rec))
            if self.recs == NULL:
                return RC_MEMORY
        self.recs[self.n_recs] = src[0]
        self.n_recs += 1
        return RC_OK

    cdef int check_recurring(self) noexcept nogil:
        """While the input looks coordinate-sorted, remember group names; 1 if one recurs."""
        cdef uint64_t h = _hash_bytes(self.name, 14695981039346656037ULL)
        cdef int64_t i, mask
        cdef uint64_t *old
        cdef int64_t old_cap
        if h == 0:
            h = 1
        if self.seen_n * 2 >= self.seen_cap:
            old, old_cap = self.seen, self.seen_cap
            self.seen_cap = 1024 if old_cap == 0 else old_cap * 2
            self.seen = <uint64_t *> malloc(self.seen_cap * sizeof(uint64_t))
            if self.seen == NULL:
                self.track_order = 0
                free(old)
                return 0
            memset(self.seen, 0, self.seen_cap * sizeof(uint64_t))
            self.seen_n = 0
            for i in range(old_cap):
                if old[i] != 0:
                    self._seen_insert(old[i])
            free(old)
        mask = self.seen_cap - 1
        i = <int64_t> (h & <uint64_t> mask)
        while self.seen[i] != 0:
            if self.seen[i] == h:
                return 1
            i = (i + 1) & mask
        self.seen[i] = h
        self.seen_n += 1
        return 0

    cdef void _seen_insert(self, uint64_t h) noexcept nogil:
        cdef int64_t mask = self.seen_cap - 1
        cdef int64_t i = <int64_t> (h & <uint64_t> mask)
        while self.seen[i] != 0:
            i = (i + 1) & mask
        self.seen[i] = h
        self.seen_n += 1

    cdef int push_faln(self, int32_t tid, int32_t fraglen, int32_t fmt,
                       int32_t score) noexcept nogil:
        if self.n_fa == self.cap_fa:
            self.cap_fa *= 2
            self.fa = <FAln *> realloc(self.fa, self.cap_fa * sizeof(FAln))
            if self.fa == NULL:
                return RC_MEMORY
        self.fa[self.n_fa].tid = tid
        self.fa[self.n_fa].fraglen = fraglen
        self.fa[self.n_fa].fmt = fmt
        self.fa[self.n_fa].score = score
        self.n_fa += 1
        return RC_OK

    cdef int end_group(self) noexcept nogil:
        """Turn the records of the finished read-name group into one fragment."""
        cdef int i, j, n = self.n_recs, n_pairs = 0, n_orph = 0
        cdef Rec *a
        cdef Rec *m
        cdef int64_t start = self.n_fa, lo, hi
        cdef int32_t fmt, score, tid
        cdef int r1fwd, fwd_first, paired = 0, missing = 0
        if self.track_order and self.check_recurring():
            return RC_RECURRING
        self.have_name = 0
        self.n_fragments += 1
        if n == 0:
            return self.finish_fragment(start)
        # pairs: each read-1 record takes the first unused read-2 record its mate fields name
        for i in range(n):
            a = &self.recs[i]
            if not (a.flag & F_PAIRED):
                continue
            paired = 1
            if a.used or not (a.flag & F_READ1) or (a.flag & F_MUNMAP) or a.mtid != a.tid:
                continue
            for j in range(n):
                m = &self.recs[j]
                if (m.used == 0 and (m.flag & F_READ2) and m.tid == a.mtid and m.pos == a.mpos
                        and m.mpos == a.pos and m.mtid == a.tid):
                    a.used = 1
                    m.used = 1
                    lo = a.pos if a.pos < m.pos else m.pos
                    hi = a.end if a.end > m.end else m.end
                    # orientation: inward when the forward read starts first
                    if (a.flag & F_REVERSE) != 0 and (m.flag & F_REVERSE) == 0:
                        fmt = FMT_ISR if m.pos <= a.end else FMT_OTHER
                    elif (a.flag & F_REVERSE) == 0 and (m.flag & F_REVERSE) != 0:
                        fmt = FMT_ISF if a.pos <= m.end else FMT_OTHER
                    else:
                        fmt = FMT_OTHER
                    score = NO_SCORE
                    if a.score != NO_SCORE and m.score != NO_SCORE:
                        score = a.score + m.score
                    tid = self.tid_map[a.tid]
                    if self.push_faln(tid, <int32_t> (hi - lo), fmt, score) != RC_OK:
                        return RC_MEMORY
                    n_pairs += 1
                    break
        if n_pairs > 0:
            # orphans are ignored when the fragment has concordant pairs (Salmon's default)
            for i in range(n):
                if self.recs[i].used == 0 and (self.recs[i].flag & F_PAIRED):
                    self.n_orphans_dropped += 1
            self.n_paired_fragments += 1
            # unique pair -> fragment length distribution
            if n_pairs == 1 and self.fa[start].fmt != FMT_OTHER:
                self.n_unique_pairs += 1
                j = self.fa[start].fraglen
                if j > self.max_fraglen:
                    j = self.max_fraglen
                self.fld_hist[j] += 1
                if self.in_burnin:
                    self.burn_hist[j] += 1
            return self.finish_fragment(start)
        for i in range(n):
            a = &self.recs[i]
            r1fwd = (a.flag & F_REVERSE) == 0
            if a.flag & F_PAIRED:
                if not (a.flag & F_MUNMAP) and a.mtid == a.tid:
                    missing = 1
                # an orphan read 1 forward is what an ISF fragment gives, a read 2 forward ISR
                if a.flag & F_READ2:
                    fwd_first = not r1fwd
                else:
                    fwd_first = r1fwd
                fmt = FMT_ISF if fwd_first else FMT_ISR
                n_orph += 1
            else:
                fmt = FMT_SF if r1fwd else FMT_SR
            if paired and self.discard_orphans:
                continue
            if self.push_faln(self.tid_map[a.tid], -1, fmt, a.score) != RC_OK:
                return RC_MEMORY
        if missing:
            self.n_missing_mate += 1
            if self.first_missing_mate is None:
                with gil:
                    self.first_missing_mate = self._name()
        if paired:
            self.n_orphan_fragments += 1
        else:
            self.n_single_fragments += 1
        return self.finish_fragment(start)

    cdef int finish_fragment(self, int64_t start) noexcept nogil:
        self.n_recs = 0
        if self.n_fa > start:
            self.fmt_counts[self.fa[start].fmt] += 1
        if self.n_frag_buf == self.cap_frag:
            self.cap_frag *= 2
            self.frag_off = <int64_t *> realloc(self.frag_off,
                                                (self.cap_frag + 1) * sizeof(int64_t))
            if self.frag_off == NULL:
                return RC_MEMORY
        self.n_frag_buf += 1
        self.frag_off[self.n_frag_buf] = self.n_fa
        if self.in_burnin:
            if self.n_frag_buf >= self.burnin:
                return self.end_burnin()
            return RC_OK
        return self.flush()

    # ------------------------------------------------------------------ models
    cdef int end_burnin(self) noexcept nogil:
        """Fix the fragment length model and the library type, then flush the buffer."""
        cdef int64_t isf = 0, isr = 0, sf = 0, sr = 0, f
        cdef double frac
        self.in_burnin = 0
        self.n_burnin_fragments = self.n_frag_buf
        self.build_fld(self.burn_hist)
        if self.lib_type == LIB_AUTO:
            isf = self.fmt_counts[FMT_ISF]
            isr = self.fmt_counts[FMT_ISR]
            sf = self.fmt_counts[FMT_SF]
            sr = self.fmt_counts[FMT_SR]
            if isf + isr >= sf + sr:
                frac = isf / <double> max(1, isf + isr)
                self.detected_lib = (LIB_ISF if frac >= 0.8 else
                                     (LIB_ISR if frac <= 0.2 else LIB_IU))
            else:
                frac = sf / <double> max(1, sf + sr)
                self.detected_lib = LIB_SF if frac >= 0.8 else (LIB_SR if frac <= 0.2 else LIB_U)
        return self.flush()

    cdef void build_fld(self, double *hist) noexcept nogil:
        """Empirical FLD (+ a Normal prior of ``prior_weight`` fragments), smoothed, as logs."""
        cdef int L = self.max_fraglen, l, d
        cdef double total = 0.0, z, s, acc
        cdef double *tmp = <double *> malloc((L + 1) * sizeof(double))
        cdef double kern[5]
        kern[0] = 1.0 / 16
        kern[1] = 4.0 / 16
        kern[2] = 6.0 / 16
        kern[3] = 4.0 / 16
        kern[4] = 1.0 / 16
        z = 0.0
        for l in range(L + 1):
            tmp[l] = exp(-0.5 * ((l - self.fld_mean) / self.fld_sd) ** 2) if l > 0 else 0.0
            z += tmp[l]
        for l in range(L + 1):
            tmp[l] = hist[l] + self.prior_weight * tmp[l] / z
        for l in range(L + 1):
            s = 0.0
            for d in range(-2, 3):
                if 0 <= l + d <= L:
                    s += kern[d + 2] * tmp[l + d]
            self.log_pmf[l] = s
            total += s
        acc = 0.0
        for l in range(L + 1):
            self.log_pmf[l] = self.log_pmf[l] / total
            acc += self.log_pmf[l]
            self.cdf[l] = acc
            self.log_pmf[l] = log(self.log_pmf[l]) if self.log_pmf[l] > 1e-300 else -690.0
        free(tmp)

    cdef inline int compatible(self, int fmt) noexcept nogil:
        cdef int lib = self.detected_lib
        if lib == LIB_IU:
            return fmt == FMT_ISF or fmt == FMT_ISR
        if lib == LIB_ISF:
            return fmt == FMT_ISF
        if lib == LIB_ISR:
            return fmt == FMT_ISR
        if lib == LIB_U:
            return fmt == FMT_SF or fmt == FMT_SR
        if lib == LIB_SF:
            return fmt == FMT_SF
        if lib == LIB_SR:
            return fmt == FMT_SR
        return 1

    # ------------------------------------------------------------------ classes
    cdef int flush(self) noexcept nogil:
        cdef int64_t f
        cdef int rc
        for f in range(self.n_frag_buf):
            rc = self.add_fragment(self.frag_off[f], self.frag_off[f + 1])
            if rc != RC_OK:
                return rc
        self.n_frag_buf = 0
        self.n_fa = 0
        self.frag_off[0] = 0
        return RC_OK

    cdef int add_fragment(self, int64_t lo, int64_t hi) noexcept nogil:
        """Weights of one fragment's alignments -> its rich class (count + weight sums)."""
        cdef int64_t n = hi - lo, i, j, k = 0
        cdef FAln *a
        cdef int32_t best = NO_SCORE, t
        cdef int have_scores = self.use_scores
        cdef double lw, mx = -INFINITY, total = 0.0, w
        cdef int L
        if n <= 0:
            return RC_OK
        if n > self.s_cap:
            self.s_cap = <int> n * 2
            self.s_tid = <int32_t *> realloc(self.s_tid, self.s_cap * sizeof(int32_t))
            self.s_w = <double *> realloc(self.s_w, self.s_cap * sizeof(double))
            self.s_bin = <uint8_t *> realloc(self.s_bin, self.s_cap * sizeof(uint8_t))
            if self.s_tid == NULL or self.s_w == NULL or self.s_bin == NULL:
                return RC_MEMORY
        for i in range(lo, hi):
            if self.fa[i].score == NO_SCORE:
                have_scores = 0
            elif self.fa[i].score > best:
                best = self.fa[i].score
        for i in range(lo, hi):
            a = &self.fa[i]
            self.n_alignments_used += 1
            lw = 0.0
            if not self.compatible(a.fmt):
                if self.incompat_log == -INFINITY:
                    continue
                lw += self.incompat_log
            if a.fraglen >= 0:
                L = a.fraglen if a.fraglen <= self.max_fraglen else self.max_fraglen
                lw += self.log_pmf[L]
                t = <int32_t> (self.tx_len[a.tid] if self.tx_len[a.tid] <= self.max_fraglen
                               else self.max_fraglen)
                if self.cdf[t] > 1e-300:
                    lw -= log(self.cdf[t])
            if have_scores:
                lw -= self.score_exp * (best - a.score)
            # merge with an earlier alignment to the same transcript (insertion sort by tid)
            j = 0
            while j < k and self.s_tid[j] < a.tid:
                j += 1
            if j < k and self.s_tid[j] == a.tid:
                if lw > self.s_w[j]:
                    self.s_w[j] = lw + log(1.0 + exp(self.s_w[j] - lw))
                else:
                    self.s_w[j] = self.s_w[j] + log(1.0 + exp(lw - self.s_w[j]))
            else:
                if k > j:
                    memmove_int(self.s_tid, j, k)
                    memmove_dbl(self.s_w, j, k)
                self.s_tid[j] = a.tid
                self.s_w[j] = lw
                k += 1
        if k == 0:
            self.n_incompatible += 1
            return RC_OK
        for i in range(k):
            if self.s_w[i] > mx:
                mx = self.s_w[i]
        for i in range(k):
            self.s_w[i] = exp(self.s_w[i] - mx)
            total += self.s_w[i]
        for i in range(k):
            w = self.s_w[i] / total
            self.s_w[i] = w
            j = <int64_t> floor(w * self.n_bins)
            self.s_bin[i] = <uint8_t> (j if j < self.n_bins else self.n_bins - 1)
        self.n_assigned += 1
        return self.insert_class(k)

    cdef int insert_class(self, int64_t k) noexcept nogil:
        cdef uint64_t h = 1469598103934665603ULL
        cdef int64_t i, slot, c, mask, off
        cdef int same
        for i in range(k):
            h = _mix(h, <uint64_t> self.s_tid[i] * 31 + self.s_bin[i])
        h = _mix(h, <uint64_t> k)
        if self.n_classes * 2 >= self.table_cap:
            if self.grow_table() != RC_OK:
                return RC_MEMORY
        mask = self.table_cap - 1
        slot = <int64_t> (h & <uint64_t> mask)
        while True:
            c = self.table[slot]
            if c < 0:
                break
            if self.cls_hash[c] == h and self.cls_off[c + 1] - self.cls_off[c] == k:
                off = self.cls_off[c]
                same = 1
                for i in range(k):
                    if (self.e_tid[off + i] != self.s_tid[i]
                            or self.e_bin[off + i] != self.s_bin[i]):
                        same = 0
                        break
                if same:
                    self.cls_count[c] += 1.0
                    for i in range(k):
                        self.e_wsum[off + i] += self.s_w[i]
                    return RC_OK
            slot = (slot + 1) & mask
        # new class
        if self.n_classes == self.cap_classes:
            self.cap_classes *= 2
            self.cls_off = <int64_t *> realloc(self.cls_off,
                                               (self.cap_classes + 1) * sizeof(int64_t))
            self.cls_hash = <uint64_t *> realloc(self.cls_hash,
                                                 self.cap_classes * sizeof(uint64_t))
            self.cls_count = <double *> realloc(self.cls_count, self.cap_classes * sizeof(double))
            if self.cls_off == NULL or self.cls_hash == NULL or self.cls_count == NULL:
                return RC_MEMORY
        while self.nnz + k > self.cap_nnz:
            self.cap_nnz *= 2
            self.e_tid = <int32_t *> realloc(self.e_tid, self.cap_nnz * sizeof(int32_t))
            self.e_bin = <uint8_t *> realloc(self.e_bin, self.cap_nnz * sizeof(uint8_t))
            self.e_wsum = <double *> realloc(self.e_wsum, self.cap_nnz * sizeof(double))
            if self.e_tid == NULL or self.e_bin == NULL or self.e_wsum == NULL:
                return RC_MEMORY
        c = self.n_classes
        self.n_classes += 1
        self.cls_hash[c] = h
        self.cls_count[c] = 1.0
        off = self.nnz
        for i in range(k):
            self.e_tid[off + i] = self.s_tid[i]
            self.e_bin[off + i] = self.s_bin[i]
            self.e_wsum[off + i] = self.s_w[i]
        self.nnz += k
        self.cls_off[c + 1] = self.nnz
        self.table[slot] = c
        return RC_OK

    cdef int grow_table(self) noexcept nogil:
        cdef int64_t i, slot, mask
        free(self.table)
        self.table_cap *= 2
        self.table = <int64_t *> malloc(self.table_cap * sizeof(int64_t))
        if self.table == NULL:
            return RC_MEMORY
        mask = self.table_cap - 1
        for i in range(self.table_cap):
            self.table[i] = -1
        for i in range(self.n_classes):
            slot = <int64_t> (self.cls_hash[i] & <uint64_t> mask)
            while self.table[slot] >= 0:
                slot = (slot + 1) & mask
            self.table[slot] = i
        return RC_OK

    cdef int finish(self) noexcept nogil:
        cdef int rc = RC_OK
        if self.have_name:
            rc = self.end_group()
            if rc != RC_OK:
                return rc
        if self.in_burnin:
            rc = self.end_burnin()
        return rc

    # ------------------------------------------------------------------ results
    def classes(self):
        """Return ``(offsets, tids, weights, counts)``: classes in CSR form, mean weights."""
        cdef int64_t c, i
        offsets = np.empty(self.n_classes + 1, dtype=np.int64)
        tids = np.empty(self.nnz, dtype=np.int32)
        weights = np.empty(self.nnz, dtype=np.float64)
        counts = np.empty(self.n_classes, dtype=np.float64)
        cdef int64_t[::1] o = offsets
        cdef int32_t[::1] t = tids
        cdef double[::1] w = weights
        cdef double[::1] n = counts
        o[0] = 0
        for c in range(self.n_classes):
            o[c + 1] = self.cls_off[c + 1]
            n[c] = self.cls_count[c]
            for i in range(self.cls_off[c], self.cls_off[c + 1]):
                t[i] = self.e_tid[i]
                w[i] = self.e_wsum[i] / self.cls_count[c]
        return offsets, tids, weights, counts

    def fld_histogram(self):
        """Counts of uniquely aligned concordant pairs per fragment length (0..max)."""
        return np.array(<double[:self.max_fraglen + 1]> self.fld_hist, dtype=np.float64)

    def format_counts(self):
        """Fragments per observed orientation (of their first alignment)."""
        return {"ISF": int(self.fmt_counts[FMT_ISF]), "ISR": int(self.fmt_counts[FMT_ISR]),
                "SF": int(self.fmt_counts[FMT_SF]), "SR": int(self.fmt_counts[FMT_SR]),
                "other": int(self.fmt_counts[FMT_OTHER])}

    @property
    def library_name(self):
        return LIB_NAMES[self.detected_lib] if self.detected_lib >= 0 else "A"

    # ------------------------------------------------------------------ drivers
    def read_stream(self, AlignmentFile f, int n_threads=1, object progress=None,
                    int64_t progress_every=1 << 20):
        """Feed every record of ``f`` in file order; return the RC_* stop code."""
        cdef bam1_t *b = bam_init1()
        cdef htsFile *fp = f.htsfile
        cdef sam_hdr_t *hdr = f.header.ptr
        cdef int ret, rc = RC_OK
        cdef int64_t since = 0
        if b == NULL:
            raise MemoryError()
        if n_threads > 1:
            hts_set_threads(fp, n_threads)
        try:
            while True:
                with nogil:
                    while True:
                        ret = sam_read1(fp, hdr, b)
                        if ret < 0:
                            break
                        rc = self.add_record(b)
                        if rc != RC_OK:
                            break
                        since += 1
                        if since >= progress_every:
                            break
                if rc != RC_OK:
                    break
                if ret < -1:
                    rc = RC_TRUNCATED
                    break
                if ret == -1:
                    rc = self.finish()
                    break
                if progress is not None:
                    progress(since)
                since = 0
            if progress is not None and since:
                progress(since)
        finally:
            bam_destroy1(b)
        self._note_problem(rc)
        return rc

    def read_grouped(self, AlignmentFile f, int n_threads=1, object progress=None,
                     int64_t memory_limit=2 << 30):
        """Read every record into memory as a compact :c:type:`Rec` plus its name (about
        70-90 bytes a record), sort by read name, then feed the groups."""
        cdef bam1_t *b = bam_init1()
        cdef htsFile *fp = f.htsfile
        cdef sam_hdr_t *hdr = f.header.ptr
        cdef Rec *recs = NULL
        cdef Rec *grown_recs
        cdef char *arena = NULL
        cdef char *grown_arena
        cdef int64_t *name_off = NULL
        cdef int64_t *grown_off
        cdef SortRec *order = NULL
        cdef int64_t n = 0, cap = 0, i, since = 0, arena_n = 0, arena_cap = 0, used = 0
        cdef size_t ln
        cdef int ret = 0, rc = RC_OK
        if b == NULL:
            raise MemoryError()
        if n_threads > 1:
            hts_set_threads(fp, n_threads)
        self.track_order = 0
        try:
            with nogil:
                while True:
                    ret = sam_read1(fp, hdr, b)
                    if ret < 0:
                        break
                    if n == cap:
                        cap = 4096 if cap == 0 else cap * 2
                        grown_recs = <Rec *> realloc(recs, cap * sizeof(Rec))
                        if grown_recs == NULL:
                            rc = RC_MEMORY
                            break
                        recs = grown_recs
                        grown_off = <int64_t *> realloc(name_off, cap * sizeof(int64_t))
                        if grown_off == NULL:
                            rc = RC_MEMORY
                            break
                        name_off = grown_off
                    rc = rec_from_bam(b, &recs[n])
                    if rc != RC_OK:
                        self.set_name(bam_get_qname(b))
                        break
                    ln = strlen(bam_get_qname(b)) + 1
                    if arena_n + <int64_t> ln > arena_cap:
                        arena_cap = (1 << 20) if arena_cap == 0 else arena_cap * 2
                        grown_arena = <char *> realloc(arena, arena_cap)
                        if grown_arena == NULL:
                            rc = RC_MEMORY
                            break
                        arena = grown_arena
                    memcpy(arena + arena_n, bam_get_qname(b), ln)
                    name_off[n] = arena_n
                    arena_n += ln
                    n += 1
                    used = cap * (sizeof(Rec) + sizeof(int64_t) + sizeof(SortRec)) + arena_cap
                    if used > memory_limit:
                        rc = RC_MEMORY
                        break
                    since += 1
                    if progress is not None and since >= (1 << 20):
                        with gil:
                            progress(since)
                        since = 0
                if rc == RC_OK and ret < -1:
                    rc = RC_TRUNCATED
                if rc == RC_OK:
                    order = <SortRec *> malloc(max(n, 1) * sizeof(SortRec))
                    if order == NULL:
                        rc = RC_MEMORY
                if rc == RC_OK:
                    for i in range(n):
                        order[i].name = arena + name_off[i]
                        order[i].index = i
                    qsort(order, n, sizeof(SortRec), _cmp_sortrec)
                    for i in range(n):
                        rc = self.add_rec(order[i].name, &recs[order[i].index])
                        if rc != RC_OK:
                            break
                    if rc == RC_OK:
                        rc = self.finish()
            if progress is not None and since:
                progress(since)
        finally:
            free(recs)
            free(name_off)
            free(arena)
            free(order)
            bam_destroy1(b)
        self.sort_bytes = used
        self._note_problem(rc)
        return rc

    def _note_problem(self, int rc):
        if rc in (RC_ZERO_SPAN, RC_NAME_TOO_LONG, RC_RECURRING):
            self.problem_read = self._name() if self.have_name else None

    def _name(self):
        cdef bytes nm = self.name
        return nm.decode("ascii", "replace")


cdef inline void memmove_int(int32_t *a, int64_t j, int64_t k) noexcept nogil:
    cdef int64_t i = k
    while i > j:
        a[i] = a[i - 1]
        i -= 1


cdef inline void memmove_dbl(double *a, int64_t j, int64_t k) noexcept nogil:
    cdef int64_t i = k
    while i > j:
        a[i] = a[i - 1]
        i -= 1


RC = {"ok": RC_OK, "truncated": RC_TRUNCATED, "recurring": RC_RECURRING,
      "zero_span": RC_ZERO_SPAN, "name_too_long": RC_NAME_TOO_LONG, "memory": RC_MEMORY}
LIB_CODES = {"A": LIB_AUTO, "IU": LIB_IU, "ISF": LIB_ISF, "ISR": LIB_ISR, "U": LIB_U,
             "SF": LIB_SF, "SR": LIB_SR}
