"""Write outputs so that a failed or interrupted run never leaves a half-written file.

Files are written as ``name.tmp`` beside their final place and renamed with ``os.replace``
(atomic on POSIX). A whole output directory can be staged with :func:`atomic_output_dir`: the
engine writes into a hidden sibling directory, which is moved into place only when the block
finishes without an exception; on error the staging directory is removed and the destination
is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator

import pandas as pd

__all__ = ["atomic_output_dir", "atomic_write", "write_tsv"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open ``path.tmp`` for writing and rename it to ``path`` when the block succeeds."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
    try:
        with open(tmp, mode, **open_kwargs) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_tsv(frame: pd.DataFrame, path: str | os.PathLike[str], *, index: bool = False,
              float_format: str | None = None) -> None:
    """Write a DataFrame as a tab-separated table, atomically.

    Tables of text, integer and float columns are formatted in C
    (:func:`emseq.io.table.format_tsv`), the same bytes as pandas writes; others by pandas.
    """
    from .table import format_tsv

    text = None if index else format_tsv(frame, float_format)
    if text is not None:
        with atomic_write(path, "wb") as handle:
            handle.write(text)
        return
    with atomic_write(path, newline="") as handle:
        frame.to_csv(handle, sep="\t", index=index, float_format=float_format,
                     lineterminator="\n")


@contextlib.contextmanager
def atomic_output_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Stage an output directory and move it into place only if the block succeeds.

    Yields the staging directory to write into. If ``path`` does not exist it is created by a
    single rename; if it exists, each staged file replaces its namesake there (other files in
    ``path`` are kept), so a re-run overwrites a previous result file by file, atomically.
    """
    final = Path(path)
    parent = final.parent if str(final.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        from ..errors import UsageError

        raise UsageError(f"output directory {final}: {parent} is not a directory")
    if final.exists() and not final.is_dir():
        from ..errors import UsageError

        raise UsageError(f"output directory {final} exists and is not a directory")
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=parent))
    try:
        yield stage
        if not final.exists():
            os.rename(stage, final)
            return
        for source in sorted(stage.rglob("*")):
            target = final / source.relative_to(stage)
            if source.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                os.replace(source, target)
        shutil.rmtree(stage, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
