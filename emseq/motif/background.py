"""Markov background models of order 0-5 (estimated from the data or read from a MEME file)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError
from . import _kernels
from .alphabet import LETTERS, EncodedSequences

__all__ = ["Background", "MAX_ORDER"]

logger = logging.getLogger(__name__)

MAX_ORDER = 5


def _block_offsets(order: int) -> list[int]:
    offs = [0]
    for o in range(order + 1):
        offs.append(offs[-1] + 4 ** (o + 1))
    return offs


def _revcomp_index(k: int) -> np.ndarray:
    """Index of the reverse complement of every k-mer (base-4 numbering)."""
    idx = np.arange(4 ** k)
    digits = [(idx >> (2 * (k - 1 - j))) & 3 for j in range(k)]  # first letter first
    rc = np.zeros_like(idx)
    for j in range(k):
        rc = rc * 4 + (3 - digits[k - 1 - j])
    return rc


@dataclass(frozen=True)
class Background:
    """A Markov background: ``P(x_i | x_{i-order} .. x_{i-1})`` plus lower orders for short contexts.

    Attributes
    ----------
    order : int
        Markov order (0..5).
    logcond : ndarray of float64
        Log conditional probabilities; block ``o`` (of size ``4**(o+1)``) holds order ``o``,
        indexed by ``context * 4 + letter`` with contexts in base 4, first letter most significant.
    freqs : ndarray of shape (4,)
        Order-0 letter frequencies (A, C, G, T).
    """

    order: int
    logcond: np.ndarray
    freqs: np.ndarray

    @classmethod
    def from_counts(cls, counts: np.ndarray, order: int, *, revcomp: bool,
                    pseudocount: float = 0.1) -> "Background":
        offs = _block_offsets(order)
        logcond = np.empty(offs[-1])
        for o in range(order + 1):
            block = counts[offs[o]:offs[o + 1]].astype(float)
            if revcomp:
                block = block + block[_revcomp_index(o + 1)]
            table = block.reshape(-1, 4) + pseudocount
            table /= table.sum(axis=1, keepdims=True)
            logcond[offs[o]:offs[o + 1]] = np.log(table).ravel()
        return cls(order, logcond, np.exp(logcond[:4]))

    @classmethod
    def estimate(cls, data: EncodedSequences, order: int = 2, *, revcomp: bool = True,
                 pseudocount: float = 0.1) -> "Background":
        """Estimate a Markov background from the sequences (k-mer counts + ``pseudocount``).

        Under ``revcomp`` the counts of each k-mer and of its reverse complement are added,
        as MEME does, so the model is the same on both strands.
        """
        if not 0 <= order <= MAX_ORDER:
            raise UsageError(f"--markov-order must be between 0 and {MAX_ORDER}, got {order}")
        counts = np.zeros(_block_offsets(order)[-1])
        _kernels.count_kmers(data.codes, data.offsets, order, counts)
        return cls.from_counts(counts, order, revcomp=revcomp, pseudocount=pseudocount)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> "Background":
        """Read a MEME background file (``#`` comments, then lines ``WORD frequency``).

        Words of length ``k + 1`` give the order-``k`` model; every word length from 1 to the
        longest must be complete (all ``4**length`` words).
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise InputError(f"{path}: cannot read background file: {reason}") from None
        freqs: dict[str, float] = {}
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            word = fields[0].upper()
            try:
                value = float(fields[1])
            except (IndexError, ValueError):
                raise InputError(f"{path}:{lineno}: expected 'WORD frequency', got {line!r}") from None
            if not word or set(word) - set(LETTERS) or not np.isfinite(value) or value < 0:
                raise InputError(f"{path}:{lineno}: bad background entry {line!r}")
            freqs[word] = value
        if not freqs:
            raise InputError(f"{path}: no background frequencies in file")
        order = max(len(w) for w in freqs) - 1
        if order > MAX_ORDER:
            raise InputError(f"{path}: background of order {order}, at most {MAX_ORDER} supported")
        logcond = np.empty(_block_offsets(order)[-1])
        offs = _block_offsets(order)
        for o in range(order + 1):
            words = ["".join(p) for p in product(LETTERS, repeat=o + 1)]
            missing = [w for w in words if w not in freqs]
            if missing:
                raise InputError(f"{path}: background file lacks {len(missing)} words of length "
                                 f"{o + 1} (e.g. {missing[0]})")
            table = np.array([freqs[w] for w in words]).reshape(-1, 4) + 1e-12
            table /= table.sum(axis=1, keepdims=True)
            logcond[offs[o]:offs[o + 1]] = np.log(table).ravel()
        return cls(order, logcond, np.exp(logcond[:4]))

    def logprob(self, data: EncodedSequences) -> np.ndarray:
        """Log-probability of every letter given its context (0 for unknown letters)."""
        out = np.zeros(len(data.codes))
        _kernels.background_logprob(data.codes, data.offsets, self.order, self.logcond, out)
        return out

    def meme_lines(self) -> str:
        """The order-0 frequencies as a MEME 'Background letter frequencies' line."""
        return " ".join(f"{c} {f:.3f}" for c, f in zip(LETTERS, self.freqs))
