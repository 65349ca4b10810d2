"""SIGINT and SIGTERM at any moment: one line, exit 130 or 143, no traceback, no leftovers.

:func:`install` runs before the command line imports anything heavy (numpy, pandas, the
engines). Until a command's work starts, a signal prints ``emseq: interrupted (SIGINT)`` and
ends the process at once: nothing has been written yet. Inside :func:`armed` (the command's
run, with its output claimed) the first signal raises :class:`Interrupted` in the main thread,
so every ``finally`` and context manager runs (staging folders and lock files are removed);
further signals while that clean-up runs are ignored. The CLI then prints one line and exits
with ``128 + signal``.

This module imports only the standard library's ``os``, ``signal`` and ``contextlib``.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Iterator

__all__ = ["Interrupted", "install", "armed", "HANDLED"]

#: The signals handled, and their exit codes (128 + number)
HANDLED = (signal.SIGINT, signal.SIGTERM)

_state = {"armed": False, "raised": None, "prog": "emseq"}


class Interrupted(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM while a command runs.

    A ``BaseException`` (as ``KeyboardInterrupt``), so ``except Exception`` blocks do not
    swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _handler(signum: int, frame) -> None:
    if not _state["armed"]:
        message = f"{_state['prog']}: interrupted ({signal.Signals(signum).name})\n"
        try:
            os.write(2, message.encode())
        finally:
            os._exit(128 + signum)
    if _state["raised"] is not None:
        return  # already unwinding: let the clean-up finish
    _state["raised"] = signum
    raise Interrupted(signum)


def install(prog: str = "emseq") -> None:
    """Handle SIGINT and SIGTERM (main thread only; elsewhere a no-op)."""
    _state["prog"] = prog
    for signum in HANDLED:
        try:
            signal.signal(signum, _handler)
        except ValueError:  # not the main thread (e.g. main() called from a worker thread)
            return


@contextlib.contextmanager
def armed(prog: str) -> Iterator[None]:
    """Within the block, a signal raises :class:`Interrupted` instead of exiting at once."""
    _state.update(armed=True, raised=None, prog=prog)
    try:
        yield
    finally:
        _state["armed"] = False


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back for a few renames that must happen together."""
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
