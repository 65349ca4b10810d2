"""Run an emseq engine over many samples through Dask distributed.

One sample is one Dask task (``key`` = sample name, ``pure=False``, ``retries``): it writes its
own output directory ``OUT/<sample>/`` by staging it in a hidden sibling directory and renaming
it into place, then writes a manifest (input sizes, mtimes and checksums, and the options) last.
A re-run skips samples whose manifest still matches (``resume``) and redoes the others. When all
tasks are done the per-sample outputs are merged into matrices (identifier column, then one
column per sample) and a ``batch_report.tsv``.

Where it runs: a :class:`distributed.Client` passed in, else a scheduler address, else a
dask-jobqueue cluster (SLURM, PBS, SGE, LSF), else an embedded :class:`distributed.LocalCluster`
of worker processes sized to the machine.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import resource
import shutil
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, Iterator, Mapping

import pandas as pd

from . import __version__
from ._progress import progress
from ._threads import available_cpus
from .errors import EmseqError, InputError, UsageError
from .io.atomic import atomic_write, write_tsv

__all__ = ["BatchResult", "ENGINE_COLUMNS", "read_sample_sheet", "run", "MANIFEST_NAME"]

logger = logging.getLogger(__name__)

#: Columns of a sample sheet, per engine: (required, optional). The first required column after
#: ``sample`` is the sample's input file.
ENGINE_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "quant": (("sample", "bam"), ("libtype",)),
    "motif": (("sample", "fasta"), ()),
}
MANIFEST_NAME = "emseq_manifest.json"
#: Files the batch writes next to the sample directories: no sample may be named like one.
MERGED_NAMES = ("batch_report.tsv", "convergence.tsv", "transcript_counts.tsv",
                "transcript_tpm.tsv", "gene_counts.tsv", "gene_tpm.tsv", "motifs.tsv")
REPORT_COLUMNS = ["sample", "status", "fragments", "mapping_rate", "iterations", "seconds",
                  "peak_memory_mb", "error"]


# --------------------------------------------------------------------------- sample sheet
def read_sample_sheet(path: str | os.PathLike[str], engine: str = "quant") -> pd.DataFrame:
    """Read and check an nf-core style sample sheet (CSV or TSV with a header row).

    Relative input paths are taken relative to the sheet's folder and returned absolute.

    Raises
    ------
    InputError
        On an empty sheet, a missing or unknown column, an empty or duplicate sample name, an
        unsafe sample name (it becomes a directory name), or an input file that does not exist.
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
        if name in (".", "..") or "/" in name or name.startswith("."):
            raise InputError(f"{path}:{line}: sample name {name!r} cannot be a directory name")
        if name in MERGED_NAMES:
            raise InputError(f"{path}:{line}: sample name {name!r} is the name of a merged "
                             "output file of the batch; rename the sample")
    duplicated = sheet["sample"][sheet["sample"].duplicated()].unique().tolist()
    if duplicated:
        raise InputError(f"{path}: duplicate sample name(s) {duplicated}")
    if "libtype" in sheet.columns:
        from .quant.bam import LIBRARY_TYPES

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
        if not file.is_file():
            where = "" if Path(value.strip()).is_absolute() else \
                f" (relative to the sheet's folder {path.parent.resolve()})"
            raise InputError(f"{path}:{line}: {input_column} file {value!r} does not "
                             f"exist{where}")
        resolved.append(str(file))
    sheet[input_column] = resolved
    return sheet.reset_index(drop=True)


# --------------------------------------------------------------------------- manifests
def _file_fingerprint(path: str) -> dict[str, Any]:
    stat = os.stat(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"path": path, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "sha256": digest.hexdigest()}


def _manifest(engine: str, row: Mapping[str, str], options: Mapping[str, Any]) -> dict[str, Any]:
    inputs = [row[ENGINE_COLUMNS[engine][0][1]]]
    inputs += [v for k, v in sorted(options.items()) if k in _OPTION_FILES and v]
    return {"engine": engine, "sample": dict(row), "options": _jsonable(options),
            "inputs": [_file_fingerprint(p) for p in inputs]}


def _jsonable(options: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(options), default=str, sort_keys=True))


def _is_complete(directory: Path, expected: Mapping[str, Any]) -> bool:
    manifest = directory / MANIFEST_NAME
    if not manifest.is_file():
        return False
    try:
        recorded = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    recorded.pop("emseq_version", None)
    recorded.pop("stats", None)
    return recorded == expected


# --------------------------------------------------------------------------- one sample
#: Options whose value is a file every sample reads (part of each sample's manifest).
_OPTION_FILES = ("transcripts", "tx2gene", "gtf", "bfile", "control")


@lru_cache(maxsize=4)
def _transcript_index(path: str, mtime_ns: int, sequences: bool = True):
    """The transcript index of a FASTA, loaded once per worker process (cached by mtime);
    with its sequences only when a sample corrects for sequence or GC bias."""
    from .quant import load_transcripts

    return load_transcripts(path, sequences=sequences)


def _needs_sequences(options: Mapping[str, Any]) -> bool:
    """Whether quantify's options ask for a model that reads the transcript sequences."""
    bias = options.get("bias_options")
    return bool(options.get("seq_bias") or options.get("gc_bias")
                or getattr(bias, "seq", False) or getattr(bias, "gc", False))


def _run_engine(engine: str, row: Mapping[str, str], options: Mapping[str, Any],
                threads: int, stage: Path) -> dict[str, Any]:
    if engine == "quant":
        from .quant import quantify

        kwargs = dict(options)
        transcripts = kwargs.pop("transcripts", None)
        if transcripts:
            transcripts = _transcript_index(transcripts, os.stat(transcripts).st_mtime_ns,
                                            _needs_sequences(kwargs))
        if row.get("libtype"):
            kwargs["library_type"] = row["libtype"]
        result = quantify(row["bam"], transcripts, n_threads=threads, **kwargs)
        result.write(stage)
        return {"fragments": result.num_processed, "mapping_rate": result.mapping_rate,
                "iterations": int(len(result.convergence))}
    from .motif import discover

    result = discover(row["fasta"], n_threads=threads, **options)
    result.write(stage)
    return {"fragments": None, "mapping_rate": None,
            "iterations": int(len(result.convergence))}


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


def _staging_prefix(sample: str) -> str:
    return f".{sample}.tmp-"


def _replace_directory(stage: Path, final: Path) -> None:
    """Move ``stage`` to ``final``; a previous ``final`` is renamed aside first, then removed."""
    if final.exists():
        aside = final.with_name(f"{_staging_prefix(final.name)}old-{uuid.uuid4().hex[:8]}")
        os.rename(final, aside)
        os.rename(stage, final)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.rename(stage, final)


def _remove_stale_staging(output: Path, samples: list[str]) -> None:
    """Remove staging directories left by workers that died in the middle of a sample."""
    for sample in samples:
        for stale in output.glob(glob_escape(_staging_prefix(sample)) + "*"):
            logger.debug("removing %s left by an interrupted task", stale)
            shutil.rmtree(stale, ignore_errors=True)


def run_sample(engine: str, row: Mapping[str, str], options: Mapping[str, Any], output: str,
               threads: int = 1) -> dict[str, Any]:
    """Run one sample into ``output/<sample>/``; the body of each Dask task.

    The sample's directory is built in a hidden staging directory and renamed into place, then
    its manifest is written last; a previous incomplete directory is replaced. User errors are
    returned as a ``failed`` row (the batch goes on); other exceptions propagate so Dask can
    retry the task elsewhere.
    """
    sample = row["sample"]
    final = Path(output) / sample
    stage = Path(output) / f"{_staging_prefix(sample)}{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    record: dict[str, Any] = {"sample": sample, "status": "ok", "fragments": None,
                              "mapping_rate": None, "iterations": None, "error": ""}
    memory = _PeakMemory()
    try:
        stage.mkdir(parents=True)
        record.update(_run_engine(engine, row, options, threads, stage))
        _replace_directory(stage, final)
    except EmseqError as exc:
        record.update(status="failed", error=str(exc).splitlines()[0])
    finally:
        memory.stop()
        shutil.rmtree(stage, ignore_errors=True)
    record["seconds"] = round(time.perf_counter() - started, 3)
    record["peak_memory_mb"] = round(memory.peak_bytes / 2**20, 1)
    if record["status"] == "ok":
        manifest = _manifest(engine, row, options)
        manifest.update(emseq_version=__version__, stats=record)
        with atomic_write(final / MANIFEST_NAME) as handle:
            json.dump(manifest, handle, indent=2, default=str)
    return record


# --------------------------------------------------------------------------- the cluster
@contextlib.contextmanager
def _client(client=None, scheduler: str | None = None, cluster: str | None = None,
            n_workers: int | None = None, threads_per_worker: int = 1,
            cluster_options: Mapping[str, Any] | None = None) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    if client is not None:
        yield client
        return
    if scheduler:
        with Client(scheduler) as joined:
            yield joined
        return
    if cluster:
        import dask_jobqueue

        classes = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster",
                   "lsf": "LSFCluster"}
        if cluster not in classes:
            raise UsageError(f"--cluster must be one of {sorted(classes)}, got {cluster!r}")
        options = dict(cluster_options or {})
        jobs, adapt = options.pop("jobs", 1), options.pop("adapt", False)
        with getattr(dask_jobqueue, classes[cluster])(**options) as started:
            if adapt:
                started.adapt(minimum_jobs=0, maximum_jobs=jobs)
            else:
                started.scale(jobs=jobs)
            with Client(started) as joined:
                yield joined
        return
    workers = n_workers or max(1, available_cpus() // max(1, threads_per_worker))
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as local:
        with Client(local) as joined:
            yield joined


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
    for key in _OPTION_FILES:  # a file every sample reads: check it once, before anything runs
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
        if resume and _is_complete(directory, _manifest(engine, row, options)):
            stats = json.loads((directory / MANIFEST_NAME).read_text()).get("stats", {})
            records[row["sample"]] = {**stats, "sample": row["sample"], "status": "ok"}
            logger.info("%s: complete and unchanged, skipped", row["sample"])
        else:
            todo.append(row)
    if todo:
        from distributed import as_completed

        with _client(client, scheduler, cluster, n_workers, threads_per_worker,
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
    _remove_stale_staging(output, [row["sample"] for row in todo])
    report = pd.DataFrame([records[row["sample"]] for row in rows]).reindex(columns=REPORT_COLUMNS)
    report["error"] = report["error"].fillna("")
    result = BatchResult(report=report, tables=merge_outputs(output, report, engine, options))
    write_tsv(report, output / "batch_report.tsv")
    for name, table in result.tables.items():
        write_tsv(table, output / name)
    return result


# --------------------------------------------------------------------------- merging
def merge_outputs(output: Path, report: pd.DataFrame, engine: str,
                  options: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Merge the completed samples' outputs into tables (name -> DataFrame)."""
    done = report.loc[report["status"] == "ok", "sample"].tolist()
    tables: dict[str, pd.DataFrame] = {}
    traces = []
    for sample in done:
        trace_path = output / sample / "convergence.tsv"
        if trace_path.is_file():
            trace = pd.read_csv(trace_path, sep="\t")
            trace.insert(0, "sample", sample)
            traces.append(trace)
    if traces:
        tables["convergence.tsv"] = pd.concat(traces, ignore_index=True)
    if engine == "quant" and done:
        levels = [("transcript", "quant.sf")]
        if options.get("tx2gene") or options.get("gtf"):
            levels.append(("gene", "quant.genes.sf"))
        from .quant.merge import merge_quants  # one implementation with emseq quantmerge

        for level, filename in levels:
            for column, suffix in (("NumReads", "counts"), ("TPM", "tpm")):
                tables[f"{level}_{suffix}.tsv"] = merge_quants(
                    [output / s for s in done], done, column, genes=level == "gene",
                    id_column=level)
    if engine == "motif" and done:
        motifs = []
        for sample in done:
            table = pd.read_csv(output / sample / "motifs.tsv", sep="\t")
            table.insert(0, "sample", sample)
            motifs.append(table)
        tables["motifs.tsv"] = pd.concat(motifs, ignore_index=True)
    return tables
