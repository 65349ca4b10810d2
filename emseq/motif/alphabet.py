"""DNA encoding: A, C, G, T -> 0..3; N, IUPAC codes and anything else -> 4 ("unknown").

Unknown letters are never part of a site: a window that holds one is not a possible site.
Lowercase (soft-masked) letters are kept unless ``mask_lowercase`` is set, then unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["LETTERS", "UNKNOWN", "EncodedSequences", "encode", "decode", "revcomp_codes"]

LETTERS = "ACGT"
UNKNOWN = 4

_LUT = np.full(256, UNKNOWN, dtype=np.uint8)
_LUT_MASKED = np.full(256, UNKNOWN, dtype=np.uint8)
for _i, _c in enumerate(LETTERS):
    _LUT[ord(_c)] = _LUT[ord(_c.lower())] = _i
    _LUT_MASKED[ord(_c)] = _i
_LUT[ord("U")] = _LUT[ord("u")] = 3
_LUT_MASKED[ord("U")] = 3


@dataclass(frozen=True)
class EncodedSequences:
    """Sequences as one concatenated code array.

    Attributes
    ----------
    codes : ndarray of shape (n_letters,), uint8
        Letter codes, 0..3 for A, C, G, T and 4 for unknown.
    offsets : ndarray of shape (n_sequences + 1,), int64
        Sequence ``i`` is ``codes[offsets[i]:offsets[i + 1]]``.
    names : list of str
        Sequence names.
    """

    codes: np.ndarray
    offsets: np.ndarray
    names: list[str]

    @property
    def n_sequences(self) -> int:
        return len(self.names)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def subset(self, index: Sequence[int] | np.ndarray) -> "EncodedSequences":
        """The sequences ``index`` (in that order) as a new encoding."""
        index = np.asarray(index, dtype=np.int64)
        parts = [self.codes[self.offsets[i]:self.offsets[i + 1]] for i in index]
        lengths = np.array([len(p) for p in parts], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        codes = np.concatenate(parts) if parts else np.zeros(0, np.uint8)
        return EncodedSequences(np.ascontiguousarray(codes, np.uint8), offsets,
                                [self.names[i] for i in index])


def encode(sequences: Sequence[str], names: Sequence[str] | None = None, *,
           mask_lowercase: bool = False) -> EncodedSequences:
    """Encode sequences (strings) into one code array (see :class:`EncodedSequences`)."""
    lut = _LUT_MASKED if mask_lowercase else _LUT
    raw = "".join(sequences).encode("ascii", errors="replace")
    codes = lut[np.frombuffer(raw, dtype=np.uint8)] if raw else np.zeros(0, np.uint8)
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    if names is None:
        names = [f"seq{i + 1}" for i in range(len(sequences))]
    return EncodedSequences(np.ascontiguousarray(codes, dtype=np.uint8), offsets, list(names))


def decode(codes: np.ndarray) -> str:
    """Letters of a code array (unknown as N)."""
    return "".join("ACGTN"[int(c)] for c in codes)


def revcomp_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of a code array (unknown stays unknown)."""
    codes = np.asarray(codes)[::-1]
    return np.where(codes > 3, codes, 3 - codes).astype(np.uint8)
