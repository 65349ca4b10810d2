"""The shape of cluster jobs, the dry run, and the checks made before any cluster starts."""

from __future__ import annotations

import re
from pathlib import Path

import dask
import pytest

from emseq.batch.plan import plan_jobs
from emseq.cli import main as emseq_main
from emseq.errors import UsageError

from .test_run import DEMO_BAM, DEMO_TRANSCRIPTS, write_sheet


def emseq(*args: str) -> int:
    """``emseq`` in this process; its exit code, also when argparse exits."""
    try:
        return emseq_main(list(args))
    except SystemExit as exit_:
        return int(exit_.code)


@pytest.fixture
def sheet(tmp_path) -> Path:
    return write_sheet(tmp_path / "sheet.csv", [("S1", DEMO_BAM), ("S2", DEMO_BAM)])


def test_one_worker_per_job_runs_cores_over_threads_samples():
    shape = plan_jobs("slurm", threads=2, cores=8, memory="16GB", jobs=3)
    assert (shape.processes, shape.samples_per_worker) == (1, 4)
    assert shape.memory_per_sample == 4_000_000_000
    options = shape.jobqueue_options()
    assert options["cores"] == 8 and options["processes"] == 1
    assert options["worker_extra_args"] == ["--resources", "emseq_sample=4"]


def test_memory_defaults_to_the_sample_memory_times_the_samples_per_job():
    shape = plan_jobs("slurm", threads=1, cores=3, sample_memory="2GB")
    assert shape.memory == 6_000_000_000 and shape.memory_per_sample == 2_000_000_000


@pytest.mark.parametrize("kwargs, message", [
    ({"threads": 4, "cores": 2}, "-p/--threads 4 is more than the 2 core(s)"),
    ({"threads": 2, "cores": 8, "memory": "4GB", "sample_memory": "2GB"},
     "--memory 4GB per job leaves 1GB per sample (4 at once: --cores 8 / -p 2), less than "
     "--sample-memory 2GB: raise --memory to 8GB or lower --cores"),
    ({"memory": "lots"}, "--memory 'lots': expected a size like 4GB"),
    ({"jobs": 0}, "--jobs must be at least 1"),
    ({"start_timeout": 0}, "--start-timeout must be positive"),
])
def test_shapes_that_do_not_hold_together(kwargs, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        plan_jobs("slurm", **kwargs)


def test_qos_is_slurm_only():
    with pytest.raises(UsageError, match="--qos is a SLURM option"):
        plan_jobs("pbs", qos="low")


def test_the_jobqueue_configuration_fills_what_the_flags_leave_unset():
    config = {"jobqueue.slurm.cores": 4, "jobqueue.slurm.memory": "12GB",
              "jobqueue.slurm.queue": "long", "jobqueue.slurm.walltime": "10:00:00",
              "jobqueue.slurm.job-script-prologue": ["source /opt/env"],
              "jobqueue.slurm.job-extra-directives": ["--exclusive"]}
    with dask.config.set(config):
        from_config = plan_jobs("slurm", threads=2)
        flagged = plan_jobs("slurm", threads=2, cores=2, queue="short", walltime="00:10:00",
                            prologue=["module load emseq"], job_extra=["#SBATCH --gres=x"])
    assert (from_config.cores, from_config.memory, from_config.queue) == (4, 12e9, "long")
    assert from_config.walltime == "10:00:00"
    assert from_config.prologue == ("source /opt/env",)
    assert from_config.job_extra == ("--exclusive",)
    assert (flagged.cores, flagged.queue, flagged.walltime) == (2, "short", "00:10:00")
    assert flagged.prologue == ("module load emseq",)
    assert flagged.job_extra == ("--gres=x",)  # the '#SBATCH' prefix is optional
    assert flagged.memory == 12e9  # still the configuration's


def test_dry_run_prints_the_plan_and_the_job_script_and_starts_nothing(sheet, tmp_path,
                                                                        capsys):
    output = tmp_path / "out"
    code = emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                       "--cluster", "slurm", "--queue", "normal", "--account", "lab",
                       "--qos", "low", "--cores", "8", "-p", "2", "--memory", "16GB",
                       "--jobs", "2", "--walltime", "04:00:00",
                       "--job-extra", "#SBATCH --constraint=avx2", "--job-extra=--exclusive",
                       "--prologue", "module load python", "--prologue", "echo ready",
                       "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert not output.exists()
    assert "plan: 2 sample(s) on 2 slurm job(s) of 8 core(s) and 16GB, walltime 04:00:00" in out
    assert ("plan: 1 worker process(es) per job, 4 sample(s) at once per worker with 2 "
            "thread(s) and 4GB each") in out
    script = out[out.index("#!"):]
    for line in ("#SBATCH -p normal", "#SBATCH -A lab", "#SBATCH --cpus-per-task=8",
                 "#SBATCH -t 04:00:00", "#SBATCH --constraint=avx2", "#SBATCH --exclusive",
                 "#SBATCH --qos=low", "module load python", "echo ready",
                 f"#SBATCH -o {output.resolve()}/logs/"):
        assert line in script, line
    worker = script.strip().splitlines()[-1]
    assert "--nthreads 8" in worker and "--resources emseq_sample=4" in worker
    assert script.index("module load python") < script.index("echo ready") < \
        script.index("dask_worker")


def test_an_lsf_job_script_has_lsf_limits(sheet, tmp_path, capsys):
    """LSF is not packaged in Debian (no scheduler to run it on here): its job script at
    least says what LSF reads. dask-jobqueue wrote '#BSUB -W 01:00:00', which bsub refuses
    (its run limit is [hours:]minutes)."""
    from emseq.batch.cluster import lsf_walltime

    code = emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o",
                       str(tmp_path / "out"), "--cluster", "lsf", "--queue", "normal",
                       "--cores", "4", "-p", "2", "--memory", "8GB", "--walltime", "02:00:00",
                       "--job-extra", "-R rusage[scratch=10]", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    script = out[out.index("#!"):]
    for line in ("#BSUB -q normal", "#BSUB -n 4", '#BSUB -R "span[hosts=1]"',
                 "#BSUB -M 8000000", "#BSUB -W 2:00", "#BSUB -R rusage[scratch=10]"):
        assert line in script.splitlines(), line
    assert [lsf_walltime(t) for t in ("00:30:00", "1-00:30:10", "4:00", "90")] == \
        ["0:30", "24:31", "4:00", "90"]


def test_a_missing_sbatch_is_one_line(sheet, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch there
    output = tmp_path / "out"
    code = emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                       "--cluster", "slurm", "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        "emseq batch: error: --cluster slurm: sbatch not found on PATH; run the batch on a "
        "SLURM login node (or load its module), or drop --cluster to run on this machine"]
    assert not output.exists()


@pytest.mark.parametrize("engine, options, message", [
    ("motif", ["--mod", "foo"], "argument --mod: invalid choice: 'foo'"),
    ("motif", ["--minw", "12", "--maxw", "8"], "--minw 12 is larger than --maxw 8"),
    ("motif", ["--nmotifs", "0"], "argument --nmotifs: 0 is out of range"),
    ("quant", ["--minw", "8"], "--minw is an option of --engine motif; this batch runs "
                               "--engine quant"),
    ("motif", ["--num-bootstraps", "5"], "--num-bootstraps is an option of --engine quant"),
    ("quant", ["--num-bootstraps", "-1"], "argument --num-bootstraps/--numBootstraps: -1 is "
                                       "out of range"),
    ("quant", ["--gc-bias"], "--seq-bias and --gc-bias need the transcript sequences"),
    # quantify()'s own checks (emseq.quant.api.check_options), before any sample starts
    ("quant", ["--num-bootstraps", "5", "--num-gibbs-samples", "5"],
     "choose bootstraps or Gibbs samples, not both"),
    ("mixture", [], "-k/--components is required to fit"),
    ("mixture", ["-k", "4-2"], "the range ends before it starts"),
    ("mixture", ["-k", "2", "--no-squarem"], "--no-squarem is an option of --engine quant"),
    ("quant", ["--squarem"], "--squarem is an option of --engine mixture"),
])
def test_engine_options_are_checked_before_any_cluster_starts(tmp_path, capsys, monkeypatch,
                                                              engine, options, message):
    """`--engine motif --mod foo` started the cluster, then failed every sample (exit 1)."""
    monkeypatch.setenv("PATH", str(tmp_path))  # were a cluster started, sbatch would be missed
    column = {"quant": "bam", "motif": "fasta", "mixture": "table"}[engine]
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"sample,{column}\nS1,{DEMO_BAM}\n")
    output = tmp_path / "out"
    code = emseq("batch", str(sheet), "--engine", engine, *options, "-o", str(output),
                 "--cluster", "slurm", "-q")
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "sbatch" not in err, err
    assert not output.exists()


def test_the_batch_has_every_per_sample_option_of_its_engines():
    from emseq.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    batch = set(commands["batch"]._option_string_actions)
    for command, own in (("quant", {"-a", "--alignments", "--force"}), ("motif", set()),
                         ("mixture", {"--scheduler", "--workers", "--chunk-rows"})):
        engine = set(commands[command]._option_string_actions)
        common = {"-h", "--help", "-o", "--output", "-p", "--threads", "-q", "--quiet", "-v",
                  "--verbose", "--debug"}
        assert engine - own - common <= batch, (engine - own - common) - batch


def test_a_bad_motif_database_ends_the_batch_before_it_starts(tmp_path, capsys):
    database = tmp_path / "db.meme"
    database.write_text("MOTIF without a header\n")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"sample,fasta\nS1,{DEMO_BAM}\n")
    output = tmp_path / "out"
    code = emseq("batch", str(sheet), "--engine", "motif", "--db", str(database), "-o",
                 str(output), "-q")
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and str(database) in lines[0], lines
    assert not output.exists()


def test_a_motif_control_file_is_part_of_each_sample_manifest(tmp_path):
    """The manifest fingerprinted a "control" option that does not exist (motif's is
    ``neg``): a changed control file left every sample "complete"."""
    from emseq.batch.plan import manifest

    control = tmp_path / "control.fa"
    control.write_text(">c\nACGTACGT\n")
    fasta = tmp_path / "s.fa"
    fasta.write_text(">s\nACGTACGTAC\n")
    row = {"sample": "S1", "fasta": str(fasta)}
    first = manifest("motif", row, {"neg": str(control)})
    assert [item["path"] for item in first["inputs"]] == [str(fasta), str(control)]
    control.write_text(">c\nTTTTTTTT\n")
    assert manifest("motif", row, {"neg": str(control)})["inputs"] != first["inputs"]
    database = tmp_path / "db.meme"  # --db is read by every sample too
    database.write_text("MEME version 5\n")
    with_db = manifest("motif", row, {"neg": str(control), "db": str(database)})
    assert str(database) in [item["path"] for item in with_db["inputs"]]
    shuffled = manifest("motif", row, {"neg": "shuffle"})
    assert [item["path"] for item in shuffled["inputs"]] == [str(fasta)]
