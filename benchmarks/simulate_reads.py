#!/usr/bin/env python3
"""Simulate paired-end RNA-seq reads from real transcripts with known abundances, then align.

The ground truth for emseq's quantification benchmark and demo data. From a seed, this script

1. reads a transcriptome (default: the 918 RefSeq chr22 transcripts in
   ``/work/shared/data/transcripts``), optionally keeping a subset of whole genes so that
   isoforms sharing exons stay together (the source of multi-mapping);
2. draws true abundances: log-normal TPMs (``--sigma``) with a fraction of exact zeros
   (``--zero-fraction``);
3. draws fragments: transcript ``i`` with probability proportional to ``TPM_i * efflen_i``
   (the number of fragments it can emit), fragment length ~ round(Normal(``--frag-mean``,
   ``--frag-sd``)) truncated to the transcript, start uniform; reads of ``--read-length``
   (shorter if the fragment is), substitution errors at ``--error-rate`` per base; mates
   oriented by the library type (``ISR``: read 1 antisense as Illumina TruSeq stranded,
   ``ISF``, or ``IU`` unstranded);
   Optional library biases (each off by default; the fragments are drawn as above and then
   kept with an acceptance probability, until ``--n-pairs`` are kept):

   * ``--gc-bias SD``: fragment GC content ``g`` is kept with ``exp(-(g - 0.48)^2 / (2 SD^2))``
     (PCR and fragmentation; a unimodal curve as in Benjamini & Speed 2012);
   * ``--seq-bias S``: random-hexamer priming: each read start (the 5' end of each mate, on its
     own strand) is kept with ``exp(S * sum_j W[j, base_j])`` over the 8 bases at offsets
     -2..+5 around it, ``W`` a fixed table (:data:`SEQ_BIAS_TABLE`, scaled so the weights span
     about a factor ``e^S`` between the best and worst words) — both ends, as real libraries;
   * ``--pos-bias S``: 3' bias of degraded poly(A)-selected RNA: a fragment whose midpoint lies
     at relative position ``x`` along its transcript is kept with ``exp(-S (1 - x))``.

   The truth then is the abundance of molecules: ``SimTPM``; ``TPM`` is the sample's oracle
   estimate ``NumReads / EffectiveLength`` normalised, with the *biased* effective length
   ``sum_l P(l) sum_s accept(s, l)`` (the expected number of kept fragment positions), so
   that a quantifier that learns the biases exactly would reproduce it;
4. writes ``reads_1.fq.gz``/``reads_2.fq.gz``, ``truth.tsv`` (columns
   ``Name Length EffectiveLength TPM NumReads SimTPM``, the first five as in Salmon's
   ``quant.sf``: ``NumReads`` is the true number of fragments simulated from each transcript,
   ``TPM`` the true TPM of the simulated sample, ``SimTPM`` the abundance the fragments were
   drawn from), ``origins.tsv.gz`` (one row per
   fragment: ``fragment transcript start length read1_strand``), ``transcripts.fa``,
   ``tx2gene.tsv`` and ``sim_info.json``;
5. unless ``--no-align``: ``bowtie2-build`` then ``bowtie2 -k 200 --no-mixed --no-discordant
   --gbar 1000`` (no gapped alignments: RSEM refuses them) piped to ``samtools view -b`` into
   ``aligned.bam``, unsorted (the aligner's order: a read's records together, mates adjacent).

The effective length in ``truth.tsv`` is the expected number of start positions of a fragment
on the transcript under the simulated length distribution, ``E[L - min(l, L) + 1]``. The true
``TPM`` is that of the sample actually drawn, ``1e6 * (NumReads/EffectiveLength) / sum(...)``:
no quantifier can recover the multinomial sampling noise between ``SimTPM`` and the sample
(with 50k pairs it alone caps the Spearman correlation of a perfect estimate with ``SimTPM`` at
~0.91 over expressed transcripts), so accuracy is scored against ``TPM``/``NumReads``.

Usage::

    python benchmarks/simulate_reads.py -o benchmarks/work/sim1M --n-pairs 1000000 --seed 1
    python benchmarks/simulate_reads.py -o /tmp/demo --n-transcripts 300 --n-pairs 50000 --seed 7
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger("simulate_reads")

DEFAULT_TRANSCRIPTS = "/work/shared/data/transcripts/transcripts.fa.gz"
DEFAULT_TX2GENE = "/work/shared/data/transcripts/tx2gene.tsv"
LIBTYPES = ("ISR", "ISF", "IU")
#: bowtie2 options: all alignments (-k 200) of concordant pairs only, and no gaps (``--gbar`` past
#: the read length) because RSEM refuses gapped alignments ("RSEM currently does not support
#: gapped alignments"); the simulated reads carry substitutions only, so nothing is lost.
#: ``--reorder`` keeps the input order with several threads, so a seed gives the same BAM.
BOWTIE2_OPTS = "-k 200 --no-mixed --no-discordant --gbar 1000 --reorder"

_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i
    _CODE[ord(chr(_b).lower())] = _i
_LETTER = np.frombuffer(b"ACGTN", dtype=np.uint8)
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)
#: Offsets of the bases around a read start that the sequence bias looks at (0: first base).
SEQ_BIAS_OFFSETS = np.arange(-2, 6)
#: Log-weight of each base (columns A, C, G, T) at each offset: a fixed, hexamer-like priming
#: preference (G/C-rich at the first bases, against T at +1..+3); each row is centred on 0 and the
#: table is scaled so that the best word outweighs the worst by e^1 at ``--seq-bias 1``.
SEQ_BIAS_TABLE = np.array([
    [0.10, -0.05, 0.05, -0.10],
    [-0.10, 0.15, 0.05, -0.10],
    [-0.20, 0.25, 0.20, -0.25],
    [0.10, 0.20, -0.05, -0.25],
    [0.15, -0.10, 0.20, -0.25],
    [-0.05, 0.10, 0.10, -0.15],
    [0.05, -0.05, 0.05, -0.05],
    [0.05, 0.00, -0.05, 0.00],
])
SEQ_BIAS_TABLE = SEQ_BIAS_TABLE / (SEQ_BIAS_TABLE.max(1) - SEQ_BIAS_TABLE.min(1)).sum()
GC_CENTRE = 0.48


# --------------------------------------------------------------------------------------------
# inputs


def read_fasta(path: str | os.PathLike[str]) -> tuple[list[str], list[str]]:
    """Read a plain or gzipped FASTA into (names, sequences); names stop at the first space."""
    opener = gzip.open if str(path).endswith(".gz") else open
    names: list[str] = []
    seqs: list[str] = []
    chunks: list[str] = []
    with opener(path, "rt") as handle:
        for line in handle:
            line = line.strip()
            if line.startswith(">"):
                if names:
                    seqs.append("".join(chunks))
                names.append(line[1:].split()[0])
                chunks = []
            elif line:
                chunks.append(line)
    if names:
        seqs.append("".join(chunks))
    return names, seqs


def write_fasta(path: str | os.PathLike[str], names: list[str], seqs: list[str],
                width: int = 70) -> None:
    """Write a FASTA; gzip-compressed (deterministically, mtime 0) if the name ends in ``.gz``."""
    body = b"".join(
        f">{name}\n".encode()
        + b"".join(seq[k:k + width].encode() + b"\n" for k in range(0, len(seq), width))
        for name, seq in zip(names, seqs))
    with open(path, "wb") as raw:
        if str(path).endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                gz.write(body)
        else:
            raw.write(body)


def choose_genes(names: list[str], tx2gene: pd.Series, n_transcripts: int,
                 rng: np.random.Generator) -> list[str]:
    """Pick whole genes at random until at least ``n_transcripts`` transcripts are kept.

    Returns the kept transcript names in their original FASTA order.
    """
    genes = tx2gene.reindex(names).fillna(pd.Series(names, index=names))
    order = rng.permutation(pd.unique(genes.to_numpy()))
    size = genes.value_counts()
    kept: set[str] = set()
    total = 0
    for gene in order:
        kept.add(gene)
        total += int(size[gene])
        if total >= n_transcripts:
            break
    return [n for n in names if genes[n] in kept]


# --------------------------------------------------------------------------------------------
# the model


def draw_tpm(n: int, rng: np.random.Generator, sigma: float, zero_fraction: float) -> np.ndarray:
    """Log-normal abundances with a fraction of exact zeros, scaled to sum to 1e6."""
    tpm = rng.lognormal(mean=0.0, sigma=sigma, size=n)
    zeros = rng.random(n) < zero_fraction
    tpm[zeros] = 0.0
    if tpm.sum() == 0:
        tpm[rng.integers(n)] = 1.0
    return tpm / tpm.sum() * 1e6


def fragment_length_pmf(mean: float, sd: float, max_len: int) -> np.ndarray:
    """P(l) for l = 0..max_len of round(Normal(mean, sd)) conditioned on l >= 1."""
    from math import erf, sqrt

    edges = np.arange(max_len + 2) - 0.5
    cdf = np.array([0.5 * (1 + erf((e - mean) / (sd * sqrt(2)))) for e in edges])
    pmf = np.diff(cdf)
    pmf[0] = 0.0
    return pmf / pmf.sum()


def effective_lengths(lengths: np.ndarray, pmf: np.ndarray) -> np.ndarray:
    """Expected number of fragment start positions, E[L - min(l, L) + 1], per transcript."""
    ls = np.arange(len(pmf))
    out = np.empty(len(lengths))
    for i, L in enumerate(lengths):
        out[i] = float(np.sum(pmf * (L - np.minimum(ls, L) + 1)))
    return out


class Bias:
    """The acceptance probability of a fragment, the product of the three planted biases."""

    def __init__(self, genome: np.ndarray, offsets: np.ndarray, lengths: np.ndarray,
                 gc_sd: float = 0.0, seq: float = 0.0, pos: float = 0.0) -> None:
        self.gc_sd, self.seq, self.pos = gc_sd, seq, pos
        self.offsets, self.lengths = offsets, lengths
        self.gc_cum = np.concatenate([[0], np.cumsum((genome == 1) | (genome == 2))])
        n = genome.size
        padded = np.concatenate([np.full(8, 4, np.uint8), genome, np.full(8, 4, np.uint8)])
        table = np.vstack([SEQ_BIAS_TABLE.T, np.zeros((1, len(SEQ_BIAS_OFFSETS)))])  # N: 0
        # log-weight of a forward read starting at p / of a reverse read whose 5' end is at p
        self.fwd = np.zeros(n)
        self.rev = np.zeros(n)
        comp = _COMPLEMENT[padded]
        for j, off in enumerate(SEQ_BIAS_OFFSETS):
            self.fwd += table[padded[8 + off:8 + off + n], j]
            self.rev += table[comp[8 - off:8 - off + n], j]
        # the largest possible log-weight, so acceptance <= 1
        self.seq_max = 2 * SEQ_BIAS_TABLE.max(1).sum()

    @property
    def active(self) -> bool:
        return bool(self.gc_sd > 0 or self.seq > 0 or self.pos > 0)

    def accept(self, tx: np.ndarray, start: np.ndarray, flen: np.ndarray) -> np.ndarray:
        """Acceptance probability of fragments (transcript, 0-based start, length)."""
        a = np.ones(tx.size)
        lo = self.offsets[tx] + start
        hi = lo + flen
        if self.gc_sd > 0:
            gc = (self.gc_cum[hi] - self.gc_cum[lo]) / np.maximum(flen, 1)
            a *= np.exp(-0.5 * ((gc - GC_CENTRE) / self.gc_sd) ** 2)
        if self.seq > 0:
            a *= np.exp(self.seq * (self.fwd[lo] + self.rev[hi - 1] - self.seq_max))
        if self.pos > 0:
            x = (start + 0.5 * flen) / self.lengths[tx]
            a *= np.exp(-self.pos * (1.0 - x))
        return a

    def effective_lengths(self, pmf: np.ndarray) -> np.ndarray:
        """``sum_l P(l) sum_s accept(s, l)``: the expected kept fragment positions (l <= L)."""
        out = np.zeros(self.lengths.size)
        tx_of = np.repeat(np.arange(self.lengths.size), self.lengths)
        start_of = np.arange(tx_of.size) - self.offsets[tx_of]
        for l in np.flatnonzero(pmf > 1e-7):
            ok = start_of + l <= self.lengths[tx_of]
            a = self.accept(tx_of[ok], start_of[ok], np.full(int(ok.sum()), l))
            out += pmf[l] * np.bincount(tx_of[ok], weights=a, minlength=self.lengths.size)
        short = out <= 0  # transcripts shorter than every fragment length: one whole fragment
        if short.any():
            idx = np.flatnonzero(short)
            out[idx] = self.accept(idx, np.zeros(idx.size, np.int64), self.lengths[idx])
        return out


def simulate_fragments(lengths: np.ndarray, probs: np.ndarray, n_pairs: int, mean: float,
                       sd: float, rng: np.random.Generator, bias: Bias | None = None
                       ) -> pd.DataFrame:
    """Draw ``n_pairs`` fragments: transcript index, start (0-based) and length, in random order.

    With an active ``bias``, candidates are drawn in rounds and each is kept with its acceptance
    probability until ``n_pairs`` are kept.
    """
    if bias is not None and bias.active:
        parts, kept = [], 0
        while kept < n_pairs:
            cand = simulate_fragments(lengths, probs, max(10_000, 2 * (n_pairs - kept)), mean,
                                      sd, rng)
            keep = rng.random(len(cand)) < bias.accept(cand["tx"].to_numpy(),
                                                        cand["start"].to_numpy(),
                                                        cand["length"].to_numpy())
            parts.append(cand[keep])
            kept += int(keep.sum())
        return pd.concat(parts, ignore_index=True).iloc[:n_pairs].reset_index(drop=True)
    counts = rng.multinomial(n_pairs, probs)
    tx = rng.permutation(np.repeat(np.arange(len(lengths)), counts))
    flen = np.rint(rng.normal(mean, sd, size=n_pairs)).astype(np.int64)
    while np.any(flen < 1):  # redraw the (vanishingly rare) non-positive lengths
        bad = flen < 1
        flen[bad] = np.rint(rng.normal(mean, sd, size=int(bad.sum()))).astype(np.int64)
    tl = lengths[tx]
    flen = np.minimum(flen, tl)
    start = (rng.random(n_pairs) * (tl - flen + 1)).astype(np.int64)
    return pd.DataFrame({"tx": tx, "start": start, "length": flen})


def make_reads(genome: np.ndarray, offsets: np.ndarray, frags: pd.DataFrame, read_length: int,
               error_rate: float, libtype: str, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut the two mates of each fragment out of the concatenated transcripts.

    Returns (read1 codes, read2 codes, read lengths, read-1-is-sense flags); codes are
    (n, read_length) uint8 arrays (0-3 = ACGT, 4 = N), valid up to each read's length.
    """
    n = len(frags)
    tx = frags["tx"].to_numpy()
    start = frags["start"].to_numpy()
    flen = frags["length"].to_numpy()
    rlen = np.minimum(flen, read_length)
    base = offsets[tx] + start
    cols = np.arange(read_length)
    valid = cols[None, :] < rlen[:, None]
    # sense read: first rlen bases of the fragment; antisense: last rlen bases, reverse-complemented
    sense_idx = base[:, None] + np.minimum(cols[None, :], rlen[:, None] - 1)
    anti_idx = base[:, None] + flen[:, None] - 1 - np.minimum(cols[None, :], rlen[:, None] - 1)
    sense = genome[sense_idx]
    anti = _COMPLEMENT[genome[anti_idx]]
    if libtype == "ISR":
        r1_sense = np.zeros(n, dtype=bool)
    elif libtype == "ISF":
        r1_sense = np.ones(n, dtype=bool)
    else:  # IU
        r1_sense = rng.random(n) < 0.5
    r1 = np.where(r1_sense[:, None], sense, anti)
    r2 = np.where(r1_sense[:, None], anti, sense)
    for reads in (r1, r2):
        hit = (rng.random(reads.shape) < error_rate) & valid & (reads < 4)
        shift = rng.integers(1, 4, size=int(hit.sum()), dtype=np.uint8)
        reads[hit] = (reads[hit] + shift) % 4
    return r1, r2, rlen, r1_sense


def write_fastq_chunk(handle, first_index: int, codes: np.ndarray, rlen: np.ndarray,
                      mate: int, quality: int = ord("I")) -> None:
    """Append reads named ``f<index>/<mate>`` with a constant base quality."""
    letters = _LETTER[codes]
    width = codes.shape[1]
    qual = bytes([quality]) * width
    raw = letters.tobytes()
    out = []
    for i in range(len(rlen)):
        r = int(rlen[i])
        seq = raw[i * width:i * width + r]
        out.append(b"@f%d/%d\n%s\n+\n%s\n" % (first_index + i, mate, seq, qual[:r]))
    handle.write(b"".join(out))


# --------------------------------------------------------------------------------------------
# pipeline


def run(cmd: str, log_path: Path) -> None:
    """Run a shell pipeline (pipefail), its stderr appended to ``log_path``; raise on failure."""
    log.info("$ %s", cmd)
    with open(log_path, "ab") as err:
        err.write(f"$ {cmd}\n".encode())
        err.flush()
        subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True, stderr=err)


def align(out: Path, threads: int, extra: str = "") -> Path:
    """bowtie2-build + bowtie2 (:data:`BOWTIE2_OPTS`) | samtools view -b, unsorted."""
    for tool in ("bowtie2", "bowtie2-build", "samtools"):
        if shutil.which(tool) is None:
            raise SystemExit(f"error: {tool} not found on PATH (apt-get install bowtie2 samtools)")
    logf = out / "align.log"
    idx = out / "bt2" / "tx"
    idx.parent.mkdir(exist_ok=True)
    run(f"bowtie2-build --threads {threads} --seed 1 -q {out / 'transcripts.fa'} {idx}", logf)
    bam = out / "aligned.bam"
    tmp = out / "aligned.bam.tmp"
    run(f"bowtie2 -p {threads} --seed 1 {BOWTIE2_OPTS} {extra} -x {idx} "
        f"-1 {out / 'reads_1.fq.gz'} -2 {out / 'reads_2.fq.gz'} "
        f"| samtools view -b -o {tmp} -", logf)
    os.replace(tmp, bam)
    return bam


def simulate(out: Path, *, transcripts: str, tx2gene: str, n_pairs: int, seed: int,
             n_transcripts: int | None, read_length: int, frag_mean: float, frag_sd: float,
             error_rate: float, libtype: str, sigma: float, zero_fraction: float,
             gc_bias: float = 0.0, seq_bias: float = 0.0, pos_bias: float = 0.0,
             chunk: int = 200_000) -> pd.DataFrame:
    """Write the simulated transcriptome, truth, origins and FASTQ pair into ``out``."""
    rng = np.random.default_rng(seed)
    names, seqs = read_fasta(transcripts)
    t2g = pd.read_csv(tx2gene, sep="\t", index_col=0).iloc[:, 0]
    if n_transcripts:
        keep = set(choose_genes(names, t2g, n_transcripts, rng))
        pairs = [(n, s) for n, s in zip(names, seqs) if n in keep]
        names, seqs = [p[0] for p in pairs], [p[1] for p in pairs]
    out.mkdir(parents=True, exist_ok=True)
    write_fasta(out / "transcripts.fa", names, seqs)
    genes = t2g.reindex(names).fillna(pd.Series(names, index=names))
    genes.rename_axis("transcript_id").rename("gene_id").to_frame().to_csv(
        out / "tx2gene.tsv", sep="\t")

    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    pmf = fragment_length_pmf(frag_mean, frag_sd, int(frag_mean + 10 * frag_sd))
    efflen = effective_lengths(lengths, pmf)
    tpm = draw_tpm(len(names), rng, sigma, zero_fraction)
    weight = tpm * efflen
    probs = weight / weight.sum()
    genome = _CODE[np.frombuffer("".join(seqs).encode(), dtype=np.uint8)]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    bias = Bias(genome, offsets, lengths, gc_bias, seq_bias, pos_bias)
    frags = simulate_fragments(lengths, probs, n_pairs, frag_mean, frag_sd, rng, bias)
    if bias.active:
        efflen = bias.effective_lengths(pmf)
    counts = np.bincount(frags["tx"].to_numpy(), minlength=len(names))
    rate = counts / efflen
    truth = pd.DataFrame({"Name": names, "Length": lengths, "EffectiveLength": efflen.round(6),
                          "TPM": 1e6 * rate / rate.sum(), "NumReads": counts,
                          "SimTPM": tpm})
    truth.to_csv(out / "truth.tsv", sep="\t", index=False, float_format="%.6g")

    name_arr = np.array(names, dtype=object)
    with gzip.open(out / "reads_1.fq.gz", "wb", compresslevel=1) as f1, \
            gzip.open(out / "reads_2.fq.gz", "wb", compresslevel=1) as f2, \
            gzip.open(out / "origins.tsv.gz", "wt", compresslevel=1) as fo:
        fo.write("fragment\ttranscript\tstart\tlength\tread1_strand\n")
        for lo in range(0, n_pairs, chunk):
            part = frags.iloc[lo:lo + chunk]
            r1, r2, rlen, r1_sense = make_reads(genome, offsets, part, read_length, error_rate,
                                                libtype, rng)
            write_fastq_chunk(f1, lo, r1, rlen, 1)
            write_fastq_chunk(f2, lo, r2, rlen, 2)
            pd.DataFrame({"fragment": [f"f{i}" for i in range(lo, lo + len(part))],
                          "transcript": name_arr[part["tx"].to_numpy()],
                          "start": part["start"].to_numpy(),
                          "length": part["length"].to_numpy(),
                          "read1_strand": np.where(r1_sense, "+", "-")}).to_csv(
                fo, sep="\t", index=False, header=False)
            log.info("simulated %d / %d pairs", lo + len(part), n_pairs)
    return truth


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("-o", "--output", required=True, type=Path, help="output directory")
    p.add_argument("--transcripts", default=DEFAULT_TRANSCRIPTS, help="transcript FASTA (.gz ok)")
    p.add_argument("--tx2gene", default=DEFAULT_TX2GENE, help="transcript -> gene TSV")
    p.add_argument("--n-pairs", type=int, default=1_000_000, help="number of read pairs")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--n-transcripts", type=int, default=None,
                   help="keep whole genes drawn at random until this many transcripts (default all)")
    p.add_argument("--read-length", type=int, default=100)
    p.add_argument("--frag-mean", type=float, default=250.0)
    p.add_argument("--frag-sd", type=float, default=25.0)
    p.add_argument("--error-rate", type=float, default=0.005, help="substitutions per base")
    p.add_argument("--libtype", choices=LIBTYPES, default="ISR")
    p.add_argument("--sigma", type=float, default=1.5, help="log-normal sigma of the TPMs")
    p.add_argument("--zero-fraction", type=float, default=0.2, help="fraction of TPMs set to 0")
    p.add_argument("--gc-bias", type=float, default=0.0, metavar="SD",
                   help="keep a fragment of GC content g with exp(-(g-0.48)^2/(2 SD^2)); 0: off")
    p.add_argument("--seq-bias", type=float, default=0.0, metavar="S",
                   help="read-start (priming) bias strength, 0: off (see the module docstring)")
    p.add_argument("--pos-bias", type=float, default=0.0, metavar="S",
                   help="3' bias: keep a fragment at relative position x with exp(-S(1-x)); 0: off")
    p.add_argument("--no-align", action="store_true", help="stop after writing the FASTQ pair")
    p.add_argument("-p", "--threads", type=int, default=2, help="bowtie2 threads")
    p.add_argument("--bowtie2-extra", default="", help="extra bowtie2 options")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    out: Path = args.output
    t0 = time.time()
    truth = simulate(out, transcripts=args.transcripts, tx2gene=args.tx2gene,
                     n_pairs=args.n_pairs, seed=args.seed, n_transcripts=args.n_transcripts,
                     read_length=args.read_length, frag_mean=args.frag_mean,
                     frag_sd=args.frag_sd, error_rate=args.error_rate, libtype=args.libtype,
                     sigma=args.sigma, zero_fraction=args.zero_fraction,
                     gc_bias=args.gc_bias, seq_bias=args.seq_bias, pos_bias=args.pos_bias)
    info = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    info.update(n_transcripts_kept=len(truth), n_expressed=int((truth["TPM"] > 0).sum()),
                simulate_seconds=round(time.time() - t0, 1))
    if not args.no_align:
        t1 = time.time()
        align(out, args.threads, args.bowtie2_extra)
        info["align_seconds"] = round(time.time() - t1, 1)
    (out / "sim_info.json").write_text(json.dumps(info, indent=2) + "\n")
    log.info("done in %.1f s: %s", time.time() - t0, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
