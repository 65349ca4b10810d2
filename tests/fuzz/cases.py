"""The fuzz cases: hostile inputs for every command, made from the demo data.

Case ``i`` of a campaign with seed ``s`` is drawn from ``numpy.random.default_rng([s, i])``,
so any case can be made again alone (``python -m tests.fuzz --only i``). Each case writes its
input into its own folder and names the command to run, and says what a correct emseq must do:
``reject`` (exit 1 or 2: the input is invalid, e.g. a truncated BAM, an alignment past its
transcript) or ``any`` (the mutation may leave a valid input, e.g. a flipped quality byte; exit
0 is then fine, but a crash, a traceback or a hang never is).
"""

from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pysam

from .bam_bytes import RawBam, rewrite_records

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
#: Records of the demo BAM the BAM cases start from
BASE_RECORDS = 3000


@dataclass
class Case:
    """One fuzz case: the command (``argv``, run in ``folder``) and what it must do."""

    index: int
    family: str
    argv: list[str]
    folder: Path
    expect: str = "any"          # "reject" or "any"
    detail: str = ""
    output: str = "out"          # the -o of the command, relative to ``folder``
    extra_outputs: list[str] = field(default_factory=list)


@dataclass
class Fixtures:
    """Inputs every case starts from, made once per campaign in ``root``."""

    root: Path
    bam: Path = None  # type: ignore[assignment]
    raw: RawBam = None  # type: ignore[assignment]
    sam_lines: list[str] = None  # type: ignore[assignment]
    fasta: Path = None  # type: ignore[assignment]
    fasta_text: str = ""
    motif_text: str = ""
    table_text: str = ""
    tx2gene_text: str = ""

    @classmethod
    def make(cls, root: Path) -> "Fixtures":
        root.mkdir(parents=True, exist_ok=True)
        fx = cls(root)
        fx.bam = root / "base.bam"
        rewrite_records(DATA / "quant" / "demo.bam", fx.bam, lambda i, r: None,
                        limit=BASE_RECORDS)
        fx.raw = RawBam.read(fx.bam)
        text = pysam.view("-h", str(fx.bam))
        fx.sam_lines = str(text).splitlines()[: 400]
        fx.fasta_text = gzip.decompress(
            (DATA / "quant" / "demo_transcripts.fa.gz").read_bytes()).decode()
        fx.fasta = root / "tx.fa"
        fx.fasta.write_text(fx.fasta_text)
        fx.motif_text = (DATA / "motif" / "crp0.s").read_text()
        fx.table_text = (DATA / "mixture" / "demo.tsv").read_text()
        fx.tx2gene_text = (DATA / "quant" / "demo_tx2gene.tsv").read_text()
        return fx


def _quant(bam: Path, *extra: str) -> list[str]:
    return ["quant", "-a", str(bam), "-o", "out", "-q", "--no-report", "-p", "1", *extra]


# --------------------------------------------------------------------------- BAM bytes
def bam_truncated(rng, fx: Fixtures, folder: Path) -> tuple[list[str], str, str]:
    data = fx.bam.read_bytes()
    cut = int(rng.integers(1, len(data) - 1))
    path = folder / "cut.bam"
    path.write_bytes(data[:cut])
    return _quant(path), "reject", f"cut at byte {cut} of {len(data)}"


def bam_flip_compressed(rng, fx, folder):
    data = bytearray(fx.bam.read_bytes())
    where = sorted(int(i) for i in rng.integers(0, len(data), size=int(rng.integers(1, 5))))
    for i in where:
        data[i] ^= int(rng.integers(1, 256))
    path = folder / "flip.bam"
    path.write_bytes(bytes(data))
    return _quant(path), "any", f"compressed bytes {where} flipped"


def _raw_copy(fx) -> RawBam:
    return RawBam(bytearray(fx.raw.data), list(fx.raw.records), fx.raw.n_ref,
                  list(fx.raw.ref_lengths))


def bam_flip_records(rng, fx, folder):
    raw = _raw_copy(fx)
    first = raw.records[0]
    where = sorted(int(i) for i in rng.integers(first, len(raw.data),
                                                size=int(rng.integers(1, 9))))
    for i in where:
        raw.data[i] ^= int(rng.integers(1, 256))
    path = folder / "recflip.bam"
    raw.write(path)
    return _quant(path), "any", f"record bytes {where} flipped (valid BGZF)"


def bam_flip_header(rng, fx, folder):
    raw = _raw_copy(fx)
    where = sorted(int(i) for i in rng.integers(0, raw.records[0], size=int(rng.integers(1, 4))))
    for i in where:
        raw.data[i] ^= int(rng.integers(1, 256))
    path = folder / "hdrflip.bam"
    raw.write(path)
    return _quant(path), "any", f"header bytes {where} flipped (valid BGZF)"


#: Values that overflow or leave the range of a 32-bit field
EXTREMES = [-2**31, -2**31 + 1, -2, -1, 2**31 - 1, 2**31 - 2, 2**30, 10**9]


def bam_field_overflow(rng, fx, folder):
    """One fixed field of one record set to an extreme value; ``reject`` where the reader
    must use and so check that field."""
    raw = _raw_copy(fx)
    k = int(rng.integers(0, len(raw.records)))
    name = str(rng.choice(["ref_id", "pos", "next_ref_id", "next_pos", "tlen", "l_seq",
                           "n_cigar_op", "l_read_name", "block_size", "bin", "mapq"]))
    flag, tid = raw.get(k, "flag"), raw.get(k, "ref_id")
    used = not flag & (4 | 512 | 2048) and tid >= 0
    if name in ("n_cigar_op", "bin"):
        value = int(rng.choice([0, 1, 2**15, 2**16 - 1]))
    elif name in ("l_read_name", "mapq"):
        value = int(rng.choice([0, 1, 255]))
    elif name == "ref_id":
        value = int(rng.choice([raw.n_ref, raw.n_ref + 1, -2, 2**31 - 1, -2**31]))
    else:
        value = int(rng.choice(EXTREMES))
    raw.set(k, name, value)
    expect = "any"
    length = raw.ref_lengths[tid] if 0 <= tid < raw.n_ref else 0
    if name == "ref_id":
        expect = "reject"  # htslib itself refuses a reference id outside the header
    elif name == "pos" and used and not 0 <= value < length:
        expect = "reject"
    elif name == "next_pos" and used and flag & 1 and not flag & 8 \
            and raw.get(k, "next_ref_id") >= 0:
        mlen = raw.ref_lengths[raw.get(k, "next_ref_id")]
        expect = "reject" if not 0 <= value < mlen else "any"
    path = folder / "field.bam"
    raw.write(path)
    return _quant(path), expect, f"record {k + 1} {name} = {value}"


# --------------------------------------------------------------------------- BAM records
def _first_pair_edit(fx, folder, name, edit) -> Path:
    state: dict = {}

    def apply(i, record):
        if ("name" not in state and record.is_paired and record.is_read1
                and not record.is_unmapped and not record.mate_is_unmapped
                and record.reference_id == record.next_reference_id):
            state["name"] = record.query_name
        if record.query_name == state.get("name"):
            edit(record)

    path = folder / name
    rewrite_records(fx.bam, path, apply)
    return path


def bam_segfault_reproducers(rng, fx, folder):
    """The two segfaults of issue 12, and relatives with other sizes."""
    which = int(rng.integers(0, 4))
    if which == 0:
        pos = int(rng.choice([-2**31, -2**31 + 7, -1000]))

        def edit(r):
            if r.is_read2:
                r.reference_start = pos
            else:
                r.next_reference_start = pos
        detail = f"read 2 moved to {pos}, mate fields consistent"
    elif which == 1:
        n = int(rng.integers(1, 10))

        def edit(r):
            if r.is_read1:
                r.cigarstring = "50M" + "268435455D" * n + "50M"
                r.query_sequence = "A" * 100
        detail = f"CIGAR 50M + {n} x 268435455D + 50M"
    elif which == 2:
        shift = int(rng.choice([10**6, 2**31 - 3000, 5000]))

        def edit(r):
            r.reference_start = min(r.reference_start + shift, 2**31 - 1000)
            r.next_reference_start = min(r.next_reference_start + shift, 2**31 - 1000)
        detail = f"one pair moved {shift} past its transcript"
    else:
        def edit(r):
            if r.is_read1:
                r.cigarstring = f"50M{int(rng.integers(5000, 10**7))}N50M"
                r.query_sequence = "A" * 100
        detail = "one read with a reference span longer than its transcript"
    path = _first_pair_edit(fx, folder, "repro.bam", edit)
    return _quant(path), "reject", detail


def bam_everything_moved(rng, fx, folder):
    shift = int(rng.choice([10**6, 10**4, -10**6]))

    def edit(i, r):
        if not r.is_unmapped:
            r.reference_start = max(-2**31, min(r.reference_start + shift, 2**31 - 1000))
        if r.is_paired and not r.mate_is_unmapped:
            r.next_reference_start = max(-2**31, min(r.next_reference_start + shift,
                                                     2**31 - 1000))

    path = folder / "moved.bam"
    rewrite_records(fx.bam, path, edit)
    return _quant(path), "reject", f"every record moved by {shift}"


def bam_not_bgzf(rng, fx, folder):
    which = int(rng.integers(0, 4))
    path = folder / "odd.bam"
    if which == 0:
        path.write_bytes(gzip.compress(bytes(fx.raw.data)))
        detail = "plain gzip instead of BGZF"
    elif which == 1:
        path.write_bytes(bytes(rng.integers(0, 256, size=int(rng.integers(1, 5000)),
                                            dtype=np.uint8)))
        detail = "random bytes"
    elif which == 2:
        path.write_bytes(b"")
        detail = "empty file"
    else:
        raw = RawBam(bytearray(fx.raw.data[: fx.raw.records[0]]), [], fx.raw.n_ref,
                     fx.raw.ref_lengths)
        raw.write(path)
        detail = "header only, no records"
    return _quant(path), "reject", detail


# --------------------------------------------------------------------------- SAM text
def sam_mutation(rng, fx, folder):
    lines = list(fx.sam_lines)
    body = [i for i, l in enumerate(lines) if not l.startswith("@")]
    i = int(rng.choice(body))
    fields = lines[i].split("\t")
    column = int(rng.integers(1, 11))
    value = str(rng.choice(["-5", "0", "2147483647", "99999999999", "*", "", "abc",
                            "10M10D", "4294967296M", "-1M", "\x00"]))
    fields[column] = value
    lines[i] = "\t".join(fields)
    path = folder / "mut.sam"
    path.write_text("\n".join(lines) + "\n")
    return _quant(path), "any", f"SAM line {i + 1} column {column + 1} = {value!r}"


# --------------------------------------------------------------------------- FASTA
def _mutate_text(rng, text: str) -> tuple[str, str]:
    which = int(rng.integers(0, 8))
    if which == 0:
        cut = int(rng.integers(0, len(text)))
        return text[:cut], f"cut at {cut}"
    if which == 1:
        chars = list(text)
        for i in rng.integers(0, len(chars), size=int(rng.integers(1, 6))):
            chars[int(i)] = chr(int(rng.integers(0, 256)))
        return "".join(chars), "characters replaced"
    if which == 2:
        return text.replace(" ", "\t", int(rng.integers(1, 5))), "tabs for spaces"
    if which == 3:
        at = int(rng.integers(0, len(text)))
        junk = bytes(rng.integers(0, 256, size=40, dtype=np.uint8)).decode("latin-1")
        return text[:at] + junk + text[at:], "binary inserted"
    if which == 4:
        return "", "empty"
    if which == 5:
        return text.replace("\n", "\r\n"), "CRLF line ends"
    if which == 6:
        lines = text.splitlines()
        k = int(rng.integers(0, len(lines)))
        return "\n".join(lines[:k] + lines[k:k + 1] * 3 + lines[k + 1:]) + "\n", "line repeated"
    return "\n".join(l for l in text.splitlines() if l.startswith(">")) + "\n", "headers only"


def _write_maybe_gz(rng, path: Path, text: str) -> tuple[Path, str]:
    data = text.encode("latin-1", "replace") if text else b""
    if rng.random() < 0.3:
        packed = gzip.compress(data)
        if rng.random() < 0.5 and len(packed) > 20:
            packed = packed[: int(rng.integers(10, len(packed)))]
            target = path.with_name(path.name + ".gz")
            target.write_bytes(packed)
            return target, "gzipped and cut"
        target = path.with_name(path.name + ".gz")
        target.write_bytes(packed)
        return target, "gzipped"
    path.write_bytes(data)
    return path, ""


def motif_fasta(rng, fx, folder):
    text, what = _mutate_text(rng, fx.motif_text)
    path, packed = _write_maybe_gz(rng, folder / "seqs.fa", text)
    argv = ["motif", str(path), "-o", "out", "-q", "-p", "1", "--minw", "6", "--maxw", "7",
            "--nmotifs", "1", "--maxiter", "4", "--starts", "1"]
    expect = "reject" if what in ("empty", "headers only") or packed == "gzipped and cut" else "any"
    return argv, expect, f"motif input: {what} {packed}".strip()


def quant_fasta(rng, fx, folder):
    text, what = _mutate_text(rng, fx.fasta_text)
    path, packed = _write_maybe_gz(rng, folder / "tx.fa", text)
    expect = "reject" if what in ("empty", "headers only") or packed == "gzipped and cut" else "any"
    return _quant(fx.bam, "-t", str(path)), expect, f"transcripts: {what} {packed}".strip()


# --------------------------------------------------------------------------- tables
def mixture_table(rng, fx, folder):
    lines = fx.table_text.splitlines()
    which = int(rng.integers(0, 9))
    k = int(rng.integers(1, len(lines)))
    expect = "any"
    if which == 0:
        lines[k] = lines[k] + "\t1.0"
        what = "ragged row"
    elif which == 1:
        lines[k] = lines[k].replace(lines[k].split("\t")[0], "abc", 1)
        what, expect = "non-numeric cell", "reject"
    elif which == 2:
        lines[k] = "\t".join(["1e300"] * 3)
        what = "1e300 row"
    elif which == 3:
        lines[k] = "\t".join(["inf", "-inf", "nan"])
        what = "inf/nan row"
    elif which == 4:
        lines = lines[:2]
        what, expect = "one row", "reject"
    elif which == 5:
        lines = lines[:1]
        what, expect = "header only", "reject"
    elif which == 6:
        lines = [l.replace("\t", ",") for l in lines]
        what = "commas in a .tsv"
    elif which == 7:
        text, what = _mutate_text(rng, fx.table_text)
        lines = text.splitlines()
        expect = "reject" if what in ("empty", "headers only") else "any"
    else:
        lines = ["\t".join(["1e308", "-1e308", "1e-320"])] + lines[1:]
        what = "extreme header-less first row"
    path = folder / "table.tsv"
    path.write_text("\n".join(lines) + "\n")
    argv = ["mixture", str(path), "-k", str(int(rng.integers(1, 4))), "-o", "out", "-q",
            "-p", "1", "--no-plot", "--max-iter", "20"]
    return argv, expect, f"mixture table: {what} (line {k + 1})"


def tx2gene_table(rng, fx, folder):
    which = int(rng.integers(0, 5))
    path = folder / "map.tsv"
    if which == 0:
        pysam.faidx(str(fx.fasta))
        shutil.copy(str(fx.fasta) + ".fai", path)
        what = "a .fai"
    elif which == 1:
        path.write_text("".join(f"{l.split()[0]}\t{i * 7}\n" for i, l in
                                enumerate(fx.tx2gene_text.splitlines()[1:])))
        what = "numbers in the gene column"
    elif which == 2:
        path.write_bytes(bytes(rng.integers(0, 256, size=500, dtype=np.uint8)))
        what = "binary"
    elif which == 3:
        path.write_text("")
        what = "empty"
    else:
        path.write_text(fx.tx2gene_text.replace("\t", " "))
        what = "one column (spaces)"
    return _quant(fx.bam, "--tx2gene", str(path)), "reject", f"tx2gene: {what}"


def sample_sheet(rng, fx, folder):
    which = int(rng.integers(0, 5))
    bam = str(fx.bam)
    text = {0: f"sample,bam\nS1,{bam}\nS1,{bam}\n",
            1: f"sample,bam,extra\nS1,{bam},x\n",
            2: f'sample,bam\n"a\nb",{bam}\n',
            3: "sample,bam\n",
            4: f"bam,sample\n{bam}\n"}[which]
    path = folder / "sheet.csv"
    path.write_text(text)
    return (["batch", str(path), "-o", "out", "-q", "--workers", "1"], "reject",
            f"sample sheet variant {which}")


#: family name -> (weight, generator)
FAMILIES: dict[str, tuple[float, Callable]] = {
    "bam_truncated": (3, bam_truncated),
    "bam_flip_compressed": (3, bam_flip_compressed),
    "bam_flip_records": (4, bam_flip_records),
    "bam_flip_header": (1, bam_flip_header),
    "bam_field_overflow": (4, bam_field_overflow),
    "bam_segfault_reproducers": (2, bam_segfault_reproducers),
    "bam_everything_moved": (0.5, bam_everything_moved),
    "bam_not_bgzf": (1, bam_not_bgzf),
    "sam_mutation": (1.5, sam_mutation),
    "motif_fasta": (1.5, motif_fasta),
    "quant_fasta": (1, quant_fasta),
    "mixture_table": (2, mixture_table),
    "tx2gene_table": (1, tx2gene_table),
    "sample_sheet": (0.5, sample_sheet),
}


def make_case(seed: int, index: int, fx: Fixtures, work: Path,
              families: list[str] | None = None) -> Case:
    """Case ``index`` of the campaign ``seed``: its input written into ``work/c<index>``."""
    rng = np.random.default_rng([seed, index])
    names = families or list(FAMILIES)
    weights = np.array([FAMILIES[n][0] for n in names], dtype=float)
    family = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    folder = work / f"c{index}"
    folder.mkdir(parents=True)
    argv, expect, detail = FAMILIES[family][1](rng, fx, folder)
    return Case(index, family, argv, folder, expect, detail)


__all__ = ["Case", "Fixtures", "FAMILIES", "make_case"]
