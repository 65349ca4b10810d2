"""FASTA reading shared by the engines: plain, gzip or bgzip, in one pass of C code."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError

__all__ = ["FastaRecord", "FastaScan", "scan_fasta", "iter_fasta", "read_fasta", "IUPAC_DNA"]

#: Letters accepted in nucleotide sequences: IUPAC codes (upper or lower case), ``-`` and ``*``.
IUPAC_DNA = frozenset("ACGTUNRYKMSWBDHVacgtunrykmswbdhv")

_GZIP_MAGIC = b"\x1f\x8b"
#: htslib's BGZF error bits (``bgzf.h``): what ``bgzf_read`` says went wrong.
_BGZF_ERR_ZLIB, _BGZF_ERR_HEADER, _BGZF_ERR_IO, _BGZF_ERR_CRC = 1, 2, 4, 32


@dataclass(frozen=True)
class FastaRecord:
    """One sequence: its name (header up to the first whitespace), description and letters."""

    name: str
    description: str
    sequence: str


@dataclass(frozen=True)
class FastaScan:
    """Every record of a FASTA file, read in one pass by :func:`scan_fasta`.

    Attributes
    ----------
    names : list of str
        Record names (the header up to its first whitespace), in file order.
    lengths : ndarray of shape (n_records,)
        Letters of each record (int64).
    sequence : ndarray of shape (sum(lengths),) of uint8, or None
        All letters concatenated in file order as ASCII codes (record ``i`` is
        ``sequence[offsets[i]:offsets[i + 1]]``), or None when not asked for.
    descriptions : list of str or None
        The header after the name and the one whitespace character that ends it, when asked
        for.
    digests : dict of str to str
        Hex digests of the letters concatenated (as returned: upper-cased or not), by
        ``hashlib`` algorithm name, for the algorithms asked for.
    """

    names: list[str]
    lengths: np.ndarray
    sequence: np.ndarray | None
    descriptions: list[str] | None = None
    digests: dict[str, str] = field(default_factory=dict)


def _alphabet_bytes(alphabet: frozenset[str] | None) -> bytes:
    if alphabet is None:
        return b""
    letters = "".join(sorted(alphabet))
    if not letters.isascii() or any(c.isspace() or c == ">" for c in letters):
        raise ValueError(f"a FASTA alphabet holds ASCII letters other than '>' and spaces, "
                         f"got {letters!r}")
    return letters.encode("ascii")


def _split_blob(blob: bytes, path: Path) -> list[str]:
    """``b"a\nb\n"`` -> ``["a", "b"]`` (every entry ends with a newline)."""
    try:
        return blob.decode("ascii").split("\n")[:-1]
    except UnicodeDecodeError:  # the scanner refuses non-ASCII headers; kept as a guard
        raise InputError(f"{path}: non-ASCII byte in a FASTA header") from None


def _scan_error(path: Path, scan: dict) -> InputError:
    """The one-line error for a failed scan (see ``emseq.io._fasta.ScanError``)."""
    from ._fasta import ScanError

    code, line = scan["error"], scan.get("error_line", 0)
    if code == ScanError.ERR_OPEN:
        return InputError(f"{path}: cannot read FASTA: cannot open the file")
    if code == ScanError.ERR_READ:
        bits = scan["error_byte"]
        if bits & _BGZF_ERR_IO:
            why = "the file is truncated or cannot be read"
        elif bits & (_BGZF_ERR_ZLIB | _BGZF_ERR_CRC | _BGZF_ERR_HEADER):
            why = "corrupt compressed data"
        else:
            why = "read error"
        return InputError(f"{path}: cannot read FASTA: {why}")
    if code == ScanError.ERR_BEFORE_HEADER:
        return InputError(f"{path}:{line}: sequence before the first '>' header; "
                          "is this a FASTA file?")
    if code == ScanError.ERR_EMPTY_NAME:
        return InputError(f"{path}:{line}: FASTA header without a name")
    if code == ScanError.ERR_NON_ASCII:
        return InputError(f"{path}:{line}: non-ASCII byte in FASTA")
    if code == ScanError.ERR_LETTER:
        names = _split_blob(scan["names"], path)
        return InputError(f"{path}:{line}:{scan['error_column']}: unexpected letter "
                          f"{chr(scan['error_byte'])!r} in sequence {names[-1]!r}")
    return InputError(f"{path}: cannot read FASTA: out of memory")


def scan_fasta(path: str | os.PathLike[str], *, alphabet: frozenset[str] | None = IUPAC_DNA,
               upper: bool = True, sequences: bool = True, descriptions: bool = False,
               n_threads: int = 1, digests: tuple[str, ...] = ()) -> FastaScan:
    """Read a whole FASTA file in one pass of C code (plain, gzip or bgzip).

    htslib's BGZF layer decompresses the file (BGZF blocks on ``n_threads`` threads) and
    :mod:`emseq.io._fasta` walks the bytes without the GIL; no Python object is made per line.

    Parameters
    ----------
    path : path-like
        A FASTA file, plain, gzip (one or several members) or bgzip (detected from its bytes;
        an ``.fai``/``.gzi`` index is neither needed nor used).
    alphabet : frozenset of str or None, default=IUPAC_DNA
        Letters allowed in sequences; ``None`` accepts any non-space ASCII.
    upper : bool, default=True
        Return the letters upper-cased (True) or as in the file.
    sequences : bool, default=True
        Keep the letters (one contiguous buffer) or only count them (lengths only).
    descriptions : bool, default=False
        Also return the text of each header after the name.
    n_threads : int, default=1
        Threads for BGZF decompression.
    digests : tuple of str, default=()
        ``hashlib`` algorithms (e.g. ``("sha256", "sha512")``) to digest the letters with,
        block by block on a second thread while the scan goes on, also when the letters are
        not kept.

    Returns
    -------
    FastaScan

    Raises
    ------
    InputError
        On a missing or empty file, text before the first header, an empty name, a letter not
        in ``alphabet`` (the message gives the file, line, column and letter), a non-ASCII byte,
        or a truncated or corrupt gzip stream. Lines end with LF or CRLF; blank lines and
        white space inside sequence lines are ignored.
    """
    import pysam  # the extension links pysam's htslib, which pysam loads

    from . import _fasta

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such FASTA file")
    letters = _alphabet_bytes(alphabet)
    size_hint = 0
    if sequences:
        with open(path, "rb") as probe:
            compressed = probe.read(2) == _GZIP_MAGIC
        # a plain file's size bounds its letters; untouched pages of the buffer cost nothing
        size_hint = path.stat().st_size * (4 if compressed else 1)
    hashers = [hashlib.new(name) for name in digests]
    pool = ThreadPoolExecutor(1, thread_name_prefix="fasta-digest") if hashers else None

    def digest_block(block: np.ndarray) -> None:
        view = memoryview(block)
        for hasher in hashers:
            hasher.update(view)  # hashlib releases the GIL on large buffers

    verbosity = pysam.set_verbosity(0)  # htslib's own error lines: ours is the one line
    try:
        scan = _fasta.scan_fasta(os.fspath(path), letters, upper=upper, sequences=sequences,
                                 descriptions=descriptions, n_threads=max(1, n_threads),
                                 size_hint=size_hint,
                                 letters_sink=(lambda block: pool.submit(digest_block, block))
                                 if pool else None)
    finally:
        pysam.set_verbosity(verbosity)
        if pool:
            pool.shutdown()
    if scan["error"]:
        raise _scan_error(path, scan)
    starts = scan["starts"]
    if starts.size == 0:
        raise InputError(f"{path}: empty FASTA file (no '>' header)")
    lengths = np.diff(starts, append=np.int64(scan["n_letters"]))
    return FastaScan(names=_split_blob(scan["names"], path), lengths=lengths,
                     sequence=scan["sequence"],
                     descriptions=_split_blob(scan["descriptions"], path)
                     if descriptions else None,
                     digests={h.name: h.hexdigest() for h in hashers})


def iter_fasta(path: str | os.PathLike[str], *, alphabet: frozenset[str] | None = IUPAC_DNA
               ) -> Iterator[FastaRecord]:
    """Yield the records of a FASTA file, checking its syntax and letters.

    The file is read whole by :func:`scan_fasta` first, so a malformed file raises before the
    first record is yielded.

    Parameters
    ----------
    path : path-like
        A FASTA file, plain, gzip or bgzip-compressed (detected from its first bytes).
    alphabet : frozenset of str or None, default=IUPAC_DNA
        Letters allowed in sequences; ``None`` accepts any non-space ASCII.

    Raises
    ------
    InputError
        As :func:`scan_fasta`.
    """
    scan = scan_fasta(path, alphabet=alphabet, upper=False, descriptions=True)
    text = scan.sequence.tobytes().decode("ascii")
    start = 0
    for name, description, length in zip(scan.names, scan.descriptions, scan.lengths.tolist()):
        yield FastaRecord(name, description, text[start:start + length])
        start += length


def read_fasta(path: str | os.PathLike[str], *, alphabet: frozenset[str] | None = IUPAC_DNA,
               unique_names: bool = True) -> list[FastaRecord]:
    """Read every record of a FASTA file (see :func:`iter_fasta`); names must be unique."""
    records = list(iter_fasta(path, alphabet=alphabet))
    if unique_names:
        seen: set[str] = set()
        for record in records:
            if record.name in seen:
                raise InputError(f"{path}: sequence name {record.name!r} appears more than once")
            seen.add(record.name)
    return records
