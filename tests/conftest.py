"""Fixtures of the whole suite."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def emseq_logging_restored():
    """Give the ``emseq`` and ``py.warnings`` loggers back as they were after each test.

    A command run in-process (``emseq.cli.main``) gives them its own stderr handler (pytest's
    capture stream, closed after the test) and stops their propagation, so a later test's
    ``caplog`` saw none of emseq's lines and its messages went to a closed file.
    """
    loggers = [logging.getLogger(name) for name in ("emseq", "py.warnings")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for lg, (handlers, level, propagate) in zip(loggers, saved):
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate
