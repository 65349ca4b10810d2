"""``emseq mixture INPUT -k K -o OUT``: fit Gaussian mixtures to a table of numbers;
``emseq mixture predict MODEL INPUT -o OUT``: apply a saved model to new rows.

Fitting writes into ``OUT/`` (atomically: all files or none):

- ``parameters.tsv``: ``component, weight, mean_<feature>...``;
- ``covariances.npy``: the covariance matrix of every component, shape (K, D, D), whatever the
  covariance type (tied/diag/spherical expanded);
- ``assignments.tsv``: ``<id>, component, log_likelihood, p_0 ... p_{K-1}``: the identifier
  of each input row (its identifier column, else ``row`` numbered from 1 as in the input),
  its most probable component, its log-density under the model and the responsibilities;
- ``convergence.tsv``: the per-iteration record of the best run;
- ``model.npz``: the fitted model (``GaussianMixture.load``; no pickle, see
  :mod:`emseq.mixture._persistence`);
- ``selection.tsv`` (when ``-k`` or ``--covariance`` give several models): one row per fit,
  ``n_components, covariance_type, log_likelihood, n_parameters, bic, aic, converged,
  n_iter, seconds, best``;
- ``mixture.png``: the log-likelihood trace, the components (weights in the legend, 2-sd
  covariance ellipses) over two features, and the BIC/AIC curves when selecting.

A zarr array, or a ``.npy`` with ``--scheduler ADDRESS`` or ``--workers N``, is fitted on Dask
chunks that the workers read (:func:`emseq.io.arrays.open_array`), never loaded whole;
``assignments.tsv`` is then computed and written chunk by chunk (rows numbered from 1) and
``mixture.png`` shows a sample of :data:`PLOT_ROWS` rows.

Defaults are the API's (``--tol 1e-3``, ``--max-iter 100``, ``--n-init 1``, k-means init,
``--reg-covar 1e-6``) except ``--random-state 0``: the API's ``None`` would give a different
result at every run, a command line should be reproducible.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, UsageError
from . import _types

HELP = "fit a Gaussian mixture (scikit-learn compatible, Cython EM) to a TSV/CSV/NPY table"

logger = logging.getLogger("emseq.mixture")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="+", metavar="INPUT",
                        help="numeric table: .tsv/.txt (tab), .csv (comma) with an optional "
                        "header line (plain or gzipped), .npy (2-D array) or a zarr array "
                        "(fitted on Dask chunks, as a .npy with --scheduler/--workers); rows "
                        "are samples. `predict MODEL INPUT` applies OUT/model.npz of an earlier "
                        "fit to new rows")
    add_engine_arguments(parser)
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="join this Dask scheduler (tcp://host:8786), as emseq batch: a "
                        ".npy or zarr input is fitted on chunks its workers read, the fits of "
                        "a selection of a table run there")
    parser.add_argument("--workers", type=_types.int_range(1, 4096), default=None,
                        help="fit a .npy or zarr input on Dask chunks on an embedded local "
                        "cluster of this many worker processes (as emseq batch)")
    parser.add_argument("--chunk-rows", type=_types.int_range(1, 2**40), default=None,
                        metavar="N", help="rows per Dask chunk (default: about 64 MiB per "
                        "chunk of a .npy, a zarr array's own chunks)")


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of one table's fit: ``emseq mixture``'s and ``emseq batch --engine
    mixture``'s (one definition; :func:`check_fit_options` checks them)."""
    parser.add_argument("-k", "--components", "--n-components", dest="components",
                        metavar="K", help="number(s) of components: 3, a range 1-10, a list "
                        "2,4,8 or both (1-4,8); several values select the best by "
                        "--criterion")
    parser.add_argument("--covariance", "--covariance-type", dest="covariance",
                        action="append", metavar="TYPE",
                        help="covariance type(s): full, tied, diag, spherical; repeat the "
                        "option or give a comma list to select among them (default: full)")
    parser.add_argument("--criterion", choices=["bic", "aic"], default="bic",
                        help="model selection criterion (lower is better)")
    parser.add_argument("--max-iter", type=_types.int_range(1, 10**7), default=100, help="maximum EM iterations")
    parser.add_argument("--tol", type=_types.float_range(0.0), default=1e-3,
                        help="stop when the mean log-likelihood changes by less than this")
    parser.add_argument("--n-init", type=_types.int_range(1, 10**4), default=1, help="initialisations (best kept)")
    parser.add_argument("--init", "--init-params", dest="init",
                        choices=["kmeans", "k-means++", "random", "random_from_data"],
                        default="kmeans", help="initialisation method")
    parser.add_argument("--reg-covar", type=_types.float_range(0.0), default=1e-6,
                        help="added to the diagonal of the covariances")
    parser.add_argument("--seed", "--random-state", dest="seed", type=_types.int_range(0, 2**32 - 1), default=0,
                        help="random seed of the initialisation (the API's default is None; "
                        "0 here so that runs are reproducible)")
    parser.add_argument("--missing", choices=["error", "marginalize"], default="error",
                        help="empty/NA cells: reject (default) or integrate them out exactly")
    parser.add_argument("--hard", action="store_true",
                        help="classification EM (hard assignments, k-means-like)")
    parser.add_argument("--squarem", action="store_true", help="SQUAREM acceleration")
    parser.add_argument("--index-col", metavar="N|NAME",
                        help="identifier column (number from 1 or header name), kept as the "
                        "row id in assignments.tsv (default: the first column when none of "
                        "its cells is a number)")
    parser.add_argument("--columns", metavar="LIST",
                        help="features to use, comma-separated numbers (from 1) or names "
                        "(default: every column but the identifiers)")
    parser.add_argument("--plot-columns", metavar="A,B",
                        help="the two features on the scatter of mixture.png (default: the "
                        "first two)")
    parser.add_argument("--no-plot", action="store_true", help="do not write mixture.png")


_K_TOKEN = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_components(text: str) -> list[int]:
    """``"3"``, ``"1-10"``, ``"2,4,8"``, ``"1-4,8"`` -> sorted distinct component numbers."""
    values: set[int] = set()
    for token in str(text).split(","):
        match = _K_TOKEN.match(token)
        if not match:
            raise UsageError(f"-k/--components {text!r}: expected a number, a range like 1-10 "
                             "or a comma list like 2,4,8")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if low < 1:
            raise UsageError(f"-k/--components must be at least 1, got {text!r}")
        if high < low:
            raise UsageError(f"-k/--components {token.strip()!r}: the range ends before it "
                             f"starts; did you mean {high}-{low}?")
        values.update(range(low, high + 1))
    return sorted(values)


def parse_covariances(values: list[str] | None) -> list[str]:
    if not values:
        return ["full"]
    out: list[str] = []
    for value in values:
        for c in value.split(","):
            c = c.strip()
            if c not in ("full", "tied", "diag", "spherical"):
                raise UsageError(f"--covariance {c!r}: expected full, tied, diag or spherical")
            if c not in out:
                out.append(c)
    return out


@dataclass
class Table:
    """A numeric table read from the command line's input."""

    X: np.ndarray
    names: list[str]
    ids: list[str] | None = None  # the identifier column's values, one per row
    id_name: str = "row"
    file_columns: list[int] = field(default_factory=list)  # 1-based, as in the file


def _numeric(cell: str) -> bool:
    cell = cell.strip()
    if cell.upper() in ("", "NA", "NAN"):
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _column_index(spec: str, names: list[str] | None, width: int, path, option: str) -> int:
    """0-based index of a column given by 1-based number or by header name."""
    spec = spec.strip()
    if spec.isdigit():
        j = int(spec)
        if not 1 <= j <= width:
            raise UsageError(f"{option} {spec}: {path} has {width} columns (numbered from 1)")
        return j - 1
    if names is None or spec not in names:
        known = "no header line" if names is None else "columns " + ", ".join(names)
        raise UsageError(f"{option} {spec!r}: no such column in {path} ({known})")
    return names.index(spec)


def read_table(path: str | os.PathLike[str], index_col: str | None = None,
               columns: str | None = None) -> Table:
    """Read a numeric table (TSV/CSV with optional header, or NPY).

    The identifier column is ``index_col`` (1-based number or header name) or, when not
    given, a first column none of whose data cells is a number (``cell_id`` ...). ``columns``
    (comma-separated numbers or names) chooses the features; by default every other column.

    Raises
    ------
    InputError
        Missing, empty, ragged or non-numeric input, with the line and column at fault.
    UsageError
        An ``index_col`` or ``columns`` that names no column of the file.
    """
    import numpy as np
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.suffix == ".npy":
        if index_col is not None:
            raise UsageError(f"--index-col: {path} is a .npy array, it has no identifier column")
        try:
            X = np.load(path, allow_pickle=False, mmap_mode="r")
        except (ValueError, OSError) as exc:
            raise InputError(f"{path}: not a readable .npy array ({exc})") from None
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise InputError(f"{path}: expected a non-empty 2-D array, got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
            raise InputError(f"{path}: expected a real numeric array, got dtype {X.dtype}")
        names = [f"x{j + 1}" for j in range(X.shape[1])]
        keep = list(range(X.shape[1])) if columns is None else [
            _column_index(c, None, X.shape[1], path, "--columns") for c in columns.split(",")]
        return Table(np.asarray(X[:, keep], dtype=np.float64), [names[j] for j in keep],
                     file_columns=[j + 1 for j in keep])
    suffixes = [x.lower() for x in path.suffixes[-2:]]
    if suffixes[-1:] != [".gz"]:
        suffixes = suffixes[-1:]
    sep = "," if ".csv" in suffixes else "\t"
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8-sig", errors="replace") as handle:
            # blank lines are skipped; a line of empty cells (tabs only) is missing values
            rows = [(i, r) for i, r in enumerate(csv.reader(handle, delimiter=sep), start=1)
                    if len(r) > 1 or (r and r[0].strip())]
    except (OSError, EOFError) as exc:  # a corrupt or truncated gzip
        raise InputError(f"{path}: cannot read: {exc}") from None
    if not rows:
        raise InputError(f"{path}: empty file, expected a table of numbers")
    first = rows[0][1]
    width = len(first)
    for line, r in rows[1:]:
        if len(r) != width:
            raise InputError(f"{path}: line {line} has {len(r)} fields, expected {width} "
                             f"(as line {rows[0][0]}); the table is ragged")
    # an identifier column found by itself: the first column, when no data cell is a number
    auto_id = (index_col is None and width > 1 and len(rows) > 1
               and not any(_numeric(r[0]) for _, r in rows[1:]))
    skip = 0 if auto_id else (int(index_col) - 1 if index_col is not None
                              and index_col.strip().isdigit() else None)
    header = not all(_numeric(c) for j, c in enumerate(first) if j != skip)
    if index_col is not None and not index_col.strip().isdigit() and not header:
        raise UsageError(f"--index-col {index_col!r}: {path} has no header line; give the "
                         "column's number (from 1)")
    names = [c.strip() for c in first] if header else [f"x{j + 1}" for j in range(width)]
    header_names = names if header else None
    body = rows[1:] if header else rows
    if not body:
        raise InputError(f"{path}: a header line but no data rows")
    id_col = 0 if auto_id else (None if index_col is None else
                                _column_index(index_col, header_names, width, path,
                                              "--index-col"))
    if columns is not None:
        keep = [_column_index(c, header_names, width, path, "--columns")
                for c in columns.split(",") if c.strip()]
        if id_col is not None and id_col in keep:
            raise UsageError(f"--columns: column {id_col + 1} ({names[id_col]!r}) is the "
                             "identifier column")
    else:
        keep = [j for j in range(width) if j != id_col]
    if not keep:
        raise InputError(f"{path}: no numeric column besides the identifiers")
    X = np.empty((len(body), len(keep)))
    for out_j, j in enumerate(keep):
        column = pd.to_numeric(pd.Series([r[j].strip() for _, r in body]), errors="coerce")
        bad = column.isna().to_numpy() & ~np.array(
            [r[j].strip().upper() in ("", "NA", "NAN") for _, r in body])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            line, r = body[i]
            hint = (" (an identifier column? pass --index-col 1)" if j == 0 and id_col is None
                    else "")
            raise InputError(f"{path}: column {j + 1} ({names[j]!r}) is not numeric: "
                             f"{r[j]!r} on line {line}{hint}")
        X[:, out_j] = column.to_numpy(dtype=np.float64)
    ids = None
    id_name = "row"
    if id_col is not None:
        ids = [r[id_col].strip() for _, r in body]
        id_name = names[id_col] if header else "id"
    return Table(X, [names[j] for j in keep], ids, id_name, [j + 1 for j in keep])


#: Largest magnitude of a cell: squares and products of two stay far from float64's overflow
MAX_MAGNITUDE = 1e100


def _check_cells(table: Table, path: str, missing: str) -> None:
    """Reject infinite and (unless marginalised) missing cells, numbering rows from 1 as
    ``assignments.tsv`` does and columns from 1 as in the file."""
    import numpy as np

    X, names = table.X, table.names
    numbers = table.file_columns or list(range(1, X.shape[1] + 1))

    def where(i: int, j: int) -> str:
        return f"{path}: row {i + 1}, column {numbers[j]} ({names[j]!r})"

    bad = np.argwhere(np.isinf(X))
    if bad.size:
        raise InputError(f"{where(*bad[0])} is infinite; only finite values are allowed")
    with np.errstate(invalid="ignore"):
        huge = np.argwhere(np.abs(X) > MAX_MAGNITUDE)
    if huge.size:
        i, j = huge[0]
        raise InputError(f"{where(i, j)} is {X[i, j]:.3g}: beyond +-{MAX_MAGNITUDE:.0e} the "
                         "squares and covariances overflow; scale the data (e.g. take logs)")
    nan = np.isnan(X)
    if not nan.any():
        return
    if missing != "marginalize":
        i, j = np.argwhere(nan)[0]
        raise InputError(f"{where(i, j)} is missing; pass --missing marginalize to integrate "
                         "missing cells out exactly, or impute them first")
    empty = np.flatnonzero(nan.all(axis=1))
    if empty.size:
        raise InputError(f"{path}: row {empty[0] + 1} has no observed value; drop it")
    empty = np.flatnonzero(nan.all(axis=0))
    if empty.size:
        j = int(empty[0])
        raise InputError(f"{path}: column {numbers[j]} ({names[j]!r}) has no observed value; "
                         "drop it")


def _row_ids(table: Table) -> tuple[str, object]:
    import numpy as np

    if table.ids is None:
        return "row", np.arange(1, table.X.shape[0] + 1)
    return table.id_name, table.ids


def _assignments(id_name: str, ids, gm, frame) -> pd.DataFrame:
    """The rows of ``assignments.tsv`` for ``frame`` (whose rows ``ids`` name)."""
    import pandas as pd

    proba = gm.predict_proba(frame)
    out = pd.DataFrame({id_name: ids, "component": proba.argmax(axis=1),
                        "log_likelihood": gm.score_samples(frame)})
    for k in range(proba.shape[1]):
        out[f"p_{k}"] = proba[:, k]
    return out


#: rows of a Dask input drawn for the scatter of mixture.png
PLOT_ROWS = 20_000


def _plot_sample(X, seed: int) -> np.ndarray:
    """A uniform sample of at most :data:`PLOT_ROWS` rows of a dask array, in memory."""
    import numpy as np

    n = X.shape[0]
    if n <= PLOT_ROWS:
        return np.asarray(X.compute(), dtype=np.float64)
    rows = np.sort(np.random.default_rng(seed).choice(n, PLOT_ROWS, replace=False))
    return np.asarray(X[rows].compute(), dtype=np.float64)


def _chunk_assignments(X, gm, client):
    """``assignments.tsv`` of a dask array, one DataFrame per row-chunk in order, computed
    on the workers a few chunks ahead of the writer (never the whole table in memory)."""
    import numpy as np

    import dask

    @dask.delayed(pure=True)
    def part(block, first_row):
        block = np.asarray(block)
        return _assignments("row", np.arange(first_row, first_row + len(block)), model, block)

    model = gm._without_client()
    model.__dict__.pop("feature_names_in_", None)  # chunks are arrays: features by position
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    starts = np.concatenate([[1], 1 + np.cumsum(X.chunks[0])])
    blocks = X.to_delayed().ravel()
    ahead = 2 * max(1, len(client.scheduler_info()["workers"]))
    futures = [client.compute(part(b, int(s))) for b, s in zip(blocks[:ahead], starts)]
    for i in range(len(blocks)):
        if i + ahead < len(blocks):
            futures.append(client.compute(part(blocks[i + ahead], int(starts[i + ahead]))))
        yield futures[i].result()
        futures[i] = None


def _plot_coords(spec: str | None, names: list[str]) -> tuple[int, int]:
    if spec is None:
        return (0, 1)
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) != 2:
        raise UsageError(f"--plot-columns {spec!r}: give two features, e.g. CD4,CD8")
    out = []
    for p in parts:
        if p in names:
            out.append(names.index(p))
        elif p.isdigit() and 1 <= int(p) <= len(names):
            out.append(int(p) - 1)
        else:
            raise UsageError(f"--plot-columns {p!r}: not a feature (features: "
                             f"{', '.join(names)})")
    return out[0], out[1]


def check_fit_options(args: argparse.Namespace) -> tuple[list[int], list[str]]:
    """Check the fit options of :func:`add_engine_arguments`; the components and covariance
    types to fit (:class:`~emseq.errors.UsageError` when an option is wrong)."""
    if args.components is None:
        raise UsageError("-k/--components is required to fit (e.g. -k 3, -k 1-10, -k 2,4,8)")
    ks = parse_components(args.components)
    covs = parse_covariances(args.covariance)
    _check_options(args)
    return ks, covs


def _check_options(args: argparse.Namespace) -> None:
    if args.max_iter < 1 or args.n_init < 1:
        raise UsageError("--max-iter and --n-init must be at least 1")
    if args.tol < 0 or args.reg_covar < 0:
        raise UsageError("--tol and --reg-covar must be non-negative")


def run(args: argparse.Namespace) -> int:
    if args.input[0] == "predict" and len(args.input) != 1:
        if len(args.input) != 3:
            raise UsageError("usage: emseq mixture predict MODEL INPUT -o OUT")
        return run_predict(args, args.input[1], args.input[2])
    if len(args.input) != 1:
        raise UsageError(f"one input table expected, got {len(args.input)}: "
                         f"{' '.join(args.input)}")
    return run_fit(args, args.input[0])


def _on_dask(args: argparse.Namespace, input_path: str) -> bool:
    """Whether the input is fitted on Dask chunks: a zarr array, or a .npy with
    ``--scheduler``/``--workers``; other inputs take neither ``--workers`` nor
    ``--chunk-rows``."""
    from ..io.arrays import is_zarr

    array = is_zarr(input_path) or Path(input_path).suffix == ".npy"
    lazy = is_zarr(input_path) or (array and bool(args.scheduler or args.workers))
    if not array and (args.workers or args.chunk_rows):
        raise UsageError("--workers and --chunk-rows fit a .npy or zarr input on Dask "
                         f"chunks; {input_path} is a text table, read in memory")
    if not lazy and args.chunk_rows:
        raise UsageError(f"--chunk-rows: {input_path} is fitted in memory; add --workers N "
                         "or --scheduler ADDRESS to fit it on Dask chunks")
    if lazy and args.scheduler and args.workers:
        raise UsageError("--scheduler and --workers exclude each other")
    if lazy and args.index_col is not None:
        raise UsageError(f"--index-col: {input_path} is an array, it has no identifier column")
    return lazy


def _lazy_input(args: argparse.Namespace, input_path: str):
    """The input as a dask array of the chosen columns, and the feature names."""
    from ..io.arrays import open_array

    X = open_array(input_path, args.chunk_rows)
    if args.columns is not None:
        keep = [_column_index(c, None, X.shape[1], input_path, "--columns")
                for c in args.columns.split(",") if c.strip()]
        X = X[:, keep]
    else:
        keep = list(range(X.shape[1]))
    return X, [f"x{j + 1}" for j in keep]


def run_fit(args: argparse.Namespace, input_path: str, client=None) -> int:
    """Fit (or select) the mixture of ``input_path`` and write ``args.output``; a lazy input
    (:func:`_on_dask`) is fitted on ``client`` when given (a batch task's own cluster), else
    on ``--scheduler`` or an embedded LocalCluster of ``--workers``."""
    import numpy as np
    import pandas as pd

    from ..batch.cluster import open_client

    ks, covs = check_fit_options(args)
    if not _on_dask(args, input_path):
        table = read_table(input_path, args.index_col, args.columns)
        _check_cells(table, input_path, args.missing)
        frame = pd.DataFrame(table.X, columns=table.names, copy=False)
        if args.scheduler and (len(ks) > 1 or len(covs) > 1):
            with open_client(scheduler=args.scheduler) as workers:
                return _fit_and_write(args, input_path, ks, covs, frame, table,
                                      workers.client)
        return _fit_and_write(args, input_path, ks, covs, frame, table, None)
    X, names = _lazy_input(args, input_path)
    with open_client(client, scheduler=args.scheduler, n_workers=args.workers) as workers:
        return _fit_and_write(args, input_path, ks, covs, X,
                              Table(np.empty((0, len(names))), names), workers.client)


def _fit_and_write(args, input_path: str, ks: list[int], covs: list[str], X, table: Table,
                   client) -> int:
    """Fit (or select) on ``X`` (a DataFrame, or a dask array fitted on ``client``) and
    write the outputs; ``table`` gives the feature names and the row identifiers."""
    import numpy as np
    import pandas as pd

    from ..io.atomic import atomic_output_dir, write_tsv, write_tsv_parts
    from ..mixture import GaussianMixture, select
    from ..mixture._dask import is_dask_array
    from ..mixture._gmm import _full_covariances
    from ..mixture._plot import plot_mixture

    lazy = is_dask_array(X)
    names = table.names
    n, d = X.shape
    if n < max(ks):
        raise InputError(f"{input_path}: {n} rows for {max(ks)} components; need at "
                         "least as many rows as components")
    if n < 2:
        raise InputError(f"{input_path}: 1 row; a mixture needs at least 2")
    coords = _plot_coords(args.plot_columns, names) if d >= 2 else (0, 0)
    params = dict(tol=args.tol, max_iter=args.max_iter, n_init=args.n_init,
                  init_params=args.init, reg_covar=args.reg_covar, random_state=args.seed,
                  missing=args.missing, hard=args.hard,
                  acceleration="squarem" if args.squarem else None)
    where = f" on Dask chunks ({len(X.chunks[0])})" if lazy else ""
    selection = None
    if len(ks) == 1 and len(covs) == 1:
        logger.info("fitting %d %s-covariance components to %d rows x %d features%s",
                    ks[0], covs[0], n, d, where)
        gm = GaussianMixture(ks[0], covariance_type=covs[0], n_threads=args.threads,
                             client=client if lazy else None, **params).fit(X)
    else:
        logger.info("selecting among %d models (K in %s; %s) by %s on %d rows x %d "
                    "features%s", len(ks) * len(covs), args.components, ",".join(covs),
                    args.criterion.upper(), n, d, where)
        gm, selection = select(X, ks, covs, criterion=args.criterion, client=client,
                               n_jobs=args.threads, **params)
        for row in selection.itertuples(index=False):
            logger.info("K=%d %s: BIC %.6g AIC %.6g%s", row.n_components, row.covariance_type,
                        row.bic, row.aic, "  <- best" if row.best else "")
    logger.info("%s after %d iterations; mean log-likelihood %.6f",
                "converged" if gm.converged_ else "NOT converged", gm.n_iter_, gm.lower_bound_)
    K = gm.n_components
    params_table = pd.DataFrame({"component": np.arange(K), "weight": gm.weights_})
    for j, name in enumerate(names):
        params_table[f"mean_{name}"] = gm.means_[:, j]
    covariances = _full_covariances(np.asarray(gm.covariances_, dtype=np.float64),
                                    gm.covariance_type, K, d)
    if lazy:
        shown = _plot_sample(X, args.seed)
        labels = gm.predict(shown)
    else:
        assignments = _assignments(*_row_ids(table), gm, X)
        shown, labels = table.X, assignments["component"].to_numpy()
    with atomic_output_dir(args.output, force=args.force) as stage:
        write_tsv(params_table, stage / "parameters.tsv", float_format="%.10g")
        np.save(stage / "covariances.npy", np.ascontiguousarray(covariances))
        if lazy:
            write_tsv_parts(_chunk_assignments(X, gm, client), stage / "assignments.tsv",
                            float_format="%.6g")
        else:
            write_tsv(assignments, stage / "assignments.tsv", float_format="%.6g")
        write_tsv(gm.convergence_, stage / "convergence.tsv", float_format="%.12g")
        gm.save(stage / "model.npz")
        if selection is not None:
            write_tsv(selection, stage / "selection.tsv", float_format="%.10g")
        if not args.no_plot:
            plot_mixture(stage / "mixture.png", shown, labels, gm, names, covariances,
                         coords, selection, args.criterion)
    # a re-run replaces files one by one: drop what an earlier fit wrote and this one did not
    if args.no_plot:
        Path(args.output, "mixture.png").unlink(missing_ok=True)
    if selection is None:
        Path(args.output, "selection.tsv").unlink(missing_ok=True)
    logger.info("wrote %s", args.output)
    return 0


def run_predict(args: argparse.Namespace, model_path: str, input_path: str) -> int:
    import pandas as pd

    from ..io.atomic import atomic_output_dir, write_tsv
    from ..mixture import GaussianMixture

    gm = GaussianMixture.load(model_path)
    expected = list(getattr(gm, "feature_names_in_", []))
    positional = all(n.startswith("x") and n[1:].isdigit() for n in expected)
    if _on_dask(args, input_path):
        return _predict_on_dask(args, gm, model_path, input_path, positional)
    table = read_table(input_path, args.index_col, args.columns)
    names = table.names
    if expected and positional and names == [f"x{j + 1}" for j in range(len(names))]:
        pass  # header-less tables on both sides: columns by position
    elif expected:
        missing = [n for n in expected if n not in names]
        if missing:
            raise InputError(f"{input_path}: no column {', '.join(map(repr, missing))} of the "
                             f"model {model_path} (model features: {', '.join(expected)}; "
                             f"input: {', '.join(names)})")
        order = [names.index(n) for n in expected]
        table = Table(table.X[:, order], expected, table.ids, table.id_name,
                      [table.file_columns[j] for j in order] if table.file_columns else [])
        names = expected
    if table.X.shape[1] != gm.n_features_in_:
        raise InputError(f"{input_path}: {table.X.shape[1]} features, the model {model_path} "
                         f"has {gm.n_features_in_}")
    _check_cells(table, input_path, gm.missing)
    frame = pd.DataFrame(table.X, columns=expected or names, copy=False)
    assignments = _assignments(*_row_ids(table), gm, frame)
    with atomic_output_dir(args.output) as stage:
        write_tsv(assignments, stage / "assignments.tsv", float_format="%.6g")
    logger.info("assigned %d rows of %s with %s; mean log-likelihood %.6f", len(assignments),
                input_path, model_path, float(assignments["log_likelihood"].mean()))
    return 0


def _predict_on_dask(args, gm, model_path: str, input_path: str, positional: bool) -> int:
    """``predict`` of a .npy or zarr input on Dask chunks (features by position)."""
    from ..batch.cluster import open_client
    from ..io.atomic import atomic_output_dir, write_tsv_parts

    X, _ = _lazy_input(args, input_path)
    if not positional:
        raise InputError(f"{input_path}: an array has no feature names, the model "
                         f"{model_path} has ({', '.join(gm.feature_names_in_)}); predict on "
                         "a table with these columns")
    if X.shape[1] != gm.n_features_in_:
        raise InputError(f"{input_path}: {X.shape[1]} features, the model {model_path} "
                         f"has {gm.n_features_in_}")
    with open_client(scheduler=args.scheduler, n_workers=args.workers) as workers:
        with atomic_output_dir(args.output) as stage:
            write_tsv_parts(_chunk_assignments(X, gm, workers.client),
                            stage / "assignments.tsv", float_format="%.6g")
    logger.info("assigned %d rows of %s with %s on Dask chunks", X.shape[0], input_path,
                model_path)
    return 0
