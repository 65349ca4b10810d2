"""The live log of a batch: one line per sample as it starts, ends or fails.

Each line goes to the ``emseq.batch`` logger (stderr under the CLI, so a SLURM job running the
driver fills its ``.out`` file as the batch goes) and, always at full detail, to
``OUT/batch.log`` (appended to, so a resumed batch keeps the earlier runs' lines).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import IO

__all__ = ["BatchLog", "LOG_NAME"]

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
