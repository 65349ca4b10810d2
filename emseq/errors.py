"""Errors of emseq's own.

User errors are subclasses of :class:`EmseqError`. The CLI shows them as one line
(``emseq <command>: error: <message>``) and exits with :attr:`EmseqError.exit_code`:
2 for usage errors, 1 for bad input or a failed run. A message names the value that is wrong,
where it is (file, line, record) and, where there is one, the fix.
"""

from __future__ import annotations


class EmseqError(Exception):
    """Base class of the errors emseq raises for things the user can fix."""

    exit_code = 1


class UsageError(EmseqError, ValueError):
    """Options that do not make sense together, or a value out of its range (exit code 2)."""

    exit_code = 2


class InputError(EmseqError, ValueError):
    """An input file or array that is malformed, empty, or inconsistent (exit code 1)."""

    exit_code = 1


class FitError(EmseqError, RuntimeError):
    """A fit that cannot go on, e.g. a covariance that is not positive definite (exit code 1)."""

    exit_code = 1


class OutputError(EmseqError):
    """An output that cannot be written: a non-empty ``-o`` without ``--force``, a parent
    folder that cannot be written, or an output another run holds (exit code 1)."""

    exit_code = 1
