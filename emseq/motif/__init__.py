"""MEME-style de novo motif discovery (OOPS / ZOOPS / TCM mixtures fitted by EM).

``discover(sequences, ...)`` returns a :class:`MotifResult` with ``.motifs`` (a
:class:`MotifSet`: ``.table`` and ``.pwms``), ``.sites``, ``.convergence`` and ``.write(dir)``.
"""

import os as _os

# OpenMP threads that wait at a barrier sleep instead of spinning: on a shared machine spinning
# doubled the wall time of `-p 2` (measured: 9.9 s vs 4.8 s on a 1 Mbp set under load); the
# kernels' parallel regions are long (milliseconds), so sleeping costs nothing when idle.
# Only a default: a user's OMP_WAIT_POLICY wins. Takes effect if libgomp is not loaded yet.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .alphabet import EncodedSequences, encode  # noqa: E402
from .background import Background
from .search import MODELS, Motif, MotifResult, MotifSet, consensus, discover, width_grid

__all__ = ["discover", "Motif", "MotifSet", "MotifResult", "Background", "EncodedSequences",
           "encode", "consensus", "width_grid", "MODELS"]
