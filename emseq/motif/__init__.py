"""MEME-style de novo motif discovery (OOPS / ZOOPS / TCM mixtures fitted by EM).

``discover(sequences, ...)`` returns a :class:`MotifResult` with ``.motifs`` (a
:class:`MotifSet`: ``.table`` and ``.pwms``), ``.sites``, ``.convergence`` and ``.write(dir)``.
"""

from importlib import import_module
from typing import TYPE_CHECKING

#: where each public name lives: imported on first use, so that building the command line
#: (which reads the option constants of :mod:`emseq.motif.options`) does not load pandas,
#: scipy and the search
_EXPORTS = {"discover": "search", "Motif": "result", "MotifSet": "result",
            "MotifResult": "result", "consensus": "result", "Background": "background",
            "EncodedSequences": "alphabet", "encode": "alphabet", "width_grid": "widths",
            "MODELS": "options", "SearchOptions": "options"}

__all__ = ["discover", "Motif", "MotifSet", "MotifResult", "Background", "EncodedSequences",
           "encode", "consensus", "width_grid", "MODELS"]

if TYPE_CHECKING:  # pragma: no cover
    from .alphabet import EncodedSequences, encode
    from .background import Background
    from .options import MODELS, SearchOptions
    from .result import Motif, MotifResult, MotifSet, consensus
    from .search import discover
    from .widths import width_grid


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
