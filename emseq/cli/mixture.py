"""``emseq mixture INPUT -k K -o OUT``: fit a Gaussian mixture to a table of numbers.

Writes into ``OUT/`` (atomically: all files or none):

- ``parameters.tsv``: ``component, weight, mean_<feature>...``;
- ``covariances.npy``: the covariance matrix of every component, shape (K, D, D), whatever the
  covariance type (tied/diag/spherical expanded);
- ``assignments.tsv``: ``row, component, p_0 ... p_{K-1}`` (most probable component and the
  responsibilities of every input row, rows numbered from 1 as in the input);
- ``convergence.tsv``: the per-iteration record of the best run;
- ``mixture.png``: the log-likelihood trace and the clusters on the first two coordinates.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, UsageError

HELP = "fit a Gaussian mixture (scikit-learn compatible, Cython EM) to a TSV/CSV/NPY table"

logger = logging.getLogger("emseq.mixture")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="numeric table: .tsv/.txt (tab), .csv (comma) with an "
                        "optional header line (plain or gzipped), or .npy (2-D array); rows are samples")
    parser.add_argument("-k", "--components", type=int, required=True, metavar="K",
                        help="number of mixture components")
    parser.add_argument("--covariance", choices=["full", "tied", "diag", "spherical"],
                        default="full", help="covariance type")
    parser.add_argument("--max-iter", type=int, default=500, help="maximum EM iterations")
    parser.add_argument("--tol", type=float, default=1e-6,
                        help="stop when the mean log-likelihood changes by less than this")
    parser.add_argument("--n-init", type=int, default=1, help="initialisations (best kept)")
    parser.add_argument("--init", choices=["kmeans", "k-means++", "random", "random_from_data"],
                        default="kmeans", help="initialisation method")
    parser.add_argument("--reg-covar", type=float, default=1e-6,
                        help="added to the diagonal of the covariances")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the initialisation")
    parser.add_argument("--missing", choices=["error", "marginalize"], default="error",
                        help="empty/NA cells: reject (default) or integrate them out exactly")
    parser.add_argument("--hard", action="store_true",
                        help="classification EM (hard assignments, k-means-like)")
    parser.add_argument("--squarem", action="store_true", help="SQUAREM acceleration")
    parser.add_argument("--no-plot", action="store_true", help="do not write mixture.png")


def read_table(path: str | os.PathLike[str]) -> tuple[np.ndarray, list[str]]:
    """Read a numeric table (TSV/CSV with optional header, or NPY) as float64 + feature names.

    Raises
    ------
    InputError
        Missing, empty, ragged or non-numeric input, with the line and column at fault.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.suffix == ".npy":
        try:
            X = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputError(f"{path}: not a readable .npy array ({exc})") from None
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise InputError(f"{path}: expected a non-empty 2-D array, got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
            raise InputError(f"{path}: expected a real numeric array, got dtype {X.dtype}")
        return np.asarray(X, dtype=np.float64), [f"x{j + 1}" for j in range(X.shape[1])]
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

    def numeric(cell: str) -> bool:
        cell = cell.strip()
        if cell.upper() in ("", "NA", "NAN"):
            return True
        try:
            float(cell)
        except ValueError:
            return False
        return True

    header = not all(numeric(c) for c in first)
    names = [c.strip() for c in first] if header else [f"x{j + 1}" for j in range(len(first))]
    body = rows[1:] if header else rows
    if not body:
        raise InputError(f"{path}: a header line but no data rows")
    width = len(first)
    for line, r in body:
        if len(r) != width:
            raise InputError(f"{path}: line {line} has {len(r)} fields, expected {width} "
                             f"(as line {rows[0][0]}); the table is ragged")
    X = np.empty((len(body), width))
    for j in range(width):
        column = pd.to_numeric(pd.Series([r[j].strip() for _, r in body]), errors="coerce")
        bad = column.isna().to_numpy() & ~np.array(
            [r[j].strip().upper() in ("", "NA", "NAN") for _, r in body])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            line, r = body[i]
            raise InputError(f"{path}: column {j + 1} ({names[j]!r}) is not numeric: "
                             f"{r[j]!r} on line {line}")
        X[:, j] = column.to_numpy(dtype=np.float64)
    return X, names


def _check_cells(X: np.ndarray, names: list[str], path: str, missing: str) -> None:
    """Reject infinite and (unless marginalised) missing cells, numbering rows from 1 as
    ``assignments.tsv`` does and columns from 1 as in the file."""

    def where(i: int, j: int) -> str:
        return f"{path}: row {i + 1}, column {j + 1} ({names[j]!r})"

    bad = np.argwhere(np.isinf(X))
    if bad.size:
        raise InputError(f"{where(*bad[0])} is infinite; only finite values are allowed")
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
        raise InputError(f"{path}: column {j + 1} ({names[j]!r}) has no observed value; drop it")


def _plot(path: Path, X: np.ndarray, labels: np.ndarray, gm, names: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    trace = gm.convergence_
    axes[0].plot(trace["iteration"], trace["log_likelihood"], marker=".")
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("mean log-likelihood")
    axes[0].set_title("EM convergence")
    if X.shape[1] >= 2:
        keep = ~np.isnan(X[:, :2]).any(axis=1)
        axes[1].scatter(X[keep, 0], X[keep, 1], c=labels[keep], s=4, cmap="tab10", alpha=0.6)
        axes[1].scatter(gm.means_[:, 0], gm.means_[:, 1], c="black", marker="x", s=60)
        axes[1].set_xlabel(names[0])
        axes[1].set_ylabel(names[1])
    else:
        keep = ~np.isnan(X[:, 0])
        for k in np.unique(labels[keep]):
            axes[1].hist(X[keep & (labels == k), 0], bins=50, alpha=0.6, label=f"component {k}")
        axes[1].set_xlabel(names[0])
        axes[1].legend()
    axes[1].set_title(f"{gm.n_components} components ({gm.covariance_type})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    from ..io.atomic import atomic_output_dir, write_tsv
    from ..mixture import GaussianMixture
    from ..mixture._gmm import _full_covariances

    if args.components < 1:
        raise UsageError(f"-k/--components must be at least 1, got {args.components}")
    if args.max_iter < 1 or args.n_init < 1:
        raise UsageError("--max-iter and --n-init must be at least 1")
    if args.tol < 0 or args.reg_covar < 0:
        raise UsageError("--tol and --reg-covar must be non-negative")
    X, names = read_table(args.input)
    _check_cells(X, names, args.input, args.missing)
    n, d = X.shape
    if n < args.components:
        raise InputError(f"{args.input}: {n} rows for {args.components} components; need at "
                         "least as many rows as components")
    logger.info("fitting %d %s-covariance components to %d rows x %d features",
                args.components, args.covariance, n, d)
    gm = GaussianMixture(args.components, covariance_type=args.covariance, tol=args.tol,
                         max_iter=args.max_iter, n_init=args.n_init, init_params=args.init,
                         reg_covar=args.reg_covar, random_state=args.seed,
                         n_threads=args.threads, missing=args.missing, hard=args.hard,
                         acceleration="squarem" if args.squarem else None)
    gm.fit(X)
    proba = gm.predict_proba(X)
    labels = gm.predict(X)
    logger.info("%s after %d iterations; mean log-likelihood %.6f",
                "converged" if gm.converged_ else "NOT converged", gm.n_iter_, gm.lower_bound_)
    params = pd.DataFrame({"component": np.arange(args.components), "weight": gm.weights_})
    for j, name in enumerate(names):
        params[f"mean_{name}"] = gm.means_[:, j]
    assignments = pd.DataFrame({"row": np.arange(1, n + 1), "component": labels})
    for k in range(args.components):
        assignments[f"p_{k}"] = proba[:, k]
    covariances = _full_covariances(np.asarray(gm.covariances_, dtype=np.float64),
                                    args.covariance, args.components, d)
    with atomic_output_dir(args.output) as stage:
        write_tsv(params, stage / "parameters.tsv", float_format="%.10g")
        np.save(stage / "covariances.npy", np.ascontiguousarray(covariances))
        write_tsv(assignments, stage / "assignments.tsv", float_format="%.6g")
        write_tsv(gm.convergence_, stage / "convergence.tsv", float_format="%.12g")
        if not args.no_plot:
            _plot(stage / "mixture.png", X, labels, gm, names)
    if args.no_plot:  # a re-run replaces files one by one: drop a plot of an earlier fit
        Path(args.output, "mixture.png").unlink(missing_ok=True)
    logger.info("wrote %s", args.output)
    return 0
