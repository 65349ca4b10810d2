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

Step ``grid`` (``--grid-transcripts`` x ``--grid-pairs``, default 1k-250k transcripts x 0.2M
and 5M pairs) runs Salmon ``-a`` with and without ``--seqBias --gcBias`` and emseq with and
without its bias correction on each cell, with emseq's time split; ``<out>.md`` then holds
the ratios to the like-for-like Salmon run and the growth exponents.

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


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """``values`` (non-negative, < 10**width) as zero-padded ASCII digits, shape (n, width)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers) % 10 + 48).astype(np.uint8)


def _sam_lines(qname, flag, ref, pos, mapq, mate, tlen, seq, nh) -> np.ndarray:
    """Fixed-width SAM lines, one row of bytes each (integer fields zero-padded but the flag)."""
    n = qname.size
    tab = np.full((n, 1), 9, np.uint8)

    def text(t: bytes) -> np.ndarray:
        return np.broadcast_to(np.frombuffer(t, np.uint8), (n, len(t)))

    tlen_field = (np.concatenate([text(b"-"), _digits(-tlen, 3)], axis=1) if tlen[0] < 0
                  else _digits(tlen, 3))
    # htslib reads a flag with a leading 0 as octal: a 2-digit flag (99) gets a wider position
    short = (flag < 100)[:, None]
    ref_field = np.concatenate([text(b"\tT"), _digits(ref, 6), text(b".1\t")], axis=1)
    short_fields = np.concatenate([_digits(flag % 100, 2), ref_field, _digits(pos, 10)], axis=1)
    long_fields = np.concatenate([_digits(flag % 1000, 3), ref_field, _digits(pos % 10**9, 9)],
                                 axis=1)
    parts = [text(b"f"), _digits(qname, 10), tab, np.where(short, short_fields, long_fields),
             tab, _digits(mapq, 3),
             text(b"\t%dM\t=\t" % READ_LENGTH), _digits(mate, 9), tab, tlen_field, tab, seq, tab,
             text(b"I" * READ_LENGTH + b"\tAS:i:0\tNH:i:"), _digits(nh, 2), text(b"\n")]
    return np.concatenate(parts, axis=1)


def make_bam(out: Path, n_pairs: int, seed: int, name: str = "reads.bam",
             chunk: int = 250_000) -> dict:
    """Write ``name`` (records of a read name adjacent) from the layout of the reference.

    Fragments are drawn with numpy (transcript by abundance, length ~ N(250, 25) in 200-400,
    an exon of the transcript that holds it, an offset) and each is written at the same exon
    position on every transcript of its gene that holds the exon. The SAM text is built a
    chunk of fragments at a time as fixed-width byte rows (integer fields zero-padded, which
    SAM allows) and piped into ``samtools view -b`` (Debian's, or pysam's bundled one through
    a temporary file): tens of seconds for 5M pairs, where a ``pysam.AlignedSegment`` per
    record took tens of minutes.
    """
    import shutil
    import subprocess
    import tempfile

    rng = np.random.default_rng(seed + 1)
    layout = np.load(out / "layout.npz")
    tx_gene, tx_exons, exon_len = layout["tx_gene"], layout["tx_exons"], layout["exon_len"]
    n_tx = tx_gene.size
    bits = ((tx_exons[:, None] >> np.arange(EXONS_PER_GENE)) & 1).astype(bool)
    tx_len = (bits * exon_len[tx_gene]).sum(axis=1)
    # where each exon starts on each transcript (-1: not on it)
    starts = np.where(bits, np.cumsum(bits * exon_len[tx_gene], axis=1)
                      - bits * exon_len[tx_gene], -1)
    # the transcripts holding each (gene, exon), as CSR over key = gene * EXONS + exon
    holder_tx, holder_exon = np.nonzero(bits)
    keys = tx_gene[holder_tx] * EXONS_PER_GENE + holder_exon
    order = np.argsort(keys, kind="stable")
    holders = holder_tx[order]
    key_start = np.searchsorted(keys[order], np.arange((tx_gene.max() + 1) * EXONS_PER_GENE + 1))
    from emseq.quant.transcripts import load_transcripts

    reference = load_transcripts(out / "transcripts.fa", digests=False)
    buffer, tx_offset = reference.sequence_buffer, reference.offsets
    abundance = rng.lognormal(0.0, 2.0, size=n_tx)
    abundance[rng.random(n_tx) < 0.3] = 0.0
    header = "@HD\tVN:1.6\tSO:unsorted\n" + "".join(
        f"@SQ\tSN:T{t:06d}.1\tLN:{int(ln)}\n" for t, ln in enumerate(tx_len))
    samtools = shutil.which("samtools")
    target = out / name
    n_records = 0
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        if samtools:
            proc = subprocess.Popen([samtools, "view", "-b", "-@", "2", "--output-fmt-option",
                                     "level=1", "-o", str(target) + ".tmp", "-"],
                                    stdin=subprocess.PIPE)
            sink = proc.stdin
        else:
            sam_path = Path(tmp) / "reads.sam"
            sink = open(sam_path, "wb")
        sink.write(header.encode())
        for first in range(0, n_pairs, chunk):
            n = min(chunk, n_pairs - first)
            picks = rng.choice(n_tx, size=n, p=abundance / abundance.sum())
            genes = tx_gene[picks]
            lens, on = exon_len[genes], bits[picks]
            flen = np.clip(np.rint(rng.normal(250, 25, n)), 2 * READ_LENGTH, 400).astype(np.int64)
            flen = np.minimum(flen, np.where(on, lens, 0).max(axis=1))  # else the longest exon
            fits = on & (lens >= flen[:, None])
            exon = np.argmax(rng.random(fits.shape) * fits, axis=1)  # uniform among those
            offset = (rng.random(n) * (lens[np.arange(n), exon] - flen + 1)).astype(np.int64)
            key = genes * EXONS_PER_GENE + exon
            nh = key_start[key + 1] - key_start[key]
            # one row per (fragment, holder)
            frag = np.repeat(np.arange(n), nh)
            rank = np.arange(frag.size) - np.repeat(np.cumsum(nh) - nh, nh)
            u = holders[key_start[key][frag] + rank]
            pos = starts[u, exon[frag]] + offset[frag] + 1
            fl = flen[frag]
            mate = pos + fl - READ_LENGTH
            t, e, o = picks[frag], exon[frag], offset[frag]
            at = tx_offset[t] + starts[t, e] + o
            window = np.arange(READ_LENGTH)
            r1 = buffer[at[:, None] + window]
            r2 = buffer[(at + fl - READ_LENGTH)[:, None] + window]
            secondary = np.where(rank > 0, 0x100, 0)
            mapq = np.where(nh[frag] == 1, 255, 1)
            qname = first + frag
            lines1 = _sam_lines(qname, 0x63 | secondary, u, pos, mapq, mate, fl, r1, nh[frag])
            lines2 = _sam_lines(qname, 0x93 | secondary, u, mate, mapq, pos, -fl, r2, nh[frag])
            sink.write(np.concatenate([lines1, lines2], axis=1).tobytes())
            n_records += 2 * frag.size
        sink.close()
        if samtools:
            if proc.wait() != 0:
                raise RuntimeError(f"samtools view -b failed writing {target}")
        else:
            import pysam

            pysam.view("-b", "-@", "2", "-o", str(target) + ".tmp", str(sam_path),
                       catch_stdout=False)
        os.replace(str(target) + ".tmp", target)
    return {"n_pairs": n_pairs, "n_records": n_records}


def bench_deep(args, rows: list[dict]) -> None:
    """emseq's peak memory and fragments per second of its read step from ``--n-pairs`` to
    ``--deep`` times more pairs on the same reference: memory should follow the transcripts
    and classes (the same in both), not the reads."""
    import json

    fasta, logs = args.work / "transcripts.fa", args.work / "logs"
    for factor in (1, args.deep):
        n_pairs = factor * args.n_pairs
        bam = args.work / ("reads.bam" if factor == 1 else f"reads_deep{n_pairs}.bam")
        if not bam.is_file():
            t0 = time.perf_counter()
            log.info("deep BAM: %s (%.1f s)", make_bam(args.work, n_pairs, args.seed + factor,
                                                       name=bam.name), time.perf_counter() - t0)
        env = dict(os.environ, PYTHONPATH=str(args.emseq_src))
        out = args.work / f"emseq_deep{factor}"
        log_path = logs / f"emseq_deep{factor}.log"
        run = run_measured([sys.executable, "-m", "emseq", "quant", "-a", bam, "-t", fasta,
                            "-o", out, "-p", str(args.threads), "--force"], log_path, env=env,
                           cwd=args.work)
        row = {"section": "deep", "what": "emseq quant", "status": run.status,
               "input": f"{n_pairs} pairs", "n_pairs": n_pairs, "wall_s": run.wall_s,
               "cpu_s": run.cpu_s, "peak_mb": run.peak_mb}
        if run.status == "ok":
            row.update(_emseq_steps(out, log_path))
            meta = json.loads((out / "aux_info" / "meta_info.json").read_text())
            row["fragments_per_s"] = (meta.get("num_processed", 0)
                                      / max(row.get("read_s", 0.0), 1e-9))
            row["classes"] = meta.get("num_eq_classes")
        rows.append(row)
        log.info("deep x%d: %s", factor, row)


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


#: The runs of the scale grid: label, command after the program, like-for-like partner.
GRID_RUNS = (
    ("salmon -a", ["salmon"], []),
    ("salmon -a --seqBias --gcBias", ["salmon"], ["--seqBias", "--gcBias"]),
    ("emseq", ["emseq"], []),  # sequence and GC bias correction on (the default with -t)
    ("emseq --no-bias-correction", ["emseq"], ["--no-bias-correction"]),
)
#: emseq against the Salmon run doing the same work
GRID_PARTNERS = {"emseq": "salmon -a --seqBias --gcBias",
                 "emseq --no-bias-correction": "salmon -a"}


def _emseq_steps(out: Path, log_path: Path) -> dict:
    """The time split of an emseq run: meta_info.json's step_seconds and the write's time from
    the final log line."""
    import json
    import re

    steps: dict = {}
    meta = out / "aux_info" / "meta_info.json"
    if meta.is_file():
        for key, value in json.loads(meta.read_text()).get("step_seconds", {}).items():
            steps[f"{key}_s"] = value
    found = re.findall(r"wrote \S+ in ([0-9.]+) s", log_path.read_text(errors="replace"))
    if found:
        steps["write_s"] = float(found[-1])
    return steps


def bench_grid(args, rows: list[dict], run_tools: bool = True) -> None:
    """Reference sizes x sample depths (``--grid-transcripts`` x ``--grid-pairs``): Salmon -a
    with and without its bias models and emseq with and without its own, back to back on each
    BAM; emseq's time split (load, read, em, bias, write). The references and BAMs are made
    first where missing (alone: step ``grid-data``)."""
    sizes = [int(x) for x in args.grid_transcripts.split(",")]
    depths = [int(x) for x in args.grid_pairs.split(",")]
    cells = ({tuple(int(v) for v in cell.split("x")) for cell in args.grid_cells.split(",")}
             if args.grid_cells else {(t, p) for t in sizes for p in depths})
    env = dict(os.environ, PYTHONPATH=str(args.emseq_src))
    for n_tx in sizes:
        folder = args.work / "grid" / f"tx{n_tx}"
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "transcripts.fa").is_file():
            t0 = time.perf_counter()
            log.info("grid reference %d: %s (%.1f s)", n_tx,
                     make_reference(folder, n_tx, args.seed), time.perf_counter() - t0)
        for n_pairs in depths:
            if (n_tx, n_pairs) not in cells:
                continue
            bam = folder / f"reads_{n_pairs}.bam"
            if not bam.is_file():
                t0 = time.perf_counter()
                log.info("grid BAM %d x %d: %s (%.1f s)", n_tx, n_pairs,
                         make_bam(folder, n_pairs, args.seed, name=bam.name),
                         time.perf_counter() - t0)
            for _ in range(args.repeats if run_tools else 0):
                for label, program, extra in GRID_RUNS:
                    tag = f"{label.replace(' ', '_').replace('-', '')}_{n_pairs}"
                    out = folder / tag
                    if program == ["salmon"]:
                        cmd = ["salmon", "quant", "-t", folder / "transcripts.fa", "-l", "A",
                               "-a", bam, "-p", str(args.threads), "-o", out, *extra]
                    else:
                        cmd = [sys.executable, "-m", "emseq", "quant", "-a", bam, "-t",
                               folder / "transcripts.fa", "-o", out, "-p", str(args.threads),
                               "--force", *extra]
                    log_path = folder / "logs" / f"{tag}.log"
                    run = run_measured(cmd, log_path, env=env, cwd=folder)
                    row = {"section": "grid", "what": label, "input": f"{n_tx} tx, {n_pairs} pairs",
                           "n_transcripts": n_tx, "n_pairs": n_pairs, "status": run.status,
                           "wall_s": run.wall_s, "cpu_s": run.cpu_s, "peak_mb": run.peak_mb}
                    if program == ["emseq"] and run.status == "ok":
                        row.update(_emseq_steps(out, log_path))
                    rows.append(row)
                    log.info("%s %d tx x %d pairs: %s wall %.1f s cpu %.1f s peak %.0f MB",
                             label, n_tx, n_pairs, run.status, run.wall_s, run.cpu_s,
                             run.peak_mb)


def grid_summary(table, out: Path) -> None:
    """``scale_grid.md``: per cell the medians, emseq / Salmon ratios against the like-for-like
    run, and the growth exponents (log-log slope of CPU time between neighbouring sizes:
    1 is linear)."""
    grid = table[table["section"] == "grid"]
    if grid.empty:
        return
    lines = ["| transcripts | pairs | run | wall s | CPU s | peak MB | wall / Salmon | "
             "peak / Salmon | load | read | em | bias | write |", "|" + "---|" * 13]
    for (n_tx, n_pairs), cell in grid.groupby(["n_transcripts", "n_pairs"], sort=True):
        by = cell.set_index("what")
        for label, *_ in GRID_RUNS:
            if label not in by.index:
                continue
            r = by.loc[label]
            partner = GRID_PARTNERS.get(label)
            ratio = lambda key: (f"{r[key] / by.loc[partner, key]:.2f}"  # noqa: E731
                                 if partner in by.index else "")
            steps = [f"{r[k]:.2f}" if k in r and r[k] == r[k] else ""
                     for k in ("load_s", "read_s", "em_s", "bias_s", "write_s")]
            lines.append(f"| {n_tx} | {n_pairs} | {label} | {r['wall_s']:.1f} | "
                         f"{r['cpu_s']:.1f} | {r['peak_mb']:.0f} | {ratio('wall_s')} | "
                         f"{ratio('peak_mb')} | " + " | ".join(steps) + " |")
    lines += ["", "Growth exponent of CPU time, d log(CPU) / d log(size), between neighbouring "
              "sizes (1 = linear):", "", "| run | along | at | exponents |", "|---|---|---|---|"]
    for label, *_ in GRID_RUNS:
        runs = grid[grid["what"] == label]
        for along, at in (("n_transcripts", "n_pairs"), ("n_pairs", "n_transcripts")):
            for fixed, series in runs.groupby(at):
                series = series.sort_values(along)
                x, y = np.log(series[along].to_numpy(float)), np.log(series["cpu_s"].to_numpy())
                if len(x) > 1:
                    slopes = ", ".join(f"{v:.2f}" for v in np.diff(y) / np.diff(x))
                    lines.append(f"| {label} | {along[2:]} | {at[2:]} {fixed} | {slopes} |")
    out.write_text("\n".join(lines) + "\n")
    log.info("grid summary in %s", out)


def write_results(rows: list[dict], out: Path) -> None:
    import pandas as pd

    table = pd.DataFrame(rows)
    cols = ["section", "what", "input", "n_transcripts", "n_pairs", "status", "wall_s", "cpu_s",
            "peak_mb", "rss_before_mb", "letters", "load_s", "read_s", "em_s", "bias_s",
            "write_s", "fragments_per_s", "classes"]
    table = table.reindex(columns=[c for c in cols if c in table.columns])
    group = [c for c in ("section", "what", "input", "n_transcripts", "n_pairs", "status")
             if c in table.columns]
    numeric = [c for c in table.columns if c not in group]
    summary = table.groupby(group, sort=False, dropna=False)[numeric].median().reset_index()
    summary["runs"] = table.groupby(group, sort=False, dropna=False).size().to_numpy()
    if "peak_mb" in summary and "rss_before_mb" in summary:
        summary["step_mb"] = summary["peak_mb"] - summary["rss_before_mb"]
    out.parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out, sep="\t", index=False, float_format="%.4g")
    if "n_transcripts" in summary:
        grid_summary(summary, out.with_suffix(".md"))
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
                   help="the deep-sample step: --n-pairs and this many times more pairs "
                        "(step 'deep')")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "scale.tsv")
    p.add_argument("--steps", default="data,load,write,tools",
                   help="comma-separated: data, load, write, tools, deep, grid, grid-data")
    p.add_argument("--grid-transcripts", default="1000,10000,100000,250000",
                   help="reference sizes of the grid (step 'grid')")
    p.add_argument("--grid-pairs", default="200000,5000000",
                   help="sample depths of the grid (step 'grid')")
    p.add_argument("--grid-cells", default=None,
                   help="only these cells of the grid, as TRANSCRIPTSxPAIRS,... "
                        "(e.g. 1000x5000000)")
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
    if "grid" in steps or "grid-data" in steps:
        bench_grid(args, rows, run_tools="grid" in steps)
    if rows:
        write_results(rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
