"""``python -m emseq`` is ``emseq``."""

import sys

from . import _signals

_signals.install()  # before the command line imports numpy, pandas and the engines

from .cli import main  # noqa: E402

sys.exit(main())
