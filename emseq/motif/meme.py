"""Reader of MEME motif files (the minimal format FIMO and Tomtom read, and MEME's own output).

A file is ``MEME version N``, then optional ``ALPHABET=``, ``strands:`` and ``Background letter
frequencies`` sections, then one block per motif::

    MOTIF MA0004.1 Arnt
    letter-probability matrix: alength= 4 w= 6 nsites= 20 E= 0
     0.200000  0.800000  0.000000  0.000000
     ...

Only DNA motifs are read (alphabet ``ACGT``; MEME's ``ALPHABET= ACGT``, ``DNA`` or an ``ALPHABET
"DNA" DNA-LIKE`` block with the letters A, C, G, T). Each problem is an
:class:`~emseq.errors.InputError` naming the file and line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .alphabet import LETTERS

__all__ = ["MemeMotif", "MemeFile", "read_meme_file", "DEFAULT_NSITES", "tsv_trailer"]

#: sites assumed for a motif whose matrix line gives no ``nsites=`` (MEME's default)
DEFAULT_NSITES = 20
#: tolerance on the sum of a matrix row
ROW_SUM_TOLERANCE = 0.02

_MATRIX = re.compile(r"^letter-probability matrix:(.*)$")
_KEY_VALUE = re.compile(r"(\w+)\s*=\s*(\S+)")


@dataclass(frozen=True)
class MemeMotif:
    """One motif of a MEME file.

    Attributes
    ----------
    id : str
        The identifier after ``MOTIF`` (e.g. ``MA0004.1``).
    alt_id : str
        The optional second word of the ``MOTIF`` line (e.g. ``Arnt``), else ``""``.
    pwm : ndarray of shape (width, 4)
        Letter probabilities (A, C, G, T) per column; each row sums to 1.
    nsites : float
        ``nsites=`` of the matrix line (:data:`DEFAULT_NSITES` when absent).
    """

    id: str
    alt_id: str
    pwm: np.ndarray
    nsites: float = DEFAULT_NSITES

    @property
    def width(self) -> int:
        return int(self.pwm.shape[0])


@dataclass(frozen=True)
class MemeFile:
    """The content of a MEME motif file.

    Attributes
    ----------
    path : Path
        Where it was read from.
    motifs : list of MemeMotif
        The motifs in file order.
    background : ndarray of shape (4,) or None
        ``Background letter frequencies`` (A, C, G, T), normalised, if the file has them.
    strands : str
        ``"+ -"`` or ``"+"`` (``"+ -"`` when the file does not say).
    """

    path: Path
    motifs: list[MemeMotif]
    background: np.ndarray | None
    strands: str = "+ -"


def _check_alphabet(path: Path, lineno: int, line: str, lines: list[str]) -> None:
    text = line.split("=", 1)[1].strip() if "=" in line else ""
    if text.upper() in ("ACGT", "DNA"):
        return
    if text.startswith('"') or "DNA-LIKE" in text.upper() or "RNA-LIKE" in text.upper():
        # a custom alphabet block: ends at END ALPHABET; its core letters must be ACGT
        letters = set()
        for body in lines[lineno:]:
            body = body.strip()
            if body.upper().startswith("END ALPHABET"):
                break
            if body and body[0].isalpha() and (len(body) == 1 or body[1] in " ~\"'"):
                letters.add(body[0].upper())
        if {"A", "C", "G", "T"} <= letters and "DNA" in text.upper():
            return
    raise InputError(f"{path}:{lineno}: alphabet {text or '(empty)'!r} is not DNA (ACGT); "
                     f"emseq reads DNA motifs only")


def _parse_background(path: Path, lineno: int, line: str) -> np.ndarray:
    fields = line.split()
    values: dict[str, float] = {}
    try:
        for letter, value in zip(fields[::2], fields[1::2]):
            values[letter.upper()] = float(value)
    except ValueError:
        raise InputError(f"{path}:{lineno}: bad background line {line.strip()!r}") from None
    if set(values) != set(LETTERS) or any(not np.isfinite(v) or v <= 0 for v in values.values()):
        raise InputError(f"{path}:{lineno}: background needs positive frequencies of A, C, G, T, "
                         f"got {line.strip()!r}")
    freqs = np.array([values[c] for c in LETTERS])
    return freqs / freqs.sum()


def read_meme_file(path: str | os.PathLike[str]) -> MemeFile:
    """Read a MEME motif file (see the module doc).

    Parameters
    ----------
    path : path-like
        A MEME motif file (text).

    Returns
    -------
    MemeFile

    Raises
    ------
    InputError
        The file is missing or unreadable, has no ``MEME version`` line, is not DNA, has a
        malformed matrix (width, row length, non-numbers, rows not summing to 1), repeats a
        motif id, or has no motif.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot read motif file: {exc.strerror or exc}") from None
    lines = text.splitlines()
    if not text.strip():
        raise InputError(f"{path}: motif file is empty")
    if not any(line.strip().startswith("MEME version") for line in lines):
        raise InputError(f"{path}: not a MEME motif file (no 'MEME version' line)")
    motifs: list[MemeMotif] = []
    seen: set[str] = set()
    background = None
    strands = "+ -"
    current: tuple[str, str, int] | None = None
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        lineno = i + 1
        i += 1
        if line.startswith("ALPHABET"):
            _check_alphabet(path, lineno, line, lines)
        elif line.startswith("strands:"):
            strands = "+ -" if "-" in line.split(":", 1)[1] else "+"
        elif line.startswith("Background letter frequencies"):
            while i < len(lines) and not lines[i].strip():
                i += 1
            if i < len(lines):
                background = _parse_background(path, i + 1, lines[i])
                i += 1
        elif line.startswith("MOTIF"):
            fields = line.split()
            if len(fields) < 2:
                raise InputError(f"{path}:{lineno}: MOTIF line without an identifier")
            if current is not None:
                raise InputError(f"{path}:{current[2]}: motif {current[0]} has no "
                                 f"letter-probability matrix")
            if fields[1] in seen:
                raise InputError(f"{path}:{lineno}: motif id {fields[1]!r} appears twice")
            current = (fields[1], fields[2] if len(fields) > 2 else "", lineno)
        elif _MATRIX.match(line):
            if current is None:
                raise InputError(f"{path}:{lineno}: letter-probability matrix outside a MOTIF")
            options = dict(_KEY_VALUE.findall(_MATRIX.match(line).group(1)))
            try:
                width = int(options["w"])
                alength = int(options.get("alength", 4))
                nsites = float(options.get("nsites", DEFAULT_NSITES))
            except (KeyError, ValueError):
                raise InputError(f"{path}:{lineno}: matrix line needs 'w= WIDTH' "
                                 f"(got {line!r})") from None
            if alength != 4:
                raise InputError(f"{path}:{lineno}: motif {current[0]} has alength= {alength}; "
                                 f"DNA motifs have 4 letters")
            if width < 1:
                raise InputError(f"{path}:{lineno}: motif {current[0]} has width {width}")
            rows = []
            while len(rows) < width:
                if i >= len(lines):
                    raise InputError(f"{path}:{lineno}: motif {current[0]} declares w= {width} "
                                     f"but the file ends after {len(rows)} rows")
                row_text = lines[i].strip()
                i += 1
                if not row_text:
                    continue
                try:
                    row = [float(v) for v in row_text.split()]
                except ValueError:
                    raise InputError(f"{path}:{i}: motif {current[0]}: matrix row "
                                     f"{row_text!r} is not 4 numbers (w= {width} rows "
                                     f"expected)") from None
                if (len(row) != 4 or not all(np.isfinite(row)) or min(row) < 0
                        or abs(sum(row) - 1.0) > ROW_SUM_TOLERANCE):
                    raise InputError(f"{path}:{i}: motif {current[0]}: matrix row {row_text!r} "
                                     f"is not 4 probabilities summing to 1")
                rows.append(row)
            pwm = np.array(rows, dtype=np.float64)
            pwm /= pwm.sum(axis=1, keepdims=True)
            motifs.append(MemeMotif(current[0], current[1], pwm, nsites))
            seen.add(current[0])
            current = None
    if current is not None:
        raise InputError(f"{path}:{current[2]}: motif {current[0]} has no letter-probability "
                         f"matrix")
    if not motifs:
        raise InputError(f"{path}: no motif in file (no 'MOTIF' block with a "
                         f"letter-probability matrix)")
    return MemeFile(path, motifs, background, strands)


def tsv_trailer(program: str, format_page: str, command: str | None = None) -> str:
    """The comment lines that end a MEME-suite TSV (``tomtom.tsv``, ``fimo.tsv``): a blank
    line, the program and version, where the format is described, the command line. Readers
    skip them as comments (``#``), as they do MEME's own."""
    import shlex
    import sys

    from .. import __version__

    if command is None:
        command = " ".join(shlex.quote(a) for a in ["emseq", *sys.argv[1:]])
    return (f"\n# {program}: emseq {__version__}\n"
            f"# The format of this file is described at "
            f"https://meme-suite.org/meme/doc/{format_page}.\n# {command}\n")


def write_suite_tsv(directory: str | os.PathLike[str], name: str, text: str) -> Path:
    """Write a MEME-suite table (``tomtom.tsv``, ``fimo.tsv``) into ``directory``
    atomically; returns its path."""
    from ..io.atomic import atomic_write

    path = Path(directory) / name
    with atomic_write(path) as handle:
        handle.write(text)
    return path
