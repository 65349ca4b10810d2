"""argparse types that check a number's range while the command line is parsed, so a bad value
is a usage error (exit 2) naming the option before anything runs."""

from __future__ import annotations

import argparse
import math
from typing import Callable

from .._threads import available_cpus

__all__ = ["int_range", "float_range", "threads", "THREADS_PER_CPU"]

#: ``-p`` may ask for up to this many threads per available CPU
THREADS_PER_CPU = 4


def int_range(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An integer from ``low`` to ``high`` (inclusive; None: unbounded)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range: {_bounds(low, high)}")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(low: float | None = None, high: float | None = None, *,
                low_open: bool = False) -> Callable[[str], float]:
    """A finite number from ``low`` (excluded if ``low_open``) to ``high``."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if (not math.isfinite(value) or (low is not None and (value < low or (low_open and
                                                                          value == low)))
                or (high is not None and value > high)):
            bound = _bounds(low, high).replace("at least", "above" if low_open else "at least")
            raise argparse.ArgumentTypeError(f"{text} is out of range: {bound}")
        return value

    parse.__name__ = "number"
    return parse


def _bounds(low, high) -> str:
    if low is not None and high is not None:
        return f"from {low} to {high}"
    if low is not None:
        return f"at least {low}"
    return f"at most {high}"


def threads(text: str) -> int:
    """``-p``: from 1 to the available CPUs x :data:`THREADS_PER_CPU`."""
    return int_range(1, available_cpus() * THREADS_PER_CPU)(text)


threads.__name__ = "thread count"
