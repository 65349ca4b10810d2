"""Transcript quantification from alignments (``emseq quant``), Salmon-compatible output.

- :func:`load_transcripts` reads a transcript FASTA into a picklable :class:`TranscriptIndex`.
- :func:`quantify` reads a BAM/SAM/CRAM through a Cython record loop into rich equivalence
  classes, runs EM or VBEM (SQUAREM-accelerated) over them and returns a :class:`QuantResult`
  whose :meth:`QuantResult.write` writes a Salmon-style output directory.
"""

import pysam  # noqa: F401  (loads libchtslib before the Cython reader needs it)

from .transcripts import TranscriptIndex, load_transcripts
from .bam import EqClasses, read_alignments
from .api import QuantResult, quantify, read_tx2gene
from .gene_map import gene_table, read_gtf_tx2gene

__all__ = ["TranscriptIndex", "load_transcripts", "EqClasses", "read_alignments", "EMOptions",
           "FragmentLengthModel", "effective_lengths", "estimate", "QuantResult", "quantify",
           "read_tx2gene", "read_gtf_tx2gene", "gene_table"]

_MODEL = ("EMOptions", "FragmentLengthModel", "effective_lengths", "estimate")


def __getattr__(name: str):
    # the estimation module (scipy, the EM core) is imported on first use, so that quantify()
    # can import it in the background while it reads the BAM
    if name in _MODEL:
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
