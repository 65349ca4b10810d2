# cython: language_level=3
"""FASTA scanning in C: plain, gzip or bgzip files read through htslib's BGZF layer.

:func:`scan_fasta` decompresses the file in blocks with ``bgzf_read`` (htslib detects plain,
gzip and BGZF input by itself; BGZF blocks are inflated on ``n_threads`` threads) and walks
every block with a table-driven state machine without the GIL: header lines go into a names
(and, on request, descriptions) blob, sequence letters are checked against an alphabet, mapped
(upper-cased or kept) and appended to one contiguous uint8 buffer, or only counted when the
sequences are not wanted. No Python object is made per line or per base; the caller gets
the blobs, the record starts and the buffer, and builds its own objects from them.

Measured on a 150,000-transcript, 337 Mbp reference (see benchmarks/bench_scale.py):
this scanner against htslib's kseq through ``pysam.FastxFile`` (a Python object per record)
and the pure-Python parser it replaces.
"""

from libc.stdint cimport int64_t, uint8_t
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_New
from cpython.ref cimport Py_INCREF
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memchr, memcpy

cimport numpy as cnp
from pysam.libchtslib cimport BGZF, bgzf_close, bgzf_compression, bgzf_mt, bgzf_open, bgzf_read

import numpy as np

cnp.import_array()

# what a byte is inside a sequence line (bits of Scanner.flags; 0: a space, skipped)
cdef enum:
    IS_LETTER = 1
    IS_INVALID = 2

# parser states
cdef enum:
    LINE_START = 0
    IN_SEQUENCE = 1
    IN_HEADER = 2

# what went wrong (turned into an InputError by emseq.io.fasta)
cpdef enum ScanError:
    ERR_NONE = 0
    ERR_BEFORE_HEADER = 1
    ERR_EMPTY_NAME = 2
    ERR_LETTER = 3
    ERR_NON_ASCII = 4
    ERR_MEMORY = 5
    ERR_READ = 6
    ERR_OPEN = 7

# bytes decompressed per call of bgzf_read
cdef enum:
    BLOCK = 4 << 20


cdef struct Blob:
    char *data
    int64_t size
    int64_t capacity


cdef int blob_append(Blob *blob, const char *src, int64_t n) noexcept nogil:
    cdef int64_t want = blob.size + n
    cdef int64_t cap
    cdef char *grown
    if want > blob.capacity:
        cap = blob.capacity * 2 if blob.capacity else 4096
        while cap < want:
            cap *= 2
        grown = <char *>realloc(blob.data, cap)
        if grown == NULL:
            return 1
        blob.data = grown
        blob.capacity = cap
    if n:
        memcpy(blob.data + blob.size, src, n)
    blob.size = want
    return 0


cdef struct Scanner:
    uint8_t flags[256]
    uint8_t code[256]
    int state
    int has_record
    int keep_descriptions
    int store
    int acgt_fast            # A, C, G, T are letters stored as they are
    int64_t letters          # letters seen so far (all records)
    int64_t lineno           # 1-based number of the line being read
    int64_t line_start       # byte offset of the current line in the decompressed stream
    int64_t consumed         # bytes of the decompressed stream before the current block
    Blob header              # the header line being read (spans blocks)
    Blob names               # names, each followed by '\n'
    Blob descriptions        # descriptions, each followed by '\n'
    Blob starts              # int64 start of each record in the letters
    # where an error happened
    int error
    int64_t error_line
    int64_t error_column
    int error_byte


cdef inline bint is_space(uint8_t c) noexcept nogil:
    return c == 32 or (9 <= c <= 13)


cdef int finish_header(Scanner *s) noexcept nogil:
    """Split the collected header line into name and description; start a record."""
    cdef const uint8_t *h = <const uint8_t *>s.header.data
    cdef int64_t lo = 0, hi = s.header.size, cut, i
    for i in range(s.header.size):
        if h[i] >= 128:
            s.error, s.error_line = ERR_NON_ASCII, s.lineno
            return 1
    while lo < hi and is_space(h[lo]):
        lo += 1
    while hi > lo and is_space(h[hi - 1]):
        hi -= 1
    if lo == hi:
        s.error, s.error_line = ERR_EMPTY_NAME, s.lineno
        return 1
    cut = lo
    while cut < hi and not is_space(h[cut]):
        cut += 1
    if blob_append(&s.names, <const char *>h + lo, cut - lo) or blob_append(&s.names, "\n", 1):
        s.error = ERR_MEMORY
        return 1
    if s.keep_descriptions:
        if cut < hi:
            cut += 1  # the one whitespace character after the name
        if (blob_append(&s.descriptions, <const char *>h + cut, hi - cut)
                or blob_append(&s.descriptions, "\n", 1)):
            s.error = ERR_MEMORY
            return 1
    if blob_append(&s.starts, <const char *>&s.letters, sizeof(int64_t)):
        s.error = ERR_MEMORY
        return 1
    s.has_record = 1
    s.header.size = 0
    return 0


cdef inline bint all_acgt(const uint8_t *src, int64_t n) noexcept nogil:
    """Whether ``src[:n]`` is upper-case A, C, G, T only (a loop gcc vectorises)."""
    cdef int64_t p
    cdef uint8_t c, ok = 1
    for p in range(n):
        c = src[p]
        ok &= (c == 65) | (c == 67) | (c == 71) | (c == 84)
    return ok


cdef int64_t copy_letters(const uint8_t *src, int64_t n, uint8_t *out, const uint8_t *flags,
                          const uint8_t *code, int *bad) noexcept nogil:
    """Map and store the letters of ``src[:n]`` (one line, no newline) into ``out``; return
    how many. Branch-free so that gcc vectorises it; ``bad`` is set on a byte not allowed."""
    cdef int64_t p, w = 0
    cdef uint8_t c, f, any_bad = 0
    for p in range(n):
        c = src[p]
        f = flags[c]
        out[w] = code[c]
        w += f & IS_LETTER
        any_bad |= f
    bad[0] = (any_bad & IS_INVALID) != 0
    return w


cdef int64_t count_letters(const uint8_t *src, int64_t n, const uint8_t *flags,
                           int *bad) noexcept nogil:
    """:func:`copy_letters` without storing."""
    cdef int64_t p, w = 0
    cdef uint8_t f, any_bad = 0
    for p in range(n):
        f = flags[src[p]]
        w += f & IS_LETTER
        any_bad |= f
    bad[0] = (any_bad & IS_INVALID) != 0
    return w


cdef int locate_bad(Scanner *s, const uint8_t *buf, int64_t i, int64_t j) noexcept nogil:
    """Set the error for the first byte of ``buf[i:j]`` that is not allowed; return 1."""
    cdef int64_t p
    cdef uint8_t c
    for p in range(i, j):
        c = buf[p]
        if s.flags[c] & IS_INVALID:
            s.error = ERR_NON_ASCII if c >= 128 else ERR_LETTER
            s.error_line = s.lineno
            s.error_column = s.consumed + p - s.line_start + 1
            s.error_byte = c
            return 1
    return 0


cdef int scan_block(Scanner *s, const uint8_t *buf, int64_t n, uint8_t *out) noexcept nogil:
    """Consume ``n`` decompressed bytes; letters go to ``out`` (room for ``n`` bytes) when
    storing. Returns 0, or 1 with ``s.error`` set."""
    cdef int64_t i = 0, j, w
    cdef int bad = 0
    cdef const uint8_t *newline
    while i < n:
        newline = <const uint8_t *>memchr(buf + i, 10, n - i)
        j = n if newline == NULL else newline - buf
        if s.state == LINE_START and buf[i] == 62:  # '>'
            s.state = IN_HEADER
            i += 1
        if s.state == IN_HEADER:
            if blob_append(&s.header, <const char *>buf + i, j - i):
                s.error = ERR_MEMORY
                return 1
            if newline != NULL and finish_header(s):
                return 1
        else:
            # a sequence line (or its part in this block): buf[i:j]
            if s.acgt_fast and all_acgt(buf + i, j - i):  # the common line: plain ACGT
                w = j - i
                if s.store:
                    memcpy(out, buf + i, w)
            elif s.store:
                w = copy_letters(buf + i, j - i, out, s.flags, s.code, &bad)
            else:
                w = count_letters(buf + i, j - i, s.flags, &bad)
            if w and not s.has_record:
                s.error, s.error_line = ERR_BEFORE_HEADER, s.lineno
                return 1
            if bad:
                if not s.has_record:
                    s.error, s.error_line = ERR_BEFORE_HEADER, s.lineno
                    return 1
                return locate_bad(s, buf, i, j)
            if s.store:
                out += w
            s.letters += w
            s.state = IN_SEQUENCE
        if newline == NULL:
            break
        i = j + 1
        s.lineno += 1
        s.line_start = s.consumed + i
        s.state = LINE_START
    return 0


cdef void _free_capsule(object capsule) noexcept:
    free(PyCapsule_GetPointer(capsule, "emseq.io._fasta.letters"))


cdef cnp.ndarray _adopt(uint8_t *data, int64_t n):
    """A uint8 array over ``data[:n]`` (malloc'd, trimmed here) that frees it when collected."""
    cdef cnp.npy_intp size = n
    cdef uint8_t *trimmed = <uint8_t *>realloc(data, n if n > 0 else 1)
    if trimmed == NULL:
        trimmed = data
    capsule = PyCapsule_New(trimmed, "emseq.io._fasta.letters", _free_capsule)
    cdef cnp.ndarray array = cnp.PyArray_SimpleNewFromData(1, &size, cnp.NPY_UINT8, trimmed)
    cnp.PyArray_SetBaseObject(array, capsule)  # steals a reference
    Py_INCREF(capsule)
    return array


cdef void release(Scanner *s) noexcept nogil:
    free(s.header.data)
    free(s.names.data)
    free(s.descriptions.data)
    free(s.starts.data)


def scan_fasta(str path, bytes alphabet, *, bint upper=True, bint sequences=True,
               bint descriptions=False, int n_threads=1, int64_t size_hint=0,
               object letters_sink=None):
    """Scan a FASTA file in one pass.

    Parameters
    ----------
    path : str
        A FASTA file, plain, gzip or bgzip (detected by htslib).
    alphabet : bytes
        The letters accepted in sequences; an empty value accepts every printable
        non-space ASCII letter.
    upper : bool, default=True
        Store letters upper-cased (True) or as they are.
    sequences : bool, default=True
        Store the letters (True) or only count them.
    descriptions : bool, default=False
        Also collect the text after each name.
    n_threads : int, default=1
        Threads inflating BGZF blocks (ignored for plain and gzip files).
    size_hint : int, default=0
        Expected number of letters (e.g. the plain file's size): the first allocation.
    letters_sink : callable, optional
        Called with a uint8 array of the letters of each block, in order (also when the
        letters are not stored). It may hand the array to another thread: it returns an
        object with ``result()`` (a future) that is awaited before the array is reused, or
        None.

    Returns
    -------
    dict
        ``error`` (0 on success, else one of the ``ERR_*`` codes with ``error_line``,
        ``error_column``, ``error_byte``: the offending byte, or for ``ERR_READ`` htslib's
        ``BGZF_ERR_*`` bits), ``names`` and ``descriptions`` (bytes, one
        ``\\n``-terminated entry per record), ``starts`` (int64 array, the first letter of each
        record), ``n_letters``, ``sequence`` (uint8 array of ``n_letters`` or None).
    """
    cdef Scanner s
    cdef BGZF *fp
    cdef int i, threads_set
    cdef ssize_t got
    cdef int64_t capacity = 0, used = 0
    cdef uint8_t *inbuf
    cdef uint8_t *out
    cdef cnp.ndarray block = np.empty(BLOCK, dtype=np.uint8)
    cdef uint8_t *letters = NULL
    cdef uint8_t *grown
    cdef cnp.npy_intp n_letters
    cdef cnp.ndarray scratch
    cdef int turn = 0
    cdef int64_t before
    scratches = [np.empty(BLOCK, dtype=np.uint8), np.empty(BLOCK, dtype=np.uint8)] \
        if letters_sink is not None else None
    pending = [None, None]
    cdef bytes encoded = path.encode()
    cdef const char *cpath = encoded
    s.state = LINE_START
    s.has_record = 0
    s.keep_descriptions = descriptions
    s.store = sequences
    s.letters = 0
    s.lineno = 1
    s.line_start = 0
    s.consumed = 0
    s.header.data = s.names.data = s.descriptions.data = s.starts.data = NULL
    s.header.size = s.names.size = s.descriptions.size = s.starts.size = 0
    s.header.capacity = s.names.capacity = s.descriptions.capacity = s.starts.capacity = 0
    s.error = ERR_NONE
    s.error_line = s.error_column = 0
    s.error_byte = 0
    for i in range(256):
        s.flags[i] = IS_INVALID
        s.code[i] = i - 32 if upper and 97 <= i <= 122 else i
    if alphabet:
        for i in alphabet:
            s.flags[i] = IS_LETTER
    else:
        for i in range(33, 127):
            s.flags[i] = IS_LETTER
    for i in range(256):
        if is_space(i):
            s.flags[i] = 0
    s.acgt_fast = all(s.flags[i] == IS_LETTER for i in b"ACGT")
    inbuf = <uint8_t *>cnp.PyArray_DATA(block)
    if sequences:
        capacity = max(size_hint, BLOCK)
        letters = <uint8_t *>malloc(capacity)
        if letters == NULL:
            raise MemoryError()
    with nogil:
        fp = bgzf_open(cpath, "r")
    if fp == NULL:
        return {"error": ERR_OPEN}
    try:
        if n_threads > 1 and bgzf_compression(fp) == 2:
            bgzf_mt(fp, n_threads, 64)
        while True:
            with nogil:
                got = bgzf_read(fp, inbuf, BLOCK)
            if got < 0:
                s.error = ERR_READ
                s.error_byte = fp.errcode
                break
            if got == 0:
                break
            out = NULL
            if sequences:
                if used + got > capacity:
                    # large blocks grow by mremap: no copy, and pages not written to yet
                    # cost no memory (numpy's resize would zero them)
                    capacity = max(used + got, capacity + capacity // 2)
                    grown = <uint8_t *>realloc(letters, capacity)
                    if grown == NULL:
                        s.error = ERR_MEMORY
                        break
                    letters = grown
                out = letters + used
            elif scratches is not None:
                if pending[turn] is not None:
                    pending[turn].result()
                    pending[turn] = None
                out = <uint8_t *>cnp.PyArray_DATA(scratches[turn])
                s.store = 1
            before = s.letters
            with nogil:
                scan_block(&s, inbuf, got, out)
            s.consumed += got
            used = s.letters
            if s.error:
                break
            if scratches is not None and used > before:
                if sequences:  # a copy: the buffer may move when it grows
                    if pending[turn] is not None:
                        pending[turn].result()
                        pending[turn] = None
                    scratch = scratches[turn]
                    memcpy(cnp.PyArray_DATA(scratch), out, used - before)
                pending[turn] = letters_sink(scratches[turn][:used - before])
                turn = 1 - turn
        for future in pending:
            if future is not None:
                future.result()
        if s.error == ERR_NONE and s.state == IN_HEADER:
            finish_header(&s)
        result = {"error": s.error, "error_line": s.error_line,
                  "error_column": s.error_column, "error_byte": s.error_byte,
                  "names": s.names.data[:s.names.size] if s.names.size else b"",
                  "descriptions": (s.descriptions.data[:s.descriptions.size]
                                   if s.descriptions.size else b""),
                  "n_letters": s.letters}
        starts = np.empty(s.starts.size // sizeof(int64_t), dtype=np.int64)
        if s.starts.size:
            memcpy(cnp.PyArray_DATA(starts), s.starts.data, s.starts.size)
        result["starts"] = starts
        if sequences and s.error == ERR_NONE:
            result["sequence"] = _adopt(letters, s.letters)
            letters = NULL
        else:
            result["sequence"] = None
        return result
    finally:
        bgzf_close(fp)
        release(&s)
        free(letters)
