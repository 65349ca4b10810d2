"""Sample sheets: every malformed sheet is refused before anything runs."""

import subprocess
import sys

import pytest

from emseq.batch import read_sample_sheet
from emseq.errors import InputError


@pytest.fixture
def inputs(tmp_path):
    for name in ("a.bam", "b.bam"):
        (tmp_path / name).write_bytes(b"not really a bam")
    return tmp_path


def sheet(tmp_path, text, name="sheet.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_and_tsv_sheets_resolve_relative_paths(inputs):
    csv = read_sample_sheet(sheet(inputs, "sample,bam,libtype\nS1,a.bam,ISR\nS2,b.bam,\n"))
    tsv = read_sample_sheet(sheet(inputs, "sample\tbam\nS1\ta.bam\nS2\tb.bam\n", "s.tsv"))
    assert csv["sample"].tolist() == tsv["sample"].tolist() == ["S1", "S2"]
    assert csv["bam"].tolist() == tsv["bam"].tolist() == [str(inputs / "a.bam"),
                                                          str(inputs / "b.bam")]
    assert csv["libtype"].tolist() == ["ISR", ""]


@pytest.mark.parametrize("text, message", [
    ("", "empty sample sheet"),
    ("sample,bam\n", "header but no samples"),
    ("sample,fastq\nS1,a.bam\n", r"missing column\(s\) \['bam'\]"),
    ("sample,bam,condition\nS1,a.bam,x\n", r"unknown column\(s\) \['condition'\]"),
    ("sample,bam\nS1,a.bam\nS1,b.bam\n", r"duplicate sample name\(s\) \['S1'\]"),
    ("sample,bam\nS1,a.bam\nS2,missing.bam\n", ":3: bam file 'missing.bam' does not exist"),
    ("sample,bam\n../x,a.bam\n", "cannot be a directory name"),
])
def test_bad_sheets(inputs, text, message):
    with pytest.raises(InputError, match=message):
        read_sample_sheet(sheet(inputs, text))


def test_motif_engine_columns(inputs):
    (inputs / "p.fa").write_text(">s\nACGT\n")
    table = read_sample_sheet(sheet(inputs, "sample,fasta\nP1,p.fa\n"), engine="motif")
    assert table["fasta"].tolist() == [str(inputs / "p.fa")]
    with pytest.raises(InputError, match="missing column"):
        read_sample_sheet(sheet(inputs, "sample,bam\nS1,a.bam\n"), engine="motif")


def test_cli_refuses_bad_sheet_before_running(inputs):
    path = sheet(inputs, "sample,bam\nS1,a.bam\nS1,b.bam\n")
    out = inputs / "out"
    done = subprocess.run([sys.executable, "-m", "emseq", "batch", str(path), "-o", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"emseq batch: error: {path}: duplicate sample name(s) ['S1']"]
    assert not out.exists()


def test_spaces_around_cells_are_stripped(inputs):
    """'S1 ' became a directory 'S1 ' and a duplicate of 'S1' nobody noticed, and 'ISR '
    failed the sample at run time as an unknown library type."""
    table = read_sample_sheet(sheet(inputs, "sample , bam , libtype\n S1 , a.bam , ISR \n"))
    assert table.to_dict("records") == [
        {"sample": "S1", "bam": str(inputs / "a.bam"), "libtype": "ISR"}]
    with pytest.raises(InputError, match=r"duplicate sample name\(s\) \['S1'\]"):
        read_sample_sheet(sheet(inputs, "sample,bam\nS1,a.bam\nS1 ,b.bam\n"))
    tsv = read_sample_sheet(sheet(inputs, "sample\tbam\nS1 \t a.bam\n", "s.tsv"))
    assert tsv["sample"].tolist() == ["S1"] and tsv["bam"].tolist() == [str(inputs / "a.bam")]


@pytest.mark.parametrize("text, message", [
    # an extra field made pandas take the first column as the index: the error named the bam
    # path as a sample name
    ("sample,bam\nS1,a.bam,ISR\n", r":2: 3 fields, but the header has 2"),
    ("sample,bam,libtype\nS1,a.bam,ISR\nS2\n", r":3: 1 field, but the header has 3"),
    ("sample\tbam\nS1\ta.bam\tx\n", r":2: 3 fields, but the header has 2"),
])
def test_rows_with_a_wrong_number_of_fields(inputs, text, message):
    with pytest.raises(InputError, match=message):
        read_sample_sheet(sheet(inputs, text))


@pytest.mark.parametrize("name", ["batch_report.tsv", "transcript_tpm.tsv", "gene_counts.tsv",
                                  "convergence.tsv", "motifs.tsv"])
def test_sample_named_like_a_merged_output_is_refused(inputs, name):
    """The sample ran, then writing the merged table over its directory failed with
    IsADirectoryError after the whole batch."""
    with pytest.raises(InputError, match=f":2: sample name '{name}' is the name of a merged "):
        read_sample_sheet(sheet(inputs, f"sample,bam\n{name},a.bam\n"))


def test_relative_path_error_names_the_folder_it_was_read_from(inputs):
    """Relative paths are taken from the sheet's folder (as documented), but the error did
    not say so: with the sheet in a sub-folder and paths written from the working directory,
    'bam file 'a.bam' does not exist' when a.bam plainly exists."""
    (inputs / "sheets").mkdir()
    path = sheet(inputs / "sheets", "sample,bam\nS1,a.bam\n")
    with pytest.raises(InputError, match=r"relative to the sheet's folder .*sheets"):
        read_sample_sheet(path)


def test_unknown_libtype_refused_before_running(inputs, capsys):
    """A libtype 'XYZ' in the sheet, or -l XYZ, was accepted and failed every sample at run
    time, after the cluster had started."""
    with pytest.raises(InputError, match=r":3: libtype 'XYZ' is not one of A, IU, ISF"):
        read_sample_sheet(sheet(inputs, "sample,bam,libtype\nS1,a.bam,ISR\nS2,b.bam,XYZ\n"))
    from emseq.cli import main

    path = sheet(inputs, "sample,bam\nS1,a.bam\n")
    code = main(["batch", str(path), "-l", "XYZ", "-o", str(inputs / "out")])
    assert code == 2 and "invalid choice: 'XYZ'" in capsys.readouterr().err
    assert not (inputs / "out").exists()


def test_blank_lines_line_numbers(inputs):
    """Blank lines (pandas skips them) shifted the line numbers of later errors, and a blank
    first line gave 'the header has 0' fields."""
    table = read_sample_sheet(sheet(inputs, "\nsample,bam\n\nS1,a.bam\n\nS2,b.bam\n"))
    assert table["sample"].tolist() == ["S1", "S2"]
    with pytest.raises(InputError, match=r"sheet.csv:5: bam file 'missing.bam' does not exist"):
        read_sample_sheet(sheet(inputs, "sample,bam\nS1,a.bam\n\n\nS2,missing.bam\n"))
    with pytest.raises(InputError, match=r"sheet.csv:4: libtype 'XYZ'"):
        read_sample_sheet(sheet(inputs, "sample,bam,libtype\n\nS1,a.bam,ISR\nS2,b.bam,XYZ\n"))
    with pytest.raises(InputError, match=r"sheet.csv:4: empty sample name"):
        read_sample_sheet(sheet(inputs, "sample,bam\nS1,a.bam\n\n,b.bam\n"))
