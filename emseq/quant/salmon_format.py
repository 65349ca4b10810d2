"""Keys of Salmon's output files that downstream tools read, computed from emseq's results.

- :func:`index_hashes`: the ``index_*_hash`` keys of ``aux_info/meta_info.json``. Salmon's
  index stores the SHA-256 (and SHA-512) of the indexed sequences concatenated in FASTA order
  (upper case) and of the names concatenated; tximeta looks ``index_seq_hash`` up in its table
  of registered transcriptomes (GENCODE, Ensembl, RefSeq releases) and in the transcriptomes
  the user linked with ``makeLinkedTxome``. Checked against ``salmon index`` 1.10 on the demo
  transcripts: identical digests. Salmon's index drops duplicate sequences and replaces
  non-ACGT letters unless told otherwise, so a FASTA with either can hash differently from
  its Salmon index. Salmon's alignment mode writes the keys empty; so does emseq when it has
  no sequences (names and lengths from the BAM header).
- :func:`lib_format_counts`: ``lib_format_counts.json`` with the keys Salmon writes
  (MultiQC's Salmon module shows ``compatible_fragment_ratio`` and
  ``strand_mapping_bias`` from it).
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

__all__ = ["index_hashes", "lib_format_counts", "SALMON_FORMATS"]

#: Salmon's library formats, in the order it writes their counts.
SALMON_FORMATS = ("MSF", "OSF", "ISF", "MSR", "OSR", "ISR", "SF", "SR", "MU", "OU", "IU", "U")

_EMPTY = {key: "" for key in ("index_seq_hash", "index_name_hash", "index_seq_hash512",
                              "index_name_hash512", "index_decoy_seq_hash",
                              "index_decoy_name_hash")}


def index_hashes(index: Any) -> dict[str, str]:
    """The ``index_*`` digests of a :class:`~emseq.quant.transcripts.TranscriptIndex`.

    The sequence digests come from :attr:`~emseq.quant.transcripts.TranscriptIndex.
    sequence_digests` when the index was loaded with them (also without its sequences),
    else from its sequence buffer. Returns empty strings (as Salmon's alignment mode) when
    the index has neither.
    """
    known = dict(getattr(index, "sequence_digests", None) or {})
    buffer = getattr(index, "sequence_buffer", None)
    if index is None or (buffer is None and not {"sha256", "sha512"} <= known.keys()):
        return dict(_EMPTY)
    for algorithm in ("sha256", "sha512"):
        if algorithm not in known:
            known[algorithm] = hashlib.new(algorithm, memoryview(buffer)).hexdigest()
    names = "".join(index.names).encode()
    none = hashlib.sha256(b"").hexdigest()
    return {"index_seq_hash": known["sha256"],
            "index_name_hash": hashlib.sha256(names).hexdigest(),
            "index_seq_hash512": known["sha512"],
            "index_name_hash512": hashlib.sha512(names).hexdigest(),
            "index_decoy_seq_hash": none,
            "index_decoy_name_hash": none}


def lib_format_counts(library: Mapping[str, Any]) -> dict[str, Any]:
    """``lib_format_counts.json`` with Salmon's keys and meanings, from the reader's summary.

    Salmon's definitions (``ReadExperiment``): for a stranded library type,
    ``num_frags_with_concordant_consistent_mappings`` is the count of the expected format and
    ``num_frags_with_inconsistent_or_orphan_mappings`` the count of every other format; for
    an unstranded one the concordant count is both strands (ISF + ISR for paired-end, SF + SR
    for single-end) and the inconsistent count the rest. ``strand_mapping_bias`` is the share
    of fragments whose first read comes from the sense strand, ISF / (ISF + ISR) (SF / (SF +
    SR) single-end): ~0.5 unstranded, ~0 for ISR and ~1 for ISF libraries. The per-format
    counts are also written at the top level, as Salmon does (emseq's reader distinguishes
    ISF, ISR, SF and SR; the other formats are 0 and "other" orientations stay under
    ``counts``).
    """
    out = dict(library)
    counts = {key: int(value) for key, value in dict(library.get("counts", {})).items()}
    paired = bool(library.get("paired", True))
    sense, antisense = ("ISF", "ISR") if paired else ("SF", "SR")
    fmt1, fmt2 = counts.get(sense, 0), counts.get(antisense, 0)
    total = sum(counts.values())
    expected = str(library.get("expected_format", ""))
    if expected in ("IU", "U") or expected not in counts:
        agree = fmt1 + fmt2
    else:
        agree = counts[expected]
    out["num_frags_with_concordant_consistent_mappings"] = int(agree)
    out["num_frags_with_inconsistent_or_orphan_mappings"] = int(total - agree)
    out["strand_mapping_bias"] = fmt1 / (fmt1 + fmt2) if agree > 0 and fmt1 + fmt2 else 0.0
    for key in SALMON_FORMATS:
        out[key] = counts.get(key, 0)
    return out
