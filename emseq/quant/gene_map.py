"""Match a transcript-to-gene map to the transcript names, across version suffixes.

Annotations and FASTAs often spell the same transcript with and without its version
(``NR_073460`` in a GTF, ``NR_073460.1`` in the FASTA; GENCODE's ``ENST00000456328.2`` against
Ensembl's ``ENST00000456328``). Names are matched exactly first; a name left unmatched is then
matched on its name without a trailing ``.<digits>`` version, when that stripped name is
unique on both sides, and the log says how many were matched that way (with an example), so
the user sees that the versions differ. Salmon and tximport refuse or drop such names;
matching them is what users do by hand (``tximport(..., ignoreTxVersion=TRUE)``).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Iterable, Mapping

__all__ = ["strip_version", "align_gene_map", "sniff_tx2gene"]

logger = logging.getLogger(__name__)

_VERSION = re.compile(r"\.\d+$")


_INTEGER = re.compile(r"^-?\d+$")
#: Rows of a map looked at by :func:`sniff_tx2gene`
SNIFF_ROWS = 200


def sniff_tx2gene(path: str, rows: list[list[str]]) -> None:
    """Refuse a file that is not a transcript-to-gene map, saying what it looks like.

    ``rows`` are the first data rows split into fields. A FASTA index (``.fai``: name, then
    four integers), a GTF/GFF (nine columns, a feature type and coordinates), a FASTA, or a
    map whose second column holds only numbers (lengths, counts) are refused.
    """
    from ..errors import InputError

    if not rows:
        return
    if rows[0] and rows[0][0].startswith(">"):
        raise InputError(f"{path}: looks like a FASTA file (a '>' header), not a "
                         "transcript-to-gene map (two columns: transcript, gene)")
    body = rows[1:] if len(rows) > 1 else rows  # the first row may be a header
    if all(len(r) == 5 and all(_INTEGER.match(f) for f in r[1:]) for r in body):
        raise InputError(f"{path}: looks like a FASTA index (.fai: name, length, offset, bases "
                         "per line, bytes per line), not a transcript-to-gene map (two "
                         "columns: transcript, gene); pass the map, or a GTF with --gtf")
    if all(len(r) >= 9 and _INTEGER.match(r[3]) and _INTEGER.match(r[4]) for r in body):
        raise InputError(f"{path}: looks like a GTF/GFF annotation (nine columns), not a "
                         "two-column transcript-to-gene map; pass it with --gtf (or -g)")
    if all(len(r) >= 2 and _INTEGER.match(r[1]) for r in body):
        numeric = rows if len(rows[0]) > 1 and _INTEGER.match(rows[0][1]) else body
        shown = ", ".join(r[1] for r in numeric[:3])
        raise InputError(f"{path}: the second column holds only numbers ({shown}, ...), not "
                         "gene names; expected two columns: transcript, gene")


def strip_version(name: str) -> str:
    """``NR_073460.1`` -> ``NR_073460``; names without a ``.<digits>`` suffix are unchanged."""
    return _VERSION.sub("", name)


def align_gene_map(names: Iterable[str], tx2gene: Mapping[str, str]) -> dict[str, str]:
    """The gene of each transcript name that the map names, exactly or up to its version.

    Returns a mapping keyed by the transcript names (those with a gene only).
    """
    names = list(names)
    out = {n: tx2gene[n] for n in names if n in tx2gene}
    missing = [n for n in names if n not in out]
    if not missing:
        return out
    unused = [k for k in tx2gene if k not in out]
    key_count = Counter(strip_version(k) for k in unused)
    by_stripped = {strip_version(k): k for k in unused if key_count[strip_version(k)] == 1}
    name_count = Counter(strip_version(n) for n in missing)
    matched = []
    for n in missing:
        stripped = strip_version(n)
        if name_count[stripped] == 1 and stripped in by_stripped:
            key = by_stripped[stripped]
            out[n] = tx2gene[key]
            matched.append((n, key))
    if matched:
        n, key = matched[0]
        logger.warning("%d transcript names match the gene map only when their version suffix "
                       "is ignored (e.g. %s in the transcripts, %s in the map): the versions "
                       "differ; matched them without the version", len(matched), n, key)
    return out
