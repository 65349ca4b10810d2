"""``emseq motif compare``: motifs against a motif database by Tomtom's method (Gupta et al. 2007).

For each query motif of width ``w``:

1. every query column is scored against every column of the database, both strands (the
   reverse complement of a target is ``pwm[::-1, ::-1]``): Pearson's correlation of the two
   columns (default, ``dist="pearson"``; a constant column correlates 0) or minus their
   Euclidean distance (``dist="ed"``);
2. the query's scores are scaled to integers ``0..n_bins`` (``n_bins=100``, Tomtom's) over
   their range; query column ``i``'s null distribution is the histogram of its integer scores
   over all database columns;
3. an alignment puts query column ``i`` against target column ``i + offset``; every offset
   with at least one aligned column is tried. Its complete score (Tomtom's default) adds the
   aligned columns' scores and, for each query column left unaligned, that column's median
   null score; the best offset of a target is the one with the highest complete score;
4. the null distribution of an offset's score is the convolution of its aligned columns'
   null distributions (computed for every span of query columns by dynamic programming) plus
   the same medians; the target's p-value is that of the maximum over its offsets, taken as
   independent: ``1 - prod_o P(null_o < best)``;
5. both strands: the better of the two, ``p = 1 - (1 - min(p+, p-))^2``;
6. ``E = p * n_targets``; q-values over the database's targets (Benjamini–Hochberg, or
   Storey's with ``qvalue="storey"``).

``tomtom.tsv`` has Tomtom's columns. ``Optimal_offset`` is Tomtom's: how far the query's first
column is shifted right of the target's first column in the best alignment (the target's
reverse complement when ``Orientation`` is ``-``); ``Overlap`` is the number of aligned columns.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._threads import resolve_threads
from ..errors import InputError, UsageError
from .meme import MemeFile, MemeMotif, read_meme_file
from .qvalues import bh_qvalues, storey_qvalues

__all__ = ["TOMTOM_COLUMNS", "DISTANCES", "MotifMatch", "column_scores", "compare_motifs",
           "best_matches", "annotate", "write_tomtom", "max_consensus"]

logger = logging.getLogger("emseq.motif.compare")

#: the columns of ``tomtom.tsv`` (Tomtom 5)
TOMTOM_COLUMNS = ["Query_ID", "Target_ID", "Optimal_offset", "p-value", "E-value", "q-value",
                  "Overlap", "Query_consensus", "Target_consensus", "Orientation"]
#: column similarity scores: Pearson correlation, minus the Euclidean distance
DISTANCES = ("pearson", "ed")
#: integer levels of a column score (Tomtom's)
N_BINS = 100
#: widest query motif: the span null distributions take w * w * (w * n_bins + 1) doubles
#: (60 columns: 170 MB per thread)
MAX_QUERY_WIDTH = 60
QVALUE_METHODS = ("bh", "storey")


@dataclass(frozen=True)
class MotifMatch:
    """The best database match of a motif (``Motif.match``).

    Attributes
    ----------
    target_id : str
        The database motif's id (e.g. ``MA0139.2``).
    target_name : str
        Its alternative name (e.g. ``CTCF``), ``""`` if the database gives none.
    p_value, e_value, q_value : float
        Tomtom's statistics of the match (see :mod:`emseq.motif.compare`).
    offset : int
        Tomtom's ``Optimal_offset``.
    overlap : int
        Aligned columns.
    orientation : str
        ``"+"`` (the target as given) or ``"-"`` (its reverse complement).
    """

    target_id: str
    target_name: str
    p_value: float
    e_value: float
    q_value: float
    offset: int
    overlap: int
    orientation: str


def max_consensus(pwm: np.ndarray) -> str:
    """The most probable letter of each column (Tomtom's consensus)."""
    return "".join("ACGT"[i] for i in np.argmax(pwm, axis=1))


def _standardised(x: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm (a constant row stays 0)."""
    centred = x - x.mean(axis=1, keepdims=True)
    norm = np.sqrt((centred ** 2).sum(axis=1, keepdims=True))
    return np.divide(centred, norm, out=np.zeros_like(centred), where=norm > 1e-12)


def column_scores(query: np.ndarray, columns: np.ndarray, dist: str = "pearson", *,
                  prepared: np.ndarray | None = None) -> np.ndarray:
    """Similarity of every query column with every database column.

    Parameters
    ----------
    query : ndarray of shape (w, 4)
    columns : ndarray of shape (n_columns, 4)
    dist : {"pearson", "ed"}
    prepared : ndarray, optional
        ``columns`` standardised (pearson) or their squared norms (ed), when the caller
        compares many queries with the same columns.

    Returns
    -------
    ndarray of shape (n_columns, w)
    """
    if dist == "pearson":
        standard = _standardised(columns) if prepared is None else prepared
        return standard @ _standardised(query).T
    if dist == "ed":
        norms = (columns ** 2).sum(axis=1) if prepared is None else prepared
        d2 = norms[:, None] + (query ** 2).sum(axis=1)[None, :] - 2.0 * columns @ query.T
        return -np.sqrt(np.maximum(d2, 0.0))
    raise UsageError(f"--dist must be one of {', '.join(DISTANCES)}, got {dist!r}")


@dataclass(frozen=True)
class _Database:
    motifs: list[MemeMotif]
    columns: np.ndarray      # (2 * n_columns, 4): forward targets, then reverse complements
    starts: np.ndarray       # (n_targets + 1,) first column of each forward target
    n_forward: int
    prepared: dict           # dist -> the columns as _compare.integer_scores takes them
    norms: np.ndarray        # (2 * n_columns,) squared norms of the columns

    @classmethod
    def build(cls, motifs: list[MemeMotif]) -> "_Database":
        forward = [m.pwm for m in motifs]
        reverse = [m.pwm[::-1, ::-1] for m in motifs]
        widths = np.array([m.width for m in motifs], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        columns = np.ascontiguousarray(np.concatenate(forward + reverse), dtype=np.float64)
        prepared = {"pearson": np.ascontiguousarray(_standardised(columns)), "ed": columns}
        norms = np.ascontiguousarray((columns ** 2).sum(axis=1))
        return cls(motifs, columns, starts, int(starts[-1]), prepared, norms)


def _compare_one(query: MemeMotif, db: _Database, dist: str, n_bins: int,
                 both_strands: bool) -> dict[str, np.ndarray]:
    from . import _compare

    w = query.width
    euclidean = dist == "ed"
    prepared_query = np.ascontiguousarray(query.pwm if euclidean else _standardised(query.pwm))
    ints = np.empty((len(db.columns), w), dtype=np.int32)
    counts = np.zeros((w, n_bins + 1), dtype=np.int64)
    _compare.integer_scores(prepared_query, db.prepared[dist], db.norms, euclidean, n_bins,
                            ints, counts)
    pmf = counts / float(len(ints))
    # the median: the first score whose cumulative count reaches half the columns
    medians = np.argmax(np.cumsum(counts, axis=1) >= len(ints) / 2.0, axis=1).astype(np.int64)
    survival = np.empty((w, w, w * n_bins + 1))
    _compare.span_survival(pmf, survival)
    n = len(db.motifs)
    results = {}
    strands = [("+", 0)] + ([("-", db.n_forward)] if both_strands else [])
    for orientation, shift in strands:
        out = dict(score=np.empty(n, np.int64), offset=np.empty(n, np.int64),
                   overlap=np.empty(n, np.int64), pvalue=np.empty(n))
        _compare.best_alignments(ints, db.starts, shift, medians, survival, out["score"],
                                 out["offset"], out["overlap"], out["pvalue"])
        results[orientation] = out
    plus = results["+"]
    if not both_strands:
        return dict(pvalue=plus["pvalue"], offset=plus["offset"], overlap=plus["overlap"],
                    minus=np.zeros(n, bool))
    minus = results["-"]
    use_minus = (minus["pvalue"] < plus["pvalue"]) | (
        (minus["pvalue"] == plus["pvalue"]) & (minus["score"] > plus["score"]))
    best = np.where(use_minus, minus["pvalue"], plus["pvalue"])
    pvalue = -np.expm1(2.0 * np.log1p(-np.minimum(best, 1.0 - 1e-16)))
    pvalue = np.where(best >= 1.0, 1.0, np.maximum(pvalue, best))
    return dict(pvalue=pvalue, offset=np.where(use_minus, minus["offset"], plus["offset"]),
                overlap=np.where(use_minus, minus["overlap"], plus["overlap"]),
                minus=use_minus)


def compare_motifs(queries: str | os.PathLike[str] | MemeFile,
                   database: str | os.PathLike[str] | MemeFile, *,
                   dist: str = "pearson", thresh: float | None = 0.5, qvalue: str = "bh",
                   both_strands: bool = True, n_bins: int = N_BINS,
                   n_threads: int | None = None) -> pd.DataFrame:
    """Compare every query motif with every database motif (Tomtom's method, module doc).

    Parameters
    ----------
    queries : path-like or MemeFile
        MEME motif file of the query motifs.
    database : path-like or MemeFile
        MEME motif file of the target motifs.
    dist : {"pearson", "ed"}, default="pearson"
        Column similarity (Tomtom's ``-dist pcc`` / ``ed``).
    thresh : float or None, default=0.5
        Keep matches with q-value ``<= thresh`` (Tomtom's ``-thresh``); ``None`` keeps all.
    qvalue : {"bh", "storey"}, default="bh"
        How q-values are computed over each query's targets.
    both_strands : bool, default=True
        Also compare with the targets' reverse complements (Tomtom's default; ``-norc``).
    n_bins : int, default=100
        Integer levels of a column score.
    n_threads : int, optional
        Queries compared at once (default: all cores).

    Returns
    -------
    DataFrame
        Tomtom's columns (:data:`TOMTOM_COLUMNS`), queries in file order, each by increasing
        p-value; ``Target_name`` is added after them (the database's alternative names).
    """
    if dist not in DISTANCES:
        raise UsageError(f"--dist must be one of {', '.join(DISTANCES)}, got {dist!r}")
    if qvalue not in QVALUE_METHODS:
        raise UsageError(f"q-value method must be one of {', '.join(QVALUE_METHODS)}, "
                         f"got {qvalue!r}")
    if thresh is not None and not 0 < thresh <= 1:
        raise UsageError(f"--thresh must be in (0, 1], got {thresh}")
    if n_bins < 2:
        raise UsageError(f"n_bins must be at least 2, got {n_bins}")
    query_file = queries if isinstance(queries, MemeFile) else read_meme_file(queries)
    wide = [q for q in query_file.motifs if q.width > MAX_QUERY_WIDTH]
    if wide:
        raise InputError(f"{query_file.path}: motif {wide[0].id} has {wide[0].width} columns; "
                         f"query motifs of at most {MAX_QUERY_WIDTH} are compared (trim it, "
                         f"or swap query and database)")
    db_file = database if isinstance(database, MemeFile) else read_meme_file(database)
    db = _Database.build(db_file.motifs)
    n_targets = len(db.motifs)
    if n_targets < 50:
        logger.warning("the database has %d motifs: Tomtom's p-values are inaccurate below 50 "
                       "(the null distribution is built from the database's columns)", n_targets)
    threads = min(resolve_threads(n_threads), max(1, len(query_file.motifs)))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(lambda q: _compare_one(q, db, dist, n_bins, both_strands),
                                 query_file.motifs))
    qfun = bh_qvalues if qvalue == "bh" else storey_qvalues
    target_ids = np.array([m.id for m in db.motifs], dtype=object)
    target_names = np.array([m.alt_id for m in db.motifs], dtype=object)
    fwd_consensus = np.array([max_consensus(m.pwm) for m in db.motifs], dtype=object)
    rev_consensus = np.array([max_consensus(m.pwm[::-1, ::-1]) for m in db.motifs], dtype=object)
    n_queries = len(query_file.motifs)
    pvalue = np.concatenate([out["pvalue"] for out in outcomes])
    qvals = np.concatenate([qfun(out["pvalue"]) for out in outcomes])
    minus = np.concatenate([out["minus"] for out in outcomes])
    query_index = np.repeat(np.arange(n_queries), n_targets)
    target_index = np.tile(np.arange(n_targets), n_queries)
    keep = np.ones(len(pvalue), bool) if thresh is None else qvals <= thresh
    # queries in file order, each by increasing p-value, ties by target id
    id_rank = np.argsort(np.argsort(target_ids, kind="stable"), kind="stable")
    order = np.flatnonzero(keep)
    order = order[np.lexsort((id_rank[target_index[order]], pvalue[order],
                              query_index[order]))]
    query_ids = np.array([q.id for q in query_file.motifs], dtype=object)
    query_consensus = np.array([max_consensus(q.pwm) for q in query_file.motifs], dtype=object)
    t = target_index[order]
    result = pd.DataFrame({
        "Query_ID": query_ids[query_index[order]], "Target_ID": target_ids[t],
        # the target column facing the query's first column (memelite and Tomtom agree)
        "Optimal_offset": np.concatenate([out["offset"] for out in outcomes])[order],
        "p-value": pvalue[order], "E-value": pvalue[order] * n_targets,
        "q-value": qvals[order],
        "Overlap": np.concatenate([out["overlap"] for out in outcomes])[order],
        "Query_consensus": query_consensus[query_index[order]],
        "Target_consensus": np.where(minus[order], rev_consensus[t], fwd_consensus[t]),
        "Orientation": np.where(minus[order], "-", "+"), "Target_name": target_names[t]},
        columns=TOMTOM_COLUMNS + ["Target_name"])
    result.attrs["n_targets"] = n_targets
    return result


def best_matches(motifs, database: str | os.PathLike[str] | MemeFile, *,
                 dist: str = "pearson", n_threads: int | None = None) -> list[MotifMatch | None]:
    """The best database match of each motif (objects with a ``pwm``, ``id``), or ``None``.

    The best match is the smallest p-value (q-values over the whole database); every motif
    gets one, however poor (read its ``q_value``), except motifs wider than
    :data:`MAX_QUERY_WIDTH` columns (``None``, with a warning).
    """
    motifs = list(motifs)
    wide = [m for m in motifs if len(m.pwm) > MAX_QUERY_WIDTH]
    if wide:
        logger.warning("%d motif(s) wider than %d columns get no database match (e.g. motif "
                       "%s, %d columns)", len(wide), MAX_QUERY_WIDTH, wide[0].id,
                       len(wide[0].pwm))
    queries = MemeFile(Path("<motifs>"), [MemeMotif(str(m.id), "", np.asarray(m.pwm, float),
                                                    float(getattr(m, "nsites", 20)))
                                          for m in motifs if len(m.pwm) <= MAX_QUERY_WIDTH],
                       None)
    if not queries.motifs:
        return [None] * len(motifs)
    table = compare_motifs(queries, database, dist=dist, thresh=None, n_threads=n_threads)
    out: list[MotifMatch | None] = []
    for m in motifs:
        rows = table[table["Query_ID"] == str(m.id)]
        if rows.empty:
            out.append(None)
            continue
        top = rows.iloc[0]
        out.append(MotifMatch(str(top["Target_ID"]), str(top["Target_name"]),
                              float(top["p-value"]), float(top["E-value"]),
                              float(top["q-value"]), int(top["Optimal_offset"]),
                              int(top["Overlap"]), str(top["Orientation"])))
    return out


def annotate(motifs, database: str | os.PathLike[str] | MemeFile, *, dist: str = "pearson",
             n_threads: int | None = None) -> None:
    """Set ``motif.match`` (a :class:`MotifMatch`: the best database match) on each motif
    found (:class:`~emseq.motif.result.Motif`); ``motifs.tsv`` then has the columns
    ``db_match, db_match_name, db_match_q``."""
    for motif, match in zip(motifs, best_matches(motifs, database, dist=dist,
                                                 n_threads=n_threads)):
        motif.match = match


def format_tomtom(frame: pd.DataFrame, command: str | None = None) -> str:
    """``tomtom.tsv`` text: Tomtom's header and columns, numbers as ``%g``, then Tomtom's
    closing comment lines (:func:`~emseq.motif.meme.tsv_trailer`; ``command`` defaults to
    this process's command line)."""
    from .meme import tsv_trailer

    lines = ["\t".join(TOMTOM_COLUMNS)]
    for row in frame[TOMTOM_COLUMNS].itertuples(index=False):
        lines.append("\t".join([str(row[0]), str(row[1]), str(int(row[2])), f"{row[3]:g}",
                                f"{row[4]:g}", f"{row[5]:g}", str(int(row[6])), str(row[7]),
                                str(row[8]), str(row[9])]))
    return "\n".join(lines) + "\n" + tsv_trailer(
        "Tomtom (Motif Comparison Tool) method", "tomtom-output-format.html", command)


def write_tomtom(frame: pd.DataFrame, directory: str | os.PathLike[str], *,
                command: str | None = None) -> Path:
    """Write ``tomtom.tsv`` into ``directory`` atomically (``command``: see
    :func:`format_tomtom`); returns its path."""
    from .meme import write_suite_tsv

    return write_suite_tsv(directory, "tomtom.tsv", format_tomtom(frame, command))
