"""Batch engine vs a plain sequential loop of ``emseq quant``, on the same samples in one run.

Sixteen small samples are cut from the bundled demo BAM (every fourth read group, four offsets,
each copied four times under new names). They are quantified

1. by a shell-style loop: ``emseq quant`` once per sample, one after another, ``-p 2``;
2. by ``emseq batch`` on an embedded LocalCluster of 2 single-threaded worker processes.

Printed: wall time of each, their ratio, the mean in-task seconds per sample from
``batch_report.tsv``, and the engine's per-sample overhead, ``(wall × workers) / samples − mean
task seconds`` (scheduling, serialisation, staging and merging, spread over the samples).

Usage: ``python benchmarks/bench_batch.py [--samples 16] [--out benchmarks/results/batch.tsv]``
"""

from __future__ import annotations

import argparse
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


def emseq(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "emseq", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "batch.tsv"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bams = cut_samples(work, args.samples)
        sheet = work / "sheet.csv"
        sheet.write_text("sample,bam\n" + "".join(f"{b.stem},{b}\n" for b in bams))

        started = time.perf_counter()
        for bam in bams:
            emseq("quant", "-a", str(bam), "-t", str(DEMO_TRANSCRIPTS),
                  "-o", str(work / "loop" / bam.stem), "-p", "2", "-q")
        loop_wall = time.perf_counter() - started

        started = time.perf_counter()
        emseq("batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(work / "batch"),
              "--workers", "2", "-p", "1", "-q")
        batch_wall = time.perf_counter() - started
        report = pd.read_csv(work / "batch" / "batch_report.tsv", sep="\t")
        assert (report["status"] == "ok").all(), report

        loop_counts = pd.DataFrame({
            b.stem: pd.read_csv(work / "loop" / b.stem / "quant.sf", sep="\t",
                                index_col="Name")["NumReads"] for b in bams})
        batch_counts = pd.read_csv(work / "batch" / "transcript_counts.tsv", sep="\t",
                                   index_col=0)
        max_difference = float((loop_counts - batch_counts[loop_counts.columns]).abs().max().max())

    task_mean = float(report["seconds"].mean())
    overhead = batch_wall * 2 / args.samples - task_mean
    table = pd.DataFrame([{
        "samples": args.samples,
        "loop_wall_s": round(loop_wall, 2),
        "batch_wall_s": round(batch_wall, 2),
        "loop_over_batch": round(loop_wall / batch_wall, 2),
        "mean_task_s": round(task_mean, 3),
        "overhead_per_sample_s": round(overhead, 3),
        "peak_task_memory_mb": float(report["peak_memory_mb"].max()),
        "max_abs_count_difference": max_difference,
    }])
    print(table.to_string(index=False))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False)


if __name__ == "__main__":
    main()
