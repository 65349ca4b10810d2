# cython: language_level=3
"""Tab-separated text of a table's columns in one C pass (the bytes pandas' ``to_csv`` writes).

:func:`format_columns` takes the columns already sorted by kind: text (a list of ``str``),
integers (int64), floats (float64, printed with one printf format such as ``%.9g``; NaN as
an empty field as pandas writes it) and pre-formatted text. The rows are formatted with
``snprintf`` and a small integer printer into one buffer: no Python object per cell.
"""

from libc.stdint cimport int64_t
from libc.stdio cimport snprintf
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy, memchr
from libc.math cimport fabs, floor, isfinite, isnan, log10, signbit

cimport numpy as cnp
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_Check

import numpy as np

cnp.import_array()

cdef extern from "Python.h":
    const char *PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t *size) except NULL

#: column kinds
TEXT = 0
INTEGER = 1
FLOAT = 2


cdef struct Out:
    char *data
    Py_ssize_t size
    Py_ssize_t capacity


cdef int reserve(Out *out, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap
    cdef char *grown
    if out.size + extra <= out.capacity:
        return 0
    cap = max(out.capacity * 2, out.size + extra, 1 << 16)
    grown = <char *>realloc(out.data, cap)
    if grown == NULL:
        raise MemoryError()
    out.data = grown
    out.capacity = cap
    return 0


cdef inline Py_ssize_t put_int(char *dst, int64_t value) noexcept nogil:
    cdef char digits[24]
    cdef int n = 0, k
    cdef Py_ssize_t w = 0
    cdef unsigned long long v
    if value < 0:
        dst[0] = 45  # '-'
        w = 1
        v = <unsigned long long>(-(value + 1)) + 1
    else:
        v = <unsigned long long>value
    while True:
        digits[n] = <char>(48 + v % 10)
        n += 1
        v //= 10
        if v == 0:
            break
    for k in range(n):
        dst[w + k] = digits[n - 1 - k]
    return w + n


cdef double POW10[23]
cdef int _k
POW10[0] = 1.0
for _k in range(1, 23):
    POW10[_k] = POW10[_k - 1] * 10.0


cdef Py_ssize_t put_general(char *dst, double x, int precision) noexcept nogil:
    """``snprintf(dst, .., "%.<precision>g", x)`` for finite ``x``, without printf: the value is
    scaled to ``precision`` digits by one correctly rounded multiplication or division by an
    exact power of ten; returns -1 (use printf) where that cannot decide the rounding (a
    near-tie, or a power of ten beyond 1e22)."""
    cdef Py_ssize_t w = 0
    cdef int e, k, n_digits, point, exp10
    cdef double a, scaled, frac
    cdef unsigned long long m, limit
    cdef char digits[24]
    if x == 0.0:
        if signbit(x):
            dst[0] = 45
            w = 1
        dst[w] = 48
        return w + 1
    a = -x if x < 0 else x
    e = <int>floor(log10(a))
    limit = <unsigned long long>POW10[precision]
    for k in range(2):  # log10 can be off by one next to a power of ten
        exp10 = precision - 1 - e
        if exp10 > 22 or exp10 < -22:
            return -1
        scaled = a * POW10[exp10] if exp10 >= 0 else a / POW10[-exp10]
        if scaled >= limit:
            e += 1
        elif scaled < limit // 10:
            e -= 1
        else:
            break
    else:
        return -1
    m = <unsigned long long>scaled
    frac = scaled - <double>m
    if fabs(frac - 0.5) < limit * 1e-15:
        return -1
    if frac > 0.5:
        m += 1
    if m >= limit:  # 9.999999995 -> 10.0000000
        m //= 10
        e += 1
    if x < 0:
        dst[0] = 45
        w = 1
    n_digits = precision
    while n_digits > 1 and m % 10 == 0:
        m //= 10
        n_digits -= 1
    for k in range(n_digits):
        digits[n_digits - 1 - k] = <char>(48 + m % 10)
        m //= 10
    if e < -4 or e >= precision:  # d.ddde+XX
        dst[w] = digits[0]
        w += 1
        if n_digits > 1:
            dst[w] = 46
            w += 1
            memcpy(dst + w, digits + 1, n_digits - 1)
            w += n_digits - 1
        dst[w] = 101
        dst[w + 1] = 45 if e < 0 else 43
        w += 2
        if e < 0:
            e = -e
        if e >= 100:
            dst[w] = <char>(48 + e // 100)
            w += 1
        dst[w] = <char>(48 + (e // 10) % 10)
        dst[w + 1] = <char>(48 + e % 10)
        return w + 2
    if e < 0:  # 0.000ddd
        dst[w] = 48
        dst[w + 1] = 46
        w += 2
        for k in range(-e - 1):
            dst[w] = 48
            w += 1
        memcpy(dst + w, digits, n_digits)
        return w + n_digits
    point = e + 1  # digits before the decimal point
    if n_digits <= point:
        memcpy(dst + w, digits, n_digits)
        w += n_digits
        for k in range(point - n_digits):
            dst[w] = 48
            w += 1
        return w
    memcpy(dst + w, digits, point)
    w += point
    dst[w] = 46
    w += 1
    memcpy(dst + w, digits + point, n_digits - point)
    return w + n_digits - point


def format_columns(list kinds, list columns, bytes float_format, Py_ssize_t n_rows,
                   int general_precision=0):
    """The rows of the columns as tab-separated text, each row ending with ``\\n``.

    Parameters
    ----------
    kinds : list of int
        ``TEXT`` (a list of str), ``INTEGER`` (int64 array) or ``FLOAT`` (float64 array) for
        each column.
    columns : list
        The columns, ``n_rows`` values each.
    float_format : bytes
        A printf format of one double (e.g. ``b"%.9g"``).
    n_rows : int
    general_precision : int, default=0
        When ``float_format`` is ``%.<p>g`` with ``p`` at most 12, ``p``: floats are then
        printed by :func:`put_general` (printf only for near-ties), the same text.

    Returns
    -------
    bytes or None
        The text, or None when a text value needs quoting (holds a tab, a double quote or a
        line break) or is not a ``str``: the caller then falls back to pandas.
    """
    cdef Out out
    cdef Py_ssize_t i, size
    cdef int c, n_cols = len(columns), kind, written
    cdef const char *fmt = float_format
    cdef const char *text
    cdef double x
    cdef cnp.ndarray array
    cdef list held = []
    cdef list texts
    cdef int *column_kinds = <int *>PyMem_Malloc(max(n_cols, 1) * sizeof(int))
    cdef void **data = <void **>PyMem_Malloc(max(n_cols, 1) * sizeof(void *))
    out.data = NULL
    out.size = out.capacity = 0
    try:
        for c in range(n_cols):
            column_kinds[c] = kinds[c]
            if kinds[c] == FLOAT:
                array = np.ascontiguousarray(columns[c], dtype=np.float64)
            elif kinds[c] == INTEGER:
                array = np.ascontiguousarray(columns[c], dtype=np.int64)
            else:
                array = None
                texts = list(columns[c])
                held.append(texts)
                data[c] = <void *>texts
            if array is not None:
                if array.shape[0] != n_rows:
                    raise ValueError("columns differ in length")
                held.append(array)
                data[c] = cnp.PyArray_DATA(array)
        for i in range(n_rows):
            for c in range(n_cols):
                kind = column_kinds[c]
                reserve(&out, 48)
                if kind == FLOAT:
                    x = (<double *>data[c])[i]
                    if not isnan(x):
                        written = -1
                        if general_precision and isfinite(x):
                            written = put_general(out.data + out.size, x, general_precision)
                        if written < 0:
                            written = snprintf(out.data + out.size, 40, fmt, x)
                        if written >= 40:
                            return None
                        out.size += written
                elif kind == INTEGER:
                    out.size += put_int(out.data + out.size, (<int64_t *>data[c])[i])
                else:
                    value = (<list>data[c])[i]
                    if not PyUnicode_Check(value):
                        return None
                    text = PyUnicode_AsUTF8AndSize(value, &size)
                    if (memchr(text, 9, size) != NULL or memchr(text, 34, size) != NULL
                            or memchr(text, 10, size) != NULL or memchr(text, 13, size) != NULL):
                        return None
                    reserve(&out, size + 2)
                    memcpy(out.data + out.size, text, size)
                    out.size += size
                out.data[out.size] = 9 if c + 1 < n_cols else 10
                out.size += 1
        return PyBytes_FromStringAndSize(out.data, out.size)
    finally:
        free(out.data)
        PyMem_Free(column_kinds)
        PyMem_Free(data)


def format_ragged_rows(const int64_t[::1] offsets, const int64_t[::1] values,
                       const int64_t[::1] last):
    """Rows of varying length as space-separated integers: row ``r`` is its length
    ``offsets[r+1] - offsets[r]``, its ``values`` and ``last[r]``, then ``\\n`` (the line
    layout of Salmon's ``eq_classes.txt``).

    Parameters
    ----------
    offsets : int64 array of shape (n_rows + 1,)
        Where each row's values start in ``values``; non-decreasing.
    values : int64 array
    last : int64 array of shape (n_rows,)
        The last field of each row.

    Returns
    -------
    bytes
    """
    cdef Py_ssize_t n_rows = offsets.shape[0] - 1, r
    cdef int64_t j, lo, hi
    cdef Out out
    if n_rows < 0 or last.shape[0] != n_rows:
        raise ValueError("offsets and last differ in length")
    if offsets[0] < 0 or offsets[n_rows] > values.shape[0]:
        raise ValueError("offsets run past the values")
    out.data = NULL
    out.size = out.capacity = 0
    try:
        for r in range(n_rows):
            lo, hi = offsets[r], offsets[r + 1]
            if hi < lo:
                raise ValueError(f"offsets decrease at row {r}")
            reserve(&out, (hi - lo + 2) * 24)
            out.size += put_int(out.data + out.size, hi - lo)
            for j in range(lo, hi):
                out.data[out.size] = 32
                out.size += put_int(out.data + out.size + 1, values[j]) + 1
            out.data[out.size] = 32
            out.size += put_int(out.data + out.size + 1, last[r]) + 1
            out.data[out.size] = 10
            out.size += 1
        return PyBytes_FromStringAndSize(out.data, out.size)
    finally:
        free(out.data)
