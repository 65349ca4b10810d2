"""``python -m emseq`` is ``emseq``."""

import sys

from .cli import main

sys.exit(main())
