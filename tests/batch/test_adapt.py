"""``emseq batch --adapt`` on the one-node SLURM: a worker job cancelled with ``scancel`` in the
middle of a sample is replaced by a new job and every sample is done once."""

from __future__ import annotations

import json
import re
import time

import pytest

from emseq.batch import MANIFEST_NAME
from emseq.cli import main as emseq_main

from .test_run import DEMO_BAM, DEMO_TRANSCRIPTS, write_sheet
from .test_slurm import (JOB, assert_each_sample_ran_once_on_a_job, assert_same_matrices,
                         cancel_when_running, local_run, queued_jobs, run_watched)

pytestmark = pytest.mark.slurm


def test_an_adaptive_batch_replaces_a_cancelled_job_and_does_each_sample_once(
        slurm, sample_bams, tmp_path):
    # S1 is the whole demo BAM: long enough to be cancelled in its middle
    rows = [("S1", DEMO_BAM), *[(f"S{i + 2}", bam) for i, bam in enumerate(sample_bams[:3])]]
    sheet = write_sheet(tmp_path / "sheet.csv", rows)
    output = tmp_path / "out"
    cancelled: list[str] = []
    killer = cancel_when_running(slurm, output, "S1", cancelled)
    try:  # one job at most: the batch can only go on with a new one
        code, seen = run_watched([str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                                  "--adapt", "--jobs", "1", *JOB], lambda: queued_jobs(slurm))
    finally:
        killer.join()
    assert cancelled, "S1 finished before its job could be cancelled"
    assert code == 0
    log = assert_each_sample_ran_once_on_a_job(output, seen, 4)
    assert "plan: 4 sample(s) on up to 1 slurm job(s)" in log
    assert f"worker job {cancelled[0]} ended while the batch ran" in log, log
    retried = re.search(r"S1: started \(attempt 2\), worker \S+, job (\d+)", log)
    assert retried and retried.group(1) != cancelled[0] and retried.group(1) in seen, log
    state = slurm.run("scontrol", "show", "job", cancelled[0]).stdout
    assert "JobState=CANCELLED" in state, state
    # nothing lost or doubled: each sample's manifest and counts are the LocalCluster run's
    reference = tmp_path / "local"
    local_run(sheet, reference)
    assert_same_matrices(output, reference)
    for sample, _ in rows:
        ran, expected = (json.loads((folder / sample / MANIFEST_NAME).read_text())
                         for folder in (output, reference))
        for key in ("engine", "sample", "options", "inputs"):
            assert ran[key] == expected[key], (sample, key)
        assert (output / sample / "quant.sf").read_text() == \
            (reference / sample / "quant.sf").read_text(), sample
