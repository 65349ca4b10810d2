"""What a motif search returns: :class:`Motif`, :class:`MotifSet` and :class:`MotifResult`."""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .alphabet import LETTERS, EncodedSequences
from .background import Background

if TYPE_CHECKING:  # pragma: no cover
    from .compare import MotifMatch

__all__ = ["consensus", "Motif", "MotifSet", "MotifResult"]


def consensus(pwm: np.ndarray) -> str:
    """Consensus: the best letter if its probability >= 0.5, a two-letter IUPAC code if the
    best two reach 0.75, else N."""
    pairs = {frozenset("AC"): "M", frozenset("AG"): "R", frozenset("AT"): "W",
             frozenset("CG"): "S", frozenset("CT"): "Y", frozenset("GT"): "K"}
    out = []
    for row in pwm:
        order = np.argsort(row)[::-1]
        if row[order[0]] >= 0.5:
            out.append(LETTERS[order[0]])
        elif row[order[0]] + row[order[1]] >= 0.75:
            out.append(pairs[frozenset(LETTERS[order[0]] + LETTERS[order[1]])])
        else:
            out.append("N")
    return "".join(out)


@dataclass
class Motif:
    """One discovered motif.

    Attributes
    ----------
    id : str
        Its id in ``motifs.meme`` (``"1"``, ``"2"``, ...).
    pwm : ndarray of shape (width, 4)
        Letter probabilities (A, C, G, T) per column.
    nsites : int
        Number of sites chosen (the count that minimises the E-value).
    llr : float
        Log-likelihood ratio of the sites (bits) against the order-0 background.
    log10_e_value : float
        log10 of the E-value (see :mod:`emseq.motif.stats`).
    sites : DataFrame
        ``motif, sequence, start, end, strand, score, p_value, site`` (1-based, inclusive).
    match : MotifMatch or None
        Its best match in a motif database (``emseq motif --db``,
        :func:`emseq.motif.compare.annotate`), else None: an object with ``target_id``,
        ``target_name``, ``p_value``, ``e_value``, ``q_value``, ``offset`` (Tomtom's
        ``Optimal_offset``), ``overlap`` and ``orientation`` (``"+"``/``"-"``); see
        :class:`emseq.motif.compare.MotifMatch`.
    """

    id: str
    pwm: np.ndarray
    nsites: int
    llr: float
    log10_e_value: float
    sites: pd.DataFrame
    model: str = "zoops"
    prior: float = 0.0
    match: "MotifMatch | None" = None

    @property
    def width(self) -> int:
        return int(self.pwm.shape[0])

    @property
    def consensus(self) -> str:
        return consensus(self.pwm)

    @property
    def e_value(self) -> float:
        return 10.0 ** self.log10_e_value if self.log10_e_value > -300 else 0.0

    @property
    def e_value_text(self) -> str:
        """The E-value as MEME prints it, also below the float range (e.g. ``3.1e-412``)."""
        exponent = math.floor(self.log10_e_value)
        mantissa = 10.0 ** (self.log10_e_value - exponent)
        if mantissa >= 9.95:
            mantissa, exponent = 1.0, exponent + 1
        return f"{mantissa:.1f}e{exponent:+04d}" if exponent < 0 else f"{mantissa:.1f}e+{exponent:03d}"


class MotifSet(list):
    """The motifs found (a list of :class:`Motif`) with a ``table`` and their ``pwms``."""

    @property
    def table(self) -> pd.DataFrame:
        """``motif, consensus, width, sites, llr, e_value, log10_e_value`` per motif, then
        ``db_match, db_match_name, db_match_q`` if the motifs were matched to a database
        (:func:`emseq.motif.compare.annotate`)."""
        columns = ["motif", "consensus", "width", "sites", "llr", "e_value", "log10_e_value"]
        matched = any(getattr(m, "match", None) is not None for m in self)
        rows = []
        for m in self:
            row = {"motif": m.id, "consensus": m.consensus, "width": m.width,
                   "sites": m.nsites, "llr": round(m.llr, 1), "e_value": m.e_value_text,
                   "log10_e_value": round(m.log10_e_value, 3)}
            if matched:
                match = getattr(m, "match", None)
                row.update(db_match=match.target_id if match else "",
                           db_match_name=match.target_name if match else "",
                           db_match_q=float(f"{match.q_value:.3g}") if match else float("nan"))
            rows.append(row)
        if matched:
            columns += ["db_match", "db_match_name", "db_match_q"]
        return pd.DataFrame(rows, columns=columns)

    @property
    def pwms(self) -> list[np.ndarray]:
        return [m.pwm for m in self]


@dataclass
class MotifResult:
    """What :func:`discover` returns.

    Attributes
    ----------
    motifs : MotifSet
        The motifs in the order found (``motifs.table`` is ``motifs.tsv``; ``motifs.pwms``).
    sites : DataFrame
        The sites of every motif (``sites.tsv``).
    convergence : DataFrame
        Every EM run's record: ``motif, width, start`` then the shared convergence columns.
    background : Background
        The background model used.
    params : dict
        The options of the run.
    n_sequences : int
        Sequences searched.
    sequences : EncodedSequences, optional
        The sequences searched (the flanks of the sites in ``summary.html``).
    """

    motifs: MotifSet
    sites: pd.DataFrame
    convergence: pd.DataFrame
    background: Background
    params: dict = field(default_factory=dict)
    n_sequences: int = 0
    sequences: EncodedSequences | None = field(default=None, repr=False)

    def write(self, directory: str | os.PathLike[str], *, force: bool = False,
              png: bool = False) -> None:
        """Write motifs.meme, motifs.jaspar, motifs.tsv, sites.tsv, convergence.tsv, a
        two-strand SVG logo per motif (logo_<id>.svg) and summary.html into ``directory``,
        atomically; with ``png`` also logo_<id>.png and summary.png (matplotlib).
        ``directory`` must be absent or empty unless ``force`` (see :mod:`emseq.io.atomic`)."""
        from .output import write_result

        write_result(self, directory, force=force, png=png)
