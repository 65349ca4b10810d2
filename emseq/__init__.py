"""emseq: Cython-accelerated EM engines for bioinformatics.

Engines live in one subpackage each (``emseq.mixture``, ``emseq.quant``, ``emseq.motif``) and
share the EM core in ``emseq.em``; ``emseq.batch`` runs many samples through Dask.
"""

import os as _os

__version__ = "0.1.0"

# Idle OpenMP threads of every engine's kernels sleep instead of spinning: on a shared or
# loaded machine a spinning worker steals the core its sibling needs (measured under load:
# mixture 2 threads 7x slower than 1; motif -p 2 9.9 s instead of 4.8 s on a 1 Mbp set).
# Set before any kernel starts the OpenMP runtime; the user's own setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = ["__version__"]
