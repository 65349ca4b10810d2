"""Bad inputs: one clear InputError (exit 1 from the CLI), never a crash or partial output."""

from __future__ import annotations

import gzip
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pysam
import pytest

from emseq.cli import main
from emseq.errors import InputError, UsageError
from emseq.quant import load_transcripts, quantify

ROOT = Path(__file__).resolve().parents[2]


class _Collect(logging.Handler):
    """Warnings of the 'emseq' logger (after a CLI test it no longer propagates to caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings_of_emseq():
    handler = _Collect()
    logger = logging.getLogger("emseq")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def test_truncated_bam_without_eof_block(sim, tmp_path):
    data = sim.name_bam.read_bytes()
    cut = tmp_path / "noeof.bam"
    cut.write_bytes(data[:-28])  # drop exactly the BGZF end-of-file block
    with pytest.raises(InputError, match="truncated"):
        quantify(cut, sim.fasta, n_threads=1)


def test_bam_cut_at_random_bytes_never_crashes(sim, tmp_path):
    """Cut the BAM at 12 random bytes, or flip bytes in it; each run must end with an
    InputError, in a child process so that a segmentation fault fails the test, not the run."""
    data = sim.name_bam.read_bytes()
    rng = np.random.default_rng(11)
    cuts = sorted(int(c) for c in rng.integers(1, len(data) - 1, size=12))
    paths = []
    for c in cuts:
        path = tmp_path / f"cut{c}.bam"
        path.write_bytes(data[:c])
        paths.append(str(path))
    # and 6 files with bytes flipped inside the compressed records (the EOF block intact)
    for k in range(6):
        damaged = bytearray(data)
        for i in rng.integers(2000, len(data) - 100, size=3):
            damaged[int(i)] ^= 0x5A
        path = tmp_path / f"flip{k}.bam"
        path.write_bytes(bytes(damaged))
        paths.append(str(path))
    script = textwrap.dedent(f"""
        import sys
        from emseq.errors import InputError
        from emseq.quant import quantify
        for path in {paths!r}:
            try:
                quantify(path, {str(sim.fasta)!r}, n_threads=2)
            except InputError as exc:
                print("InputError", str(exc).count("\\n"))
            else:
                print("accepted", path)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[:-1] == ["InputError 0"] * len(paths)


def _header(names_lengths):
    return pysam.AlignmentHeader.from_dict(
        {"HD": {"VN": "1.6", "SO": "unsorted"},
         "SQ": [{"SN": n, "LN": l} for n, l in names_lengths]})


def test_bam_with_no_alignments(sim, tmp_path):
    header = _header(zip(sim.tx.names, (len(s) for s in sim.tx.seqs)))
    empty = tmp_path / "empty.bam"
    with pysam.AlignmentFile(str(empty), "wb", header=header):
        pass
    with pytest.raises(InputError, match="no alignment records"):
        quantify(empty, sim.fasta, n_threads=1)


def test_sam_with_no_header(tmp_path, sim):
    sam = tmp_path / "noheader.sam"
    sam.write_text("r1\t0\tG00-T0\t1\t255\t4M\t*\t0\t0\tACGT\tIIII\n")
    with pytest.raises(InputError, match="header"):
        quantify(sam, sim.fasta, n_threads=1)


def test_empty_file(tmp_path, sim):
    path = tmp_path / "empty.bam"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        quantify(path, sim.fasta)


def test_genome_aligned_bam_names_mismatches(sim, tmp_path):
    header = _header([("chr1", 248_956_422), ("chr2", 242_193_529), ("chrM", 16_569)])
    path = tmp_path / "genome.bam"
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        a = pysam.AlignedSegment(header)
        a.query_name, a.flag, a.reference_id, a.reference_start = "r", 0, 0, 100
        a.cigarstring, a.query_sequence = "4M", "ACGT"
        out.write(a)
    with pytest.raises(InputError, match=r"3 of 3 references .* \(first: chr1, chr2, chrM\); "
                                         r"was the BAM aligned to a genome"):
        quantify(path, sim.fasta)


def test_transcript_length_mismatch(sim, tmp_path):
    pairs = [(n, len(s)) for n, s in zip(sim.tx.names, sim.tx.seqs)]
    pairs[1] = (pairs[1][0], pairs[1][1] + 7)
    path = tmp_path / "other.bam"
    with pysam.AlignmentFile(str(path), "wb", header=_header(pairs)):
        pass
    with pytest.raises(InputError, match=f"{pairs[1][0]} \\({pairs[1][1]} in the BAM"):
        quantify(path, sim.fasta)


def test_corrupt_gzipped_fasta(sim, tmp_path):
    data = sim.fasta_gz.read_bytes()
    bad = tmp_path / "bad.fa.gz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="bad.fa.gz"):
        load_transcripts(bad)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(flipped))
    with pytest.raises(InputError, match="bad.fa.gz"):
        load_transcripts(bad)


def test_mates_that_never_appear(sim, tmp_path):
    path = tmp_path / "read1only.bam"
    with pysam.AlignmentFile(str(sim.name_bam)) as src, \
            pysam.AlignmentFile(str(path), "wb", template=src) as out:
        for record in src:
            if record.is_read1 or record.is_unmapped:
                out.write(record)
    with pytest.raises(InputError, match=r"mate never appears .*first: r\d+"):
        quantify(path, sim.fasta)


def test_zero_length_alignment(sim, tmp_path):
    header = _header(zip(sim.tx.names, (len(s) for s in sim.tx.seqs)))
    path = tmp_path / "zero.bam"
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        a = pysam.AlignedSegment(header)
        a.query_name, a.flag, a.reference_id, a.reference_start = "empty_read", 0, 0, 10
        out.write(a)
    with pytest.raises(InputError, match="empty_read"):
        quantify(path, sim.fasta)


def test_cram_without_reference(sim, tmp_path):
    pysam.faidx(str(sim.fasta))
    cram = tmp_path / "x.cram"
    with pysam.AlignmentFile(str(sim.single_bam)) as src, \
            pysam.AlignmentFile(str(cram), "wc", template=src,
                                reference_filename=str(sim.fasta)) as out:
        for i, record in enumerate(src):
            out.write(record)
            if i > 200:
                break
    with pytest.raises(InputError, match="CRAM file needs its reference"):
        quantify(cram, None)
    result = quantify(cram, sim.fasta, vb=False)
    assert result.num_mapped > 0


def test_cli_bad_input_is_one_line_exit_1(sim, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["quant", "-a", str(tmp_path / "missing.bam"), "-t", str(sim.fasta),
               "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("\n") == 1 and "no such alignment file" in err
    assert not out.exists()
    assert not list(tmp_path.glob(".out*"))


@pytest.mark.parametrize("option, value", [
    ("vb_prior", -1.0), ("vb_prior", float("nan")), ("vb_prior", float("inf")),
    ("score_exp", -1.0), ("score_exp", float("inf")), ("score_exp", float("nan")),
    ("incompat_prior", -0.5), ("incompat_prior", 2.0), ("incompat_prior", float("nan")),
    ("fld_mean", float("nan")), ("fld_sd", float("inf")),
])
def test_options_out_of_range_are_usage_errors(sim, option, value):
    """A negative or NaN prior gave all-zero TPMs with exit 0; an incompat_prior above 1
    weighted alignments contradicting the library type above the compatible ones."""
    with pytest.raises(UsageError, match=option):
        quantify(sim.name_bam, sim.fasta, n_threads=1, **{option: value})


def test_cli_negative_vb_prior_exit_2(sim, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["quant", "-a", str(sim.name_bam), "-t", str(sim.fasta), "-o", str(out), "-q",
               "--vb-prior", "-1"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--vb-prior" in err
    assert not out.exists()


@pytest.mark.parametrize("discard, words", [(False, "were used as orphans"),
                                            (True, "were dropped (--discard-orphans)")])
def test_some_mates_missing_warning_says_what_was_done(sim, tmp_path, warnings_of_emseq, discard,
                                                       words):
    """With discard_orphans the warning said the reads 'were used as orphans' (they were not:
    num_mapped fell by exactly their number)."""
    path = tmp_path / "fewmates.bam"
    dropped = set()
    with pysam.AlignmentFile(str(sim.name_bam)) as src, \
            pysam.AlignmentFile(str(path), "wb", template=src) as out:
        for record in src:
            if record.is_read2 and (record.query_name in dropped or len(dropped) < 20):
                dropped.add(record.query_name)
                continue
            out.write(record)
    result = quantify(path, sim.fasta, n_threads=1, discard_orphans=discard)
    message = [m for m in warnings_of_emseq if "mate never appears" in m]
    assert len(message) == 1 and words in message[0], message
    full = quantify(sim.name_bam, sim.fasta, n_threads=1)
    assert result.num_mapped == full.num_mapped - (len(dropped) if discard else 0)


def test_wrong_library_type_warns(sim, warnings_of_emseq):
    """Unstranded reads quantified as ISF lose half the fragments; on a stranded BAM the
    opposite strand keeps 3 % (the demo with -l ISF): exit 0 with no word of it on stderr."""
    wrong = quantify(sim.name_bam, sim.fasta, n_threads=1, library_type="ISF")
    ratio = wrong.library["compatible_fragment_ratio"]
    assert ratio < 0.7
    warned = [m for m in warnings_of_emseq if "compatible with library type" in m]
    assert len(warned) == 1 and f"{100 * ratio:.1f}%" in warned[0] and "-l A" in warned[0]
    warnings_of_emseq.clear()
    right = quantify(sim.name_bam, sim.fasta, n_threads=1, library_type="IU")
    assert right.library["compatible_fragment_ratio"] > 0.99
    assert not [m for m in warnings_of_emseq if "compatible with library type" in m]


@pytest.mark.parametrize("which, library_type, hint", [
    ("single_bam", "IU", "the reads are single-end: use U, SF or SR"),
    ("name_bam", "U", "the reads are paired-end: use IU, ISF or ISR"),
])
def test_single_end_type_on_paired_reads_and_back(sim, which, library_type, hint):
    """Said only 'incompatible with library type U: 12000' (-l U on paired reads is a common
    slip: U is 'unstranded' to most users)."""
    with pytest.raises(InputError, match=hint):
        quantify(getattr(sim, which), sim.fasta, n_threads=1, library_type=library_type)


def test_pipe_is_named_as_a_pipe(sim, tmp_path):
    """'samtools view -b ... | emseq quant -a /dev/stdin' (or -a <(...)) said 'no such
    alignment file' for a path that exists: it is a pipe, which emseq cannot re-read."""
    import os

    fifo = tmp_path / "aln.fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file.*write the alignments to a file"):
        quantify(fifo, sim.fasta, n_threads=1)
