#!/usr/bin/env bash
# The quantification benchmark end to end from a seed: simulate 1M read pairs over the 918 chr22
# transcripts and align them with bowtie2 (once; ~3 min on 2 cores), then run samtools, Salmon,
# RSEM and emseq side by side. Results: benchmarks/results/quant.{tsv,md}.
# Usage (from the repository root): bash benchmarks/run_bench_quant.sh [bench_quant.py options]
#   e.g. bash benchmarks/run_bench_quant.sh --emseq-src /path/to/emseq/tree --repeat 3
set -euo pipefail
cd "$(dirname "$0")/.."
sim=benchmarks/work/sim1M
if [ ! -f "$sim/aligned.bam" ]; then
    python benchmarks/simulate_reads.py -o "$sim" --n-pairs 1000000 --seed 1 -p 2
fi
python benchmarks/bench_quant.py --sim "$sim" "$@"
