"""What the tests' one-node schedulers share: daemons run as this process's own children,
watched while they start and stopped by pid (:mod:`tests.batch.slurm_node`,
:mod:`tests.batch.sge_node`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


class Daemons:
    """A group of daemon processes with their logs in ``folder / "log"``.

    Parameters
    ----------
    folder : Path
        The scheduler's private folder; the daemons' stdout and stderr go to
        ``log/<name>.stderr`` in it.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.processes: dict[str, subprocess.Popen] = {}
        self.environment: dict[str, str] = {}

    def _spawn(self, name: str, command: list[str], **popen) -> None:
        (self.folder / "log").mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "log" / f"{name}.stderr", "wb")
        self.processes[name] = subprocess.Popen(command, env=self.environment, stdout=log,
                                                stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, **popen)
        log.close()

    def _check_alive(self, deadline: float, waiting_for: str) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} while waiting "
                                   f"for {waiting_for}:\n{self.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {waiting_for}:\n{self.log_tail()}")

    def _log_files(self) -> list[Path]:
        return sorted((self.folder / "log").glob("*"))

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of every daemon's log, for an error message."""
        parts = []
        for log in self._log_files():
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.relative_to(self.folder)}\n" + "\n".join(text))
        return "\n".join(parts)

    def _terminate(self, names: tuple[str, ...], wait: float) -> None:
        """SIGTERM the daemons ``names`` in this order, SIGKILL one still there after
        ``wait`` seconds (its whole process group when it leads one)."""
        for name in names:
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):  # gone meanwhile
                    if os.getpgid(process.pid) == process.pid:
                        os.killpg(process.pid, signal.SIGKILL)
                    else:
                        process.kill()
                process.wait()
        self.processes.clear()
