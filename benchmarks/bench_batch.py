"""Batch engine vs a plain sequential loop of ``emseq quant``, on the same samples in one run.

Sixteen small samples are cut from the bundled demo BAM (every fourth read group, four offsets,
each copied four times under new names). They are quantified

1. by a shell-style loop: ``emseq quant`` once per sample, one after another, ``-p 2``;
2. by ``emseq batch`` on an embedded LocalCluster of 2 single-threaded worker processes;
3. by ``emseq batch --cluster slurm`` on a real one-node SLURM started for the benchmark
   (``tests/batch/slurm_node.py``; as root, with Debian's ``slurm-wlm`` and ``munge``; the row
   is left out otherwise): 2 jobs of 1 core, ``-p 1``, so the same 2 samples at once.

Printed, one row per path: wall time, the loop's wall over it, the mean in-task seconds per
sample (``batch_report.tsv``), the per-sample overhead ``(wall × slots) / samples − mean task
seconds`` (scheduling, serialisation, staging, merging, and on SLURM the job start-up, spread
over the samples), the per-job overhead of SLURM ``(SLURM wall − LocalCluster wall) / jobs``
(submission, scheduling and the worker's start in the job), the seconds from the batch's start
to its first sample's start (``batch.log``), the peak task memory, the largest count
difference from the loop, and the load average (this machine is shared).

Usage: ``python benchmarks/bench_batch.py [--samples 16] [--out benchmarks/results/batch.tsv]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.batch.conftest import subsample_bam  # noqa: E402  (the tests cut samples the same way)
from tests.batch.slurm_node import OneNodeSlurm, missing_binaries  # noqa: E402

DEMO_BAM = ROOT / "data" / "quant" / "demo.bam"
DEMO_TRANSCRIPTS = ROOT / "data" / "quant" / "demo_transcripts.fa.gz"


def cut_samples(folder: Path, n_samples: int) -> list[Path]:
    """``n_samples`` BAMs of a quarter of the demo's read groups each."""
    quarters = []
    for offset in range(4):
        quarters.append(folder / f"quarter{offset}.bam")
        subsample_bam(DEMO_BAM, quarters[-1], keep_every=4, offset=offset)
    samples = []
    for i in range(n_samples):
        sample = folder / f"sample{i + 1:02d}.bam"
        shutil.copy(quarters[i % 4], sample)
        samples.append(sample)
    return samples


def emseq(*args: str, env: dict[str, str] | None = None) -> float:
    """Run ``emseq`` in a new process; its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "emseq", *args], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def read_counts(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", index_col=0)


def first_start_s(output: Path) -> float:
    """Seconds from the batch's first log line to its first sample's start (``batch.log``):
    the cluster's start-up (on SLURM: submission, scheduling, the worker's start in the job)."""
    stamps = {}
    for line in (output / "batch.log").read_text().splitlines():
        when = pd.Timestamp(line[1:line.index("]")])
        stamps.setdefault("first", when)
        if ": started" in line:
            stamps.setdefault("started", when)
    return round((stamps["started"] - stamps["first"]).total_seconds(), 2)


def batch_row(path: str, output: Path, wall: float, slots: int, loop: pd.DataFrame,
              loop_wall: float) -> dict:
    """One row of the results table for a batch run into ``output``."""
    report = pd.read_csv(output / "batch_report.tsv", sep="\t")
    assert (report["status"] == "ok").all(), report
    counts = read_counts(output / "transcript_counts.tsv")[loop.columns]
    task_mean = float(report["seconds"].mean())
    return {"path": path, "samples": len(report), "wall_s": round(wall, 2),
            "loop_over_this": round(loop_wall / wall, 2), "mean_task_s": round(task_mean, 3),
            "overhead_per_sample_s": round(wall * slots / len(report) - task_mean, 3),
            "first_sample_start_s": first_start_s(output),
            "peak_task_memory_mb": float(report["peak_memory_mb"].max()),
            "max_abs_count_difference": float((loop - counts).abs().max().max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "batch.tsv"))
    args = parser.parse_args()
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bams = cut_samples(work, args.samples)
        sheet = work / "sheet.csv"
        sheet.write_text("sample,bam\n" + "".join(f"{b.stem},{b}\n" for b in bams))

        loop_wall = 0.0
        for bam in bams:
            loop_wall += emseq("quant", "-a", str(bam), "-t", str(DEMO_TRANSCRIPTS),
                               "-o", str(work / "loop" / bam.stem), "-p", "2", "-q",
                               env=environment)
        loop = pd.DataFrame({
            b.stem: pd.read_csv(work / "loop" / b.stem / "quant.sf", sep="\t",
                                index_col="Name")["NumReads"] for b in bams})
        rows.append({"path": "sequential emseq quant -p 2", "samples": len(bams),
                     "wall_s": round(loop_wall, 2), "loop_over_this": 1.0,
                     "max_abs_count_difference": 0.0})

        local_wall = emseq("batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o",
                           str(work / "local"), "--workers", "2", "-p", "1", "-q",
                           env=environment)
        rows.append(batch_row("batch LocalCluster 2 workers", work / "local", local_wall, 2,
                              loop, loop_wall))

        missing = missing_binaries()
        if missing or os.geteuid() != 0:
            print(f"no SLURM row: {', '.join(missing) or 'not root'}", file=sys.stderr)
        else:
            slurm = OneNodeSlurm(work / "slurm", cpus=2, memory_mb=8000)
            try:
                slurm.start()
                slurm_wall = emseq("batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o",
                                   str(work / "slurm_out"), "--cluster", "slurm", "--queue",
                                   "debug", "--jobs", "2", "--cores", "1", "-p", "1",
                                   "--sample-memory", "1GB", "-q",
                                   env={**slurm.environment, "PYTHONPATH": str(ROOT)})
            finally:
                slurm.stop()
            row = batch_row("batch SLURM 2 jobs x 1 core", work / "slurm_out", slurm_wall, 2,
                            loop, loop_wall)
            row["overhead_per_job_s"] = round((slurm_wall - local_wall) / 2, 2)
            rows.append(row)

    table = pd.DataFrame(rows)
    table["load_average"] = round(os.getloadavg()[0], 1)  # a shared machine: read the ratios
    print(table.to_string(index=False))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False)


if __name__ == "__main__":
    main()
