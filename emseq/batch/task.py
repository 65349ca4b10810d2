"""One sample of a batch: the body of its Dask task.

The engine writes the sample's directory through its atomic writer (a staging folder in the one
pattern of :mod:`emseq.io.atomic`, renamed into place, replacing an earlier incomplete one); its
manifest is written last. Each attempt logs to ``OUT/logs/<sample>.log``
(:func:`~emseq.batch.log.sample_log`), and the peak resident memory of the sample is measured
while it runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from .. import __version__
from ..errors import EmseqError
from ..io.atomic import STAGING_PATTERN, atomic_write, claim_output, remove_stale_lock
from .log import sample_log
from .plan import MANIFEST_NAME, completed_stats, manifest

__all__ = ["START_TOPIC", "WRITE_OPTIONS", "remove_stale_staging", "run_sample"]

logger = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _transcript_index(path: str, mtime_ns: int, sequences: bool = True):
    """The transcript index of a FASTA, loaded once per worker process (cached by mtime);
    with its sequences unless the samples' options turn sequence and GC bias correction off
    (:func:`emseq.quant.bias.needs_sequences`)."""
    from ..quant import load_transcripts

    return load_transcripts(path, sequences=sequences)


def _needs_sequences(options: Mapping[str, Any]) -> bool:
    """Whether quantify's keyword arguments ``options`` read the transcript sequences."""
    from ..quant.bias import needs_sequences

    return needs_sequences(options.get("bias_options"), options.get("seq_bias"),
                           options.get("gc_bias"))


#: Options of each engine that go to its ``write`` rather than to the engine itself.
WRITE_OPTIONS = {"quant": ("dump_eq", "report"), "motif": ("png",), "mixture": ()}
#: The Dask event topic on which each task says that its sample has started.
START_TOPIC = "emseq-batch-start"


def _run_engine(engine: str, row: Mapping[str, str], options: Mapping[str, Any],
                threads: int, directory: Path) -> dict[str, Any]:
    """Run the engine on one sample; it writes ``directory`` atomically, replacing an earlier
    incomplete one (the batch's manifests decide what is complete)."""
    kwargs = {k: v for k, v in options.items() if k not in WRITE_OPTIONS[engine]}
    written = {k: v for k, v in options.items() if k in WRITE_OPTIONS[engine]}
    if engine == "quant":
        from ..quant import quantify

        transcripts = kwargs.pop("transcripts", None)
        if transcripts:
            transcripts = _transcript_index(transcripts, os.stat(transcripts).st_mtime_ns,
                                            _needs_sequences(kwargs))
        if row.get("libtype"):
            kwargs["library_type"] = row["libtype"]
        kwargs["show_progress"] = False  # many samples at once: the driver shows progress
        result = quantify(row["bam"], transcripts, n_threads=threads, **kwargs)
        result.write(directory, force=True, **written)
        return {"fragments": result.num_processed, "mapping_rate": result.mapping_rate,
                "iterations": int(len(result.convergence))}
    if engine == "mixture":  # the fit and the files of `emseq mixture`, one implementation
        from ..cli.mixture import run_fit
        from ..io.arrays import is_zarr

        fit_args = argparse.Namespace(**kwargs, output=str(directory), force=True,
                                      threads=threads, scheduler=None, workers=None,
                                      chunk_rows=None)
        if is_zarr(row["table"]) and _current_worker() is not None:
            # a zarr table is fitted on chunks: those of the batch's own cluster (a task
            # cannot start a LocalCluster of its own: worker processes have no children)
            from distributed import worker_client

            with worker_client() as client:
                run_fit(fit_args, row["table"], client)
        else:
            run_fit(fit_args, row["table"])
        return {"components": _data_rows(directory / "parameters.tsv"),
                "iterations": _data_rows(directory / "convergence.tsv")}
    from ..cli.motif import discover_annotated

    kwargs["progress_bar"] = False
    db = kwargs.pop("db", None)
    result = discover_annotated(row["fasta"], db, threads, **kwargs)
    result.write(directory, force=True, **written)
    return {"motifs": int(len(result.motifs)), "iterations": int(len(result.convergence))}


def _current_worker():
    """The Dask worker running this task, or None outside a Dask worker."""
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def _data_rows(path: Path) -> int:
    """Rows of a TSV file with a header line."""
    with open(path, encoding="utf-8") as handle:
        return max(0, sum(1 for line in handle if line.strip()) - 1)


def _announce_start(sample: str) -> dict[str, Any] | None:
    """Tell the driver (through a Dask event) that ``sample`` starts, and where; return
    where (None outside a Dask worker)."""
    worker = _current_worker()
    if worker is None:
        return None
    job = os.environ.get("SLURM_JOB_ID") or os.environ.get("PBS_JOBID") or \
        os.environ.get("JOB_ID") or os.environ.get("LSB_JOBID")
    where = {"sample": sample, "worker": worker.name, "job": job, "host": os.uname().nodename}
    worker.log_event(START_TOPIC, where)
    return where


class _PeakMemory:
    """Peak resident memory of this process while one sample runs.

    A worker process runs many samples, so its lifetime maximum (``ru_maxrss``) says little
    about one of them: a daemon thread samples the resident set size every 20 ms instead
    (from ``/proc/self/statm``; ``ru_maxrss`` where that does not exist).
    """

    _PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def __init__(self, interval: float = 0.02) -> None:
        self.peak_bytes = self._rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        try:
            with open("/proc/self/statm", "rb") as handle:
                return int(handle.read().split()[1]) * self._PAGE
        except OSError:  # pragma: no cover - not Linux
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _sample(self, interval: float) -> None:
        while not self._done.wait(interval):
            self.peak_bytes = max(self.peak_bytes, self._rss())

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._rss())


def remove_stale_staging(output: Path, samples: list[str]) -> None:
    """Remove the staging folders and lock files left by workers that died in a sample (once
    every task has ended: none of them is live)."""
    wanted = set(samples)
    for entry in output.iterdir():
        match = STAGING_PATTERN.match(entry.name)
        if match is not None and match["name"] in wanted:
            logger.debug("removing %s left by an interrupted task", entry)
            shutil.rmtree(entry, ignore_errors=True)
    for sample in samples:
        remove_stale_lock(output / sample)


def run_sample(engine: str, row: Mapping[str, str], options: Mapping[str, Any], output: str,
               threads: int = 1) -> dict[str, Any]:
    """Run one sample into ``output/<sample>/``; the body of each Dask task.

    The engine writes the sample's directory atomically, replacing a previous incomplete one
    (``write(..., force=True)``), then its manifest is written last. The attempt logs to
    ``output/logs/<sample>.log``. User errors are returned as a ``failed`` row (the batch goes
    on); other exceptions propagate so Dask can retry the task elsewhere.
    """
    sample = row["sample"]
    final = Path(output) / sample
    expected = manifest(engine, row, options)
    # The sample's folder is claimed for the whole task, waiting for a copy of this task that
    # holds it (Dask may run a task twice at once: a worker it took for lost is still running):
    # once that copy has finished the sample, its result is this task's.
    with claim_output(final, force=True, wait=True):
        recorded = completed_stats(final, expected)
        if recorded is not None:
            logger.info("%s: finished meanwhile by another copy of its task", sample)
            return {**recorded, "duplicate": True}
        started = time.perf_counter()
        record: dict[str, Any] = {"sample": sample, "status": "ok", "error": ""}
        where = _announce_start(sample)
        memory = _PeakMemory()
        try:
            with sample_log(output, sample, where):
                record.update(_run_engine(engine, row, options, threads, final))
        except EmseqError as exc:
            record.update(status="failed",
                          error=(str(exc).splitlines() or [type(exc).__name__])[0],
                          exit_code=exc.exit_code)
        finally:
            memory.stop()
        record["seconds"] = round(time.perf_counter() - started, 3)
        record["peak_memory_mb"] = round(memory.peak_bytes / 2**20, 1)
        if record["status"] == "ok":
            written = {**expected, "emseq_version": __version__, "stats": record}
            with atomic_write(final / MANIFEST_NAME) as handle:
                json.dump(written, handle, indent=2, default=str)
    return record
