"""`emseq motif` end to end, and every bad input of the issue: one line, exit 1/2, nothing written."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emseq.cli import main
from emseq.motif.simulate import read_meme

DATA = Path(__file__).resolve().parents[2] / "data" / "motif"
ROOT = Path(__file__).resolve().parents[2]


def test_cli_writes_every_output(tmp_path):
    out = tmp_path / "out"
    code = main(["motif", str(DATA / "lex0.s"), "-o", str(out), "--mod", "zoops",
                 "--nmotifs", "2", "--minw", "8", "--maxw", "20", "-p", "1", "-q"])
    assert code == 0
    for name in ("motifs.meme", "motifs.jaspar", "motifs.tsv", "sites.tsv", "convergence.tsv",
                 "logo_1.svg", "logo_2.svg", "summary.html"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.png"))  # PNGs only with --png
    meme = (out / "motifs.meme").read_text()
    assert meme.startswith("MEME version 5")
    assert "strands: + -" in meme and "Background letter frequencies" in meme
    pwms = read_meme(out / "motifs.meme")
    table = pd.read_csv(out / "motifs.tsv", sep="\t", dtype={"motif": str})
    assert list(table.columns) == ["motif", "consensus", "width", "sites", "llr", "e_value"]
    assert list(pwms) == list(table["motif"])
    for motif_id, pwm in pwms.items():
        np.testing.assert_allclose(pwm.sum(axis=1), 1.0, atol=1e-5)
        assert pwm.shape[0] == int(table.loc[table["motif"] == motif_id, "width"].iloc[0])
    sites = pd.read_csv(out / "sites.tsv", sep="\t", dtype={"motif": str})
    assert list(sites.columns) == ["motif", "sequence", "start", "end", "strand", "score",
                                   "p_value", "site"]
    assert set(sites["strand"]) <= {"+", "-"}
    assert (sites["start"] >= 1).all()
    conv = pd.read_csv(out / "convergence.tsv", sep="\t")
    assert {"iteration", "log_likelihood", "delta", "relative_delta", "seconds"} <= set(conv.columns)
    jaspar = (out / "motifs.jaspar").read_text().splitlines()
    assert jaspar[0].startswith(">1 ") and jaspar[1].startswith("A [")


def test_cli_single_strand_and_tcm(tmp_path):
    out = tmp_path / "o"
    assert main(["motif", str(DATA / "crp0.s"), "-o", str(out), "--mod", "anr", "--single-strand",
                 "--minw", "10", "--maxw", "16", "--markov-order", "1", "-q"]) == 0
    assert "strands: +\n" in (out / "motifs.meme").read_text()
    sites = pd.read_csv(out / "sites.tsv", sep="\t")
    assert set(sites["strand"]) == {"+"}


def _bad(tmp_path, args, capsys):
    out = tmp_path / "bad_out"
    code = main(["motif", *map(str, args), "-o", str(out), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code in (1, 2)
    assert len(err) == 1 and err[0].startswith("emseq motif: error:"), err
    assert "Traceback" not in err[0]
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bad_out")]
    return code, err[0]


def test_empty_fasta(tmp_path, capsys):
    f = tmp_path / "empty.fa"
    f.write_text("")
    code, msg = _bad(tmp_path, [f], capsys)
    assert code == 1 and "empty" in msg


def test_fasta_with_only_headers(tmp_path, capsys):
    f = tmp_path / "headers.fa"
    f.write_text(">a\n>b\n")
    code, msg = _bad(tmp_path, [f], capsys)
    assert code == 1


def test_no_sequence_longer_than_minw(tmp_path, capsys):
    f = tmp_path / "short.fa"
    f.write_text(">a\nACGTAC\n>b\nACGNNACGTA\n")
    code, msg = _bad(tmp_path, [f, "--minw", "8"], capsys)
    assert code == 1 and "--minw" in msg


def test_protein_letters(tmp_path, capsys):
    f = tmp_path / "protein.fa"
    f.write_text(">p\nMKVLAAGIVGLLLAQPEFWRST\n")
    code, msg = _bad(tmp_path, [f], capsys)
    assert code == 1 and "unexpected letter" in msg


def test_protein_with_only_iupac_letters(tmp_path, capsys):
    f = tmp_path / "protein2.fa"
    f.write_text(">p\nMKVHDRSWYKMHDVRBKWSMHRDV\n")
    code, msg = _bad(tmp_path, [f], capsys)
    assert code == 1 and "protein" in msg


def test_binary_file(tmp_path, capsys):
    f = tmp_path / "binary.fa"
    f.write_bytes(bytes(range(256)) * 4)
    code, msg = _bad(tmp_path, [f], capsys)
    assert code == 1


def test_gzip_binary_garbage(tmp_path, capsys):
    f = tmp_path / "broken.fa.gz"
    f.write_bytes(b"\x1f\x8b" + bytes(range(200)))
    code, msg = _bad(tmp_path, [f], capsys)
    assert code == 1


def test_missing_file(tmp_path, capsys):
    code, msg = _bad(tmp_path, [tmp_path / "nope.fa"], capsys)
    assert code == 1 and "no such" in msg


def test_minw_larger_than_maxw(tmp_path, capsys):
    code, msg = _bad(tmp_path, [DATA / "crp0.s", "--minw", "12", "--maxw", "8"], capsys)
    assert code == 2 and "--minw" in msg


def test_nmotifs_zero(tmp_path, capsys):
    code, msg = _bad(tmp_path, [DATA / "crp0.s", "--nmotifs", "0"], capsys)
    assert code == 2 and "--nmotifs" in msg


def test_starts_zero(tmp_path, capsys):
    code, msg = _bad(tmp_path, [DATA / "crp0.s", "--starts", "0"], capsys)
    assert code == 2 and "--starts" in msg


def test_markov_order_out_of_range(tmp_path, capsys):
    code, msg = _bad(tmp_path, [DATA / "crp0.s", "--markov-order", "7"], capsys)
    assert code == 2


@pytest.mark.parametrize("kind", ["missing", "directory", "binary", "garbage", "incomplete"])
def test_unreadable_background_file(tmp_path, capsys, kind):
    bfile = tmp_path / "bg"
    if kind == "directory":
        bfile.mkdir()
    elif kind == "binary":
        bfile.write_bytes(bytes(range(256)))
    elif kind == "garbage":
        bfile.write_text("hello world\n")
    elif kind == "incomplete":
        bfile.write_text("A 0.3\nC 0.2\nG 0.2\nT 0.3\nAA 0.1\n")
    code, msg = _bad(tmp_path, [DATA / "crp0.s", "--bfile", bfile], capsys)
    assert code == 1 and "bg" in msg


def test_subprocess_entry_point(tmp_path):
    f = tmp_path / "empty.fa"
    f.write_text("")
    proc = subprocess.run([sys.executable, "-m", "emseq", "motif", str(f), "-o",
                           str(tmp_path / "x")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "error" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_meme_single_dash_spellings(tmp_path):
    """MEME's own command line works; -oc is the output folder, never `-o c`."""
    out = tmp_path / "meme_out"
    code = main(["motif", str(DATA / "crp0.s"), "-dna", "-revcomp", "-mod", "zoops",
                 "-nmotifs", "2", "-minw", "8", "-maxw", "12", "-markov_order", "1",
                 "-maxsites", "10", "-evt", "1e300", "-oc", str(out), "-p", "1", "-nostatus"])
    assert code == 0
    assert (out / "motifs.meme").is_file() and not (ROOT / "c").exists()
    table = pd.read_csv(out / "motifs.tsv", sep="\t")
    assert len(table) == 2 and (table["sites"] <= 10).all()
    assert table["width"].between(8, 12).all()


def test_meme_unknown_option_under_motif_usage(tmp_path, capsys):
    code = main(["motif", str(DATA / "crp0.s"), "-oc", str(tmp_path / "o"), "-nosuch", "3"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("emseq motif: error: ") and "-nosuch" in err
    assert err.count("\n") == 1  # one line, the usage is one -h away
    assert not (tmp_path / "o").exists()


def test_meme_protein_refused(tmp_path, capsys):
    code = main(["motif", str(DATA / "crp0.s"), "-protein", "-oc", str(tmp_path / "o")])
    assert code == 2
    assert "DNA" in capsys.readouterr().err


def test_nsites_with_minsites_is_a_usage_error(tmp_path, capsys):
    code, msg = _bad(tmp_path, [DATA / "crp0.s", "--nsites", "5", "--minsites", "3"], capsys)
    assert code == 2 and "--nsites" in msg


def test_minsites_above_maxsites(tmp_path, capsys):
    code, msg = _bad(tmp_path, [DATA / "crp0.s", "--minsites", "9", "--maxsites", "4"], capsys)
    assert code == 2 and "--minsites" in msg
