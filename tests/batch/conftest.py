"""Fixtures for the batch tests: small real BAMs cut from the bundled demo, a real LocalCluster,
a real one-node SLURM cluster (:mod:`tests.batch.slurm_node`), a real one-node Grid Engine cell
(:mod:`tests.batch.sge_node`) and PBS commands over that SLURM
(:mod:`tests.batch.pbs_wrappers`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pysam
import pytest

from . import pbs_wrappers, sge_node
from .slurm_node import OneNodeSlurm, missing_binaries

DATA = Path(__file__).resolve().parents[2] / "data" / "quant"
DEMO_BAM = DATA / "demo.bam"


def subsample_bam(source: Path, target: Path, keep_every: int, offset: int) -> int:
    """Write the read-name groups ``offset, offset + keep_every, ...`` of ``source`` to ``target``.

    Records of one read stay together and in their original order, as the aligner wrote them.
    Returns the number of read groups written.
    """
    groups = 0
    with pysam.AlignmentFile(str(source), "rb") as bam, \
            pysam.AlignmentFile(str(target), "wb", template=bam) as out:
        previous, index = None, -1
        for record in bam.fetch(until_eof=True):
            if record.query_name != previous:
                previous, index = record.query_name, index + 1
                if index % keep_every == offset:
                    groups += 1
            if index % keep_every == offset:
                out.write(record)
    return groups


@pytest.fixture(scope="session")
def sample_bams(tmp_path_factory) -> list[Path]:
    """Four distinct samples: every fourth read of the demo BAM, four offsets."""
    if not DEMO_BAM.is_file():
        pytest.fail(f"{DEMO_BAM} is missing: the demo data ship with the repository")
    folder = tmp_path_factory.mktemp("samples")
    bams = []
    for offset in range(4):
        bam = folder / f"S{offset + 1}.bam"
        subsample_bam(DEMO_BAM, bam, keep_every=4, offset=offset)
        bams.append(bam)
    return bams


@pytest.fixture(scope="module")
def client():
    """A real Dask LocalCluster with two single-threaded worker processes."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        with Client(cluster) as active:
            yield active


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A real one-node SLURM on localhost for the whole test session (marker ``slurm``).

    Its daemons are this test run's own processes, stopped by pid at the end. Yields the
    :class:`OneNodeSlurm`; ``SLURM_CONF`` points at its ``slurm.conf`` while it runs, so
    ``sbatch``, ``squeue`` and dask-jobqueue's ``SLURMCluster`` talk to it. Skips where the
    Debian packages ``slurm-wlm`` and ``munge`` are absent, or when not root (slurmd starts
    job steps as their user).
    """
    missing = missing_binaries()
    if missing:
        pytest.skip(f"no SLURM here: {', '.join(missing)} not found (apt-get install "
                    "slurm-wlm munge; .ci/run does it as root)")
    if os.geteuid() != 0:
        pytest.skip("the one-node SLURM needs root (slurmd launches jobs as their user)")
    cluster = OneNodeSlurm(tmp_path_factory.mktemp("slurm"), cpus=2, memory_mb=8000)
    previous = os.environ.get("SLURM_CONF")
    try:
        cluster.start()
        os.environ["SLURM_CONF"] = str(cluster.conf)
        os.environ["PATH"] = cluster.environment["PATH"]
        yield cluster
    finally:
        cluster.stop()
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous


@pytest.fixture(scope="session")
def sge(tmp_path_factory):
    """A real one-node Grid Engine cell on localhost for the whole session (marker ``sge``).

    Its qmaster and execd are this test run's own processes (a private ``SGE_ROOT``, not the
    packaged cell), stopped by pid at the end. Yields the :class:`~tests.batch.sge_node.OneNodeSge`;
    its ``SGE_ROOT``, ``SGE_CELL`` and ports are in the environment while it runs, so ``qsub``
    and dask-jobqueue's ``SGECluster`` talk to it. Skips where the Debian packages
    ``gridengine-master``, ``gridengine-exec`` and ``gridengine-client`` are absent, where the
    host name does not resolve, or when not root (execd starts jobs as their user).
    """
    missing = sge_node.missing_binaries()
    if missing:
        pytest.skip(f"no Grid Engine here: {', '.join(missing)} not found (apt-get install "
                    "gridengine-master gridengine-exec gridengine-client; .ci/run does it as "
                    "root)")
    if os.geteuid() != 0:
        pytest.skip("the one-node Grid Engine needs root (execd launches jobs as their user)")
    cell = sge_node.OneNodeSge(tmp_path_factory.mktemp("sge"), slots=2)
    problem = sge_node.host_problem(cell.host)
    if problem:
        pytest.skip(f"no Grid Engine cell: {problem}")
    previous = {name: os.environ.get(name) for name in cell.variables}
    try:
        cell.start()
        os.environ.update(cell.variables)
        yield cell
    finally:
        cell.stop()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def pbs_over_slurm(slurm, tmp_path, monkeypatch):
    """``qsub``/``qstat``/``qdel`` of Debian's ``slurm-wlm-torque`` first on the PATH, over the
    one-node SLURM; yields the :class:`OneNodeSlurm`.

    The test runs in ``tmp_path``: the wrappers' ``qsub`` puts ``-o``/``-e`` of its own on
    ``sbatch``'s command line, so the jobs' output files land in the working directory.
    ``PYTHONPATH`` names this checkout, so the workers (SLURM exports the environment) import
    the emseq under test. Skips where the wrappers are absent.
    """
    reason = pbs_wrappers.absent()
    if reason:
        pytest.skip(reason)
    folder = pbs_wrappers.wrapper_folder(tmp_path / "pbs-bin")
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    monkeypatch.chdir(tmp_path)
    yield slurm
