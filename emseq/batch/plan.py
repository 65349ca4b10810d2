"""What a batch has to do and how: which samples are complete, and the shape of cluster jobs.

A sample's directory is complete when its manifest (written last) records the same engine,
sample row, options and input fingerprints (size, mtime, SHA-256) as the run being planned.
On a cluster, :func:`plan_jobs` resolves the flags against the dask-jobqueue configuration
into a :class:`JobShape`: one worker process per job, ``-p`` threads per sample,
``cores // threads`` samples at once per worker, the job's memory shared among them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..errors import UsageError
from .sheet import ENGINE_COLUMNS

__all__ = ["MANIFEST_NAME", "OPTION_FILES", "JobShape", "SCHEDULERS", "completed_stats",
           "manifest", "option_files", "plan_jobs"]

MANIFEST_NAME = "emseq_manifest.json"
#: Options whose value is a file every sample reads (part of each sample's manifest); motif's
#: ``neg`` may also be ``"shuffle"`` (no file).
OPTION_FILES = ("transcripts", "tx2gene", "gtf", "bfile", "neg", "db")
#: Values of :data:`OPTION_FILES` options that name no file.
NOT_FILES = ("shuffle",)


def option_files(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (option, path) of every file among ``options`` that every sample reads."""
    return [(k, str(v)) for k, v in sorted(options.items())
            if k in OPTION_FILES and isinstance(v, (str, os.PathLike)) and v
            and str(v) not in NOT_FILES]


def _file_fingerprint(path: str) -> dict[str, Any]:
    """Size, time and SHA-256 of a file, or of every file of a folder (a zarr array) by
    relative path and contents."""
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    digest = hashlib.sha256()
    for file in files:
        if root.is_dir():
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    stat = os.stat(path)
    return {"path": path, "size": sum(f.stat().st_size for f in files),
            "mtime_ns": max((f.stat().st_mtime_ns for f in files), default=stat.st_mtime_ns),
            "sha256": digest.hexdigest()}


def manifest(engine: str, row: Mapping[str, str], options: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest of one sample: engine, sheet row, options and the fingerprints of every
    file it reads (its own input and the shared files among ``options``)."""
    inputs = [row[ENGINE_COLUMNS[engine][0][1]]]
    inputs += [path for _, path in option_files(options)]
    return {"engine": engine, "sample": dict(row), "options": _jsonable(options),
            "inputs": [_file_fingerprint(p) for p in inputs]}


def _jsonable(options: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(options), default=str, sort_keys=True))


def completed_stats(directory: Path, expected: Mapping[str, Any]) -> dict[str, Any] | None:
    """The recorded stats of the finished sample in ``directory`` if its manifest equals
    ``expected`` (an unfinished, changed or unreadable one: None)."""
    path = directory / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        recorded = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    recorded.pop("emseq_version", None)
    stats = recorded.pop("stats", None)
    return (stats or {}) if recorded == expected else None




# --------------------------------------------------------------------------- cluster jobs
#: Per scheduler: the dask-jobqueue job class, the submit command, the name of the account
#: option of that class, and the prefix of its job-script directives.
SCHEDULERS: dict[str, tuple[str, str, str, str]] = {
    "slurm": ("SLURMJob", "sbatch", "account", "#SBATCH"),
    "pbs": ("PBSJob", "qsub", "account", "#PBS"),
    "sge": ("SGEJob", "qsub", "project", "#$"),
    "lsf": ("LSFJob", "bsub", "project", "#BSUB"),
}
#: Built-in values where neither a flag nor the dask-jobqueue configuration gives one.
DEFAULT_SAMPLE_MEMORY = "4GB"
DEFAULT_WALLTIME = "01:00:00"
DEFAULT_START_TIMEOUT = 300.0


@dataclass(frozen=True)
class JobShape:
    """The shape of the cluster jobs of a batch: what each job asks for and runs.

    Each job runs one Dask worker process (``processes``, 1 by default) with ``cores`` cores
    and ``memory`` bytes. A sample runs with ``threads`` threads, so a worker runs
    ``samples_per_worker = cores // processes // threads`` samples at once, each with
    ``memory_per_sample`` bytes.

    Attributes
    ----------
    scheduler : {"slurm", "pbs", "sge", "lsf"}
        The batch scheduler (the dask-jobqueue job class).
    cores, memory, processes : int
        Cores, memory (bytes) and worker processes per job.
    threads : int
        Threads of one sample (``-p``).
    jobs : int
        Jobs to start (at most, with ``adapt``).
    adapt : bool
        Scale the number of jobs with the samples left (between 0 and ``jobs``).
    queue, account, qos, walltime : str or None
        Partition/queue, account (SGE/LSF: project), quality of service (SLURM), walltime.
    job_extra : tuple of str
        Extra scheduler directives, without their ``#SBATCH``-like prefix.
    prologue : tuple of str
        Shell lines run by the job before the worker starts (``module load``...).
    start_timeout : float
        Seconds the batch waits for a first worker (or, later, for any worker) before it
        stops with an error.
    log_directory : str or None
        Where the jobs' stdout/stderr files go.
    """

    scheduler: str
    cores: int
    memory: int
    threads: int = 1
    processes: int = 1
    jobs: int = 1
    adapt: bool = False
    queue: str | None = None
    account: str | None = None
    qos: str | None = None
    walltime: str | None = DEFAULT_WALLTIME
    job_extra: tuple[str, ...] = ()
    prologue: tuple[str, ...] = ()
    start_timeout: float = DEFAULT_START_TIMEOUT
    log_directory: str | None = None

    @property
    def samples_per_worker(self) -> int:
        """Samples one worker process runs at once."""
        return max(1, self.cores // self.processes // self.threads)

    @property
    def memory_per_sample(self) -> int:
        """Bytes of memory for one sample (the worker's share divided by its samples)."""
        return self.memory // self.processes // self.samples_per_worker

    def jobqueue_options(self) -> dict[str, Any]:
        """Keyword arguments of the dask-jobqueue job class for this shape."""
        directives = list(self.job_extra)
        if self.qos:
            directives.append(f"--qos={self.qos}")
        options: dict[str, Any] = {
            "cores": self.cores, "memory": f"{self.memory}B", "processes": self.processes,
            "walltime": self.walltime, "job_name": "emseq-worker",
            "job_extra_directives": directives, "job_script_prologue": list(self.prologue),
            # a worker runs `samples_per_worker` samples at once, each task takes one
            "worker_extra_args": ["--resources", f"{SAMPLE_RESOURCE}={self.samples_per_worker}"],
        }
        if self.queue:
            options["queue"] = self.queue
        if self.account:
            options[SCHEDULERS[self.scheduler][2]] = self.account
        if self.log_directory:
            options["log_directory"] = self.log_directory
        return options

    def describe(self, n_samples: int) -> list[str]:
        """The plan in words, one line each (logged at start and printed by ``--dry-run``)."""
        jobs = f"up to {self.jobs}" if self.adapt else str(self.jobs)
        running = min(n_samples, self.jobs * self.processes * self.samples_per_worker)
        return [
            f"plan: {n_samples} sample(s) on {jobs} {self.scheduler} job(s) of {self.cores} "
            f"core(s) and {format_size(self.memory)}, walltime {self.walltime or 'default'}",
            f"plan: {self.processes} worker process(es) per job, {self.samples_per_worker} "
            f"sample(s) at once per worker with {self.threads} thread(s) and "
            f"{format_size(self.memory_per_sample)} each; {running} sample(s) at once in all",
        ]


def format_size(n_bytes: int) -> str:
    """Bytes in the decimal units of the memory flags: ``4000000000`` -> ``'4GB'``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g}{unit}"
    return f"{n_bytes}B"


#: The Dask resource a sample task takes one of on a cluster started by the batch.
SAMPLE_RESOURCE = "emseq_sample"


def _config(scheduler: str, key: str) -> Any:
    """A value of the dask-jobqueue configuration (``~/.config/dask/jobqueue.yaml``...)."""
    import dask
    import dask_jobqueue  # noqa: F401  (registers the jobqueue defaults)

    return dask.config.get(f"jobqueue.{scheduler}.{key}", None)


def _bytes(text: Any, what: str) -> int:
    from dask.utils import parse_bytes

    try:
        value = int(parse_bytes(text)) if isinstance(text, str) else int(text)
    except (ValueError, TypeError):
        raise UsageError(f"{what} {text!r}: expected a size like 4GB or 500MiB") from None
    if value <= 0:
        raise UsageError(f"{what} must be positive, got {text!r}")
    return value


def _directive(line: str, prefix: str) -> str:
    """``'#SBATCH --gres=gpu:1'`` or ``'--gres=gpu:1'`` -> ``'--gres=gpu:1'``."""
    line = line.strip()
    return line[len(prefix):].strip() if line.startswith(prefix) else line


def plan_jobs(scheduler: str, *, threads: int = 1, cores: int | None = None,
              memory: str | None = None, sample_memory: str | None = None, jobs: int = 1,
              adapt: bool = False, queue: str | None = None, account: str | None = None,
              qos: str | None = None, walltime: str | None = None,
              job_extra: tuple[str, ...] | list[str] = (), prologue: tuple[str, ...] |
              list[str] = (), start_timeout: float = DEFAULT_START_TIMEOUT,
              log_directory: str | None = None) -> JobShape:
    """Resolve the job shape from the flags, then the dask-jobqueue configuration, then the
    built-in defaults, and check that it holds together.

    A flag overrides the configuration's value of the same key (``--job-extra`` and
    ``--prologue`` replace the configuration's lists). Unset ``cores`` is the configuration's,
    else ``threads`` (one sample per job); unset ``memory`` is the configuration's, else
    ``sample_memory`` (default 4GB) times the samples per worker.

    Raises
    ------
    UsageError
        On an unknown scheduler, a value out of range, fewer cores than threads, or a memory
        per sample below ``sample_memory``.
    """
    if scheduler not in SCHEDULERS:
        raise UsageError(f"--cluster must be one of {sorted(SCHEDULERS)}, got {scheduler!r}")
    prefix = SCHEDULERS[scheduler][3]
    if threads < 1:
        raise UsageError(f"-p/--threads must be at least 1, got {threads}")
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    if not start_timeout > 0:
        raise UsageError(f"--start-timeout must be positive seconds, got {start_timeout}")
    if qos and scheduler != "slurm":
        raise UsageError(f"--qos is a SLURM option; for {scheduler} pass it with --job-extra")
    cores = cores if cores is not None else _config(scheduler, "cores") or threads
    if int(cores) < 1:
        raise UsageError(f"--cores must be at least 1, got {cores}")
    cores = int(cores)
    processes = int(_config(scheduler, "processes") or 1)
    if cores // processes < threads:
        raise UsageError(f"-p/--threads {threads} is more than the {cores // processes} "
                         f"core(s) of a worker (--cores {cores}, {processes} process(es) per "
                         "job): raise --cores or lower -p")
    samples_per_worker = cores // processes // threads
    per_sample = _bytes(sample_memory or DEFAULT_SAMPLE_MEMORY, "--sample-memory")
    if memory is None:
        memory = _config(scheduler, "memory")
    total = (_bytes(memory, "--memory") if memory is not None
             else per_sample * samples_per_worker * processes)
    shape = JobShape(
        scheduler=scheduler, cores=cores, memory=total, threads=threads, processes=processes,
        jobs=jobs, adapt=adapt, queue=queue or _config(scheduler, "queue"),
        account=account or _config(scheduler, SCHEDULERS[scheduler][2]), qos=qos,
        walltime=walltime or _config(scheduler, "walltime") or DEFAULT_WALLTIME,
        job_extra=tuple(_directive(line, prefix) for line in
                        (job_extra or _config(scheduler, "job-extra-directives") or ())),
        prologue=tuple(prologue or _config(scheduler, "job-script-prologue") or ()),
        start_timeout=float(start_timeout), log_directory=log_directory)
    if sample_memory is not None and shape.memory_per_sample < per_sample:
        raise UsageError(
            f"--memory {format_size(total)} per job leaves {format_size(shape.memory_per_sample)}"
            f" per sample ({samples_per_worker * processes} at once: --cores {cores} / -p "
            f"{threads}), less than --sample-memory {format_size(per_sample)}: raise --memory "
            f"to {format_size(per_sample * samples_per_worker * processes)} or lower --cores")
    return shape
