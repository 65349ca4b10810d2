"""emseq.mixture.GaussianMixture vs sklearn.mixture.GaussianMixture, side by side.

Both estimators start from the same initial parameters (weights_init, means_init,
precisions_init), run with tol=0 for a fixed number of iterations, in the same process, one
configuration after the other. Per configuration the table reports:

- ``sk_cpu_it`` / ``em_cpu_it``: CPU seconds (of the calling thread, where both compute at one
  thread) per EM iteration at 1 thread (BLAS held to one thread for scikit-learn,
  ``n_threads=1`` for emseq), measured as the difference between a
  run of ``1 + ITER`` iterations and a run of 1 iteration, divided by ``ITER`` (so setup and
  scikit-learn's final E-step cancel out), fastest of ``--repeats`` runs; ``speedup`` is
  their ratio;
- ``sk_wall2_it`` / ``em_wall2_it``: wall seconds per iteration with 2 threads (emseq: the
  median of its per-iteration record, robust to a stall of a shared machine), ``em_wall1_it``
  the same at 1 thread, and ``em_2v1`` = emseq's 1-thread wall / 2-thread wall;
- ``sk_mem_x`` / ``em_mem_x``: peak memory allocated during ``fit`` (tracemalloc, which sees
  every NumPy allocation) over the size of X; emseq's kernel scratch (malloc'd per thread,
  ``128 * (3 D + K + 2) * 8`` bytes) is added to its figure;
- ``bound_s`` and ``sk_frac`` / ``em_frac``: the machine bound of one iteration, the larger of
  the minimal arithmetic at the measured 1-thread DGEMM rate and one read of X at the measured
  1-thread memory bandwidth, and the fraction of it each implementation reaches
  (bound / measured CPU time per iteration);
- ``ll_rel_diff``: the largest relative difference between the two log-likelihood traces.

Minimal arithmetic per iteration (multiply-adds counted as 2 flops): full ``2 N K D^2``
(triangular solve and rank-1 update) ``+ 8 N K D``; tied ``N D^2 + 8 N K D``; diag and
spherical ``8 N K D``.

Usage: ``python benchmarks/bench_mixture.py [--n 100000 1000000] [--iter 5]``; the table is
printed and written to ``benchmarks/results/mixture.tsv`` (and ``.md``).

``--end-to-end``: instead, whole ``fit`` calls with the default initialisation, side by side:
(a) small data sets (iris, wine, breast cancer; median wall seconds of ``--repeats`` fits,
``ratio`` = scikit-learn's time / emseq's), (b) peak memory of ``fit`` over the size of X for
every ``init_params`` at ``--n`` rows (tracemalloc). Written to
``benchmarks/results/mixture_end_to_end.tsv``.

``--dask``: out of core. Writes ``--n`` rows (default 10^8) x ``--dask-d`` (16) float64 rows
of a mixture to ``benchmarks/work/`` as a ``.npy`` (12.8 GB; deleted at the end), then
(a) fits the first ``--subset`` rows (default 10^7) in memory at 2 threads, (b) fits all of
it on a LocalCluster of 2 single-threaded worker processes with ``--memory-limit`` each (so X
is larger than the memory given to the workers), the chunks read by the workers from the
memory-mapped file (:func:`emseq.io.arrays.open_array`). Both start from the same
parameters and run ``--iter`` iterations with ``tol=0``. Per iteration: the median of the
estimator's own record (``convergence_["seconds"]``); ``ratio`` = Dask rows/s over in-memory
rows/s. Also the fit's other costs (the one pass that checks the data and centres it, the
start) and the file's state in the page cache. Written to
``benchmarks/results/mixture_dask.tsv`` and ``.md``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's emseq
from emseq.mixture import GaussianMixture  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CONFIGS = [(2, 16), (16, 16), (64, 4)]
COV_TYPES = ["full", "tied", "diag", "spherical"]


def machine_bound() -> tuple[float, float]:
    """1-thread DGEMM rate (flop/s) and memory read bandwidth (byte/s), best of 3."""
    with threadpool_limits(limits=1, user_api="blas"):
        a = np.random.default_rng(0).random((1500, 1500))
        b = a.copy()
        best = np.inf
        for _ in range(3):
            t = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t)
        gflops = 2 * 1500**3 / best
    big = np.ones(50_000_000)  # 400 MB
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        big.sum()
        best = min(best, time.perf_counter() - t)
    bandwidth = big.nbytes / best
    del big
    return gflops, bandwidth


def min_flops(n: int, d: int, k: int, cov: str) -> float:
    if cov == "full":
        return 2 * n * k * d * d + 8 * n * k * d
    if cov == "tied":
        return n * d * d + 8 * n * k * d
    return 8 * n * k * d


def simulate(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 4.0, size=(k, d))
    z = rng.integers(0, k, size=n)
    return centers[z] + rng.normal(size=(n, d))


def initial(X: np.ndarray, k: int, cov: str, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    means = X[rng.choice(len(X), k, replace=False)]
    prec = np.linalg.inv(np.cov(X[:20000].T).reshape(d, d))
    precisions = {"full": np.repeat(prec[None], k, axis=0), "tied": prec,
                  "diag": np.repeat(np.diag(prec)[None], k, axis=0),
                  "spherical": np.full(k, np.mean(np.diag(prec)))}[cov]
    return dict(weights_init=np.full(k, 1.0 / k), means_init=means, precisions_init=precisions)


def make(lib: str, k: int, cov: str, init: dict, iters: int, threads: int):
    common = dict(n_components=k, covariance_type=cov, tol=0.0, max_iter=iters, **init)
    if lib == "sk":
        return SkGaussianMixture(**common)
    return GaussianMixture(n_threads=threads, **common)


def timed_fit(lib, X, k, cov, init, iters, threads):
    est = make(lib, k, cov, init, iters, threads)
    with threadpool_limits(limits=threads, user_api="blas"):
        gc.collect()
        # CPU of the calling thread only: at 1 thread both estimators compute there, and idle
        # BLAS/OpenMP worker threads of earlier runs (which may spin) are not counted
        w, c = time.perf_counter(), time.thread_time()
        est.fit(X)
        return time.perf_counter() - w, time.thread_time() - c, est


def per_iteration(lib, X, k, cov, init, iters, threads, repeats):
    """(wall, cpu) seconds per iteration: (run of 1+iters) - (run of 1), over iters.

    Each run is repeated and the fastest kept (the machine may be shared). For emseq the wall
    time per iteration is the median of its own per-iteration record (``convergence_``), which
    a stall of the machine during one iteration does not move.
    """
    short = [timed_fit(lib, X, k, cov, init, 1, threads) for _ in range(repeats)]
    long = [timed_fit(lib, X, k, cov, init, 1 + iters, threads) for _ in range(repeats)]
    w1, c1 = min(r[0] for r in short), min(r[1] for r in short)
    w2, c2 = min(r[0] for r in long), min(r[1] for r in long)
    est = long[-1][2]
    wall = max(w2 - w1, 1e-9) / iters
    if lib == "em":
        wall = float(np.median([np.median(r[2].convergence_["seconds"].to_numpy()[1:])
                                for r in long]))
    return wall, max(c2 - c1, 1e-9) / iters, est


def peak_memory(lib, X, k, cov, init) -> float:
    est = make(lib, k, cov, init, 2, 1)
    with threadpool_limits(limits=1, user_api="blas"):
        gc.collect()
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        est.fit(X)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    if lib == "em":
        d = X.shape[1]
        peak += 128 * (3 * d + k + 2) * 8  # the kernel's malloc'd per-thread scratch
    return peak / X.nbytes


def markdown(table: pd.DataFrame) -> str:
    def cell(v):
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(table.columns) + " |",
             "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines)


def end_to_end(n: int, repeats: int, out: Path) -> None:
    from sklearn import datasets

    rows = []
    for name, loader in [("iris", datasets.load_iris), ("wine", datasets.load_wine),
                         ("breast_cancer", datasets.load_breast_cancer)]:
        X = loader().data
        for cov in ("full", "diag"):
            times = {}
            for lib in ("sk", "em"):
                cls = SkGaussianMixture if lib == "sk" else GaussianMixture
                cls(3, covariance_type=cov, random_state=0).fit(X)  # warm (imports, caches)
                ts = []
                for r in range(repeats):
                    t = time.perf_counter()
                    cls(3, covariance_type=cov, random_state=r).fit(X)
                    ts.append(time.perf_counter() - t)
                times[lib] = float(np.median(ts))
            rows.append(dict(kind="small", data=name, cov=cov, init="kmeans",
                             sk=times["sk"], em=times["em"], ratio=times["sk"] / times["em"]))
            print(rows[-1], flush=True)
    X = simulate(n, 16, 16)
    for init in ("kmeans", "k-means++", "random", "random_from_data"):
        mem = {}
        for lib in ("sk", "em"):
            cls = SkGaussianMixture if lib == "sk" else GaussianMixture
            est = cls(16, init_params=init, max_iter=2, random_state=0)
            gc.collect()
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            est.fit(X)
            mem[lib] = (tracemalloc.get_traced_memory()[1] - base) / X.nbytes
            tracemalloc.stop()
        rows.append(dict(kind=f"memory_x (n={n}, d=16, k=16)", data="simulated", cov="full",
                         init=init, sk=mem["sk"], em=mem["em"], ratio=mem["sk"] / mem["em"]))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(out, sep="\t", index=False, float_format="%.4g")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


def _cached_fraction(path: Path) -> float:
    """Fraction of ``path``'s bytes in the page cache (util-linux ``fincore``), NaN without it."""
    import subprocess

    try:
        done = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES",
                               str(path)], capture_output=True, text=True, check=True)
        return min(1.0, int(done.stdout.split()[0]) / path.stat().st_size)
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        return float("nan")


def dask_out_of_core(n: int, d: int, k: int, cov: str, iters: int, subset: int,
                     memory_limit: str, chunk_rows: int | None, out: Path) -> None:
    from distributed import Client, LocalCluster

    from emseq.io.arrays import open_array

    work = Path(__file__).resolve().parent / "work"
    work.mkdir(exist_ok=True)
    path = work / f"mixture_{n}x{d}.npy"
    rng = np.random.default_rng(0)
    centers = rng.normal(0.0, 4.0, size=(k, d))
    t = time.perf_counter()
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, d))
    step = 2_000_000
    for start in range(0, n, step):
        stop = min(n, start + step)
        X[start:stop] = centers[rng.integers(0, k, size=stop - start)]
        X[start:stop] += rng.normal(size=(stop - start, d))
    X.flush()
    del X
    write_s = time.perf_counter() - t
    print(f"# wrote {path.name}: {path.stat().st_size / 1e9:.1f} GB in {write_s:.0f} s",
          flush=True)
    try:
        Xs = np.array(np.load(path, mmap_mode="r")[:subset])
        init = initial(Xs, k, cov)
        common = dict(n_components=k, covariance_type=cov, tol=0.0, max_iter=iters, **init)
        t = time.perf_counter()
        mem = GaussianMixture(n_threads=2, **common).fit(Xs)
        mem_fit = time.perf_counter() - t
        mem_it = float(np.median(mem.convergence_["seconds"]))
        print(f"# in memory, {subset} rows: {mem_it:.2f} s/iteration", flush=True)
        del Xs
        cached = _cached_fraction(path)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          memory_limit=memory_limit, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            workers_bytes = sum(w["memory_limit"]
                                for w in client.scheduler_info()["workers"].values())
            dX = open_array(path, chunk_rows)
            t = time.perf_counter()
            big = GaussianMixture(client=client, **common).fit(dX)
            dask_fit = time.perf_counter() - t
        dask_it = float(np.median(big.convergence_["seconds"]))
        iter_total = float(big.convergence_["seconds"].sum())
        row = dict(n=n, d=d, k=k, cov=cov, iterations=iters, X_GB=n * d * 8 / 1e9,
                   workers="2 x 1 thread", workers_memory_GB=workers_bytes / 1e9,
                   chunks=len(dX.chunks[0]), page_cache_at_start=cached,
                   dask_s_it=dask_it, dask_rows_per_s=n / dask_it,
                   dask_other_s=dask_fit - iter_total,
                   mem_rows=subset, mem_s_it=mem_it, mem_rows_per_s=subset / mem_it,
                   mem_other_s=mem_fit - float(mem.convergence_["seconds"].sum()),
                   ratio=(n / dask_it) / (subset / mem_it),
                   mean_ll_dask=big.lower_bound_, mean_ll_mem=mem.lower_bound_)
    finally:
        path.unlink(missing_ok=True)
    table = pd.DataFrame([row])
    load = os.getloadavg()
    header = (f"machine: {os.cpu_count()} CPUs shared with other users, load average at the "
              f"end {load[0]:.2f}; file written in {write_s:.0f} s")
    table.to_csv(out.with_suffix(".tsv"), sep="\t", index=False, float_format="%.4g")
    with open(out.with_suffix(".md"), "w", encoding="utf-8") as handle:
        pairs = table.T.reset_index().set_axis(["measure", "value"], axis=1)
        handle.write(f"{header}\n\n{markdown(pairs)}\n")
    print(table.T.to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000])
    parser.add_argument("--iter", type=int, default=5, help="timed iterations per run")
    parser.add_argument("--repeats", type=int, default=2, help="runs per timing (min kept)")
    parser.add_argument("--configs", default=None,
                        help="subset, e.g. '2x16,64x4' (D x K); default all")
    parser.add_argument("--cov", nargs="+", default=COV_TYPES)
    parser.add_argument("--out", default=str(RESULTS / "mixture"))
    parser.add_argument("--end-to-end", action="store_true",
                        help="small data sets end to end and memory per init (see above)")
    parser.add_argument("--dask", action="store_true",
                        help="out of core: 1e8 rows from a memory-mapped file (see above)")
    parser.add_argument("--dask-d", type=int, default=16)
    parser.add_argument("--dask-k", type=int, default=16)
    parser.add_argument("--subset", type=int, default=10_000_000,
                        help="--dask: rows of the in-memory reference fit")
    parser.add_argument("--memory-limit", default="2GiB",
                        help="--dask: memory limit of each of the 2 workers")
    parser.add_argument("--chunk-rows", type=int, default=None, help="--dask: rows per chunk")
    args = parser.parse_args()
    if args.dask:
        warnings.simplefilter("ignore", ConvergenceWarning)
        n = args.n[0] if args.n != [100_000] else 100_000_000
        dask_out_of_core(n, args.dask_d, args.dask_k, args.cov[0] if len(args.cov) == 1
                         else "full", args.iter, args.subset, args.memory_limit,
                         args.chunk_rows, RESULTS / "mixture_dask")
        return
    if args.end_to_end:
        warnings.simplefilter("ignore", ConvergenceWarning)
        end_to_end(args.n[0], max(args.repeats, 5), RESULTS / "mixture_end_to_end.tsv")
        return
    configs = CONFIGS if args.configs is None else [
        tuple(int(v) for v in c.split("x")) for c in args.configs.split(",")]
    warnings.simplefilter("ignore", ConvergenceWarning)
    flops, bandwidth = machine_bound()
    load = os.getloadavg()
    print(f"# machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f}; 1-thread DGEMM "
          f"{flops / 1e9:.1f} GFLOP/s, memory read {bandwidth / 1e9:.1f} GB/s", flush=True)
    rows = []
    for n in args.n:
        for d, k in configs:
            X = simulate(n, d, k)
            for cov in args.cov:
                init = initial(X, k, cov)
                rep = args.repeats
                sk_w1, sk_c1, sk = per_iteration("sk", X, k, cov, init, args.iter, 1, rep)
                em_w1, em_c1, em = per_iteration("em", X, k, cov, init, args.iter, 1, rep)
                sk_w2, _, _ = per_iteration("sk", X, k, cov, init, args.iter, 2, rep)
                em_w2, _, _ = per_iteration("em", X, k, cov, init, args.iter, 2, rep)
                bound = max(min_flops(n, d, k, cov) / flops, X.nbytes / bandwidth)
                ll = np.max(np.abs(np.array(em.lower_bounds_) - sk.lower_bounds_)
                            / np.abs(sk.lower_bounds_))
                row = dict(n=n, d=d, k=k, cov=cov,
                           sk_cpu_it=sk_c1, em_cpu_it=em_c1, speedup=sk_c1 / em_c1,
                           sk_wall2_it=sk_w2, em_wall1_it=em_w1, em_wall2_it=em_w2,
                           em_2v1=em_w1 / em_w2,
                           sk_mem_x=peak_memory("sk", X, k, cov, init),
                           em_mem_x=peak_memory("em", X, k, cov, init),
                           bound_s=bound, sk_frac=bound / sk_c1, em_frac=bound / em_c1,
                           ll_rel_diff=ll)
                rows.append(row)
                print("\t".join(f"{v:.4g}" if isinstance(v, float) else str(v)
                                for v in row.values()), flush=True)
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (f"machine: {os.cpu_count()} CPUs, load average at start {load[0]:.2f}; 1-thread "
              f"DGEMM {flops / 1e9:.1f} GFLOP/s, memory read {bandwidth / 1e9:.1f} GB/s; "
              f"{args.iter} timed iterations per run")
    table.to_csv(out.with_suffix(".tsv"), sep="\t", index=False, float_format="%.4g")
    with open(out.with_suffix(".md"), "w", encoding="utf-8") as handle:
        handle.write(f"{header}\n\n{markdown(table)}\n")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
