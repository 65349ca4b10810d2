"""Sample sheets of a batch: nf-core style CSV/TSV, one row per sample, checked before anything runs."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pandas as pd

from ..errors import InputError, UsageError
from ..io.arrays import is_zarr

__all__ = ["ENGINE_COLUMNS", "JOB_LOGS", "MERGED_NAMES", "read_sample_sheet"]

#: Columns of a sample sheet, per engine: (required, optional). The first required column after
#: ``sample`` is the sample's input file.
ENGINE_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "quant": (("sample", "bam"), ("libtype",)),
    "motif": (("sample", "fasta"), ()),
    "mixture": (("sample", "table"), ()),
}
#: Folder of the logs in the output directory: each sample's log (``<sample>.log``, see
#: :mod:`emseq.batch.log`) and the cluster jobs' stdout and stderr files.
JOB_LOGS = "logs"
#: Files and folders the batch writes next to the sample directories: no sample may be named
#: like one.
MERGED_NAMES = (JOB_LOGS, "batch.log", "batch_report.tsv", "convergence.tsv",
                "transcript_counts.tsv", "transcript_tpm.tsv", "gene_counts.tsv", "gene_tpm.tsv",
                "motifs.tsv", "parameters.tsv")


def read_sample_sheet(path: str | os.PathLike[str], engine: str = "quant") -> pd.DataFrame:
    """Read and check an nf-core style sample sheet (CSV or TSV with a header row).

    Relative input paths are taken relative to the sheet's folder and returned absolute.

    Raises
    ------
    InputError
        On an empty sheet, a missing or unknown column, an empty or duplicate sample name, an
        unsafe sample name (it becomes a directory name: no control characters, no ``/``), or
        an input file that does not exist.
    """
    if engine not in ENGINE_COLUMNS:
        raise UsageError(f"unknown engine {engine!r}; choose one of {sorted(ENGINE_COLUMNS)}")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such sample sheet")
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise InputError(f"{path}: empty sample sheet (expected a header row: "
                         f"{','.join(ENGINE_COLUMNS[engine][0])})")
    first = text.splitlines()[0]
    sep = "\t" if "\t" in first else ","
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    width = 0
    lines = []  # the file line of each sample row (pandas skips blank lines)
    for fields in rows:
        if not fields:
            continue
        if not width:
            width = len(fields)
        elif len(fields) != width:  # pandas would shift a longer row onto an index
            raise InputError(f"{path}:{rows.line_num}: {len(fields)} field"
                             f"{'s' if len(fields) != 1 else ''}, but the header has {width}")
        else:
            lines.append(rows.line_num)
    try:
        sheet = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: malformed sample sheet: {exc}") from None
    sheet.columns = [c.strip() for c in sheet.columns]
    sheet = sheet.apply(lambda column: column.str.strip())  # 'S1 ' is S1, 'ISR ' is ISR
    required, optional = ENGINE_COLUMNS[engine]
    missing = [c for c in required if c not in sheet.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing} for engine {engine!r} "
                         f"(expected {', '.join(required + optional)})")
    unknown = [c for c in sheet.columns if c not in required + optional]
    if unknown:
        raise InputError(f"{path}: unknown column(s) {unknown} for engine {engine!r} "
                         f"(allowed: {', '.join(required + optional)})")
    if sheet.empty:
        raise InputError(f"{path}: the sample sheet has a header but no samples")
    for line, name in zip(lines, sheet["sample"]):
        if not name.strip():
            raise InputError(f"{path}:{line}: empty sample name")
        if any(not c.isprintable() for c in name):
            raise InputError(f"{path}:{line}: sample name {name!r} holds a control character "
                             "(a newline, a tab...); sample names become folder names")
        if name in (".", "..") or "/" in name or name.startswith("."):
            raise InputError(f"{path}:{line}: sample name {name!r} cannot be a directory name")
        if name in MERGED_NAMES:
            raise InputError(f"{path}:{line}: sample name {name!r} is the name of a merged "
                             "output file of the batch; rename the sample")
    duplicated = sheet["sample"][sheet["sample"].duplicated()].unique().tolist()
    if duplicated:
        raise InputError(f"{path}: duplicate sample name(s) {duplicated}")
    if "libtype" in sheet.columns:
        from ..quant.bam import LIBRARY_TYPES

        for line, value in zip(lines, sheet["libtype"]):
            if value and value not in LIBRARY_TYPES:
                raise InputError(f"{path}:{line}: libtype {value!r} is not one of "
                                 f"{', '.join(LIBRARY_TYPES)} (or empty for the default)")
    input_column = required[1]
    resolved = []
    for line, value in zip(lines, sheet[input_column]):
        file = Path(value.strip())
        if not file.is_absolute():
            file = (path.parent / file).resolve()
        if not (file.is_file() or (engine == "mixture" and is_zarr(file))):
            where = "" if Path(value.strip()).is_absolute() else \
                f" (relative to the sheet's folder {path.parent.resolve()})"
            raise InputError(f"{path}:{line}: {input_column} file {value!r} does not "
                             f"exist{where}")
        resolved.append(str(file))
    sheet[input_column] = resolved
    return sheet.reset_index(drop=True)


