"""The batch driver: plan the samples, run the missing ones as Dask tasks, merge, report.

Where it runs: a :class:`distributed.Client` passed in, else a scheduler address, else a
dask-jobqueue cluster (SLURM, PBS, SGE, LSF), else an embedded :class:`distributed.LocalCluster`
of worker processes sized to the machine.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .._progress import progress
from ..errors import InputError, UsageError
from ..io.atomic import write_tsv
from .cluster import open_client
from .merge import merge_outputs
from .plan import MANIFEST_NAME, OPTION_FILES, is_complete, manifest
from .sheet import read_sample_sheet
from .task import remove_stale_staging, run_sample

__all__ = ["BatchResult", "REPORT_COLUMNS", "run"]

logger = logging.getLogger("emseq.batch")

REPORT_COLUMNS = ["sample", "status", "fragments", "mapping_rate", "iterations", "seconds",
                  "peak_memory_mb", "error"]


@dataclass
class BatchResult:
    """What a batch produced: the per-sample report and the merged tables."""

    report: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        """Names of the samples that failed."""
        return self.report.loc[self.report["status"] != "ok", "sample"].tolist()


def run(samples: pd.DataFrame | str | os.PathLike[str], output: str | os.PathLike[str], *,
        engine: str = "quant", options: Mapping[str, Any] | None = None, client=None,
        scheduler: str | None = None, cluster: str | None = None,
        cluster_options: Mapping[str, Any] | None = None, n_workers: int | None = None,
        threads_per_worker: int = 1, retries: int = 2, resume: bool = True) -> BatchResult:
    """Run ``engine`` on every sample, one Dask task per sample, and merge the results.

    Parameters
    ----------
    samples : DataFrame or path
        A sample sheet (see :func:`read_sample_sheet`) or its path.
    output : path
        Output directory: ``<output>/<sample>/`` per sample plus the merged tables.
    engine : {"quant", "motif"}, default="quant"
        Which engine runs each sample.
    options : mapping, optional
        Keyword arguments for the engine shared by every sample (e.g. ``transcripts``).
    client : distributed.Client, optional
        Run on this client's cluster.
    scheduler : str, optional
        Address of a running scheduler to join (``tcp://host:8786``).
    cluster : {"slurm", "pbs", "sge", "lsf"}, optional
        Start a dask-jobqueue cluster with ``cluster_options`` (queue, cores, memory,
        walltime, jobs, adapt).
    n_workers, threads_per_worker : int
        Size of the embedded LocalCluster (default: one single-threaded worker process per
        core) and the threads each sample's engine uses.
    retries : int, default=2
        How many times Dask retries a task whose worker raised or died.
    resume : bool, default=True
        Skip samples whose output is complete and whose inputs and options are unchanged.

    Returns
    -------
    BatchResult
    """
    if n_workers is not None and n_workers < 0:
        raise UsageError(f"n_workers (--workers) must be >= 0 (0: one per core), got {n_workers}")
    if retries < 0:
        raise UsageError(f"retries (--retries) must be >= 0, got {retries}")
    if threads_per_worker < 1:
        raise UsageError(f"threads_per_worker must be at least 1, got {threads_per_worker}")
    sheet = samples if isinstance(samples, pd.DataFrame) else read_sample_sheet(samples, engine)
    options = dict(options or {})
    for key in OPTION_FILES:  # a file every sample reads: check it once, before anything runs
        value = options.get(key)
        if isinstance(value, (str, os.PathLike)) and value and not Path(value).is_file():
            raise InputError(f"{options[key]}: no such file (given as {key})")
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise InputError(f"{output}: exists and is not a directory")
    output.mkdir(parents=True, exist_ok=True)
    rows = [{k: v for k, v in row.items() if v is not None and v == v}
            for row in sheet.to_dict("records")]
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for row in rows:
        directory = output / row["sample"]
        if resume and is_complete(directory, manifest(engine, row, options)):
            stats = json.loads((directory / MANIFEST_NAME).read_text()).get("stats", {})
            records[row["sample"]] = {**stats, "sample": row["sample"], "status": "ok"}
            logger.info("%s: complete and unchanged, skipped", row["sample"])
        else:
            todo.append(row)
    if todo:
        from distributed import as_completed

        with open_client(client, scheduler, cluster, n_workers, threads_per_worker,
                     cluster_options) as active:
            if getattr(active, "dashboard_link", None) and client is None and scheduler is None:
                logger.info("Dask dashboard: %s", active.dashboard_link)
            futures = {active.submit(run_sample, engine, row, options, str(output),
                                     threads_per_worker, key=f"emseq-{row['sample']}",
                                     pure=False, retries=retries): row["sample"]
                       for row in todo}
            bar = progress(total=len(futures), desc="samples", unit="sample")
            for future in as_completed(futures):
                sample = futures[future]
                try:
                    records[sample] = future.result()
                except Exception as exc:  # the task failed after all its retries
                    line = (str(exc).splitlines() or [type(exc).__name__])[0]
                    logger.debug("%s failed:\n%s", sample, traceback.format_exc())
                    records[sample] = {"sample": sample, "status": "failed",
                                       "error": f"{type(exc).__name__}: {line}"}
                bar.update(1)
            bar.close()
    remove_stale_staging(output, [row["sample"] for row in todo])
    report = pd.DataFrame([records[row["sample"]] for row in rows]).reindex(columns=REPORT_COLUMNS)
    report["error"] = report["error"].fillna("")
    result = BatchResult(report=report, tables=merge_outputs(output, report, engine, options))
    write_tsv(report, output / "batch_report.tsv")
    for name, table in result.tables.items():
        write_tsv(table, output / name)
    return result
