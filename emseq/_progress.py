"""Progress bars on stderr, off when stderr is not a terminal or when asked to be quiet."""

from __future__ import annotations

import sys
from typing import Any, Iterable

from tqdm.auto import tqdm

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Turn every progress bar of this process off (the CLI's ``-q/--quiet``)."""
    global _QUIET
    _QUIET = bool(quiet)


def progress(iterable: Iterable[Any] | None = None, *, total: float | None = None, desc: str = "",
             unit: str = "it", enabled: bool | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr; ``enabled=None`` shows it only on an interactive terminal."""
    if enabled is None:
        enabled = not _QUIET and sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr,
                disable=not enabled, dynamic_ncols=True, leave=False, **kwargs)
