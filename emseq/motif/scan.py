"""``emseq motif scan``: motif occurrences in sequences by FIMO's method (Grant et al. 2011).

For each motif, in MEME's way:

1. the letter probabilities get a pseudocount spread by the background,
   ``p' = (p * nsites + pseudocount * bg) / (nsites + pseudocount)`` (FIMO's
   ``--motif-pseudo 0.1``), and become log-odds scores ``log2(p' / bg)`` in bits;
2. the log-odds matrix is scaled to integers ``0..100`` per entry (MEME's ``PSSM_RANGE``):
   ``scale = 100 / (max - min)``, entry ``nint((x - min) * scale)``;
3. the exact distribution of the integer score of a random word under the background is
   computed by dynamic programming over the columns (:func:`score_pvalues`); a window's
   p-value is ``P(score >= its integer score)``;
4. every window of every sequence is scored on both strands (windows with an unknown letter
   are skipped) and those with p-value ``< thresh`` are kept;
5. q-values are Benjamini–Hochberg's over all tested windows of the motif (both strands), the
   count FIMO uses (FIMO follows Storey and Tibshirani 2003, which can estimate the share of
   true nulls below 1; emseq takes it to be 1, which gives q-values at least as large).

``fimo.tsv`` has FIMO's columns and 1-based inclusive coordinates on the given strand (a
minus-strand hit has ``start < stop`` too, and ``matched_sequence`` is the reverse complement
of the window, the site as the motif reads it).
"""

from __future__ import annotations

import itertools
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .._threads import resolve_threads
from ..errors import InputError, UsageError
from .alphabet import EncodedSequences, decode, encode, revcomp_codes
from .meme import MemeFile, MemeMotif, read_meme_file
from .qvalues import bh_qvalues

__all__ = ["FIMO_COLUMNS", "PSSM_RANGE", "log_odds", "scaled_matrix", "score_pvalues",
           "quad_tables",
           "sequence_background", "resolve_background", "scan_sequences", "write_fimo"]

logger = logging.getLogger("emseq.motif.scan")

#: range of the integer score of one matrix entry (MEME's ``PSSM_RANGE``)
PSSM_RANGE = 100
#: FIMO's ``--motif-pseudo`` default
DEFAULT_PSEUDOCOUNT = 0.1
#: the columns of ``fimo.tsv`` (FIMO 5)
FIMO_COLUMNS = ["motif_id", "motif_alt_id", "sequence_name", "start", "stop", "strand",
                "score", "p-value", "q-value", "matched_sequence"]
#: --bfile keywords: where the background comes from instead of a file
BACKGROUND_KEYWORDS = ("motif", "uniform", "sequence")


def log_odds(motif: MemeMotif, background: np.ndarray,
             pseudocount: float = DEFAULT_PSEUDOCOUNT) -> np.ndarray:
    """The log-odds matrix (bits) of a motif against an order-0 background.

    Parameters
    ----------
    motif : MemeMotif
        Its ``pwm`` of shape (w, 4) and ``nsites``.
    background : ndarray of shape (4,)
        A, C, G, T frequencies.
    pseudocount : float, default=0.1
        Total pseudocount, spread over the letters by the background.

    Returns
    -------
    ndarray of shape (w, 4)
    """
    n = max(float(motif.nsites), 1.0)
    probs = (motif.pwm * n + pseudocount * background) / (n + pseudocount)
    with np.errstate(divide="ignore"):
        return np.log2(probs / background)


def scaled_matrix(lo: np.ndarray) -> tuple[np.ndarray, float, float]:
    """MEME's integer matrix of a log-odds matrix: ``(ints, lo_min, scale)``.

    ``ints[k, a] = nint((lo[k, a] - lo_min) * scale)`` with ``lo_min`` the smallest entry and
    ``scale = PSSM_RANGE / (max - min)`` (1 if all entries are equal). Entries of ``-inf``
    (a letter of probability 0 with no pseudocount) are set to the smallest finite entry
    minus the range, so that they stay the worst.
    """
    finite = lo[np.isfinite(lo)]
    if finite.size == 0:
        raise InputError("motif has no finite log-odds score")
    low, high = float(finite.min()), float(finite.max())
    lo = np.where(np.isfinite(lo), lo, low - max(high - low, 1.0))
    lo_min = float(lo.min())
    span = float(lo.max()) - lo_min
    scale = PSSM_RANGE / span if span > 0 else 1.0
    ints = np.floor((lo - lo_min) * scale + 0.5).astype(np.int64)
    return ints, lo_min, scale


def score_pvalues(ints: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Exact survival function of the integer score of a random word.

    Parameters
    ----------
    ints : ndarray of shape (w, 4), int
        Integer score matrix (non-negative).
    background : ndarray of shape (4,)
        Letter probabilities of the random word (independent letters).

    Returns
    -------
    ndarray of shape (ints.max(axis=1).sum() + 1,)
        ``out[s] = P(score >= s)``, summed from the top (small tails keep their precision).
    """
    top = int(ints.max(axis=1).sum())
    pmf = np.zeros(top + 1)
    pmf[0] = 1.0
    reach = 0
    for row in ints:
        nxt = np.zeros(top + 1)
        for letter in range(4):
            shift = int(row[letter])
            nxt[shift:shift + reach + 1] += pmf[:reach + 1] * background[letter]
        reach += int(row.max())
        pmf = nxt
    return np.minimum(np.cumsum(pmf[::-1])[::-1], 1.0)


def sequence_background(data: EncodedSequences, both_strands: bool = True) -> np.ndarray:
    """Order-0 letter frequencies of the sequences (with their reverse complements if
    ``both_strands``), plus one pseudo-letter each so that no letter has frequency 0."""
    counts = np.bincount(data.codes, minlength=5)[:4].astype(np.float64)
    if both_strands:
        counts = (counts + counts[::-1]) / 2.0
    counts += 1.0
    return counts / counts.sum()


def resolve_background(bfile: str | os.PathLike[str] | None, motifs: MemeFile,
                       data: EncodedSequences, both_strands: bool) -> tuple[np.ndarray, str]:
    """The order-0 background of a scan and where it came from.

    ``bfile`` is ``None`` or ``"motif"`` (the motif file's background letter frequencies,
    uniform if it has none: FIMO's default), ``"uniform"``, ``"sequence"`` (the scanned
    sequences' own letter frequencies) or a MEME background file (its order-0 part).
    """
    from .background import Background

    name = str(bfile) if bfile is not None else "motif"
    key = name.strip("-")
    if key == "motif":
        if motifs.background is not None:
            return motifs.background, f"motif file {motifs.path}"
        return np.full(4, 0.25), "uniform (the motif file has no background)"
    if key == "uniform":
        return np.full(4, 0.25), "uniform"
    if key == "sequence":
        return sequence_background(data, both_strands), "the sequences' letter frequencies"
    path = Path(name)
    if not path.exists():
        raise InputError(f"{path}: background file not found (--bfile takes a MEME background "
                         f"file or one of {', '.join(BACKGROUND_KEYWORDS)})")
    freqs = np.asarray(Background.read(path).freqs, dtype=np.float64)
    return freqs / freqs.sum(), f"background file {path}"


def quad_tables(lo: np.ndarray) -> np.ndarray:
    """A (w, 4) score matrix as tables of 4-mer scores, shape (ceil(w / 4), 256).

    ``out[j, m]`` is the score of the 4-mer ``m`` (base 4, first letter most significant)
    placed at columns ``4 j .. 4 j + 3``; letters past the last column score 0.
    """
    w = len(lo)
    n_quads = -(-w // 4)
    padded = np.zeros((4 * n_quads, 4))
    padded[:w] = lo
    letters = np.array(list(itertools.product(range(4), repeat=4)))  # (256, 4), base 4 order
    out = np.zeros((n_quads, 256))
    for j in range(n_quads):
        for t in range(4):
            out[j] += padded[4 * j + t, letters[:, t]]
    return np.ascontiguousarray(out)


def _scan_one(motif: MemeMotif, data: EncodedSequences, quad: np.ndarray,
              background: np.ndarray, thresh: float, both_strands: bool,
              pseudocount: float) -> pd.DataFrame:
    from . import _scan

    lo = log_odds(motif, background, pseudocount)
    ints, lo_min, scale = scaled_matrix(lo)
    pvalue = score_pvalues(ints, background)
    lo = np.ascontiguousarray(np.where(np.isfinite(lo), lo, lo_min), dtype=np.float64)
    tables = quad_tables(lo)
    tables_rev = quad_tables(lo[::-1, ::-1])
    capacity = 1024
    while True:
        pos = np.empty(capacity, np.int64)
        strand = np.empty(capacity, np.int8)
        score = np.empty(capacity)
        pv = np.empty(capacity)
        n_hits, n_tested = _scan.scan_hits(data.codes, data.offsets, quad, tables, tables_rev,
                                           motif.width, lo_min, scale, pvalue, thresh,
                                           both_strands, pos, strand, score, pv)
        if n_hits <= capacity:
            break
        capacity = int(n_hits)
    pos, strand, score, pv = pos[:n_hits], strand[:n_hits], score[:n_hits], pv[:n_hits]
    seq_index = np.searchsorted(data.offsets, pos, side="right") - 1
    w = motif.width
    words = []
    for p, s in zip(pos.tolist(), strand.tolist()):
        codes = data.codes[p:p + w]
        words.append(decode(codes if s > 0 else revcomp_codes(codes)))
    start = pos - data.offsets[seq_index] + 1
    frame = pd.DataFrame({
        "motif_id": motif.id, "motif_alt_id": motif.alt_id,
        "sequence_name": np.asarray(data.names, dtype=object)[seq_index],
        "start": start, "stop": start + w - 1,
        "strand": np.where(strand > 0, "+", "-"),
        "score": score, "p-value": pv, "q-value": bh_qvalues(pv, int(n_tested)),
        "matched_sequence": words}, columns=FIMO_COLUMNS)
    frame.attrs["n_tested"] = int(n_tested)
    return frame.sort_values(["p-value", "sequence_name", "start"], kind="stable")


def scan_sequences(motifs: str | os.PathLike[str] | MemeFile,
                   sequences: str | os.PathLike[str] | EncodedSequences, *,
                   thresh: float = 1e-4, bfile: str | os.PathLike[str] | None = None,
                   both_strands: bool = True, pseudocount: float = DEFAULT_PSEUDOCOUNT,
                   motif_ids: Sequence[str] | None = None,
                   n_threads: int | None = None) -> pd.DataFrame:
    """Find the occurrences of motifs in sequences (FIMO's method, see the module doc).

    Parameters
    ----------
    motifs : path-like or MemeFile
        A MEME motif file.
    sequences : path-like or EncodedSequences
        A FASTA file (plain or gzipped) or encoded sequences.
    thresh : float, default=1e-4
        Keep windows with p-value below this (FIMO's ``--thresh``).
    bfile : path-like or {"motif", "uniform", "sequence"}, optional
        The background (see :func:`resolve_background`; default: the motif file's).
    both_strands : bool, default=True
        Scan the reverse complement too (FIMO's default; ``False`` is ``--norc``).
    pseudocount : float, default=0.1
        FIMO's ``--motif-pseudo``.
    motif_ids : sequence of str, optional
        Scan only these motifs (FIMO's ``--motif``).
    n_threads : int, optional
        Motifs scanned at once (default: all cores).

    Returns
    -------
    DataFrame
        FIMO's columns (:data:`FIMO_COLUMNS`), motifs in file order, each by increasing
        p-value. ``attrs["n_tested"]`` maps motif ids to the windows tested and
        ``attrs["background"]`` says where the background came from.
    """
    if not 0 < thresh <= 1:
        raise UsageError(f"--thresh must be in (0, 1], got {thresh}")
    if pseudocount < 0:
        raise UsageError(f"pseudocount must be >= 0, got {pseudocount}")
    meme = motifs if isinstance(motifs, MemeFile) else read_meme_file(motifs)
    chosen = meme.motifs
    if motif_ids is not None:
        known = {m.id for m in meme.motifs}
        missing = [m for m in motif_ids if m not in known]
        if missing:
            raise InputError(f"{meme.path}: no motif {missing[0]!r} in file")
        chosen = [m for m in meme.motifs if m.id in set(motif_ids)]
    if isinstance(sequences, EncodedSequences):
        data = sequences
    else:
        from ..io.fasta import read_fasta

        records = read_fasta(sequences)
        if not records:
            raise InputError(f"{sequences}: no sequence in file")
        data = encode([r.sequence for r in records], [r.name for r in records])
    background, source = resolve_background(bfile, meme, data, both_strands)
    logger.info("scanning %d motif(s) over %d sequence(s), %d letters; background: %s",
                len(chosen), data.n_sequences, len(data.codes), source)
    from . import _scan

    quad = np.empty(len(data.codes), dtype=np.uint8)
    _scan.quad_codes(data.codes, quad)
    threads = min(resolve_threads(n_threads), max(1, len(chosen)))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        frames = list(pool.map(lambda m: _scan_one(m, data, quad, background, thresh,
                                                   both_strands, pseudocount), chosen))
    out = (pd.concat(frames, ignore_index=True) if frames
           else pd.DataFrame(columns=FIMO_COLUMNS))
    out.attrs["n_tested"] = {m.id: f.attrs["n_tested"] for m, f in zip(chosen, frames)}
    out.attrs["background"] = source
    return out


def format_fimo(frame: pd.DataFrame, command: str | None = None) -> str:
    """``fimo.tsv`` text: a header, one line per hit, numbers as FIMO prints them, then
    FIMO's closing comment lines (:func:`~emseq.motif.meme.tsv_trailer`)."""
    from .meme import tsv_trailer

    lines = ["\t".join(FIMO_COLUMNS)]
    for row in frame.itertuples(index=False):
        lines.append("\t".join([str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]),
                                str(row[5]), f"{row[6]:.4g}", f"{row[7]:.3g}", f"{row[8]:.3g}",
                                str(row[9])]))
    return "\n".join(lines) + "\n" + tsv_trailer(
        "FIMO (Find Individual Motif Occurrences) method", "fimo-output-format.html", command)


def write_fimo(frame: pd.DataFrame, directory: str | os.PathLike[str], *,
              command: str | None = None) -> Path:
    """Write ``fimo.tsv`` into ``directory`` atomically (``command``: see
    :func:`format_fimo`); returns its path."""
    from .meme import write_suite_tsv

    return write_suite_tsv(directory, "fimo.tsv", format_fimo(frame, command))
