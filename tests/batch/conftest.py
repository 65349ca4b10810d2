"""Fixtures for the batch tests: small real BAMs cut from the bundled demo, a real LocalCluster."""

from __future__ import annotations

import logging
from pathlib import Path

import pysam
import pytest

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
