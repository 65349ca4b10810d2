"""Match a transcript-to-gene map to the transcript names, across version suffixes.

Annotations and FASTAs often spell the same transcript with and without its version
(``NR_073460`` in a GTF, ``NR_073460.1`` in the FASTA; GENCODE's ``ENST00000456328.2`` against
Ensembl's ``ENST00000456328``). Names are matched exactly first; a name left unmatched is then
matched on its name without a trailing ``.<digits>`` version, when that stripped name is
unique on both sides, and the log says how many were matched that way (with an example), so
the user sees that the versions differ. Salmon and tximport refuse or drop such names;
matching them is what users do by hand (``tximport(..., ignoreTxVersion=TRUE)``).


Also here, linear in the transcripts and vectorised: :func:`gene_table` (``quant.genes.sf``
from ``quant.sf`` through ``np.bincount`` over gene codes, no Python loop over genes) and
:func:`read_gtf_tx2gene` (a GTF streamed line by line, e.g. GENCODE's 1.5 GB, keeping only
the map).
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["strip_version", "align_gene_map", "gene_table", "read_gtf_tx2gene", "sniff_tx2gene"]

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
    get = tx2gene.get
    found = [get(n) for n in names]  # one hash lookup a name
    out = {n: g for n, g in zip(names, found) if g is not None}
    missing = [n for n, g in zip(names, found) if g is None]
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


def gene_table(abundances: pd.DataFrame, tx2gene: Mapping[str, str]) -> pd.DataFrame:
    """RSEM/Salmon-like ``quant.genes.sf``: NumReads and TPM summed per gene; Length and
    EffectiveLength the TPM-weighted means of the gene's transcripts (plain means for a gene
    of TPM 0). Transcripts the map does not name count as their own gene.

    Genes are in the order of their first transcript. Vectorised: one factorisation of the
    gene names and a weighted ``np.bincount`` per column.
    """
    names = abundances["Name"].tolist()
    aligned = align_gene_map(names, tx2gene)  # exact names, else names up to a version
    get = aligned.get
    genes = [get(n) for n in names]
    n_missing = genes.count(None)
    if n_missing == len(names):
        raise InputError("the transcript-to-gene map names none of the transcripts "
                         f"(first transcript: {names[0]})")
    if n_missing:
        logger.warning("%d transcripts are not in the gene map and count as their own gene "
                       "(first: %s)", n_missing, names[genes.index(None)])
        genes = [n if g is None else g for n, g in zip(names, genes)]
    codes, uniques = pd.factorize(np.asarray(genes, dtype=object), sort=False)
    n_genes = len(uniques)
    tpm = abundances["TPM"].to_numpy(dtype=np.float64)
    tpm_sum = np.bincount(codes, weights=tpm, minlength=n_genes)
    weight = np.where(tpm_sum[codes] > 0, tpm, 1.0)
    weight = weight / np.bincount(codes, weights=weight, minlength=n_genes)[codes]

    def weighted(column: str) -> np.ndarray:
        values = abundances[column].to_numpy(dtype=np.float64)
        return np.bincount(codes, weights=values * weight, minlength=n_genes)

    return pd.DataFrame({"Name": list(uniques),
                         "Length": weighted("Length"),
                         "EffectiveLength": weighted("EffectiveLength"),
                         "TPM": tpm_sum,
                         "NumReads": np.bincount(codes, weights=abundances["NumReads"]
                                                 .to_numpy(dtype=np.float64),
                                                 minlength=n_genes)})


def _attribute(attributes: str, key: str) -> str | None:
    """The value of ``key "value"`` in a GTF attribute column (the last, as the regex
    ``(key) "([^"]+)"`` with ``dict(findall)`` gives), or None."""
    start = attributes.rfind(key + ' "')
    while start >= 0:
        lo = start + len(key) + 2
        hi = attributes.find('"', lo)
        if hi > lo:
            return attributes[lo:hi]
        start = attributes.rfind(key + ' "', 0, start)
    return None


def read_gtf_tx2gene(path: str | os.PathLike[str]) -> dict[str, str]:
    """Transcript-to-gene map from a GTF (plain or gzipped): ``transcript_id`` → ``gene_id``.

    Streamed line by line (memory: the map only); the attributes of a line are looked at only
    while its transcript is new. The first line naming a transcript gives its gene.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such GTF file")
    mapping: dict[str, str] = {}
    with open(path, "rb") as probe:
        opener = gzip.open if probe.read(2) == b"\x1f\x8b" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, 1):
                if line[:1] == "#" or not line.strip():
                    continue
                if line.count("\t") != 8:
                    fields = line.rstrip("\n").split("\t")
                    raise InputError(f"{path}:{lineno}: a GTF line has 9 tab-separated fields, "
                                     f"this one has {len(fields)}")
                attributes = line[line.rindex("\t") + 1:]
                transcript = _attribute(attributes, "transcript_id")
                if transcript is None or transcript in mapping:
                    continue
                gene = _attribute(attributes, "gene_id")
                if gene is not None:
                    mapping[transcript] = gene
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read GTF: {exc}") from None
    if not mapping:
        raise InputError(f"{path}: no transcript_id/gene_id attributes in the GTF")
    return mapping
