"""Number-of-threads conventions shared by every engine."""

from __future__ import annotations

import os

from .errors import UsageError


def available_cpus() -> int:
    """CPUs this process may run on (respects affinity masks and cgroup-restricted sets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


def resolve_threads(n_threads: int | None) -> int:
    """Turn a user's ``n_threads`` into a positive count.

    ``None`` or ``0`` means all available CPUs; a negative value ``-k`` means all but ``k - 1``
    (scikit-learn's ``n_jobs`` convention), never fewer than one.
    """
    cpus = available_cpus()
    if n_threads is None or n_threads == 0:
        return cpus
    if not isinstance(n_threads, (int,)) or isinstance(n_threads, bool):
        raise UsageError(f"n_threads must be an integer or None, got {n_threads!r}")
    if n_threads < 0:
        return max(1, cpus + 1 + n_threads)
    return n_threads
