"""The one-node SLURM of the tests is a real scheduler: jobs run, bad ones are refused."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.slurm


def test_a_job_runs_on_the_node_and_is_listed_until_it_ends(slurm, tmp_path):
    out = tmp_path / "job.out"
    submitted = slurm.run("sbatch", "--parsable", "-o", str(out), "--wrap", "sleep 2; echo ran")
    job = submitted.stdout.strip().split(";")[0]
    assert job.isdigit()
    assert job in slurm.run("squeue", "-h", "-o", "%i").stdout.split()
    deadline = time.monotonic() + 60
    while job in slurm.run("squeue", "-h", "-o", "%i").stdout.split():
        assert time.monotonic() < deadline, slurm.log_tail()
        time.sleep(0.2)
    assert "JobState=COMPLETED" in slurm.run("scontrol", "show", "job", job).stdout
    assert out.read_text() == "ran\n"


def test_an_unknown_partition_is_refused_at_submission(slurm):
    refused = slurm.run("sbatch", "-p", "nosuch", "--wrap", "true", check=False)
    assert refused.returncode != 0
    assert "invalid partition" in refused.stderr.lower()
