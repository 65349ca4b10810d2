"""BLAS held to one thread while the OpenMP kernels run, at a few microseconds per call.

``threadpoolctl.threadpool_limits`` finds the loaded BLAS libraries anew at every call (it
reads ``/proc/self/maps``: about 3.6 ms, more than a whole fit of iris). The libraries are
found once per process here and their thread counts set and restored around each kernel call.
A BLAS library loaded after the first fit is found by calling :func:`refresh`.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

__all__ = ["one_blas_thread", "refresh"]

_lock = threading.Lock()
_controller = None


def _get_controller():
    global _controller
    with _lock:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
        return _controller


def refresh() -> None:
    """Look for the loaded BLAS libraries again at the next call."""
    global _controller
    with _lock:
        _controller = None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Hold every known BLAS library to one thread inside the block (restored on exit)."""
    blas = _get_controller().select(user_api="blas")
    libraries = [lib for lib in blas.lib_controllers if lib.num_threads != 1]
    if not libraries:  # already one thread (a single-threaded BLAS or an outer limit)
        yield
        return
    previous = [lib.num_threads for lib in libraries]
    try:
        for lib in libraries:
            lib.set_num_threads(1)
        yield
    finally:
        for lib, n in zip(libraries, previous):
            lib.set_num_threads(n)
