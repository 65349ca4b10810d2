"""FASTA reading: real transcripts, gzip, and every malformed case with a located error."""

import gzip

import pytest

from emseq.errors import InputError
from emseq.io import read_fasta


def write(tmp_path, text, name="x.fa", compress=False):
    path = tmp_path / name
    if compress:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def test_reads_plain_and_gzipped_identically(tmp_path):
    text = ">t1 first one\nACGT\nacgn\n\n>t2\nTTTT\n"
    for compress in (False, True):
        records = read_fasta(write(tmp_path, text, f"x{compress}.fa", compress))
        assert [(r.name, r.description, r.sequence) for r in records] == [
            ("t1", "first one", "ACGTacgn"), ("t2", "", "TTTT")]


@pytest.mark.parametrize("text, message", [
    ("", "empty FASTA"),
    ("ACGT\n>t\nAC\n", ":1: sequence before the first '>'"),
    (">t1\nACGT\n>\nAC\n", ":3: FASTA header without a name"),
    (">t1\nACGT\nAC7T\n", ":3:3: unexpected letter '7' in sequence 't1'"),
    (">t1\nAC\n>t1\nGG\n", "'t1' appears more than once"),
])
def test_malformed_fasta_errors_name_the_place(tmp_path, text, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_fasta(write(tmp_path, text))


def test_truncated_gzip_is_an_input_error(tmp_path):
    path = write(tmp_path, ">t1\n" + "ACGT" * 5000 + "\n", compress=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot read FASTA"):
        read_fasta(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such FASTA file"):
        read_fasta(tmp_path / "nope.fa")


def test_name_ends_at_any_whitespace(tmp_path):
    """'>NAME\\tdesc' kept the tab and the description in the name (quant then took the BAM
    for genome-aligned; motif wrote the tab into sequence names)."""
    from emseq.io.fasta import read_fasta

    path = tmp_path / "tab.fa"
    path.write_text(">t1\tfirst one\nACGT\n>t2 second\tx\nGGCC\n>t3\x0bvt\nTTAA\n>t4\nCC\n")
    records = read_fasta(path)
    assert [r.name for r in records] == ["t1", "t2", "t3", "t4"]
    assert [r.description for r in records] == ["first one", "second\tx", "vt", ""]
