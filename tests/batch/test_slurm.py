"""``emseq batch --cluster slurm`` on a real one-node SLURM (the session fixture ``slurm``).

The worker jobs are real SLURM jobs (sbatch, squeue, scancel); each runs a real Dask worker
that connects back to the batch's scheduler.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from emseq.batch import MANIFEST_NAME
from emseq.cli import main as emseq_main

from .test_run import DEMO_BAM, DEMO_TRANSCRIPTS, assert_no_staging_left, write_sheet

pytestmark = pytest.mark.slurm
ROOT = Path(__file__).resolve().parents[2]
#: Small jobs that fit two at once on the two-CPU node.
JOB = ["--cluster", "slurm", "--queue", "debug", "--cores", "1", "-p", "1",
       "--sample-memory", "1GB", "--start-timeout", "120", "-q"]


def queued_jobs(slurm) -> set[str]:
    return set(slurm.run("squeue", "-h", "-o", "%i").stdout.split())


def run_watched(args: list[str], list_jobs: Callable[[], set[str]]) -> tuple[int, set[str]]:
    """Run ``emseq batch ARGS`` while a thread records every job id ``list_jobs()`` lists
    (squeue, qstat...); returns the exit code and the ids seen."""
    seen: set[str] = set()
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            seen.update(list_jobs())
            time.sleep(0.2)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        code = emseq_main(["batch", *args])
    finally:
        stop.set()
        watcher.join()
    return code, seen


def local_run(sheet: Path, output: Path) -> None:
    """The same batch on a LocalCluster: the reference the SLURM run must equal."""
    assert emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                       "--workers", "2", "-p", "1", "-q"]) == 0


def assert_same_matrices(output: Path, reference: Path) -> None:
    for name in ("transcript_counts.tsv", "transcript_tpm.tsv"):
        assert (output / name).read_text() == (reference / name).read_text(), name


def assert_each_sample_ran_once_on_a_job(output: Path, jobs: set[str], n_samples: int) -> str:
    """Samples ``S1``... ``S<n>`` are ok in the report, each started on one of ``jobs`` and
    done once (with its peak memory), the jobs' own logs are there and no staging folder is
    left. Returns the batch log."""
    report = pd.read_csv(output / "batch_report.tsv", sep="\t")
    assert report["status"].tolist() == ["ok"] * n_samples
    log = (output / "batch.log").read_text()
    for sample in (f"S{i + 1}" for i in range(n_samples)):
        started = re.search(rf"{sample}: started, worker \S+, job (\d+)", log)
        assert started and started.group(1) in jobs, log
        assert len(re.findall(rf"{sample}: done in [\d.]+ s, peak memory \d+ MB", log)) == 1, log
    assert sorted(p.name for p in (output / "logs").iterdir())  # the jobs' own output
    assert_no_staging_left(output)
    return log


def cancel_when_running(slurm, output, sample: str, cancelled: list[str]) -> threading.Thread:
    """A thread that ``scancel``s the job running ``sample`` once the sample has started
    writing its staging folder (so mid-sample), recording the job id in ``cancelled``."""

    def watch() -> None:
        deadline = time.monotonic() + 180
        log = output / "batch.log"
        while time.monotonic() < deadline and not cancelled:
            text = log.read_text() if log.is_file() else ""
            started = re.search(rf"{sample}: started, worker \S+, job (\d+)", text)
            if started and any(output.glob(f".{sample}.tmp-*")):
                slurm.run("scancel", started.group(1))
                cancelled.append(started.group(1))
            time.sleep(0.05)

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def test_four_samples_through_slurm_equal_the_local_cluster_run(slurm, sample_bams, tmp_path):
    sheet = write_sheet(tmp_path / "sheet.csv",
                        [(f"S{i + 1}", bam) for i, bam in enumerate(sample_bams)])
    output = tmp_path / "slurm"
    code, seen = run_watched([str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                              "--jobs", "2", *JOB], lambda: queued_jobs(slurm))
    assert code == 0
    assert seen, "no job was ever listed by squeue"
    deadline = time.monotonic() + 120
    while queued_jobs(slurm):  # cancelled jobs are listed until their processes are gone
        assert time.monotonic() < deadline, "the batch left jobs behind"
        time.sleep(0.5)
    for job in seen:  # the scheduler kept a record of each job after it ended
        state = slurm.run("scontrol", "show", "job", job).stdout
        assert "JobName=emseq-worker" in state and "Partition=debug" in state
        assert re.search(r"JobState=(COMPLETED|CANCELLED)", state), state
    local_run(sheet, tmp_path / "local")
    assert_same_matrices(output, tmp_path / "local")
    log = assert_each_sample_ran_once_on_a_job(output, seen, 4)
    assert "plan: 4 sample(s) on 2 slurm job(s) of 1 core(s) and 1GB" in log


def test_a_job_the_scheduler_refuses_ends_the_run_with_its_message(slurm, sample_bams,
                                                                   tmp_path, capsys):
    sheet = write_sheet(tmp_path / "sheet.csv", [("S1", sample_bams[0])])
    output = tmp_path / "out"
    args = [a if a != "debug" else "nosuch" for a in JOB]
    code = emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                       *args])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines() == [
        "emseq batch: error: the slurm scheduler refused the worker job: sbatch: error: "
        "invalid partition specified: nosuch"], err
    assert "failed" not in (output / "batch.log").read_text()  # nothing ran


def test_a_worker_job_cancelled_mid_sample_is_retried_on_a_new_job(slurm, sample_bams,
                                                                   tmp_path):
    rows = [("big", DEMO_BAM), ("S1", sample_bams[0]), ("S2", sample_bams[1])]
    sheet = write_sheet(tmp_path / "sheet.csv", rows)
    output = tmp_path / "out"
    cancelled: list[str] = []
    killer = cancel_when_running(slurm, output, "big", cancelled)
    code = emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                       "--jobs", "1", *JOB])
    killer.join()
    assert cancelled, "big finished before its job could be cancelled"
    assert code == 0
    log = (output / "batch.log").read_text()
    assert f"worker job {cancelled[0]} ended while the batch ran: a new job is submitted" in log
    assert re.search(r"big: started \(attempt 2\), worker \S+, job (?!%s\b)\d+" % cancelled[0],
                     log), log
    assert log.count("big: done") == 1
    report = pd.read_csv(output / "batch_report.tsv", sep="\t")
    assert report["sample"].tolist() == ["big", "S1", "S2"]
    assert report["status"].tolist() == ["ok"] * 3
    local_run(sheet, tmp_path / "local")
    assert_same_matrices(output, tmp_path / "local")
    assert_no_staging_left(output)


def test_resume_after_the_driver_was_killed(slurm, sample_bams, tmp_path):
    rows = [(f"S{i + 1}", bam) for i, bam in enumerate(sample_bams)]
    sheet = write_sheet(tmp_path / "sheet.csv", rows)
    output = tmp_path / "out"
    command = [sys.executable, "-m", "emseq", "batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS),
               "-o", str(output), "--jobs", "1", *JOB]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        log = output / "batch.log"
        while not (log.is_file() and ": done in" in log.read_text()):
            assert driver.poll() is None, "the driver ended before it could be killed"
            assert time.monotonic() < deadline, "no sample finished in time"
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)  # no clean-up at all: a lost login node
    finally:
        driver.wait()
    finished_before = [s for s, _ in rows if (output / s / MANIFEST_NAME).is_file()]
    assert finished_before and len(finished_before) < 4
    stamps = {s: (output / s / MANIFEST_NAME).stat().st_mtime_ns for s in finished_before}
    again = subprocess.run(command, env=environment, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr
    for sample in finished_before:  # not redone
        assert (output / sample / MANIFEST_NAME).stat().st_mtime_ns == stamps[sample]
    # the killed driver's job may have finished the sample it was running meanwhile
    planned = re.findall(r"(\d+) complete and unchanged \(skipped\), (\d+) to run",
                         (output / "batch.log").read_text())
    assert len(planned) == 2 and planned[0] == ("0", "4")
    skipped, to_run = map(int, planned[1])
    assert skipped >= len(finished_before) and skipped + to_run == 4
    local_run(sheet, tmp_path / "local")
    assert_same_matrices(output, tmp_path / "local")
    assert_no_staging_left(output)


def start_timeout_error(bam: Path, tmp_path: Path, capsys, job: list[str]) -> str:
    """Run one sample with the job options ``job`` and ``--start-timeout 3`` (in place of
    120); it must fail with exit code 1 and one line on stderr, which is returned."""
    sheet = write_sheet(tmp_path / "sheet.csv", [("S1", bam)])
    args = [a if a != "120" else "3" for a in job]
    code = emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o",
                       str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_jobs_pending_beyond_the_start_timeout_end_the_run(slurm, sample_bams, tmp_path,
                                                           capsys):
    holder = slurm.run("sbatch", "--parsable", "-c", "2", "-o", "/dev/null", "--wrap",
                       "sleep 600").stdout.strip()
    try:
        deadline = time.monotonic() + 60
        while "RUNNING" not in slurm.run("squeue", "-h", "-j", holder, "-o", "%T").stdout:
            assert time.monotonic() < deadline, slurm.log_tail()
            time.sleep(0.2)
        line = start_timeout_error(sample_bams[0], tmp_path, capsys, JOB)
        assert re.fullmatch(r"emseq batch: error: no worker job started within "
                            r"--start-timeout 3 s \(job \d+ PENDING \(Resources\)\); check the "
                            r"queue \(squeue/qstat/bjobs\) and the job logs", line), line
        assert queued_jobs(slurm) == {holder}  # the batch's own pending job was cancelled
    finally:
        slurm.run("scancel", holder)


def test_the_driver_runs_inside_a_slurm_job_and_its_out_file_fills(slurm, sample_bams,
                                                                   tmp_path):
    """The README's recipe: the driver as a job of its own, which submits the worker jobs."""
    sheet = write_sheet(tmp_path / "sheet.csv", [("S1", sample_bams[0]), ("S2", sample_bams[1])])
    output = tmp_path / "out"
    driver_log = tmp_path / "driver.out"
    command = " ".join([sys.executable, "-m", "emseq", "batch", str(sheet), "-t",
                        str(DEMO_TRANSCRIPTS), "-o", str(output), "--jobs", "1",
                        *[a for a in JOB if a != "-q"]])
    submitted = slurm.run("sbatch", "--parsable", "-c", "1", "--mem", "2G", "-o",
                          str(driver_log), "--export", f"ALL,PYTHONPATH={ROOT}", "--wrap",
                          command)
    driver = submitted.stdout.strip()
    deadline = time.monotonic() + 300
    while driver in queued_jobs(slurm):
        assert time.monotonic() < deadline, slurm.log_tail()
        time.sleep(0.5)
    state = slurm.run("scontrol", "show", "job", driver).stdout
    text = driver_log.read_text()
    assert "JobState=COMPLETED" in state and "ExitCode=0:0" in state, text
    for sample in ("S1", "S2"):
        assert re.search(rf"INFO {sample}: started, worker \S+, job (?!{driver}\b)\d+", text)
        assert re.search(rf"INFO {sample}: done in [\d.]+ s", text), text
    local_run(sheet, tmp_path / "local")
    assert_same_matrices(output, tmp_path / "local")
