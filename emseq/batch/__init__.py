"""Run an emseq engine over many samples through Dask distributed.

One sample is one Dask task (``key`` = sample name, ``pure=False``, ``retries``): it writes its
own output directory ``OUT/<sample>/`` through the engine's atomic writer (a staging folder in
the one pattern of :mod:`emseq.io.atomic`, renamed into place), then writes a manifest (input
sizes, mtimes and checksums, and the options) last; each attempt logs to
``OUT/logs/<sample>.log``.
A re-run skips samples whose manifest still matches (``resume``) and redoes the others. When all
tasks are done the per-sample outputs are merged into matrices (identifier column, then one
column per sample) and a ``batch_report.tsv``.

The modules, in the order a batch uses them:

- :mod:`~emseq.batch.sheet`: read and check the sample sheet;
- :mod:`~emseq.batch.plan`: manifests, which samples are already complete;
- :mod:`~emseq.batch.cluster`: where it runs (a client, a scheduler address, a dask-jobqueue
  cluster or a LocalCluster);
- :mod:`~emseq.batch.task`: one sample, the body of each Dask task;
- :mod:`~emseq.batch.log`: the live log of the batch and the log of each sample;
- :mod:`~emseq.batch.merge`: the merged tables;
- :mod:`~emseq.batch.run`: the driver, :func:`run`.
"""

from .merge import merge_outputs
from .plan import MANIFEST_NAME
from .run import REPORT_COLUMNS, BatchResult, run
from .sheet import ENGINE_COLUMNS, MERGED_NAMES, read_sample_sheet
from .task import run_sample

__all__ = ["BatchResult", "ENGINE_COLUMNS", "MANIFEST_NAME", "MERGED_NAMES", "REPORT_COLUMNS",
           "merge_outputs", "read_sample_sheet", "run", "run_sample"]
