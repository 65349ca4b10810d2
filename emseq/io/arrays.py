"""Arrays on disk as ``dask.array`` row-chunks that the workers read by path.

:func:`open_array` opens a ``.npy`` file (memory-mapped by each task, never loaded whole) or a
zarr array (its own chunks) lazily: the task graph holds the path, not the data, so the
workers of a cluster read their rows from a file system they share with the client, and an
array larger than the memory of the machine (or of the workers) is read chunk by chunk.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError

__all__ = ["CHUNK_BYTES", "is_zarr", "open_array"]

#: default size of a row-chunk of a ``.npy`` file (whole rows, at least one)
CHUNK_BYTES = 64 * 2**20


class _NpyRows:
    """A ``.npy`` file as an array-like for ``dask.array.from_array``: ``shape``, ``dtype``
    and slicing, each slice read through a fresh memory map (closed after the copy, so a
    worker does not keep file pages mapped). Pickles as its path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        header = np.load(path, mmap_mode="r", allow_pickle=False)
        self.shape, self.dtype, self.ndim = header.shape, header.dtype, header.ndim
        stat = path.stat()
        self._token = (str(path), stat.st_size, stat.st_mtime_ns)
        del header

    def __dask_tokenize__(self):
        return self._token

    def __getitem__(self, index):
        rows = np.load(self.path, mmap_mode="r", allow_pickle=False)
        try:
            return np.array(rows[index])
        finally:
            del rows


def is_zarr(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a zarr array or group folder (v2 ``.zarray``/``.zgroup``, v3
    ``zarr.json``) or is named ``*.zarr``."""
    path = Path(path)
    return path.suffix == ".zarr" or (path.is_dir() and any(
        (path / name).is_file() for name in (".zarray", ".zgroup", "zarr.json")))


def open_array(path: str | os.PathLike[str], chunk_rows: int | None = None):
    """A 2-D ``.npy`` file or zarr array as a lazy ``dask.array`` of whole-row chunks.

    Parameters
    ----------
    path : str or path-like
        A ``.npy`` file, or a zarr array (a folder; a zarr group holding one array is
        accepted too).
    chunk_rows : int, optional
        Rows per chunk. Default: a ``.npy`` is cut into chunks of about
        :data:`CHUNK_BYTES`; a zarr array keeps its own row chunks.

    Returns
    -------
    X : dask.array.Array of shape (n_samples, n_features)
        Numbers (integers or floats); nothing is read until computed.

    Raises
    ------
    InputError
        A missing or unreadable file, an array that is not 2-D or empty, or not real numbers.
    UsageError
        ``chunk_rows`` below 1, or a zarr input without the ``zarr`` package.
    """
    import dask.array as da

    path = Path(path)
    if chunk_rows is not None and chunk_rows < 1:
        raise UsageError(f"chunk_rows must be at least 1, got {chunk_rows}")
    if is_zarr(path):
        X = _open_zarr(path)
        if chunk_rows is not None:
            X = X.rechunk({0: chunk_rows, 1: -1})
    else:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        try:
            rows = _NpyRows(path)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{path}: not a readable .npy array ({exc})") from None
        _check_shape(path, rows.shape, rows.dtype)
        if chunk_rows is None:
            chunk_rows = max(1, CHUNK_BYTES // max(1, rows.shape[1] * rows.dtype.itemsize))
        X = da.from_array(rows, chunks=(chunk_rows, -1), asarray=True, lock=False,
                          name=f"npy-{da.core.tokenize(rows)}")
    return X


def _open_zarr(path: Path):
    import dask.array as da

    try:
        import zarr
    except ImportError:
        raise UsageError(f"{path} is a zarr store; install the zarr package (pip install "
                         "zarr) to read it") from None
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:  # zarr raises several kinds for a folder that is not zarr
        raise InputError(f"{path}: not a readable zarr array ({exc})") from None
    if not hasattr(node, "shape"):  # a group: take its only array
        arrays = list(node.array_keys())
        if len(arrays) != 1:
            raise InputError(f"{path}: a zarr group with {len(arrays)} arrays "
                             f"({', '.join(arrays) or 'none'}); give the path of one")
        node = node[arrays[0]]
    _check_shape(path, node.shape, node.dtype)
    return da.from_zarr(node)


def _check_shape(path: Path, shape, dtype) -> None:
    if len(shape) != 2 or shape[0] == 0 or shape[1] == 0:
        raise InputError(f"{path}: expected a non-empty 2-D array, got shape {tuple(shape)}")
    dtype = np.dtype(dtype)
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise InputError(f"{path}: expected a real numeric array, got dtype {dtype}")
