import enum
from typing import Any, Callable

class ScanError(enum.IntEnum):
    ERR_NONE = 0
    ERR_BEFORE_HEADER = 1
    ERR_EMPTY_NAME = 2
    ERR_LETTER = 3
    ERR_NON_ASCII = 4
    ERR_MEMORY = 5
    ERR_READ = 6
    ERR_OPEN = 7

def scan_fasta(path: str, alphabet: bytes, *, upper: bool = ..., sequences: bool = ...,
               descriptions: bool = ..., n_threads: int = ..., size_hint: int = ...,
               letters_sink: Callable[[Any], Any] | None = ...) -> dict[str, Any]: ...
