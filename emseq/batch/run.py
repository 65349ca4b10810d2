"""The batch driver: plan the samples, run the missing ones as Dask tasks, merge, report.

Where it runs: a :class:`distributed.Client` passed in, else a scheduler address, else a
dask-jobqueue cluster (SLURM, PBS, SGE, LSF), else an embedded :class:`distributed.LocalCluster`
of worker processes sized to the machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .._progress import progress
from ..errors import InputError, UsageError
from ..io.atomic import write_tsv
from .cluster import Workers, check_submit_command, open_client
from .log import BatchLog, death_note, describe_where
from .merge import merge_outputs
from .plan import JobShape, completed_stats, format_size, manifest, option_files, plan_jobs
from .sheet import JOB_LOGS, read_sample_sheet
from .task import START_TOPIC, remove_stale_staging, run_sample

__all__ = ["BatchResult", "REPORT_COLUMNS", "run"]

logger = logging.getLogger("emseq.batch")

#: Columns of ``batch_report.tsv``, per engine.
REPORT_COLUMNS = {
    "quant": ["sample", "status", "fragments", "mapping_rate", "iterations", "seconds",
              "peak_memory_mb", "error"],
    "motif": ["sample", "status", "motifs", "iterations", "seconds", "peak_memory_mb", "error"],
    "mixture": ["sample", "status", "components", "iterations", "seconds", "peak_memory_mb",
                "error"],
}
#: Report columns that hold counts: integers (empty where a sample failed), never floats.
INTEGER_COLUMNS = ("fragments", "motifs", "components", "iterations")


@dataclass
class BatchResult:
    """What a batch produced: the per-sample report and the merged tables."""

    report: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        """Names of the samples that failed."""
        return self.report.loc[self.report["status"] != "ok", "sample"].tolist()


def resolve_shape(cluster: str | JobShape | None, cluster_options: Mapping[str, Any] | None,
                  threads: int) -> JobShape | None:
    """The job shape of ``cluster`` (a scheduler name and its options, or a shape)."""
    if cluster is None or isinstance(cluster, JobShape):
        return cluster
    options = dict(cluster_options or {})
    options.setdefault("threads", threads)
    return plan_jobs(cluster, **options)


def run(samples: pd.DataFrame | str | os.PathLike[str], output: str | os.PathLike[str], *,
        engine: str = "quant", options: Mapping[str, Any] | None = None, client=None,
        scheduler: str | None = None, cluster: str | JobShape | None = None,
        cluster_options: Mapping[str, Any] | None = None, n_workers: int | None = None,
        threads_per_worker: int = 1, retries: int = 2, resume: bool = True) -> BatchResult:
    """Run ``engine`` on every sample, one Dask task per sample, and merge the results.

    Parameters
    ----------
    samples : DataFrame or path
        A sample sheet (see :func:`read_sample_sheet`) or its path.
    output : path
        Output directory: ``<output>/<sample>/`` per sample plus the merged tables,
        ``batch.log`` and ``logs/`` (each sample's log; the cluster jobs' stdout/stderr).
    engine : {"quant", "motif", "mixture"}, default="quant"
        Which engine runs each sample.
    options : mapping, optional
        Keyword arguments for the engine shared by every sample (e.g. ``transcripts``).
    client : distributed.Client, optional
        Run on this client's cluster.
    scheduler : str, optional
        Address of a running scheduler to join (``tcp://host:8786``).
    cluster : {"slurm", "pbs", "sge", "lsf"} or JobShape, optional
        Start a dask-jobqueue cluster: a :class:`JobShape`, or a scheduler name whose shape
        :func:`~emseq.batch.plan.plan_jobs` resolves from ``cluster_options`` (``cores``,
        ``memory``, ``sample_memory``, ``jobs``, ``adapt``, ``queue``, ``account``, ``qos``,
        ``walltime``, ``job_extra``, ``prologue``, ``start_timeout``).
    n_workers, threads_per_worker : int
        Size of the embedded LocalCluster (default: one worker process per
        ``threads_per_worker`` cores) and the threads each sample's engine uses.
    retries : int, default=2
        How many times Dask retries a task whose worker raised or died.
    resume : bool, default=True
        Skip samples whose output is complete and whose inputs and options are unchanged.

    Returns
    -------
    BatchResult

    Raises
    ------
    UsageError
        Options out of range, or an engine option that a sample refused (the other samples
        are then cancelled: the same option would fail them all).
    InputError
        A malformed sample sheet or a missing shared file.
    ClusterError
        A cluster job refused by the scheduler, or no worker within the start timeout.
    """
    if n_workers is not None and n_workers < 0:
        raise UsageError(f"n_workers (--workers) must be >= 0 (0: one per core), got {n_workers}")
    if retries < 0:
        raise UsageError(f"retries (--retries) must be >= 0, got {retries}")
    if threads_per_worker < 1:
        raise UsageError(f"threads_per_worker must be at least 1, got {threads_per_worker}")
    sheet = samples if isinstance(samples, pd.DataFrame) else read_sample_sheet(samples, engine)
    options = dict(options or {})
    for key, path in option_files(options):  # read by every sample: checked once, first
        if not Path(path).is_file():
            raise InputError(f"{path}: no such file (given as {key})")
    shape = resolve_shape(cluster, cluster_options, threads_per_worker)
    if shape is not None and client is None and not scheduler:
        check_submit_command(shape.scheduler)
    else:
        shape = None
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise InputError(f"{output}: exists and is not a directory")
    output.mkdir(parents=True, exist_ok=True)
    if shape is not None and shape.log_directory is None:  # not the driver's working folder
        shape = dataclasses.replace(shape, log_directory=str(output.resolve() / JOB_LOGS))
    if shape is not None:
        Path(shape.log_directory).mkdir(parents=True, exist_ok=True)
    rows = [{k: v for k, v in row.items() if v is not None and v == v}
            for row in sheet.to_dict("records")]
    with BatchLog(output) as log:
        records: dict[str, dict[str, Any]] = {}
        todo = []
        for row in rows:
            directory = output / row["sample"]
            stats = completed_stats(directory, manifest(engine, row, options)) if resume else None
            if stats is not None:
                records[row["sample"]] = {**stats, "sample": row["sample"], "status": "ok"}
            else:
                todo.append(row)
        log.line(f"batch: {len(rows)} sample(s), engine {engine}; {len(rows) - len(todo)} "
                 f"complete and unchanged (skipped), {len(todo)} to run")
        if todo:
            if shape is not None:
                for line in shape.describe(len(todo)):
                    log.line(line)
            with open_client(client, scheduler, shape, n_workers,
                             threads_per_worker) as workers:
                if shape is not None:
                    log.line(f"Dask dashboard: {workers.client.dashboard_link}")
                records.update(_run_tasks(workers, engine, todo, options, output,
                                          threads_per_worker, retries, log))
        remove_stale_staging(output, [row["sample"] for row in todo])
        report = _report([records[row["sample"]] for row in rows], engine)
        result = BatchResult(report=report, tables=merge_outputs(output, report, engine, options))
        write_tsv(report, output / "batch_report.tsv")
        for name, table in result.tables.items():
            write_tsv(table, output / name)
        ok = int((report["status"] == "ok").sum())
        log.line(f"batch: {ok} of {len(report)} sample(s) ok"
                 + (f", failed: {', '.join(result.failed)}" if result.failed else "")
                 + f"; report in {output / 'batch_report.tsv'}")
    return result


def _report(records: list[dict[str, Any]], engine: str) -> pd.DataFrame:
    """The report table: one row per sample, counts as integers, errors as text."""
    report = pd.DataFrame(records).reindex(columns=REPORT_COLUMNS[engine])
    for column in INTEGER_COLUMNS:
        if column in report.columns:
            report[column] = pd.to_numeric(report[column]).round().astype("Int64")
    report["error"] = report["error"].fillna("")
    return report


def _run_tasks(workers: Workers, engine: str, todo: list[dict[str, str]],
               options: Mapping[str, Any], output: Path, threads: int, retries: int,
               log: BatchLog) -> dict[str, dict[str, Any]]:
    """Submit one task per sample, log each start, end and failure as it comes, and return
    the samples' records."""
    from distributed import wait

    client = workers.client
    workers.say = lambda message: log.line(message, logging.WARNING)
    starts: Counter[str] = Counter()

    def on_start(event) -> None:
        message = event[1] if isinstance(event, tuple) else event
        sample = message["sample"]
        starts[sample] += 1
        again = f" (attempt {starts[sample]})" if starts[sample] > 1 else ""
        log.line(f"{sample}: started{again}, {describe_where(message)}")

    client.subscribe_topic(START_TOPIC, on_start)
    run_id = uuid.uuid4().hex[:8]  # a key of an earlier run may still be on the scheduler
    futures = {client.submit(run_sample, engine, row, options, str(output), threads,
                             key=f"emseq-{row['sample']}-{run_id}", pure=False, retries=retries,
                             resources=workers.resources): row["sample"] for row in todo}
    records: dict[str, dict[str, Any]] = {}
    per_sample = workers.shape.memory_per_sample if workers.shape is not None else None
    pending = set(futures)
    bar = progress(total=len(futures), desc="samples", unit="sample")
    try:
        with _bar_safe_logging(bar):
            while pending:
                try:
                    finished, pending = wait(pending, timeout=1.0, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    workers.check()
                    continue
                for future in finished:
                    sample = futures[future]
                    records[sample] = record = _record(future, sample, output)
                    _log_end(log, record, len(records), len(futures), per_sample)
                    bar.update(1)
                    if record.pop("exit_code", 1) == UsageError.exit_code:
                        raise UsageError(f"sample {sample}: {record['error']} (the other "
                                         "samples were cancelled: the same options would "
                                         "fail them too)")
                workers.check()
    finally:
        bar.close()
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(START_TOPIC)
        if pending:
            client.cancel(list(pending))
    return records


def _record(future, sample: str, output: Path) -> dict[str, Any]:
    """The record a task returned, or a ``failed`` one; a sample whose workers died
    (``KilledWorker``) says why, from its log (the signal and its last log line)."""
    try:
        return future.result()
    except Exception as exc:  # the task failed after all its retries
        line = (str(exc).splitlines() or [type(exc).__name__])[0]
        logger.debug("%s failed:\n%s", sample, traceback.format_exc())
        error = f"{type(exc).__name__}: {line}"
        if type(exc).__name__ == "KilledWorker":
            error = f"{death_note(output, sample)} ({error})"
        return {"sample": sample, "status": "failed", "error": error}


def _log_end(log: BatchLog, record: Mapping[str, Any], done: int, total: int,
             per_sample: int | None) -> None:
    sample = record["sample"]
    if record.get("status") == "ok":
        log.line(f"{sample}: done in {record.get('seconds', 0):.1f} s, peak memory "
                 f"{record.get('peak_memory_mb', 0):.0f} MB ({done} of {total})")
        peak = float(record.get("peak_memory_mb") or 0) * 2**20
        if per_sample is not None and peak > per_sample:
            log.line(f"{sample}: its peak memory {format_size(int(peak))} is above the "
                     f"{format_size(per_sample)} per sample of the plan: raise --memory or "
                     "--sample-memory", logging.WARNING)
    else:
        seconds = record.get("seconds")
        after = f" after {seconds:.1f} s" if seconds is not None else ""
        log.line(f"{sample}: FAILED{after}: {record.get('error')} ({done} of {total})",
                 logging.WARNING)


@contextlib.contextmanager
def _bar_safe_logging(bar):
    """While a progress bar shows, route emseq's console log lines above it."""
    if getattr(bar, "disable", True):
        yield
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm(loggers=[logging.getLogger("emseq")]):
        yield
