"""Transcript sequences and lengths: the reference a BAM was aligned to."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..io.fasta import iter_fasta

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
    """

    names: list[str]
    lengths: np.ndarray
    sequence_buffer: np.ndarray | None = None
    source: str = ""
    _position: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        if len(self.names) != len(self.lengths):
            raise ValueError("names and lengths differ in size")
        self._position = {name: i for i, name in enumerate(self.names)}

    @property
    def offsets(self) -> np.ndarray:
        """Start of each transcript in :attr:`sequence_buffer`, shape (n_transcripts + 1,)."""
        return np.concatenate(([0], np.cumsum(self.lengths)))

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
        return self._position.get(name, -1)


def load_transcripts(path: str | os.PathLike[str]) -> TranscriptIndex:
    """Read a transcript FASTA (plain or gzipped) into a :class:`TranscriptIndex`.

    Raises
    ------
    InputError
        On a missing, empty, corrupt (e.g. truncated gzip) or malformed FASTA, on repeated
        names, or on an empty sequence.
    """
    names: list[str] = []
    sequences: list[str] = []
    seen: set[str] = set()
    for record in iter_fasta(path):
        if record.name in seen:
            raise InputError(f"{path}: transcript {record.name!r} appears more than once")
        if not record.sequence:
            raise InputError(f"{path}: transcript {record.name!r} has an empty sequence")
        seen.add(record.name)
        names.append(record.name)
        sequences.append(record.sequence)
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    joined = "".join(sequences).upper().encode("ascii", "replace")
    buffer = np.frombuffer(joined, dtype=np.uint8)
    return TranscriptIndex(names, lengths, buffer, source=os.fspath(path))
