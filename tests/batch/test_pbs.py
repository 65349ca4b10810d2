"""``emseq batch --cluster pbs`` through the PBS/Torque commands of Debian's ``slurm-wlm-torque``
(``qsub``, ``qstat``, ``qdel`` over ``sbatch``, ``squeue``, ``scancel``) on the one-node SLURM
(the fixture ``pbs_over_slurm``).

dask-jobqueue's ``PBSJob`` writes ``#PBS`` directives (``-l select=1:ncpus=N:mem=...``,
``-l walltime``, ``-q``) that ``sbatch`` reads itself; the worker jobs are real SLURM jobs.
"""

from __future__ import annotations

import time

import pytest

from emseq.cli import main as emseq_main

from .test_run import DEMO_TRANSCRIPTS, write_sheet
from .test_slurm import (assert_each_sample_ran_once_on_a_job, assert_same_matrices, local_run,
                         queued_jobs, run_watched)

pytestmark = pytest.mark.slurm


def job_options(queue: str = "debug") -> list[str]:
    """Jobs of one core: two fit at once on the two-CPU node."""
    return ["--cluster", "pbs", "--queue", queue, "--cores", "1", "-p", "1",
            "--sample-memory", "1GB", "--walltime", "00:20:00", "--start-timeout", "120",
            "-q"]


def test_four_samples_through_pbs_commands_equal_the_local_cluster_run(pbs_over_slurm,
                                                                       sample_bams, tmp_path):
    slurm = pbs_over_slurm
    sheet = write_sheet(tmp_path / "sheet.csv",
                        [(f"S{i + 1}", bam) for i, bam in enumerate(sample_bams)])
    output = tmp_path / "pbs"
    code, seen = run_watched([str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                              "--jobs", "2", *job_options()], lambda: queued_jobs(slurm))
    assert code == 0
    assert seen, "no job was ever listed by squeue"
    deadline = time.monotonic() + 120
    while queued_jobs(slurm) & seen:  # deleted (qdel) jobs are listed until they are gone
        assert time.monotonic() < deadline, "the batch left jobs behind"
        time.sleep(0.5)
    for job in seen:  # what SLURM made of the #PBS directives
        state = slurm.run("scontrol", "show", "job", job).stdout
        assert "JobName=emseq-worker" in state and "Partition=debug" in state, state
        assert "NumCPUs=1 " in state and "TimeLimit=00:20:00" in state, state
        assert "mem=954M" in state, state  # 1GB, in the MiB sbatch counts in
    local_run(sheet, tmp_path / "local")
    assert_same_matrices(output, tmp_path / "local")
    log = assert_each_sample_ran_once_on_a_job(output, seen, 4)
    assert "plan: 4 sample(s) on 2 pbs job(s) of 1 core(s) and 1GB" in log


def test_a_job_the_pbs_commands_refuse_ends_the_run_with_sbatchs_message(pbs_over_slurm,
                                                                         sample_bams,
                                                                         tmp_path, capsys):
    sheet = write_sheet(tmp_path / "sheet.csv", [("S1", sample_bams[0])])
    output = tmp_path / "out"
    code = emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                       *job_options(queue="nosuch")])
    err = capsys.readouterr().err
    assert code == 1
    # the wrapper prints sbatch's words on its stdout, quoted in a paragraph of its own
    assert err.strip().splitlines() == [
        "emseq batch: error: the pbs scheduler refused the worker job: sbatch: error: "
        "invalid partition specified: nosuch"], err
