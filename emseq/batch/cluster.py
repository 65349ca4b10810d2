"""Where a batch runs: a given Dask client, a scheduler address, a dask-jobqueue cluster
(SLURM, PBS, SGE, LSF) or an embedded LocalCluster of worker processes.

On a job-queue cluster the batch watches its jobs (:class:`Workers`): a job the scheduler
refuses at submission (unknown partition, account, QoS...) ends the run at once with the
scheduler's own message, and jobs that have not started a worker within the start timeout end
it too, instead of a run that waits forever.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from .._threads import available_cpus
from ..errors import EmseqError, UsageError
from .plan import SAMPLE_RESOURCE, SCHEDULERS, JobShape

__all__ = ["SGE_PARALLEL_ENVIRONMENT", "ClusterError", "Workers", "check_submit_command",
           "job_script", "jobqueue_options", "lsf_walltime", "open_client"]

logger = logging.getLogger(__name__)


class ClusterError(EmseqError, RuntimeError):
    """The cluster refused the batch's jobs, or they did not start in time (exit code 1)."""

    exit_code = 1


def _job_class(scheduler: str):
    import dask_jobqueue

    return getattr(dask_jobqueue, SCHEDULERS[scheduler][0].replace("Job", "Cluster")).job_cls


#: The parallel environment a Grid Engine job of more than one core asks its slots of, unless
#: a ``--job-extra`` directive names one (``-pe NAME N``).
SGE_PARALLEL_ENVIRONMENT = "smp"


#: What the letters of a Grid Engine job state say, the first found wins (``qstat(1)``).
SGE_STATES = (("E", "error"), ("h", "held"), ("d", "being deleted"), ("s", "suspended"),
              ("S", "suspended"), ("qw", "pending"), ("t", "starting"), ("r", "running"))


def _sge_memory(n_bytes: int) -> str:
    """Bytes in Grid Engine's decimal memory units: ``1000000000`` -> ``'1g'``."""
    for unit, scale in (("g", 10**9), ("m", 10**6), ("k", 10**3)):
        if n_bytes % scale == 0:
            return f"{n_bytes // scale}{unit}"
    return str(n_bytes)


def lsf_walltime(walltime: str) -> str:
    """``[D-]HH:MM:SS`` as LSF's ``bsub -W`` reads a run limit, ``hours:minutes``
    (``'02:00:00'`` -> ``'2:00'``, ``'1-00:30:10'`` -> ``'24:31'``: seconds round up to a
    minute); other text (LSF's own ``H:MM`` or ``MM``) unchanged."""
    days, _, clock = walltime.rpartition("-")
    parts = clock.split(":")
    if not (days.isdigit() or days == "") or not all(p.isdigit() for p in parts) \
            or len(parts) != 3:
        return walltime  # LSF's own 'H:MM' or 'MM' passes as written
    hours, minutes = int(parts[0]) + 24 * int(days or 0), int(parts[1])
    if len(parts) == 3 and int(parts[2]):
        minutes += 1
    hours, minutes = hours + minutes // 60, minutes % 60
    return f"{hours}:{minutes:02d}"


def jobqueue_options(shape: JobShape) -> dict[str, Any]:
    """The keyword arguments of the dask-jobqueue job class for ``shape``.

    Those of :meth:`JobShape.jobqueue_options`, and on Grid Engine what dask-jobqueue's
    ``SGEJob`` leaves out: it asks for neither cores nor memory, so a job of ``--cores 4``
    took one slot and ran four threads on it, and no memory was reserved or limited. A job
    of several cores asks for them as slots of the parallel environment
    :data:`SGE_PARALLEL_ENVIRONMENT` (``-pe smp 4``), and memory as ``h_vmem`` per slot
    (Grid Engine multiplies it by the slots), unless a ``--job-extra`` directive gives
    ``-pe``, or ``h_vmem`` (or the dask-jobqueue configuration a ``resource-spec``).
    """
    options = shape.jobqueue_options()
    if shape.scheduler == "lsf" and options.get("walltime"):
        # dask-jobqueue writes '#BSUB -W <walltime>' as given: '01:00:00' is no LSF limit
        options["walltime"] = lsf_walltime(options["walltime"])
    if shape.scheduler != "sge":
        return options
    import dask

    given = " ".join(options["job_extra_directives"])
    if shape.cores > 1 and not re.search(r"(^|\s)-pe\s", given):
        options["job_extra_directives"] = [f"-pe {SGE_PARALLEL_ENVIRONMENT} {shape.cores}",
                                           *options["job_extra_directives"]]
    if dask.config.get("jobqueue.sge.resource-spec", None) is None \
            and "h_vmem" not in given:
        options["resource_spec"] = f"h_vmem={_sge_memory(shape.memory // shape.cores)}"
    return options


def check_submit_command(scheduler: str) -> None:
    """Raise :class:`UsageError` (one line) when the scheduler's submit command is absent."""
    command = SCHEDULERS[scheduler][1]
    if shutil.which(command) is None:
        raise UsageError(f"--cluster {scheduler}: {command} not found on PATH; run the batch on "
                         f"a {scheduler.upper()} login node (or load its module), or drop "
                         "--cluster to run on this machine")


def job_script(shape: JobShape, scheduler_address: str = "tcp://DRIVER-HOST:PORT") -> str:
    """The job script the batch submits for ``shape`` (with a placeholder scheduler address).

    Nothing is left on disk: the job log folder dask-jobqueue makes on the way is removed
    again (the folders it made, if they are still empty).
    """
    made = []
    if shape.log_directory:
        folder = Path(shape.log_directory).absolute()
        while not folder.exists():
            made.append(folder)
            folder = folder.parent
    try:
        job = _job_class(shape.scheduler)(scheduler=scheduler_address, name="emseq-worker",
                                          **jobqueue_options(shape))
        return job.job_script()
    finally:
        for folder in made:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()


def _first_message(exc: BaseException) -> str:
    """The scheduler's own words in a failed submission: the first line of its stderr, or
    where that is empty (SLURM's PBS wrapper ``qsub`` reports on stdout, around the quoted
    output of ``sbatch``), the first ``error:`` line of its stdout, else its first line."""
    text = str(exc)
    stdout, _, stderr = text.partition("stderr:")
    for part, pick_errors in ((stderr, False), (stdout.partition("stdout:")[2], True)):
        lines = [line.strip().strip("'").strip() for line in part.splitlines()]
        lines = [line for line in lines if line]
        errors = [line for line in lines if "error:" in line] if pick_errors else []
        if errors or lines:
            return (errors or lines)[0]
    return (text.strip().splitlines() or [type(exc).__name__])[0]


def _watched_job_class(scheduler: str, refusals: list[str]):
    """The dask-jobqueue job class of ``scheduler``, recording failed submissions in
    ``refusals`` instead of raising them inside the cluster's event loop (where they only
    printed tracebacks while the batch waited forever)."""
    base = _job_class(scheduler)

    class WatchedJob(base):  # type: ignore[misc, valid-type]
        async def start(self):
            try:
                await super().start()
            except Exception as exc:  # noqa: BLE001 - reported by Workers.check
                from distributed.core import Status

                refusals.append(_first_message(exc))
                self.job_id = None  # nothing to cancel when the cluster closes
                self.status = Status.running  # what the cluster awaits of a started job

    WatchedJob.__name__ = f"Watched{base.__name__}"
    return WatchedJob


class Workers:
    """The client of a batch and, on a cluster it started, a watch over its jobs.

    Parameters
    ----------
    client : distributed.Client
        The client tasks are submitted to.
    shape : JobShape, optional
        The shape of the cluster jobs, when the batch started them.
    cluster : dask_jobqueue.JobQueueCluster, optional
        The cluster the batch started.
    refusals : list of str
        Failed submissions, as the scheduler worded them.
    """

    #: Seconds a job that had workers must be without any before it is replaced (a nanny
    #: restarting its worker takes a few).
    ENDED_AFTER = 10.0

    def __init__(self, client, shape: JobShape | None = None, cluster=None,
                 refusals: list[str] | None = None) -> None:
        self.client = client
        self.shape = shape
        self.cluster = cluster
        self.refusals = refusals if refusals is not None else []
        self.replaced: list[str] = []
        #: Where the watch reports what it does (the batch log's warning lines).
        self.say: Callable[[str], None] = logger.warning
        self._connected: dict[str, float] = {}  # job name -> when it last had a worker
        self._lost: dict[str, Any] = {}  # job name -> job id, workers gone, still planned
        self._replacements = 0
        self._seen_worker = False
        self._without_workers_since = time.monotonic()
        self._lock = threading.Lock()

    @property
    def resources(self) -> dict[str, int] | None:
        """What each sample task takes of a worker (only on a cluster the batch started)."""
        return {SAMPLE_RESOURCE: 1} if self.shape is not None else None

    def job_ids(self) -> list[str]:
        """Identifiers of the cluster jobs submitted so far."""
        if self.cluster is None:
            return []
        return [str(job.job_id) for job in list(self.cluster.workers.values())
                if getattr(job, "job_id", None)]

    def check(self) -> None:
        """Raise :class:`ClusterError` if a job was refused, or no worker has been connected
        for longer than the start timeout; a no-op off a cluster the batch started."""
        if self.shape is None:
            return
        if self.refusals:
            raise ClusterError(f"the {self.shape.scheduler} scheduler refused the worker job: "
                               f"{self.refusals[0]}")
        names = {str(w.get("name")) for w in self.client.scheduler_info()["workers"].values()}
        now = time.monotonic()
        self._replace_ended_jobs(names, now)
        if names:
            self._seen_worker = True
            self._without_workers_since = now
            return
        waited = now - self._without_workers_since
        if waited > self.shape.start_timeout:
            what = "no worker job started" if not self._seen_worker else \
                "every worker job ended and no new one started"
            states = self._job_states()
            raise ClusterError(f"{what} within --start-timeout {self.shape.start_timeout:g} s"
                               f"{f' ({states})' if states else ''}; check the queue "
                               "(squeue/qstat/bjobs) and the job logs")

    def _replace_ended_jobs(self, names: set[str], now: float) -> None:
        """Have a new job submitted for each job whose workers connected and then all left for
        :attr:`ENDED_AFTER` seconds (cancelled, past its walltime, node lost).

        With a fixed number of jobs, dask-jobqueue would not replace it and the batch would
        lose workers: the ended job's spec is put back under a new name and the cluster
        scaled to ``--jobs`` again. With ``--adapt``, the ended job is taken out of the
        cluster's plan, and the adaptive scaling, which counts planned jobs, not connected
        workers, then submits a new one if samples are left (without this it waited for
        ``distributed.deploy.lost-worker-timeout`` and another trigger to do so).
        """
        cluster = self.cluster
        if cluster is None or self.shape is None:
            return
        ended = []
        for name in list(cluster.workers):
            if name not in cluster.worker_spec:  # being closed by the cluster itself
                self._connected.pop(name, None)
            elif any(w == name or w.startswith(f"{name}-") for w in names):
                self._connected[name] = now
                self._lost.pop(name, None)
            elif name in self._connected:
                # its workers left while the cluster still plans it: the job ended (a job
                # the cluster scales down leaves its plan first)
                self._lost.setdefault(name, getattr(cluster.workers.get(name), "job_id", None))
                if now - self._connected[name] > self.ENDED_AFTER:
                    del self._connected[name]
                    ended.append(name)
        # a lost job the cluster closed by itself before ENDED_AFTER (dask's adaptive scaling
        # may replace it first): say so all the same
        for name in [n for n in self._lost if n not in ended and (
                n not in cluster.workers or n not in cluster.worker_spec)]:
            self._announce_ended(self._lost.pop(name) or name)
        if not ended:
            return
        jobs = {name: self._lost.pop(name, None)
                or getattr(cluster.workers.get(name), "job_id", None) for name in ended}
        adapt = self.shape.adapt

        async def replace() -> None:  # in the cluster's event loop, which owns these dicts
            for name in ended:
                spec = cluster.worker_spec.pop(name, None)
                job = cluster.workers.pop(name, None)
                if job is not None:  # make sure it is gone (cancelling an ended job is a no-op)
                    with contextlib.suppress(Exception):
                        await job.close()
                if spec is not None and not adapt:  # under a new name: the cluster would
                    self._replacements += 1  # close a job of the old one once its lost
                    cluster.worker_spec[f"{name}-r{self._replacements}"] = spec  # worker
            if not adapt:  # timed out
                cluster.scale(jobs=self.shape.jobs)  # starts the jobs of the new names

        cluster.loop.add_callback(replace)
        for name, job in jobs.items():
            self._announce_ended(job or name)

    def _announce_ended(self, job) -> None:
        self.replaced.append(str(job))
        self.say(f"worker job {job} ended while the batch ran: a new job is submitted, its "
                 "samples are retried")

    def _job_states(self) -> str:
        """``'job 12 PENDING (Resources)'`` from ``squeue`` on SLURM, ``'job 7 qw (pending)'``
        from ``qstat`` on Grid Engine; empty elsewhere, or when the command fails."""
        ids = self.job_ids()
        if self.shape is None or not ids or self.shape.scheduler not in ("slurm", "sge"):
            return ""
        slurm = self.shape.scheduler == "slurm"
        command = ["squeue", "-h", "-j", ",".join(ids), "-o", "%i %T %r"] if slurm \
            else ["qstat"]
        if shutil.which(command[0]) is None:
            return ""
        try:
            listed = subprocess.run(command, capture_output=True, text=True,
                                    timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return ""
        states = []
        for line in listed.splitlines():
            fields = line.split(maxsplit=2) if slurm else line.split()
            if slurm and len(fields) >= 2:
                states.append(f"job {fields[0]} {fields[1]}" +
                              (f" ({fields[2]})" if len(fields) > 2 else ""))
            elif not slurm and len(fields) > 4 and fields[0] in ids:  # job-ID prior name
                state = fields[4]  # user state: qw, hqw, Eqw, r, t, dr...
                meaning = next((m for code, m in SGE_STATES if code in state), "")
                states.append(f"job {fields[0]} {state}" + (f" ({meaning})" if meaning else ""))
        return "; ".join(states)


@contextlib.contextmanager
def open_client(client=None, scheduler: str | None = None, shape: JobShape | None = None,
                n_workers: int | None = None, threads_per_worker: int = 1) -> Iterator[Workers]:
    """Yield the :class:`Workers` of the batch, closing what it started.

    Parameters
    ----------
    client : distributed.Client, optional
        Use this client.
    scheduler : str, optional
        Else join the scheduler at this address.
    shape : JobShape, optional
        Else start a dask-jobqueue cluster of jobs of this shape.
    n_workers, threads_per_worker : int
        Else an embedded LocalCluster of ``n_workers`` worker processes (default: one per
        ``threads_per_worker`` cores).
    """
    from distributed import Client, LocalCluster

    if client is not None:
        yield Workers(client)
        return
    if scheduler:
        with Client(scheduler) as joined:
            yield Workers(joined)
        return
    if shape is not None:
        from dask_jobqueue import JobQueueCluster

        check_submit_command(shape.scheduler)
        refusals: list[str] = []
        job_cls = _watched_job_class(shape.scheduler, refusals)
        with JobQueueCluster(job_cls=job_cls, silence_logs="error",
                             **jobqueue_options(shape)) as started:
            if shape.adapt:
                started.adapt(minimum_jobs=0, maximum_jobs=shape.jobs)
            else:
                started.scale(jobs=shape.jobs)
            with Client(started) as joined:
                yield Workers(joined, shape, started, refusals)
        return
    workers = n_workers or max(1, available_cpus() // max(1, threads_per_worker))
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as local:
        with Client(local) as joined:
            yield Workers(joined)
