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

__all__ = ["strip_version", "align_gene_map"]

logger = logging.getLogger(__name__)

_VERSION = re.compile(r"\.\d+$")


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
