"""Possible sites of one width (windows), sequences viewed with their erasing weights, and
the letters and alignment counts of sites."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .alphabet import EncodedSequences
from .stats import log_n_alignments

__all__ = ["Windows", "windows", "SequenceView", "site_letters", "log_alignments"]


@dataclass
class Windows:
    """The possible sites of width ``w``: log-weight (``-inf`` where none may start, the log of
    the erasing weight elsewhere) and background log-likelihood of the window at each letter."""

    w: int
    logw: np.ndarray      # (n_letters,)
    bgwin: np.ndarray     # (n_letters,)
    n_valid: np.ndarray   # (n_sequences,) possible sites per sequence
    bg_seq: float         # background log-likelihood of the sequences with a possible site


def windows(data: EncodedSequences, bglp: np.ndarray, w: int,
            erase: np.ndarray | None) -> Windows:
    """The :class:`Windows` of width ``w`` of ``data`` under the erasing weights ``erase``."""
    codes, offsets = data.codes, data.offsets
    n = len(codes)
    pos = np.arange(n)
    seq_end = np.repeat(offsets[1:], np.diff(offsets))
    end = np.minimum(pos + w, n)
    unknown = np.concatenate([[0], np.cumsum(codes > 3)])
    cbg = np.concatenate([[0.0], np.cumsum(bglp)])
    valid = (pos + w <= seq_end) & (unknown[end] - unknown[pos] == 0)
    bgwin = np.ascontiguousarray(cbg[end] - cbg[pos])
    logw = np.where(valid, 0.0, -np.inf)
    if erase is not None:
        padded = np.concatenate([erase, np.ones(w)])
        wmin = np.lib.stride_tricks.sliding_window_view(padded, w)[:n].min(axis=1)
        with np.errstate(divide="ignore"):
            logw = logw + np.log(wmin)
    counts = np.add.reduceat(valid.astype(np.int64), offsets[:-1]) if n else np.zeros(0)
    counts = np.where(np.diff(offsets) > 0, counts, 0) if n else counts
    used = counts > 0
    per_seq = np.add.reduceat(bglp, offsets[:-1]) if n else np.zeros(0)
    bg_seq = float(np.where(used & (np.diff(offsets) > 0), per_seq, 0.0).sum())
    return Windows(w, np.ascontiguousarray(logw), bgwin, counts.astype(float), bg_seq)


@dataclass
class SequenceView:
    """Sequences with their background log-probabilities and erasing weights (one round of the
    search); their :class:`Windows` are computed once per width."""

    data: EncodedSequences
    bglp: np.ndarray
    erase: np.ndarray | None
    _cache: dict[int, Windows] = field(default_factory=dict, repr=False)

    def windows(self, w: int) -> Windows:
        if w not in self._cache:
            self._cache[w] = windows(self.data, self.bglp, w, self.erase)
        return self._cache[w]


def site_letters(data: EncodedSequences, pos: np.ndarray, strand: np.ndarray,
                 w: int) -> np.ndarray:
    """Site letters in motif orientation, shape ``pos.shape + (w,)``."""
    idx = pos[..., None] + np.arange(w)
    letters = data.codes[idx]
    minus = strand < 0
    letters = np.where(minus[..., None], 3 - letters[..., ::-1], letters)
    return letters


def log_alignments(model: str, n_strands: int, win: Windows, nsites) -> np.ndarray:
    """Natural log of the number of possible alignments of ``nsites`` sites in ``win``."""
    used = win.n_valid > 0
    n_used = int(used.sum())
    mean = float(win.n_valid[used].mean()) if n_used else 1.0
    return log_n_alignments(model, nsites, n_used, mean, float(win.n_valid.sum()), n_strands)
