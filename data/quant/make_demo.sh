#!/usr/bin/env bash
# Regenerate emseq's quantification demo data (data/quant/demo_*) from a seed.
# Needs bowtie2 and samtools on PATH (Debian: apt-get install bowtie2 samtools), numpy, pandas.
# Run from the repository root:  bash data/quant/make_demo.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
work=benchmarks/work/demo
rm -rf "$work"
python benchmarks/simulate_reads.py -o "$work" --n-transcripts 300 --n-pairs 50000 --seed 7 \
    --read-length 100 --frag-mean 250 --frag-sd 25 --error-rate 0.005 --libtype ISR -p 2
gzip -n -9 -c "$work/transcripts.fa" > data/quant/demo_transcripts.fa.gz
cp "$work/aligned.bam" data/quant/demo.bam
cp "$work/truth.tsv" data/quant/demo_truth.tsv
cp "$work/tx2gene.tsv" data/quant/demo_tx2gene.tsv
cp "$work/origins.tsv.gz" data/quant/demo_origins.tsv.gz
cp "$work/sim_info.json" data/quant/demo_sim_info.json
ls -l data/quant
