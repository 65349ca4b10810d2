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
    sequences : list of str or None
        The sequences, or None when only names and lengths are known (BAM header).
    source : str
        Where the index came from (a FASTA path, or ``"BAM header"``).
    """

    names: list[str]
    lengths: np.ndarray
    sequences: list[str] | None = None
    source: str = ""
    _position: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        if len(self.names) != len(self.lengths):
            raise ValueError("names and lengths differ in size")
        self._position = {name: i for i, name in enumerate(self.names)}

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
    return TranscriptIndex(names, lengths, sequences, source=os.fspath(path))
