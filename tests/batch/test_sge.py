"""``emseq batch --cluster sge`` on a real one-node Grid Engine cell (the session fixture ``sge``).

The worker jobs are real Grid Engine jobs (qsub, qstat, qdel); each runs a real Dask worker that
connects back to the batch's scheduler.
"""

from __future__ import annotations

import re
import time

import pytest

from emseq.batch.cluster import job_script
from emseq.batch.plan import plan_jobs
from emseq.cli import main as emseq_main

from .sge_node import PARALLEL_ENVIRONMENT, QUEUE
from .test_run import DEMO_TRANSCRIPTS, write_sheet
from .test_slurm import (assert_each_sample_ran_once_on_a_job, assert_same_matrices, local_run,
                         run_watched, start_timeout_error)

pytestmark = pytest.mark.sge


def job_options(cores: int = 1, queue: str = QUEUE) -> list[str]:
    """Small jobs: two of one core fit at once in the two slots of all.q."""
    return ["--cluster", "sge", "--queue", queue, "--cores", str(cores), "-p", "1",
            "--sample-memory", "1GB", "--start-timeout", "120", "-q"]


def accounting(sge, job: str) -> dict[str, str]:
    """The ``qacct -j`` record of an ended job (``jobname``, ``qname``, ``slots``...)."""
    deadline = time.monotonic() + 60
    while True:  # execd reports an ended job to qmaster's accounting file within seconds
        done = sge.run("qacct", "-j", job, check=False)
        if done.returncode == 0:
            return dict(line.split(None, 1) for line in done.stdout.splitlines()
                        if len(line.split(None, 1)) == 2)
        assert time.monotonic() < deadline, done.stdout + done.stderr
        time.sleep(0.5)


@pytest.mark.parametrize("jobs, cores", [(2, 1), (1, 2)], ids=["2x1core", "1x2cores"])
def test_four_samples_through_sge_equal_the_local_cluster_run(sge, sample_bams, tmp_path,
                                                              jobs, cores):
    sheet = write_sheet(tmp_path / "sheet.csv",
                        [(f"S{i + 1}", bam) for i, bam in enumerate(sample_bams)])
    output = tmp_path / "sge"
    code, seen = run_watched([str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                              "--jobs", str(jobs), *job_options(cores)], sge.jobs)
    assert code == 0
    assert seen, "no job was ever listed by qstat"
    deadline = time.monotonic() + 120
    while sge.jobs() & seen:  # deleted jobs are listed until their processes are gone
        assert time.monotonic() < deadline, "the batch left jobs behind"
        time.sleep(0.5)
    for job in seen:  # what the scheduler ran: the job's name, queue and slots
        record = accounting(sge, job)
        assert record["jobname"].strip() == "emseq-worker", record
        assert record["qname"].strip() == QUEUE, record
        assert int(record["slots"]) == cores, record
        if cores > 1:
            assert record["granted_pe"].strip() == PARALLEL_ENVIRONMENT, record
    local_run(sheet, tmp_path / "local")
    assert_same_matrices(output, tmp_path / "local")
    log = assert_each_sample_ran_once_on_a_job(output, seen, 4)
    assert f"plan: 4 sample(s) on {jobs} sge job(s) of {cores} core(s)" in log


def test_a_job_the_scheduler_rejects_ends_the_run_with_its_message(sge, sample_bams,
                                                                   tmp_path, capsys):
    sheet = write_sheet(tmp_path / "sheet.csv", [("S1", sample_bams[0])])
    output = tmp_path / "out"
    started = time.monotonic()
    code = emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                       *job_options(queue="nosuch")])
    took = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines() == [
        "emseq batch: error: the sge scheduler refused the worker job: Unable to run job: "
        'Job was rejected because job requests unknown queue "nosuch"'], err
    assert took < 120, "the refusal waited for --start-timeout 120 instead of ending the run"
    assert "failed" not in (output / "batch.log").read_text()  # nothing ran
    assert not sge.jobs()


def test_dry_run_prints_an_sge_job_script_the_scheduler_accepts(sge, sample_bams, tmp_path,
                                                                capsys):
    sheet = write_sheet(tmp_path / "sheet.csv", [("S1", sample_bams[0])])
    output = tmp_path / "out"
    code = emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                       "--cluster", "sge", "--queue", QUEUE, "--account", "lab", "--cores", "2",
                       "-p", "1", "--sample-memory", "1500MB", "--walltime", "00:20:00",
                       "--job-extra", "#$ -l h_cpu=01:00:00", "--job-extra=-notify",
                       "--prologue", "export OMP_PROC_BIND=true", "--prologue", "echo ready",
                       "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert not output.exists()
    assert "plan: 1 sample(s) on 1 sge job(s) of 2 core(s) and 3GB, walltime 00:20:00" in out
    script = out[out.index("#!"):]
    for line in (f"#$ -q {QUEUE}", "#$ -P lab", "#$ -l h_rt=00:20:00",
                 f"#$ -pe {PARALLEL_ENVIRONMENT} 2",  # the cores, as slots
                 "#$ -l h_vmem=1500m",  # per slot: Grid Engine multiplies it by 2
                 "#$ -l h_cpu=01:00:00", "#$ -notify", "export OMP_PROC_BIND=true",
                 "echo ready", f"#$ -o {output.resolve()}/logs/", "#$ -N emseq-worker"):
        assert line in script.splitlines(), line
    worker = script.strip().splitlines()[-1]
    assert "--nthreads 2" in worker and "--resources emseq_sample=2" in worker
    assert script.index("OMP_PROC_BIND") < script.index("echo ready") < \
        script.index("dask_worker")
    # the real scheduler takes every directive: qsub -w v checks the job could run here
    # (without the project, which this cell does not have, and without submitting it)
    checked = tmp_path / "job.sh"
    checked.write_text(script.replace("#$ -P lab\n", ""))
    verified = sge.run("qsub", "-w", "v", str(checked), check=False)
    assert verified.returncode == 0 and "verification: found suitable queue(s)" in \
        verified.stdout, verified.stdout + verified.stderr
    assert not sge.jobs()


def test_jobs_pending_beyond_the_start_timeout_end_the_run_with_their_state(sge, sample_bams,
                                                                           tmp_path, capsys):
    holder = sge.run("qsub", "-b", "y", "-pe", PARALLEL_ENVIRONMENT, "2", "-o", "/dev/null",
                     "-j", "y", "sleep", "600").stdout
    holder = re.search(r"Your job (\d+)", holder).group(1)
    try:
        deadline = time.monotonic() + 60
        while " r " not in sge.run("qstat").stdout:  # both slots taken
            assert time.monotonic() < deadline, sge.log_tail()
            time.sleep(0.2)
        line = start_timeout_error(sample_bams[0], tmp_path, capsys, job_options())
        assert re.fullmatch(r"emseq batch: error: no worker job started within "
                            r"--start-timeout 3 s \(job \d+ qw \(pending\)\); check the queue "
                            r"\(squeue/qstat/bjobs\) and the job logs", line), line
        deadline = time.monotonic() + 60
        while sge.jobs() != {holder}:  # the batch's own pending job was deleted
            assert time.monotonic() < deadline, sge.jobs()
            time.sleep(0.5)
    finally:
        sge.run("qdel", holder, check=False)


@pytest.mark.parametrize("cores, job_extra, expected", [
    (1, [], ["-l h_vmem=2g"]),  # one slot: no parallel environment
    (4, [], ["-pe smp 4", "-l h_vmem=500m"]),  # 2GB over 4 slots
    (4, ["-pe threaded 4"], ["-pe threaded 4", "-l h_vmem=500m"]),  # the site's PE instead
    (2, ["-l h_vmem=3G"], ["-pe smp 2", "-l h_vmem=3G"]),  # the user's memory request
], ids=["1core", "4cores", "own-pe", "own-h_vmem"])
def test_sge_jobs_ask_for_their_slots_and_memory_unless_told_otherwise(cores, job_extra,
                                                                        expected):
    """No scheduler needed: the directives the batch adds to dask-jobqueue's SGE job."""
    shape = plan_jobs("sge", cores=cores, memory="2GB", job_extra=job_extra)
    directives = [line[3:] for line in job_script(shape).splitlines()
                  if line.startswith("#$ -pe") or line.startswith("#$ -l h_vmem")]
    assert sorted(directives) == sorted(expected)
