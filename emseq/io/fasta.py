"""FASTA reading shared by the engines (plain or gzipped, checked line by line)."""

from __future__ import annotations

import gzip
import os

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import InputError

__all__ = ["FastaRecord", "iter_fasta", "read_fasta", "IUPAC_DNA"]

#: Letters accepted in nucleotide sequences: IUPAC codes (upper or lower case), ``-`` and ``*``.
IUPAC_DNA = frozenset("ACGTUNRYKMSWBDHVacgtunrykmswbdhv")

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class FastaRecord:
    """One sequence: its name (header up to the first whitespace), description and letters."""

    name: str
    description: str
    sequence: str


def _open_text(path: Path):
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="ascii", errors="strict")
    return open(path, "rt", encoding="ascii", errors="strict")


def iter_fasta(path: str | os.PathLike[str], *, alphabet: frozenset[str] | None = IUPAC_DNA
               ) -> Iterator[FastaRecord]:
    """Yield the records of a FASTA file, checking its syntax and letters.

    Parameters
    ----------
    path : path-like
        A FASTA file, plain or gzip-compressed (detected from its first bytes).
    alphabet : frozenset of str or None, default=IUPAC_DNA
        Letters allowed in sequences; ``None`` accepts any non-space ASCII.

    Raises
    ------
    InputError
        On a missing or empty file, text before the first header, an empty name, a letter not
        in ``alphabet`` (the message gives the file, line, column and letter), a non-ASCII byte,
        or a truncated gzip stream.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such FASTA file")
    name = description = None
    chunks: list[str] = []
    lineno = 0
    try:
        with _open_text(path) as handle:
            for lineno, line in enumerate(handle, 1):
                line = line.rstrip("\r\n")
                if line.startswith(">"):
                    if name is not None:
                        yield FastaRecord(name, description, "".join(chunks))
                    header = line[1:].strip()
                    if not header:
                        raise InputError(f"{path}:{lineno}: FASTA header without a name")
                    # the name ends at any whitespace (space, tab...), as in samtools faidx
                    name, _, description = header.partition(" ")
                    if any(c.isspace() for c in name):
                        name, description = (header.split(None, 1) + [""])[:2]
                    chunks = []
                    continue
                stripped = line.strip()
                if not stripped:
                    continue
                if name is None:
                    raise InputError(f"{path}:{lineno}: sequence before the first '>' header; "
                                     "is this a FASTA file?")
                if alphabet is not None and not set(stripped) <= alphabet:
                    column, bad = next((i, c) for i, c in enumerate(stripped, 1)
                                       if c not in alphabet)
                    raise InputError(f"{path}:{lineno}:{column}: unexpected letter {bad!r} in "
                                     f"sequence {name!r}")
                chunks.append(stripped)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}:{lineno + 1}: non-ASCII byte in FASTA ({exc.reason})") from None
    except (EOFError, gzip.BadGzipFile, OSError) as exc:
        raise InputError(f"{path}: cannot read FASTA: {exc}") from None
    if name is None:
        raise InputError(f"{path}: empty FASTA file (no '>' header)")
    yield FastaRecord(name, description, "".join(chunks))


def read_fasta(path: str | os.PathLike[str], *, alphabet: frozenset[str] | None = IUPAC_DNA,
               unique_names: bool = True) -> list[FastaRecord]:
    """Read every record of a FASTA file (see :func:`iter_fasta`); names must be unique."""
    records = list(iter_fasta(path, alphabet=alphabet))
    if unique_names:
        seen: set[str] = set()
        for record in records:
            if record.name in seen:
                raise InputError(f"{path}: sequence name {record.name!r} appears more than once")
            seen.add(record.name)
    return records
