"""Every field the BAM reader uses is checked before use: hostile records give one clear
error naming the record (or, for overhangs, a counted skip), never a crash.

The two segmentation faults the first fuzz campaign found (issue 12) are regression cases
here; each run is a child process, so a crash fails the test instead of the test run.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from emseq.errors import InputError
from emseq.quant import quantify
from tests.fuzz.bam_bytes import RawBam, rewrite_records

ROOT = Path(__file__).resolve().parents[2]
DEMO_BAM = ROOT / "data" / "quant" / "demo.bam"
DEMO_FASTA = ROOT / "data" / "quant" / "demo_transcripts.fa.gz"
#: Records of the demo BAM the tests keep (whole read-name groups: 1,000 pairs and more)
N_RECORDS = 3000


def _first_proper_pair(index, record, state):
    """Mark the first read-1 record of a pair aligned to one transcript (state['name'])."""
    if ("name" not in state and record.is_paired and record.is_read1 and not record.is_unmapped
            and not record.mate_is_unmapped
            and record.reference_id == record.next_reference_id):
        state["name"] = record.query_name
    return record.query_name == state.get("name")


def _edited(tmp_path, name, edit) -> Path:
    """The first N_RECORDS of the demo BAM with ``edit(record)`` applied to the records of
    the first properly paired read."""
    state: dict = {}
    path = tmp_path / name

    def apply(index, record):
        if _first_proper_pair(index, record, state):
            edit(record)

    rewrite_records(DEMO_BAM, path, apply, limit=N_RECORDS)
    return path


def _quant_cli(tmp_path, bam, *extra):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "emseq", "quant", "-a", str(bam), "-t",
                           str(DEMO_FASTA), "-o", str(out), "-q", "--no-report", *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    return done, out


def _assert_one_line_error(done, out, *needles):
    assert done.returncode == 1, (done.returncode, done.stderr)  # not -11: no crash
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.*"))


def test_reproducer_mate_moved_to_minus_2_31(tmp_path):
    """Read 2 at -2^31 with consistent mate fields: the fragment span (int32)(hi - lo)
    wrapped negative and indexed the fragment-length histogram (segfault)."""
    def move(record):
        if record.is_read2:
            record.reference_start = -2**31
        else:
            record.next_reference_start = -2**31

    bam = _edited(tmp_path, "minus231.bam", move)
    done, out = _quant_cli(tmp_path, bam)
    _assert_one_line_error(done, out, "record 1 (read f0)", "outside NM_052880.4")


def test_reproducer_cigar_with_nine_huge_deletions(tmp_path):
    """50M + 9 x 268435455D + 50M: a reference span past 2^31 (segfault)."""
    def stretch(record):
        if record.is_read1:
            record.cigarstring = "50M" + "268435455D" * 9 + "50M"
            record.query_sequence = "A" * 100

    bam = _edited(tmp_path, "huge_cigar.bam", stretch)
    done, out = _quant_cli(tmp_path, bam)
    _assert_one_line_error(done, out, "record 1 (read f0)", "spans 2415919195 bp",
                           "2478 bp long")


@pytest.mark.parametrize("group_by_name", [False, True])
def test_both_read_loops_name_the_record(tmp_path, group_by_name):
    """The streaming loop and the in-memory grouping loop validate the same way."""
    def negative(record):
        if record.is_read2:
            record.reference_start = -5
            record.next_reference_start = record.next_reference_start
        else:
            record.next_reference_start = -5

    bam = _edited(tmp_path, "negative.bam", negative)
    with pytest.raises(InputError, match=r"record 1 \(read f0\): mate position -4 is outside"):
        quantify(bam, DEMO_FASTA, n_threads=1, group_by_name=group_by_name)


def test_position_past_the_end_of_the_transcript(tmp_path):
    def far(record):
        record.reference_start += 10**6
        record.next_reference_start += 10**6

    bam = _edited(tmp_path, "far.bam", far)
    with pytest.raises(InputError, match=r"record 1 \(read f0\): position \d+ is past the end "
                                         r"of NM_052880.4 \(2478 bp\)"):
        quantify(bam, DEMO_FASTA, n_threads=1)


def test_every_record_moved_past_the_end_is_refused(tmp_path):
    """Issue 12: moving every record 10^6 past its transcript gave exit 0."""
    def far(index, record):
        if not record.is_unmapped:
            record.reference_start += 10**6
        if record.is_paired and not record.mate_is_unmapped:
            record.next_reference_start += 10**6

    bam = tmp_path / "all_far.bam"
    rewrite_records(DEMO_BAM, bam, far, limit=N_RECORDS)
    done, out = _quant_cli(tmp_path, bam)
    _assert_one_line_error(done, out, "is past the end of")


def test_span_longer_than_the_transcript(tmp_path):
    def long_deletion(record):
        if record.is_read1:
            record.cigarstring = "50M5000D50M"
            record.query_sequence = "A" * 100

    bam = _edited(tmp_path, "long.bam", long_deletion)
    with pytest.raises(InputError, match=r"spans 5\d{3} bp of NM_052880.4, which is 2478 bp"):
        quantify(bam, DEMO_FASTA, n_threads=1)


def test_overhang_is_skipped_counted_and_logged(tmp_path):
    """An alignment starting on the transcript and running past its end is skipped; its
    mate is not reported missing, and meta_info.json counts the skip."""
    length = 2478

    def overhang(record):
        if record.is_read1:
            record.reference_start = length - 60
            record.next_reference_start = length - 300
        else:
            record.reference_start = length - 300
            record.next_reference_start = length - 60
        record.cigarstring = f"{len(record.query_sequence)}M"

    bam = _edited(tmp_path, "overhang.bam", overhang)
    import logging

    messages: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore
    logger = logging.getLogger("emseq")  # after a CLI test it no longer propagates to caplog
    logger.addHandler(handler)
    try:
        result = quantify(bam, DEMO_FASTA, n_threads=1)
    finally:
        logger.removeHandler(handler)
    assert result.eq_classes.stats["num_alignments_past_end_skipped"] == 1
    assert result.eq_classes.stats["num_missing_mate"] == 0
    assert any("1 alignments run past the end" in m and "f0" in m for m in messages)
    out = tmp_path / "q"
    result.write(out)
    meta = json.loads((out / "aux_info" / "meta_info.json").read_text())
    assert meta["stats"]["num_alignments_past_end_skipped"] == 1


def test_reference_id_out_of_range_is_a_corrupt_record(tmp_path):
    small = tmp_path / "small.bam"
    rewrite_records(DEMO_BAM, small, lambda i, r: None, limit=N_RECORDS)
    raw = RawBam.read(small)
    raw.set(7, "ref_id", raw.n_ref + 5)
    bad = tmp_path / "tid.bam"
    raw.write(bad)
    with pytest.raises(InputError, match=r"corrupt record 8: its reference id .* not one of "
                                         r"the header's references"):
        quantify(bad, DEMO_FASTA, n_threads=1)


def test_checksum_error_is_corrupt_not_truncated(tmp_path):
    small = tmp_path / "small.bam"
    rewrite_records(DEMO_BAM, small, lambda i, r: None, limit=N_RECORDS)
    data = bytearray(small.read_bytes())
    # the CRC32 of the second BGZF block: 8 bytes before the third block's magic
    starts = [i for i in range(len(data) - 4) if data[i:i + 4] == b"\x1f\x8b\x08\x04"]
    data[starts[2] - 8] ^= 0xFF
    bad = tmp_path / "crc.bam"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt: a compressed block .* CRC32 checksum"):
        quantify(bad, DEMO_FASTA, n_threads=1)


def test_short_block_without_eof_is_truncated(tmp_path):
    small = tmp_path / "small.bam"
    rewrite_records(DEMO_BAM, small, lambda i, r: None, limit=N_RECORDS)
    data = small.read_bytes()
    cut = tmp_path / "cut.bam"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError, match="truncated: no BGZF end-of-file block"):
        quantify(cut, DEMO_FASTA, n_threads=1)


def test_plain_gzip_is_unsupported_not_a_seek_error(tmp_path):
    small = tmp_path / "small.bam"
    rewrite_records(DEMO_BAM, small, lambda i, r: None, limit=N_RECORDS)
    plain = tmp_path / "plain.bam"
    plain.write_bytes(gzip.compress(gzip.decompress(small.read_bytes())))
    done, out = _quant_cli(tmp_path, plain)
    _assert_one_line_error(done, out, "plain gzip, not BGZF", "unsupported")


def test_cram_whose_reference_is_gone_names_it(tmp_path):
    """A CRAM written against a FASTA that was since deleted, read with the gzipped FASTA:
    one line naming the reference it needs, not a dozen htslib lines and 'truncated'."""
    import pysam

    reference = tmp_path / "ref.fa"
    reference.write_bytes(gzip.decompress(DEMO_FASTA.read_bytes()))
    pysam.faidx(str(reference))
    cram = tmp_path / "x.cram"
    with pysam.AlignmentFile(str(DEMO_BAM)) as src, \
            pysam.AlignmentFile(str(cram), "wc", template=src,
                                reference_filename=str(reference)) as out:
        for i, record in enumerate(src):
            if i >= N_RECORDS:
                break
            out.write(record)
    reference.unlink()
    Path(str(reference) + ".fai").unlink()
    done, out = _quant_cli(tmp_path, cram)
    _assert_one_line_error(done, out, "cannot decode the CRAM records", str(reference),
                           "gzip-compressed")
