"""MEME-style de novo motif discovery (OOPS / ZOOPS / TCM mixtures fitted by EM).

``discover(sequences, ...)`` returns a :class:`MotifResult` with ``.motifs`` (a
:class:`MotifSet`: ``.table`` and ``.pwms``), ``.sites``, ``.convergence`` and ``.write(dir)``.
"""

from .alphabet import EncodedSequences, encode
from .background import Background
from .options import MODELS, SearchOptions
from .result import Motif, MotifResult, MotifSet, consensus
from .search import discover
from .widths import width_grid

__all__ = ["discover", "Motif", "MotifSet", "MotifResult", "Background", "EncodedSequences",
           "encode", "consensus", "width_grid", "MODELS"]
