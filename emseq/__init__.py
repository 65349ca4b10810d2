"""emseq: Cython-accelerated EM engines for bioinformatics.

Engines live in one subpackage each (``emseq.mixture``, ``emseq.quant``, ``emseq.motif``) and
share the EM core in ``emseq.em``; ``emseq.batch`` runs many samples through Dask.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
