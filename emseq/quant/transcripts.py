"""Transcript sequences and lengths: the reference a BAM was aligned to."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..io.fasta import scan_fasta

__all__ = ["TranscriptIndex", "load_transcripts"]


@dataclass
class TranscriptIndex:
    """Names, lengths and (optionally) sequences of the transcripts, in FASTA order.

    Attributes
    ----------
    names : list of str
        Transcript names (FASTA header up to the first space).
    lengths : ndarray of shape (n_transcripts,)
        Lengths in nucleotides (int64).
    sequence_buffer : ndarray of shape (sum(lengths),) of uint8, or None
        All sequences concatenated in FASTA order as upper-case ASCII codes (transcript ``i``
        is ``sequence_buffer[offsets[i]:offsets[i + 1]]``), or None when only names and
        lengths are known (BAM header). One buffer, not a string per transcript: the bias
        kernels read it without a Python object per transcript.
    source : str
        Where the index came from (a FASTA path, or ``"BAM header"``).
    sequence_digests : dict of str to str
        Hex digests of the upper-case sequences concatenated in FASTA order, by ``hashlib``
        name (``sha256``, ``sha512``), when computed while loading; they give Salmon's
        ``index_seq_hash`` keys also when the sequences are not kept.
    """

    names: list[str]
    lengths: np.ndarray
    sequence_buffer: np.ndarray | None = None
    source: str = ""
    sequence_digests: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _position: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    _offsets: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        if len(self.names) != len(self.lengths):
            raise ValueError("names and lengths differ in size")
        # the name -> position map (~100 bytes a transcript) is built on the first lookup

    @property
    def offsets(self) -> np.ndarray:
        """Start of each transcript in :attr:`sequence_buffer`, shape (n_transcripts + 1,)."""
        if self._offsets is None or self._offsets.size != self.lengths.size + 1:
            offsets = np.zeros(self.lengths.size + 1, dtype=np.int64)
            np.cumsum(self.lengths, out=offsets[1:])
            offsets.flags.writeable = False  # shared by every caller: not to be changed
            self._offsets = offsets
        return self._offsets

    @property
    def has_sequences(self) -> bool:
        return self.sequence_buffer is not None

    def sequence(self, i: int) -> str:
        """The sequence of transcript ``i`` (upper case)."""
        if self.sequence_buffer is None:
            raise ValueError(f"{self.source}: the transcript sequences are not loaded")
        offsets = self.offsets
        return self.sequence_buffer[offsets[i]:offsets[i + 1]].tobytes().decode("ascii")

    def __len__(self) -> int:
        return len(self.names)

    def position(self, name: str) -> int:
        """Index of ``name`` in FASTA order, or -1."""
        if not self._position and self.names:
            self._position = {n: i for i, n in enumerate(self.names)}
        return self._position.get(name, -1)


#: Digests of the sequences Salmon's meta_info.json gives (``index_seq_hash``, ``..._hash512``).
SEQUENCE_DIGESTS = ("sha256", "sha512")


def load_transcripts(path: str | os.PathLike[str], sequences: bool = True, *,
                     n_threads: int = 1, digests: bool = True) -> TranscriptIndex:
    """Read a transcript FASTA (plain, gzip or bgzip) into a :class:`TranscriptIndex`.

    One pass of C code (:func:`emseq.io.fasta.scan_fasta`): names end at the first
    whitespace of a header, letters are checked against the IUPAC nucleotide codes and
    upper-cased into one contiguous buffer.

    Parameters
    ----------
    path : path-like
        The transcript FASTA.
    sequences : bool, default=True
        Keep the sequences (needed by sequence and GC bias correction; the buffer is the
        only large allocation, about one byte per nucleotide). False keeps the names and
        lengths only (``sequence_buffer`` is None): 8 bytes a transcript besides the names.
    n_threads : int, default=1
        Threads for BGZF decompression of a bgzip FASTA.
    digests : bool, default=True
        Compute :attr:`TranscriptIndex.sequence_digests` while reading (on a second thread).

    Raises
    ------
    InputError
        On a missing, empty, corrupt (e.g. truncated gzip) or malformed FASTA, on repeated
        names, or on an empty sequence.
    """
    scan = scan_fasta(path, sequences=sequences, n_threads=n_threads,
                      digests=SEQUENCE_DIGESTS if digests else ())
    names, lengths = scan.names, scan.lengths
    if len(set(names)) != len(names):
        seen: set[str] = set()
        repeated = next(n for n in names if n in seen or seen.add(n))
        raise InputError(f"{path}: transcript {repeated!r} appears more than once")
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise InputError(f"{path}: transcript {names[empty[0]]!r} has an empty sequence")
    return TranscriptIndex(names, lengths, scan.sequence, source=os.fspath(path),
                           sequence_digests=scan.digests)
