"""Merge the quant.sf of several samples into one matrix (``salmon quantmerge``).

One implementation for ``emseq quantmerge`` and the merged tables of ``emseq batch``: a
``Name`` column (Salmon's header; batch names it ``transcript``/``gene``) then one column per
sample, rows in the transcript order of the samples, which must all have the same
transcripts in the same order (as Salmon requires: merging is a column bind, never a join).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..errors import InputError, UsageError

__all__ = ["COLUMNS", "resolve_column", "read_quant", "merge_quants"]

QUANT_HEADER = ["Name", "Length", "EffectiveLength", "TPM", "NumReads"]

#: Salmon's ``--column`` spellings (and the quant.sf headers) -> the quant.sf column.
COLUMNS = {"len": "Length", "length": "Length", "elen": "EffectiveLength",
           "effectivelength": "EffectiveLength", "tpm": "TPM", "numreads": "NumReads"}


def resolve_column(column: str) -> str:
    """The quant.sf column for a ``--column`` value (Salmon's ``len, elen, tpm, numreads``
    or the column header itself, any case)."""
    try:
        return COLUMNS[column.lower()]
    except KeyError:
        raise UsageError(f"--column {column!r} is not one of len, elen, tpm, numreads "
                         "(or Length, EffectiveLength, TPM, NumReads)") from None


def read_quant(directory: str | os.PathLike[str], genes: bool = False) -> pd.DataFrame:
    """Read ``quant.sf`` (``quant.genes.sf`` with ``genes``) of an output directory, checked."""
    directory = Path(directory)
    filename = "quant.genes.sf" if genes else "quant.sf"
    path = directory / filename
    if not directory.is_dir():
        raise InputError(f"{directory}: no such quantification directory")
    if not path.is_file():
        what = ("was it quantified with a gene map (--tx2gene/--gtf/-g)?" if genes else
                "not a Salmon/emseq quantification directory")
        raise InputError(f"{directory}: no {filename} ({what})")
    try:
        frame = pd.read_csv(path, sep="\t", dtype={"Name": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    if frame.columns.tolist() != QUANT_HEADER:
        raise InputError(f"{path}: header is {' '.join(map(str, frame.columns))}, expected "
                         f"{' '.join(QUANT_HEADER)} (not a quant.sf)")
    numeric = frame[QUANT_HEADER[1:]].apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna().any(axis=1)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise InputError(f"{path}:{row + 2}: a value is not a number")
    frame[QUANT_HEADER[1:]] = numeric
    return frame


def merge_quants(directories: Sequence[str | os.PathLike[str]],
                 names: Sequence[str] | None = None, column: str = "TPM", *,
                 genes: bool = False, id_column: str = "Name") -> pd.DataFrame:
    """One column of every sample's quant.sf side by side.

    Parameters
    ----------
    directories : sequence of path-like
        Quantification directories (Salmon's or emseq's).
    names : sequence of str, optional
        Sample names (default: the directories' base names), unique.
    column : str, default="TPM"
        ``len``, ``elen``, ``tpm``, ``numreads`` or a quant.sf header.
    genes : bool, default=False
        Merge ``quant.genes.sf`` instead.
    id_column : str, default="Name"
        Header of the identifier column.

    Raises
    ------
    UsageError
        No directory, names of the wrong number, or repeated names.
    InputError
        A missing or malformed quant.sf, or samples whose transcripts differ in set or order.
    """
    source = resolve_column(column)
    directories = [Path(d) for d in directories]
    if not directories:
        raise UsageError("give at least one quantification directory (--quants)")
    if names is None:
        names = [d.resolve().name if d.name in ("", ".", "..") else d.name for d in directories]
        label = "directory base names"
    else:
        names = list(names)
        label = "--names"
        if len(names) != len(directories):
            raise UsageError(f"{len(names)} --names for {len(directories)} --quants directories")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise UsageError(f"sample name {name!r} is given twice ({label} of "
                             f"{directories[seen[name]]} and {directories[i]}); pass unique "
                             "--names")
        seen[name] = i
    first = read_quant(directories[0], genes)
    reference = first["Name"]
    columns = {names[0]: first[source].to_numpy()}
    for name, directory in zip(names[1:], directories[1:]):
        frame = read_quant(directory, genes)
        if len(frame) != len(reference) or not frame["Name"].equals(reference):
            raise InputError(_difference(directories[0], reference, directory, frame["Name"]))
        columns[name] = frame[source].to_numpy()
    merged = pd.DataFrame(columns)
    merged.insert(0, id_column, reference.to_numpy())
    return merged


def _difference(a: Path, names_a: pd.Series, b: Path, names_b: pd.Series) -> str:
    set_a, set_b = set(names_a), set(names_b)
    if set_a != set_b:
        only_b = sorted(set_b - set_a)
        only_a = sorted(set_a - set_b)
        example = (f"{only_b[0]!r} only in {b}" if only_b else f"{only_a[0]!r} only in {a}")
        return (f"{b} and {a} have different transcripts ({len(names_b)} vs {len(names_a)} "
                f"rows; {example}): quantify every sample against the same transcripts")
    row = int((names_a.to_numpy() != names_b.to_numpy()).argmax())
    return (f"{b} lists the transcripts in another order than {a} (row {row + 2}: "
            f"{names_b.iloc[row]!r} vs {names_a.iloc[row]!r})")
