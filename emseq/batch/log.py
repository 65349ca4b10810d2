"""The logs of a batch: the live log of the driver and one log per sample.

The driver's live log has one line per sample as it starts, ends or fails. Each line goes to
the ``emseq.batch`` logger (stderr under the CLI, so a SLURM job running the driver fills its
``.out`` file as the batch goes) and, always at full detail, to ``OUT/batch.log`` (appended
to, so a resumed batch keeps the earlier runs' lines).

Each attempt at a sample logs, from its worker, to ``OUT/logs/<sample>.log``
(:func:`sample_log`): where it started (process, worker, job, host), then the engine's own log
lines; Python's :mod:`faulthandler` records there a fatal signal of the worker process. When
Dask gives up on a sample whose workers died (``KilledWorker``), :func:`death_note` reads that
log back to say why: the signal and the sample's last log line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

from .sheet import JOB_LOGS

__all__ = ["BatchLog", "LOG_NAME", "death_note", "describe_where", "sample_log",
           "sample_log_path"]

LOG_NAME = "batch.log"

logger = logging.getLogger("emseq.batch")


class BatchLog:
    """Write the batch's lines to the logger and to ``<output>/batch.log``.

    Parameters
    ----------
    output : Path
        The batch's output directory (it exists).
    """

    def __init__(self, output: Path) -> None:
        self.path = Path(output) / LOG_NAME
        self._handle: IO[str] | None = open(self.path, "a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()  # lines come from the driver and from Dask's event loop

    def line(self, message: str, level: int = logging.INFO) -> None:
        """Log ``message`` and append it, time-stamped, to ``batch.log``."""
        with self._lock:
            logger.log(level, "%s", message)
            if self._handle is not None:
                now = time.time()
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + \
                    f".{int(now % 1 * 1000):03d}"
                self._handle.write(f"[{stamp}] {logging.getLevelName(level)} {message}\n")

    def close(self) -> None:
        """Close ``batch.log``."""
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    def __enter__(self) -> "BatchLog":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def describe_where(where: Mapping[str, Any]) -> str:
    """``'worker W, job J, on HOST'``: where an attempt at a sample runs."""
    parts = [f"worker {where.get('worker')}"]
    if where.get("job"):
        parts.append(f"job {where['job']}")
    if where.get("host"):
        parts.append(f"on {where['host']}")
    return ", ".join(parts)


def sample_log_path(output: str | os.PathLike[str], sample: str) -> Path:
    """``OUT/logs/<sample>.log``: the log of each attempt at a sample, and its fatal signal."""
    return Path(output) / JOB_LOGS / f"{sample}.log"


#: How faulthandler names the fatal signals it records
_FATAL_SIGNALS = {"Segmentation fault": "SIGSEGV", "Bus error": "SIGBUS",
                  "Floating-point exception": "SIGFPE", "Floating point exception": "SIGFPE",
                  "Aborted": "SIGABRT", "Illegal instruction": "SIGILL"}
#: What an attempt's first line says (``death_note`` starts over at each one)
_STARTED = " started in process "


class _OpenSampleLogs:
    """The sample logs open in this worker process (a worker may run several samples at
    once, in threads): the ``emseq`` logger is kept at INFO while any is open, and
    faulthandler writes to the latest one opened that is still open (it takes one file)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handles: list[IO[str]] = []
        self._level = logging.NOTSET

    def add(self, handle: IO[str]) -> None:
        import faulthandler

        with self._lock:
            emseq_logger = logging.getLogger("emseq")
            if not self._handles:
                self._level = emseq_logger.level
                if emseq_logger.getEffectiveLevel() > logging.INFO:
                    emseq_logger.setLevel(logging.INFO)
            self._handles.append(handle)
            faulthandler.enable(file=handle)

    def remove(self, handle: IO[str]) -> None:
        import faulthandler

        with self._lock:
            self._handles.remove(handle)
            if self._handles:
                faulthandler.enable(file=self._handles[-1])
            else:
                faulthandler.disable()
                logging.getLogger("emseq").setLevel(self._level)


_OPEN = _OpenSampleLogs()


@contextlib.contextmanager
def sample_log(output: str | os.PathLike[str], sample: str,
               where: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Append this attempt at ``sample`` to its log: a first line saying where it runs, then
    the emseq log lines of the calling thread (INFO and above); faulthandler records there a
    fatal signal of the worker process (SIGSEGV, SIGBUS, SIGFPE, SIGABRT, SIGILL)."""
    path = sample_log_path(output, sample)
    path.parent.mkdir(exist_ok=True)
    handle = open(path, "a", encoding="utf-8", buffering=1)
    handler = logging.StreamHandler(handle)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(message)s",
                                           "%H:%M:%S"))
    task_thread = threading.get_ident()
    handler.addFilter(lambda record: record.thread == task_thread)
    located = f", {describe_where(where)}" if where else ""
    handle.write(f"[{time.strftime('%H:%M:%S')}] INFO {sample}:{_STARTED}{os.getpid()}"
                 f"{located}\n")
    emseq_logger = logging.getLogger("emseq")
    emseq_logger.addHandler(handler)
    _OPEN.add(handle)
    try:
        yield
    finally:
        _OPEN.remove(handle)
        emseq_logger.removeHandler(handler)
        handle.close()


def death_note(output: str | os.PathLike[str], sample: str) -> str:
    """Why a sample's worker died, from its log: the fatal signal faulthandler recorded (or
    none: SIGKILL, e.g. the out-of-memory killer) and the last log line before it."""
    try:
        lines = sample_log_path(output, sample).read_text(errors="replace").splitlines()
    except OSError:
        return "its worker died (no log of the sample)"
    fatal: tuple[str, str | None] | None = None
    last = None
    for line in lines:
        if line.startswith("Fatal Python error: "):
            fatal = (line.removeprefix("Fatal Python error: ").strip(), last)
        elif line.startswith("[") and "] " in line:
            if _STARTED in line:
                fatal = None  # a new attempt
            last = line
    if fatal is not None:
        name = _FATAL_SIGNALS.get(fatal[0])
        what = f"its worker died by {name} ({fatal[0]})" if name else f"its worker died: {fatal[0]}"
        last = fatal[1]
    else:
        what = ("its worker died with no fatal-signal record (SIGKILL? e.g. the out-of-memory "
                "killer)")
    return f"{what}; last log line: {last.split('] ', 1)[1] if last else 'none'}"
