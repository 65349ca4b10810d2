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
from libc.errno cimport errno

from pysam.libcalignmentfile cimport AlignmentFile
from pysam.libchtslib cimport (bam1_t, bam_init1, bam_destroy1, bam_dup1, sam_read1,
                               bam_endpos, bam_get_qname, bam_aux_get, bam_aux2i,
                               hts_set_threads, htsFile, sam_hdr_t, BGZF)

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
DEF NO_NM = 65535

# bias sample: kinds of sampled alignments
DEF KIND_PAIR = 0
DEF KIND_FWD = 1
DEF KIND_REV = 2

# stop codes of the loop
DEF RC_OK = 0
DEF RC_TRUNCATED = 1
DEF RC_RECURRING = 2
DEF RC_ZERO_SPAN = 3
DEF RC_NAME_TOO_LONG = 4
DEF RC_MEMORY = 5
DEF RC_INVALID = 6      # a record failed validation: see EqBuilder.invalid_record()

# what is wrong with an invalid record (EqBuilder.bad_what)
DEF BAD_TID = 1         # reference id (or the mate's) outside the header's references
DEF BAD_POS_NEGATIVE = 2
DEF BAD_POS_PAST_END = 3
DEF BAD_SPAN = 4        # reference span longer than the transcript
DEF BAD_MPOS = 5        # mate position outside the mate's transcript
DEF BAD_ZERO_SPAN = 6   # mapped with no aligned reference base

# a record kept in its group only so that its mate is not reported missing
DEF USED_SKIPPED = 2

DEF INT32_CAP = 2147483647
DEF SCORE_CAP = 1000000000   # |AS| beyond this is clamped (sums of two stay in int32)


cdef struct Rec:
    int32_t tid
    int32_t mtid
    int64_t pos
    int64_t end
    int64_t mpos
    int32_t score
    int32_t qlen        # query bases (l_qseq)
    uint16_t flag
    uint16_t nm         # NM tag (edits), NO_NM when absent
    uint8_t used


cdef struct FAln:
    int64_t lo          # leftmost aligned base of the fragment (pair) or of the read (single)
    int32_t tid
    int32_t fraglen     # -1: unknown (single-end or orphan)
    int32_t span        # fragment length (pair) or the read's aligned span (single)
    int32_t score       # NO_SCORE when missing
    int32_t nm          # edits of the fragment's reads, -1 when unknown
    int32_t qlen        # query bases of the fragment's reads
    uint8_t fmt
    uint8_t rev         # single: 1 when the read is on the reverse strand


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


cdef inline int32_t _clamp32(int64_t v) noexcept nogil:
    return <int32_t> (v if v < INT32_CAP else INT32_CAP)


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
    cdef int n_ref              # references in the BAM header (entries of tid_map)
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
    # ---- validation: the first invalid record, and records skipped as past the end
    cdef public int64_t bad_record, bad_value, bad_limit, n_past_end, records_read
    cdef public int bad_what, bad_tid, read_status, read_errno, bgzf_errcode
    cdef char bad_name[256]
    cdef char past_end_name[256]
    # alignment model learnt in the burn-in
    cdef public int learn_scores
    cdef public double error_rate, penalty_per_edit
    cdef public int64_t n_edit_comparisons
    # bias sample: every smp_stride-th assigned fragment, thinned by 2 when full
    cdef int64_t smp_max, smp_stride, smp_counter, smp_nfrag, smp_n, smp_cap
    cdef int64_t *smp_foff
    cdef int32_t *smp_tid
    cdef int32_t *smp_lo
    cdef int32_t *smp_span
    cdef uint8_t *smp_kind
    cdef double *smp_lw

    def __cinit__(self, int n_tx, int32_t[::1] tid_map, int64_t[::1] tx_len, *,
                  int lib_type=LIB_AUTO, int burnin=50000, int max_fraglen=1000,
                  double fld_mean=250.0, double fld_sd=25.0, double prior_weight=10.0,
                  double score_exp=1.0, int use_scores=1, double incompat_prior=0.0,
                  int n_bins=4, int discard_orphans=0, int track_order=1,
                  int learn_scores=0, int64_t bias_sample=0):
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
        self.n_ref = tid_map.shape[0]
        self.bad_name[0] = 0
        self.past_end_name[0] = 0
        self.tid_map = <int32_t *> malloc(max(1, tid_map.shape[0]) * sizeof(int32_t))
        for i in range(tid_map.shape[0]):
            if not 0 <= tid_map[i] < n_tx:
                raise ValueError(f"tid_map[{i}] = {tid_map[i]} is not a transcript index")
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
        self.learn_scores = learn_scores
        self.error_rate = -1.0
        self.penalty_per_edit = -1.0
        self.n_edit_comparisons = 0
        self.smp_max = bias_sample
        self.smp_stride = 1
        self.smp_counter = 0
        self.smp_nfrag = 0
        self.smp_n = 0
        self.smp_cap = 0
        self.smp_foff = NULL
        self.smp_tid = NULL
        self.smp_lo = NULL
        self.smp_span = NULL
        self.smp_kind = NULL
        self.smp_lw = NULL
        if bias_sample > 0:
            self.smp_cap = 4096
            self.smp_foff = <int64_t *> malloc((bias_sample + 2) * sizeof(int64_t))
            self.smp_tid = <int32_t *> malloc(self.smp_cap * sizeof(int32_t))
            self.smp_lo = <int32_t *> malloc(self.smp_cap * sizeof(int32_t))
            self.smp_span = <int32_t *> malloc(self.smp_cap * sizeof(int32_t))
            self.smp_kind = <uint8_t *> malloc(self.smp_cap * sizeof(uint8_t))
            self.smp_lw = <double *> malloc(self.smp_cap * sizeof(double))
            if (self.smp_foff == NULL or self.smp_tid == NULL or self.smp_lo == NULL
                    or self.smp_span == NULL or self.smp_kind == NULL or self.smp_lw == NULL):
                raise MemoryError()
            self.smp_foff[0] = 0
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
        free(self.smp_foff); free(self.smp_tid); free(self.smp_lo); free(self.smp_span)
        free(self.smp_kind); free(self.smp_lw)

    # ------------------------------------------------------------------ record level
    cdef int invalid(self, bam1_t *b, int64_t recno, int what, int32_t tid, int64_t value,
                     int64_t limit) noexcept nogil:
        """Remember the first invalid record (1-based number in file order) and why."""
        cdef const char *q = bam_get_qname(b)
        cdef size_t n = strlen(q)
        if n > 255:
            n = 255
        memcpy(self.bad_name, q, n)
        self.bad_name[n] = 0
        self.bad_record = recno
        self.bad_what = what
        self.bad_tid = tid
        self.bad_value = value
        self.bad_limit = limit
        return RC_INVALID

    cdef int reduce_record(self, bam1_t *b, Rec *r, int64_t recno) noexcept nogil:
        """Check the fields the fragment logic uses and reduce the record to a :c:type:`Rec`.

        Every position is checked against the length of its transcript before use, and
        spans are 64-bit: a mapped record with a reference id outside the header, a negative
        position, a position or a mate position past the end of the transcript, or a
        reference span longer than the transcript stops the loop with RC_INVALID (the
        record is kept in ``bad_*``). An alignment that starts on the transcript and runs
        past its end (an overhang) is skipped: it stays in its group only so that its mate
        is not reported missing, and is counted in ``n_past_end``.
        """
        cdef uint8_t *aux
        cdef int64_t nm, score, length
        r.tid = b.core.tid
        r.mtid = b.core.mtid
        r.pos = b.core.pos
        r.mpos = b.core.mpos
        r.flag = b.core.flag
        r.used = 0
        r.end = r.pos
        r.score = NO_SCORE
        r.nm = NO_NM
        r.qlen = b.core.l_qseq if b.core.l_qseq > 0 else 0
        if r.tid < -1 or r.tid >= self.n_ref:
            return self.invalid(b, recno, BAD_TID, r.tid, r.tid, self.n_ref)
        if r.mtid < -1 or r.mtid >= self.n_ref:
            return self.invalid(b, recno, BAD_TID, r.mtid, r.mtid, self.n_ref)
        if (r.flag & (F_UNMAP | F_SUPPL | F_QCFAIL)) or r.tid < 0:
            return RC_OK
        length = self.tx_len[self.tid_map[r.tid]]
        if r.pos < 0:
            return self.invalid(b, recno, BAD_POS_NEGATIVE, r.tid, r.pos, length)
        if r.pos >= length:
            return self.invalid(b, recno, BAD_POS_PAST_END, r.tid, r.pos, length)
        if (r.flag & F_PAIRED) and not (r.flag & F_MUNMAP) and r.mtid >= 0 and (
                r.mpos < 0 or r.mpos >= self.tx_len[self.tid_map[r.mtid]]):
            return self.invalid(b, recno, BAD_MPOS, r.mtid, r.mpos,
                                self.tx_len[self.tid_map[r.mtid]])
        if b.core.n_cigar == 0:
            return self.invalid(b, recno, BAD_ZERO_SPAN, r.tid, 0, length)
        r.end = bam_endpos(b)
        if r.end <= r.pos:
            return self.invalid(b, recno, BAD_ZERO_SPAN, r.tid, r.end - r.pos, length)
        if r.end - r.pos > length:
            return self.invalid(b, recno, BAD_SPAN, r.tid, r.end - r.pos, length)
        if r.end > length:
            r.used = USED_SKIPPED
            return RC_OK
        aux = bam_aux_get(b, "NM")
        if aux != NULL:
            nm = bam_aux2i(aux)
            r.nm = <uint16_t> (nm if 0 <= nm < NO_NM else NO_NM)
        aux = bam_aux_get(b, "AS")
        if aux != NULL:
            score = bam_aux2i(aux)
            r.score = <int32_t> (SCORE_CAP if score > SCORE_CAP else
                                 (-SCORE_CAP if score < -SCORE_CAP else score))
        elif r.nm != NO_NM:
            # no alignment score: -6 per edit (bowtie2's mismatch penalty) from NM
            r.score = -6 * <int32_t> r.nm
        return RC_OK

    cdef int add_record(self, bam1_t *b) noexcept nogil:
        """Feed one record; return an RC_* code."""
        cdef Rec r
        cdef int rc = self.reduce_record(b, &r, self.n_records + 1)
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
                self.seen_cap = self.seen_n = 0
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
        if src.used == USED_SKIPPED:
            self.n_past_end += 1
            if self.past_end_name[0] == 0:
                memcpy(self.past_end_name, qname, min(strlen(qname), <size_t> 255))
                self.past_end_name[min(strlen(qname), <size_t> 255)] = 0
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

    cdef int push_faln(self, int32_t tid, int32_t fraglen, int32_t fmt, int32_t score,
                       int64_t lo, int64_t span, int32_t nm, int32_t qlen,
                       int rev) noexcept nogil:
        cdef FAln *a
        if self.n_fa == self.cap_fa:
            self.cap_fa *= 2
            self.fa = <FAln *> realloc(self.fa, self.cap_fa * sizeof(FAln))
            if self.fa == NULL:
                return RC_MEMORY
        a = &self.fa[self.n_fa]
        a.tid = tid
        a.fraglen = fraglen
        a.fmt = <uint8_t> fmt
        a.score = score
        a.lo = lo
        a.span = _clamp32(span)
        a.nm = nm
        a.qlen = qlen
        a.rev = <uint8_t> rev
        self.n_fa += 1
        return RC_OK

    cdef int end_group(self) noexcept nogil:
        """Turn the records of the finished read-name group into one fragment."""
        cdef int i, j, n = self.n_recs, n_pairs = 0, n_orph = 0
        cdef Rec *a
        cdef Rec *m
        cdef int64_t start = self.n_fa, lo, hi
        cdef int32_t fmt, score, tid, nm
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
                    nm = -1
                    if a.nm != NO_NM and m.nm != NO_NM:
                        nm = a.nm + m.nm
                    if self.push_faln(tid, _clamp32(hi - lo), fmt, score, lo, hi - lo, nm,
                                      _clamp32(<int64_t> a.qlen + m.qlen), 0) != RC_OK:
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
                if j < 0:
                    j = 0
                self.fld_hist[j] += 1
                if self.in_burnin:
                    self.burn_hist[j] += 1
            return self.finish_fragment(start)
        for i in range(n):
            a = &self.recs[i]
            if a.used == USED_SKIPPED:
                continue
            r1fwd = (a.flag & F_REVERSE) == 0
            if a.flag & F_PAIRED:
                if not (a.flag & F_MUNMAP) and a.mtid == a.tid and not self.mate_skipped(a):
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
            if self.push_faln(self.tid_map[a.tid], -1, fmt, a.score, a.pos, a.end - a.pos,
                              -1 if a.nm == NO_NM else a.nm, a.qlen,
                              (a.flag & F_REVERSE) != 0) != RC_OK:
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

    cdef int mate_skipped(self, const Rec *a) noexcept nogil:
        """1 if the group holds a skipped record where ``a``'s mate fields point."""
        cdef int j
        for j in range(self.n_recs):
            if (self.recs[j].used == USED_SKIPPED and self.recs[j].tid == a.mtid
                    and self.recs[j].pos == a.mpos):
                return 1
        return 0

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
        self.learn_alignment_model()
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

    cdef void learn_alignment_model(self) noexcept nogil:
        """The per-edit error rate and the AS points per edit, from the burn-in fragments.

        The error rate ``e`` is the edits (``NM``) per aligned query base of uniquely aligned
        fragments; the AS points an edit costs are the score differences between a
        fragment's best alignment and its other alignments per extra edit. An extra edit
        makes an alignment ``log((1 - e) / (e / 3))`` nats less likely (a substitution to one
        of three bases instead of a match), so the score term's scale is that many nats per
        ``penalty_per_edit`` points. With ``learn_scores`` and enough comparisons (at least
        20 extra edits) the learnt scale replaces ``score_exp``.
        """
        cdef int64_t f, i, lo, hi, best_i
        cdef double sum_nm = 0.0, sum_len = 0.0, sum_das = 0.0, sum_dnm = 0.0, e
        cdef int ok
        cdef FAln *a
        for f in range(self.n_frag_buf):
            lo = self.frag_off[f]
            hi = self.frag_off[f + 1]
            if hi - lo == 1:
                if self.fa[lo].nm >= 0 and self.fa[lo].qlen > 0:
                    sum_nm += self.fa[lo].nm
                    sum_len += self.fa[lo].qlen
                continue
            if hi - lo < 2:
                continue
            ok = 1
            best_i = lo
            for i in range(lo, hi):
                a = &self.fa[i]
                if a.nm < 0 or a.score == NO_SCORE:
                    ok = 0
                    break
                if a.score > self.fa[best_i].score or (
                        a.score == self.fa[best_i].score and a.nm < self.fa[best_i].nm):
                    best_i = i
            if not ok:
                continue
            for i in range(lo, hi):
                a = &self.fa[i]
                if a.nm > self.fa[best_i].nm and a.score <= self.fa[best_i].score:
                    sum_das += self.fa[best_i].score - a.score
                    sum_dnm += a.nm - self.fa[best_i].nm
        self.n_edit_comparisons = <int64_t> sum_dnm
        if sum_len > 0:
            self.error_rate = (sum_nm + 1.0) / (sum_len + 2.0)
        if sum_dnm > 0:
            self.penalty_per_edit = sum_das / sum_dnm
        if (self.learn_scores and self.use_scores and self.error_rate > 0
                and sum_dnm >= 20 and self.penalty_per_edit > 0):
            e = self.error_rate
            self.score_exp = log((1.0 - e) / (e / 3.0)) / self.penalty_per_edit

    @property
    def score_scale(self):
        """The score term's scale used (``score_exp``, or the learnt one)."""
        return self.score_exp

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
        cdef int take = self.smp_max > 0 and self.smp_counter % self.smp_stride == 0
        cdef int64_t smp_start = self.smp_n
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
                if L < 0:
                    L = 0
                lw += self.log_pmf[L]
                t = <int32_t> (self.tx_len[a.tid] if self.tx_len[a.tid] <= self.max_fraglen
                               else self.max_fraglen)
                if self.cdf[t] > 1e-300:
                    lw -= log(self.cdf[t])
            if have_scores:
                lw -= self.score_exp * (best - a.score)
            if take and self.sample_alignment(a, lw) != RC_OK:
                return RC_MEMORY
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
            self.smp_n = smp_start
            return RC_OK
        if self.smp_max > 0:
            self.smp_counter += 1
            if take:
                self.smp_nfrag += 1
                self.smp_foff[self.smp_nfrag] = self.smp_n
                if self.smp_nfrag >= self.smp_max:
                    self.thin_sample()
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

    cdef int sample_alignment(self, FAln *a, double lw) noexcept nogil:
        """Keep one alignment of a sampled fragment for the bias models."""
        cdef int64_t cap
        if self.smp_n == self.smp_cap:
            cap = self.smp_cap * 2
            self.smp_tid = <int32_t *> realloc(self.smp_tid, cap * sizeof(int32_t))
            self.smp_lo = <int32_t *> realloc(self.smp_lo, cap * sizeof(int32_t))
            self.smp_span = <int32_t *> realloc(self.smp_span, cap * sizeof(int32_t))
            self.smp_kind = <uint8_t *> realloc(self.smp_kind, cap * sizeof(uint8_t))
            self.smp_lw = <double *> realloc(self.smp_lw, cap * sizeof(double))
            if (self.smp_tid == NULL or self.smp_lo == NULL or self.smp_span == NULL
                    or self.smp_kind == NULL or self.smp_lw == NULL):
                return RC_MEMORY
            self.smp_cap = cap
        self.smp_tid[self.smp_n] = a.tid
        self.smp_lo[self.smp_n] = _clamp32(a.lo)
        self.smp_span[self.smp_n] = a.span
        self.smp_kind[self.smp_n] = (KIND_PAIR if a.fraglen >= 0 else
                                     (KIND_REV if a.rev else KIND_FWD))
        self.smp_lw[self.smp_n] = lw
        self.smp_n += 1
        return RC_OK

    cdef void thin_sample(self) noexcept nogil:
        """Keep every other sampled fragment and sample half as often from now on."""
        cdef int64_t f, i, n = 0, kept = 0, lo, hi
        for f in range(0, self.smp_nfrag, 2):
            lo = self.smp_foff[f]
            hi = self.smp_foff[f + 1]
            for i in range(lo, hi):
                self.smp_tid[n] = self.smp_tid[i]
                self.smp_lo[n] = self.smp_lo[i]
                self.smp_span[n] = self.smp_span[i]
                self.smp_kind[n] = self.smp_kind[i]
                self.smp_lw[n] = self.smp_lw[i]
                n += 1
            kept += 1
            self.smp_foff[kept] = n
        self.smp_nfrag = kept
        self.smp_n = n
        self.smp_stride *= 2

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

    def bias_sample(self):
        """The sampled fragments' alignments: ``(fragment_offsets, tids, lo, span, kind,
        log_weight)``; kind 0 is a pair (``lo``/``span``: the fragment), 1 a forward and 2 a
        reverse single read (``lo``/``span``: the read); the log-weight is the alignment's
        conditional log-likelihood before the abundance term."""
        n = self.smp_n
        nf = self.smp_nfrag
        if self.smp_max <= 0:
            n = nf = 0
        return (np.array(<int64_t[:nf + 1]> self.smp_foff, dtype=np.int64) if nf
                else np.zeros(1, dtype=np.int64),
                np.array(<int32_t[:n]> self.smp_tid, dtype=np.int32) if n else
                np.zeros(0, dtype=np.int32),
                np.array(<int32_t[:n]> self.smp_lo, dtype=np.int64) if n else
                np.zeros(0, dtype=np.int64),
                np.array(<int32_t[:n]> self.smp_span, dtype=np.int64) if n else
                np.zeros(0, dtype=np.int64),
                np.array(<uint8_t[:n]> self.smp_kind, dtype=np.uint8) if n else
                np.zeros(0, dtype=np.uint8),
                np.array(<double[:n]> self.smp_lw, dtype=np.float64) if n else
                np.zeros(0, dtype=np.float64))

    def fld_histogram(self):
        """Counts of uniquely aligned concordant pairs per fragment length (0..max)."""
        return np.array(<double[:self.max_fraglen + 1]> self.fld_hist, dtype=np.float64)

    @property
    def allocated_bytes(self):
        """Bytes held in the builder's own buffers (their capacities): they grow with the
        transcripts, the equivalence classes, the largest read group and the bias sample
        (capped), never with the number of reads (the seen-name set of a file that still
        looks coordinate-sorted aside; such a file is grouped instead)."""
        cdef int64_t per_fraglen = self.max_fraglen + 1
        return int(
            self.n_ref * sizeof(int32_t) + self.n_tx * sizeof(int64_t)
            + self.cap_recs * sizeof(Rec) + self.cap_fa * sizeof(FAln)
            + (self.cap_frag + 1) * sizeof(int64_t) + 4 * per_fraglen * sizeof(double)
            + (self.cap_classes + 1) * sizeof(int64_t)
            + self.cap_classes * (sizeof(uint64_t) + sizeof(double))
            + self.cap_nnz * (sizeof(int32_t) + sizeof(uint8_t) + sizeof(double))
            + self.table_cap * sizeof(int64_t)
            + self.s_cap * (sizeof(int32_t) + sizeof(double) + sizeof(uint8_t))
            + self.seen_cap * sizeof(uint64_t)
            + (self.smp_max + 2 if self.smp_cap else 0) * sizeof(int64_t)
            + self.smp_cap * (3 * sizeof(int32_t) + sizeof(uint8_t) + sizeof(double)))

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
                        errno = 0
                        ret = sam_read1(fp, hdr, b)
                        if ret < 0:
                            self.note_read_error(fp, ret)
                            break
                        self.records_read += 1
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
                    errno = 0
                    ret = sam_read1(fp, hdr, b)
                    if ret < 0:
                        self.note_read_error(fp, ret)
                        break
                    self.records_read += 1
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
                    rc = self.reduce_record(b, &recs[n], n + 1)
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

    cdef void note_read_error(self, htsFile *fp, int ret) noexcept nogil:
        """Keep what htslib said about a failed read: its return code, errno, and the
        BGZF error bits (checksum, inflate, block header, I/O) of a BGZF-compressed file."""
        self.read_status = ret
        self.read_errno = errno
        if ret < -1 and fp.is_bgzf and fp.fp.bgzf != NULL:
            self.bgzf_errcode = fp.fp.bgzf.errcode

    def _note_problem(self, int rc):
        if rc in (RC_ZERO_SPAN, RC_NAME_TOO_LONG, RC_RECURRING):
            self.problem_read = self._name() if self.have_name else None
        if rc == RC_INVALID:
            self.problem_read = (<bytes> self.bad_name).decode("ascii", "replace")

    @property
    def first_past_end(self):
        """Name of the first read skipped because its alignment runs past the transcript."""
        return (<bytes> self.past_end_name).decode("ascii", "replace") or None

    def transcript_of(self, int ref):
        """Transcript index of the header's reference ``ref``."""
        if not 0 <= ref < self.n_ref:
            raise IndexError(ref)
        return int(self.tid_map[ref])

    def invalid_record(self):
        """The first invalid record as a dict: ``record`` (1-based, file order), ``read``,
        ``what`` (a key of :data:`BAD`), ``ref`` (header index), ``value``, ``limit``."""
        return {"record": int(self.bad_record),
                "read": (<bytes> self.bad_name).decode("ascii", "replace"),
                "what": BAD_NAMES.get(self.bad_what, "unknown"), "ref": int(self.bad_tid),
                "value": int(self.bad_value), "limit": int(self.bad_limit)}

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
      "zero_span": RC_ZERO_SPAN, "name_too_long": RC_NAME_TOO_LONG, "memory": RC_MEMORY,
      "invalid": RC_INVALID}
BAD_NAMES = {BAD_TID: "tid", BAD_POS_NEGATIVE: "pos_negative", BAD_POS_PAST_END: "pos_past_end",
             BAD_SPAN: "span", BAD_MPOS: "mpos", BAD_ZERO_SPAN: "zero_span"}
LIB_CODES = {"A": LIB_AUTO, "IU": LIB_IU, "ISF": LIB_ISF, "ISR": LIB_ISR, "U": LIB_U,
             "SF": LIB_SF, "SR": LIB_SR}
