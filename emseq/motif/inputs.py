"""The input of a motif search: the sequences read and checked, and what is computed once
per input (background log-probabilities, the scan set of the starting-point search)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io.fasta import FastaRecord, read_fasta
from .alphabet import EncodedSequences, encode
from .background import Background
from .options import SCAN_LETTERS, SearchOptions
from .windows import SequenceView

__all__ = ["load_sequences", "longest_known_run", "chunked", "letters_of", "SearchInput",
           "SCAN_LETTERS", "TCM_CHUNK"]

logger = logging.getLogger("emseq.motif.search")

#: piece length of long sequences in the TCM starting-point search
TCM_CHUNK = 500


def load_sequences(sequences, mask_lowercase: bool, label: str = "input") -> EncodedSequences:
    """The input (a FASTA path, strings or FastaRecords) encoded, with one clear error for
    empty, protein or non-DNA input (naming the file, or ``label`` for sequences given in
    memory); empty sequences are dropped."""
    if isinstance(sequences, (str, os.PathLike)):
        records = read_fasta(sequences)
        names = [r.name for r in records]
        strings = [r.sequence for r in records]
        source = str(sequences)
    else:
        strings, names = [], []
        for i, item in enumerate(sequences):
            if isinstance(item, FastaRecord):
                names.append(item.name)
                strings.append(item.sequence)
            elif isinstance(item, str):
                names.append(f"seq{i + 1}")
                strings.append(item)
            else:
                raise InputError(f"{label} sequence {i + 1}: expected a string or "
                                 f"FastaRecord, got {type(item).__name__}")
        source = label
    if not strings:
        raise InputError(f"{source}: no sequences")
    total = sum(len(s) for s in strings)
    if total == 0:
        raise InputError(f"{source}: every sequence is empty")
    joined = "".join(strings).upper()
    nucleotide = sum(joined.count(c) for c in "ACGTUN")
    if nucleotide < 0.75 * total:
        raise InputError(f"{source}: only {100 * nucleotide / total:.0f}% of the letters are "
                         "A, C, G, T, U or N: this looks like protein, emseq motif needs DNA")
    bad = set(joined) - set("ACGTUNRYKMSWBDHV")
    if bad:
        raise InputError(f"{source}: unexpected letters {''.join(sorted(bad))!r} in DNA sequences")
    empty = sum(1 for s in strings if not s)
    if empty:
        logger.info("%d empty sequence(s) skipped", empty)
        names = [n for n, s in zip(names, strings) if s]
        strings = [s for s in strings if s]
    return encode(strings, names, mask_lowercase=mask_lowercase)


def longest_known_run(data: EncodedSequences) -> int:
    """Length of the longest stretch of A/C/G/T letters inside one sequence."""
    breaks = (data.codes > 3).astype(np.int8)
    breaks_pos = np.flatnonzero(breaks)
    cuts = np.unique(np.concatenate([breaks_pos, breaks_pos + 1, data.offsets]))
    cuts = cuts[(cuts >= 0) & (cuts <= len(data.codes))]
    if len(cuts) < 2:
        return 0
    lengths = np.diff(cuts)
    known = breaks[cuts[:-1]] == 0 if len(data.codes) else np.zeros(0, bool)
    return int(lengths[known].max()) if known.any() else 0


def chunked(data: EncodedSequences, size: int) -> EncodedSequences:
    """The same letters with every sequence cut into pieces of at most ``size`` letters."""
    offsets = [0]
    names = []
    for i in range(data.n_sequences):
        start, end = int(data.offsets[i]), int(data.offsets[i + 1])
        cuts = list(range(start + size, end, size))
        for j, cut in enumerate(cuts + [end]):
            offsets.append(cut)
            names.append(f"{data.names[i]}:{j + 1}")
    return EncodedSequences(data.codes, np.array(offsets, dtype=np.int64), names)


@dataclass
class SearchInput:
    """One input, prepared once for every step of the search.

    Attributes
    ----------
    data : EncodedSequences
        All the sequences.
    background : Background
        The background model.
    bglp : ndarray of shape (n_letters,)
        Background log-probability of each letter of ``data`` in its context.
    scan : EncodedSequences
        The sequences the starting points are scored on (and short EM runs fitted on): all of
        ``data``, a random subset of about ``SCAN_LETTERS`` letters, and for TCM with long
        sequences the same letters cut into ``TCM_CHUNK`` pieces.
    scan_index : ndarray of int
        The sequences of ``data`` in ``scan``.
    scan_bglp : ndarray
        ``bglp`` of ``scan``.
    alpha : ndarray of shape (4,)
        Dirichlet pseudocounts of a PWM column.
    n_threads : int
        Threads of the kernels (OpenMP pays off only beyond ~50 kbp per thread).
    rng : Generator
        The random source of the scan subset and of the sampled seeds.
    traces : list of DataFrame
        Every EM run's convergence record, appended by the fitting step.
    control : SequenceView or None
        The control sequences (``de``/``se``) with their background log-probabilities under
        the primary's background (as MEME: one background for both sets), never erased.
    control_scan : SequenceView or None
        The control's counterpart of ``scan``: a random subset of about as many letters.
    """

    data: EncodedSequences
    background: Background
    options: SearchOptions
    bglp: np.ndarray
    scan: EncodedSequences
    scan_index: np.ndarray
    scan_bglp: np.ndarray
    alpha: np.ndarray
    n_threads: int
    rng: np.random.Generator
    traces: list[pd.DataFrame] = field(default_factory=list)
    control: SequenceView | None = None
    control_scan: SequenceView | None = None

    @property
    def sampled(self) -> bool:
        """Whether the scan set differs from the data (subset or chunked)."""
        return self.scan is not self.data

    @classmethod
    def prepare(cls, data: EncodedSequences, background: Background, options: SearchOptions,
                rng: np.random.Generator, control: EncodedSequences | None = None
                ) -> "SearchInput":
        """Background log-probabilities and the scan sets, computed once."""
        bglp = background.logprob(data)
        scan, scan_index = _scan_set(data, options, rng)
        scan_bglp = bglp if scan is data else background.logprob(scan)
        n_threads = max(1, min(options.n_threads, len(data.codes) // 50_000))
        inp = cls(data, background, options, bglp, scan, scan_index, scan_bglp,
                  options.prior_strength * background.freqs, n_threads, rng)
        if control is not None:
            control_bglp = background.logprob(control)
            inp.control = SequenceView(control, control_bglp, None)
            control_scan, _ = _scan_set(control, options, rng)
            inp.control_scan = (inp.control if control_scan is control else
                                SequenceView(control_scan, background.logprob(control_scan),
                                             None))
        return inp

    def control_of(self, data: EncodedSequences) -> SequenceView:
        """The control sequences compared with ``data``: all of them for all the input, the
        control's scan subset for the scan set."""
        return self.control if data is self.data else self.control_scan

    def scan_weights(self, erase: np.ndarray | None) -> np.ndarray | None:
        """The erasing weights of ``data`` restricted to the scan set."""
        if erase is None or not self.sampled:
            return erase
        return letters_of(erase, self.data, self.scan_index)


def letters_of(values: np.ndarray, data: EncodedSequences, index: np.ndarray) -> np.ndarray:
    """Per-letter ``values`` of ``data`` restricted to the sequences ``index`` (in that
    order), as for ``data.subset(index)``."""
    return np.concatenate([values[data.offsets[i]:data.offsets[i + 1]] for i in index])


def _scan_set(data: EncodedSequences, options: SearchOptions, rng: np.random.Generator
              ) -> tuple[EncodedSequences, np.ndarray]:
    """The sequences the starting points are scored on and their indices in ``data``: all of
    them, or a random subset of about ``options.search_letters`` letters; for TCM, long
    sequences cut into ``TCM_CHUNK`` pieces (same letters)."""
    limit = options.search_letters
    if limit and len(data.codes) > limit:
        order = rng.permutation(data.n_sequences)
        cum = np.cumsum(data.lengths[order])
        scan_index = np.sort(order[:max(2, int(np.searchsorted(cum, limit)) + 1)])
        scan = data.subset(scan_index)
    else:
        scan_index = np.arange(data.n_sequences)
        scan = data
    if options.model == "tcm" and int(scan.lengths.max()) > 2 * TCM_CHUNK:
        # TCM sites may crowd into a few long sequences: the starting-point search keeps
        # one site per sequence, so it sees long sequences as chunks (same letters)
        scan = chunked(scan, TCM_CHUNK)
    return scan, scan_index
