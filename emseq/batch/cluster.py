"""Where a batch runs: a given Dask client, a scheduler address, a dask-jobqueue cluster
(SLURM, PBS, SGE, LSF) or an embedded LocalCluster of worker processes."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator, Mapping

from .._threads import available_cpus
from ..errors import UsageError

__all__ = ["open_client"]


@contextlib.contextmanager
def open_client(client=None, scheduler: str | None = None, cluster: str | None = None,
            n_workers: int | None = None, threads_per_worker: int = 1,
            cluster_options: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """Yield a :class:`distributed.Client` for the batch, closing what it started."""
    from distributed import Client, LocalCluster

    if client is not None:
        yield client
        return
    if scheduler:
        with Client(scheduler) as joined:
            yield joined
        return
    if cluster:
        import dask_jobqueue

        classes = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster",
                   "lsf": "LSFCluster"}
        if cluster not in classes:
            raise UsageError(f"--cluster must be one of {sorted(classes)}, got {cluster!r}")
        options = dict(cluster_options or {})
        jobs, adapt = options.pop("jobs", 1), options.pop("adapt", False)
        with getattr(dask_jobqueue, classes[cluster])(**options) as started:
            if adapt:
                started.adapt(minimum_jobs=0, maximum_jobs=jobs)
            else:
                started.scale(jobs=jobs)
            with Client(started) as joined:
                yield joined
        return
    workers = n_workers or max(1, available_cpus() // max(1, threads_per_worker))
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as local:
        with Client(local) as joined:
            yield joined
