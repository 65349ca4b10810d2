#!/usr/bin/env python3
"""Quantification at the scale of a real transcriptome: emseq against Salmon ``-a``.

A synthetic reference shaped like GENCODE's (by default 150,000 transcripts, ~337 Mbp) and a
paired-end BAM written with pysam (no aligner), then, back to back in one run:

* ``salmon quant -t FA -l A -a BAM -p P`` (alignment mode, default VB);
* ``python -m emseq quant -a BAM -t FA -o OUT -p P`` with ``PYTHONPATH`` set to
  ``--emseq-src`` (default: this repository), and to ``--emseq-before`` / ``--emseq-lean``
  when given (a built tree from before this change; one whose ``api.py`` loads the
  sequences only for sequence/GC bias);

each measured as a child process (wall, CPU = user + system, peak RSS, through
``bench_quant.run_measured``), and emseq's steps alone, each in a child of its own: loading
the reference (plain, gzip, bgzip; with and without sequences; against ``pysam.FastxFile``
and the loader before), writing a 250,000-row ``quant.sf`` (against pandas) and the gene
table (against the loop it replaced). Medians of ``--repeats`` runs; the machine is shared,
so wall times carry its load (CPU times less so).

The reference: genes of 1-10 transcripts; each gene has 6 exons of 250-1000 bp (random
sequence) and each transcript of the gene a random ordered subset of at least 3 of them, so
transcripts of a gene share exons and fragments falling in a shared exon align equally well to
every transcript that holds it. Written 60 letters a line (as GENCODE), with a transcript-to-gene map.

The BAM: each fragment (length ~ N(250, 25), within one exon of a random transcript, weighted
by a log-normal abundance) is written at the same exon position on every transcript of its
gene that holds the exon (1-10 alignments, multi-mapping by design), as properly paired
100 bp mates (read 1 forward, read 2 reverse: library ISF), records of a read name adjacent,
the first alignment primary and the others secondary, ``AS:i:0`` and ``NH`` on each.

Results go to ``benchmarks/results/scale.tsv``.

Usage::

    python benchmarks/bench_scale.py --work /tmp/scale --threads 2
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quant import run_measured  # noqa: E402  (same folder)

log = logging.getLogger("bench_scale")

REPO = Path(__file__).resolve().parent.parent
EXONS_PER_GENE = 6
READ_LENGTH = 100
LINE_WIDTH = 60


def make_reference(out: Path, n_transcripts: int, seed: int) -> dict:
    """Write ``transcripts.fa``, ``tx2gene.tsv`` and the exon layout (``layout.npz``)."""
    rng = np.random.default_rng(seed)
    per_gene = []
    total = 0
    while total < n_transcripts:
        k = int(min(rng.integers(1, 11), n_transcripts - total))
        per_gene.append(k)
        total += k
    alphabet = np.frombuffer(b"ACGT", dtype=np.uint8)
    tx_gene, tx_exons = [], []  # gene of each transcript; exon mask (EXONS_PER_GENE bits)
    exon_len = rng.integers(250, 1001, size=(len(per_gene), EXONS_PER_GENE))
    with open(out / "transcripts.fa", "wb") as fasta, open(out / "tx2gene.tsv", "w") as t2g:
        for g, k in enumerate(per_gene):
            exons = [alphabet[rng.integers(0, 4, size=n)].tobytes() for n in exon_len[g]]
            masks: set[int] = set()
            while len(masks) < k:  # distinct exon subsets of at least 3 exons
                mask = int(rng.integers(1, 1 << EXONS_PER_GENE))
                if bin(mask).count("1") >= 3:
                    masks.add(mask)
            for j, mask in enumerate(sorted(masks)):
                name = f"T{len(tx_gene):06d}.1"
                seq = b"".join(e for b, e in enumerate(exons) if mask >> b & 1)
                lines = [seq[i:i + LINE_WIDTH] for i in range(0, len(seq), LINE_WIDTH)]
                fasta.write(b">%s gene=G%06d tx=%d\n%s\n" % (name.encode(), g, j,
                                                             b"\n".join(lines)))
                t2g.write(f"{name}\tG{g:06d}\n")
                tx_gene.append(g)
                tx_exons.append(mask)
    np.savez(out / "layout.npz", tx_gene=np.array(tx_gene), tx_exons=np.array(tx_exons),
             exon_len=exon_len)
    return {"n_transcripts": len(tx_gene), "n_genes": len(per_gene)}


def make_bam(out: Path, n_pairs: int, seed: int) -> dict:
    """Write ``reads.bam`` (records of a name adjacent) from the layout of the reference."""
    import pysam

    rng = np.random.default_rng(seed + 1)
    layout = np.load(out / "layout.npz")
    tx_gene, tx_exons, exon_len = layout["tx_gene"], layout["tx_exons"], layout["exon_len"]
    n_tx = tx_gene.size
    names, lengths = [], []
    bits = (tx_exons[:, None] >> np.arange(EXONS_PER_GENE)) & 1
    tx_len = (bits * exon_len[tx_gene]).sum(axis=1)
    # where each exon starts on each transcript (-1: not on it)
    starts = np.where(bits == 1, np.cumsum(bits * exon_len[tx_gene], axis=1)
                      - bits * exon_len[tx_gene], -1)
    for t in range(n_tx):
        names.append(f"T{t:06d}.1")
        lengths.append(int(tx_len[t]))
    gene_first = np.searchsorted(tx_gene, np.arange(tx_gene.max() + 1))
    gene_last = np.searchsorted(tx_gene, np.arange(tx_gene.max() + 1), side="right")
    abundance = rng.lognormal(0.0, 2.0, size=n_tx)
    abundance[rng.random(n_tx) < 0.3] = 0.0
    sequences = _load_sequences(out / "transcripts.fa")
    header = {"HD": {"VN": "1.6", "SO": "unsorted"},
              "SQ": [{"SN": n, "LN": ln} for n, ln in zip(names, lengths)]}
    n_records = 0
    picks = rng.choice(n_tx, size=n_pairs, p=abundance / abundance.sum())
    with pysam.AlignmentFile(str(out / "reads.bam"), "wb", header=header, threads=2) as bam:
        for f, t in enumerate(picks):
            g = tx_gene[t]
            on = np.flatnonzero(bits[t])
            # an exon of the transcript long enough for the fragment
            flen = int(np.clip(rng.normal(250, 25), 2 * READ_LENGTH, 400))
            fits = on[exon_len[g, on] >= flen]
            if fits.size == 0:
                flen = int(exon_len[g, on].max())
                fits = on[exon_len[g, on] >= flen]
            e = int(rng.choice(fits))
            offset = int(rng.integers(0, exon_len[g, e] - flen + 1))
            holders = [u for u in range(gene_first[g], gene_last[g]) if bits[u, e]]
            seq = sequences[t][starts[t, e] + offset: starts[t, e] + offset + flen]
            r1 = seq[:READ_LENGTH]
            r2 = seq[-READ_LENGTH:]
            qname = f"f{f}"
            for rank, u in enumerate(holders):
                pos = int(starts[u, e] + offset)
                mate = pos + flen - READ_LENGTH
                for first in (True, False):
                    a = pysam.AlignedSegment(bam.header)
                    a.query_name = qname
                    a.flag = (0x1 | 0x2 | (0x40 if first else 0x80) | (0x20 if first else 0x10)
                              | (0x100 if rank else 0))
                    a.reference_id = int(u)
                    a.reference_start = pos if first else mate
                    a.next_reference_id = int(u)
                    a.next_reference_start = mate if first else pos
                    a.template_length = flen if first else -flen
                    a.mapping_quality = 255 if len(holders) == 1 else 1
                    a.cigarstring = f"{READ_LENGTH}M"
                    a.query_sequence = r1 if first else r2
                    a.query_qualities = pysam.qualitystring_to_array("I" * READ_LENGTH)
                    a.set_tags([("AS", 0), ("NH", len(holders))])
                    bam.write(a)
                    n_records += 1
    return {"n_pairs": n_pairs, "n_records": n_records}


def make_deep_bam(out: Path, factor: int) -> Path:
    """``reads_x{factor}.bam``: the fragments of ``reads.bam`` ``factor`` times over (read
    names suffixed by the copy), so a deeper sample over the same classes."""
    import pysam

    target = out / f"reads_x{factor}.bam"
    if target.is_file():
        return target
    with pysam.AlignmentFile(str(out / "reads.bam")) as src, \
            pysam.AlignmentFile(str(target) + ".tmp", "wb", template=src, threads=2) as dst:
        for copy in range(factor):
            src.reset()
            suffix = f"_{copy}"
            for record in src:
                record.query_name += suffix
                dst.write(record)
    os.replace(str(target) + ".tmp", target)
    return target


def bench_deep(args, rows: list[dict]) -> None:
    """emseq's peak memory and time per record from 200k pairs to ``--deep`` times more:
    memory should follow the classes, which stay the same, not the reads."""
    fasta, logs = args.work / "transcripts.fa", args.work / "logs"
    for factor in (1, args.deep):
        bam = args.work / "reads.bam" if factor == 1 else make_deep_bam(args.work, factor)
        env = dict(os.environ, PYTHONPATH=str(args.emseq_src))
        run = run_measured([sys.executable, "-m", "emseq", "quant", "-a", bam, "-t", fasta,
                            "-o", args.work / f"emseq_deep{factor}", "-p", str(args.threads),
                            "--quiet", "--force"], logs / f"emseq_deep{factor}.log", env=env,
                           cwd=args.work)
        rows.append({"section": "deep", "what": "emseq quant", "status": run.status,
                     "input": f"{factor * args.n_pairs} pairs", "wall_s": run.wall_s,
                     "cpu_s": run.cpu_s, "peak_mb": run.peak_mb})
        log.info("deep x%d: %s wall %.1f s cpu %.1f s peak %.0f MB", factor, run.status,
                 run.wall_s, run.cpu_s, run.peak_mb)


def _load_sequences(path: Path) -> list[str]:
    from emseq.io.fasta import iter_fasta

    return [r.sequence for r in iter_fasta(path)]


# --------------------------------------------------------------------------------------------
# in-process steps, each in a child process of its own (``--child STEP ...``) so that its
# peak memory is its own; the child prints one JSON line

CHILD_SNIPPETS = {
    # the reference loader before this change: the Python parser and a str per transcript
    "load_before": """
import numpy as np
from emseq.io.fasta import iter_fasta
names, seqs = [], []
for record in iter_fasta(PATH):
    names.append(record.name); seqs.append(record.sequence)
buffer = np.frombuffer("".join(seqs).upper().encode("ascii", "replace"), dtype=np.uint8)
n = int(buffer.size)
""",
    "load_seq": """
from emseq.quant.transcripts import load_transcripts
index = load_transcripts(PATH, sequences=True, n_threads=THREADS)
n = int(index.lengths.sum())
""",
    "load_noseq": """
from emseq.quant.transcripts import load_transcripts
index = load_transcripts(PATH, sequences=False, n_threads=THREADS)
n = int(index.lengths.sum())
""",
    "load_noseq_nodigest": """
from emseq.quant.transcripts import load_transcripts
index = load_transcripts(PATH, sequences=False, n_threads=THREADS, digests=False)
n = int(index.lengths.sum())
""",
    "fastx": """
import pysam
n = 0
with pysam.FastxFile(PATH) as handle:
    for record in handle:
        n += len(record.sequence)
""",
}

CHILD_TEMPLATE = """
import json, resource, sys, time
sys.path.insert(0, SRC)
import numpy, pandas, pysam  # imports are not the step's cost
import os
with open("/proc/self/statm") as statm:  # resident now (the high-water mark may be higher)
    rss0 = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
t0, c0 = time.perf_counter(), time.process_time()
{body}
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"wall_s": wall, "cpu_s": cpu, "rss_before_mb": rss0, "peak_mb": peak,
                  "letters": n}}))
"""


def run_child(step: str, path: Path, src: Path, threads: int) -> dict:
    import json
    import subprocess

    code = CHILD_TEMPLATE.format(body=CHILD_SNIPPETS[step])
    code = f"SRC = {str(src)!r}\nPATH = {str(path)!r}\nTHREADS = {threads}\n" + code
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        return {"status": "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]}
    return {"status": "ok", **json.loads(done.stdout.strip().splitlines()[-1])}


def bench_load(args, rows: list[dict]) -> None:
    fasta = args.work / "transcripts.fa"
    variants = {"plain": fasta}
    for kind, make in (("gzip", _gzip_copy), ("bgzip", _bgzip_copy)):
        target = args.work / f"transcripts.fa.{'gz' if kind == 'gzip' else 'bgz'}"
        if not target.is_file():
            make(fasta, target)
        variants[kind] = target
    steps = [("load_seq", "emseq load_transcripts(sequences=True)"),
             ("load_noseq", "emseq load_transcripts(sequences=False)"),
             ("load_noseq_nodigest", "emseq load_transcripts(sequences=False, digests=False)"),
             ("fastx", "pysam.FastxFile (kseq, a record object each)")]
    for kind, path in variants.items():
        for step, label in steps:
            if step == "fastx" and kind != "plain":
                continue
            for _ in range(args.repeats):
                r = run_child(step, path, args.emseq_src, args.threads)
                rows.append({"section": "load", "what": label, "input": kind, **r})
                log.info("%s %s: %s", label, kind, r)
        if args.emseq_before and kind in ("plain", "gzip"):
            r = run_child("load_before", path, args.emseq_before, args.threads)
            rows.append({"section": "load", "what": "before: Python iter_fasta + str a transcript",
                         "input": kind, **r})
            log.info("before %s: %s", kind, r)


def _gzip_copy(source: Path, target: Path) -> None:
    import shutil

    with open(source, "rb") as src, gzip.open(target, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst, 1 << 22)


def _bgzip_copy(source: Path, target: Path) -> None:
    import pysam

    pysam.tabix_compress(str(source), str(target), force=True)


def bench_write(args, rows: list[dict]) -> None:
    """quant.sf of 250,000 rows and its gene table: the C writer against pandas' to_csv,
    and the vectorised gene aggregation against the per-gene loop it replaced."""
    import io

    import pandas as pd

    sys.path.insert(0, str(args.emseq_src))
    from emseq.io.table import format_tsv
    from emseq.quant.gene_map import gene_table

    rng = np.random.default_rng(0)
    n = 250_000
    lengths = rng.integers(200, 10_000, n)
    efflen = lengths - rng.random(n) * 250
    reads = np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(2, 2, n))
    rate = reads / efflen
    names = [f"ENST{i:011d}.{i % 9}" for i in range(n)]
    frame = pd.DataFrame({"Name": names, "Length": lengths, "EffectiveLength": efflen,
                          "TPM": 1e6 * rate / rate.sum(), "NumReads": reads})
    tx2gene = {t: f"ENSG{i // 4:011d}" for i, t in enumerate(names)}

    def timed(label, fn, repeats=args.repeats):
        best = None
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            best = (wall, cpu) if best is None or wall < best[0] else best
        rows.append({"section": "write", "what": label, "input": f"{n} rows", "status": "ok",
                     "wall_s": best[0], "cpu_s": best[1]})
        log.info("%s: %.3f s", label, best[0])
        return out

    def pandas_quant():
        buffer = io.StringIO()
        frame.to_csv(buffer, sep="\t", index=False, float_format="%.9g", lineterminator="\n")
        return buffer.getvalue().encode()

    slow = timed("quant.sf by pandas to_csv (%.9g), before", pandas_quant)
    fast = timed("quant.sf by emseq.io.table (%.9g)", lambda: format_tsv(frame, "%.9g"))
    assert fast == slow, "the C writer must write pandas' bytes"
    genes = timed("gene_table (bincount), 62,500 genes", lambda: gene_table(frame, tx2gene))
    if args.emseq_before:
        before = _import_before(args.emseq_before, "emseq.quant.api")
        if before is not None:
            old = timed("gene_table (groupby + loop over genes), before",
                        lambda: before.gene_table(frame, tx2gene), repeats=1)
            np.testing.assert_allclose(old["NumReads"], genes["NumReads"], rtol=1e-12)


def _import_before(src: Path, module: str):
    """``module`` from the tree before this change, in a fresh import of emseq."""
    import importlib

    saved = {k: v for k, v in sys.modules.items() if k == "emseq" or k.startswith("emseq.")}
    for key in saved:
        del sys.modules[key]
    sys.path.insert(0, str(src))
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        log.warning("cannot import %s from %s: %s", module, src, exc)
        return None
    finally:
        sys.path.remove(str(src))
        for key in [k for k in sys.modules if k == "emseq" or k.startswith("emseq.")]:
            del sys.modules[key]
        sys.modules.update(saved)


def bench_tools(args, rows: list[dict]) -> None:
    """Salmon -a and emseq quant (after, before, and with api.py loading sequences only for
    bias) back to back on the same BAM."""
    fasta, bam = args.work / "transcripts.fa", args.work / "reads.bam"
    logs = args.work / "logs"
    runs = [("salmon -a", None, ["salmon", "quant", "-t", fasta, "-l", "A", "-a", bam, "-p",
                                 str(args.threads), "-o", args.work / "salmon"])]
    trees = [("emseq", args.emseq_src)]
    if args.emseq_lean:
        trees.append(("emseq, api.py loading sequences only for bias", args.emseq_lean))
    if args.emseq_before:
        trees.append(("emseq before", args.emseq_before))
    for label, src in trees:
        runs.append((label, src, [sys.executable, "-m", "emseq", "quant", "-a", bam, "-t", fasta,
                                  "-o", args.work / label.replace(" ", "_").replace(",", ""),
                                  "-p", str(args.threads), "--quiet", "--force"]))
    for _ in range(args.repeats):
        for label, src, cmd in runs:
            env = dict(os.environ)
            if src is not None:
                env["PYTHONPATH"] = str(src)
            # cwd: `python -m` puts the working directory before PYTHONPATH on sys.path
            tag = label.split(",")[0].replace(" ", "_") + ("_lean" if "," in label else "")
            run = run_measured(cmd, logs / f"{tag}.log", env=env, cwd=args.work)
            rows.append({"section": "quant", "what": label, "input": "150k tx, 200k pairs",
                         "status": run.status, "wall_s": run.wall_s, "cpu_s": run.cpu_s,
                         "peak_mb": run.peak_mb})
            log.info("%s: %s wall %.2f s, cpu %.2f s, peak %.0f MB", label, run.status,
                     run.wall_s, run.cpu_s, run.peak_mb)


def write_results(rows: list[dict], out: Path) -> None:
    import pandas as pd

    table = pd.DataFrame(rows)
    cols = ["section", "what", "input", "status", "wall_s", "cpu_s", "peak_mb",
            "rss_before_mb", "letters"]
    table = table.reindex(columns=[c for c in cols if c in table.columns])
    group = ["section", "what", "input", "status"]
    numeric = [c for c in table.columns if c not in group]
    summary = table.groupby(group, sort=False, dropna=False)[numeric].median().reset_index()
    summary["runs"] = table.groupby(group, sort=False, dropna=False).size().to_numpy()
    if "peak_mb" in summary and "rss_before_mb" in summary:
        summary["step_mb"] = summary["peak_mb"] - summary["rss_before_mb"]
    out.parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out, sep="\t", index=False, float_format="%.4g")
    log.info("results in %s\n%s", out, summary.to_string(index=False))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", type=Path, default=Path("/tmp/emseq_scale"))
    p.add_argument("--n-transcripts", type=int, default=150_000)
    p.add_argument("--n-pairs", type=int, default=200_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--emseq-src", type=Path, default=REPO)
    p.add_argument("--emseq-before", type=Path, default=None,
                   help="a built emseq tree from before this change, measured beside it")
    p.add_argument("--emseq-lean", type=Path, default=None,
                   help="a built emseq tree whose api.py loads sequences only for bias")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--deep", type=int, default=10,
                   help="the deep-sample step: this many times the pairs (step 'deep')")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "scale.tsv")
    p.add_argument("--steps", default="data,load,write,tools",
                   help="comma-separated: data, load, write, tools, deep")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.work.mkdir(parents=True, exist_ok=True)
    steps = set(args.steps.split(","))
    if "data" in steps:
        if not (args.work / "transcripts.fa").is_file():
            t0 = time.perf_counter()
            log.info("reference: %s", make_reference(args.work, args.n_transcripts, args.seed))
            log.info("reference written in %.1f s", time.perf_counter() - t0)
        if not (args.work / "reads.bam").is_file():
            t0 = time.perf_counter()
            log.info("BAM: %s", make_bam(args.work, args.n_pairs, args.seed))
            log.info("BAM written in %.1f s", time.perf_counter() - t0)
    rows: list[dict] = []
    if "load" in steps:
        bench_load(args, rows)
    if "write" in steps:
        bench_write(args, rows)
    if "tools" in steps:
        bench_tools(args, rows)
    if "deep" in steps:
        bench_deep(args, rows)
    if rows:
        write_results(rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
