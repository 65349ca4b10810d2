"""``emseq quantmerge`` (and the batch engine's merged tables): Salmon's quantmerge."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from emseq.cli import main
from emseq.quant import quantify
from emseq.quant.merge import merge_quants


@pytest.fixture(scope="module")
def two_samples(sim, tmp_path_factory):
    root = tmp_path_factory.mktemp("merge")
    dirs = []
    for name, bam in (("s1", sim.name_bam), ("s2", sim.collate_bam)):
        out = root / name
        quantify(bam, sim.fasta, n_threads=1, tx2gene=sim.tx2gene,
                 show_progress=False).write(out, report=False)
        dirs.append(out)
    return root, dirs


@pytest.mark.parametrize("column, header", [("numreads", "NumReads"), ("tpm", "TPM"),
                                            ("len", "Length"), ("elen", "EffectiveLength"),
                                            ("NumReads", "NumReads")])
def test_quantmerge_matches_each_quant_sf(two_samples, tmp_path, column, header):
    root, dirs = two_samples
    out = tmp_path / "merged.tsv"
    assert main(["quantmerge", "--quants", *map(str, dirs), "--column", column,
                 "-o", str(out), "-q"]) == 0
    merged = pd.read_csv(out, sep="\t")
    assert merged.columns.tolist() == ["Name", "s1", "s2"]
    for d in dirs:
        quant = pd.read_csv(d / "quant.sf", sep="\t")
        assert merged["Name"].tolist() == quant["Name"].tolist()
        pd.testing.assert_series_equal(merged[d.name], quant[header], check_names=False,
                                       rtol=1e-8)


def test_quantmerge_names_and_genes(two_samples, tmp_path, sim):
    root, dirs = two_samples
    out = tmp_path / "genes.tsv"
    assert main(["quantmerge", "--quants", *map(str, dirs), "--names", "ctrl", "treated",
                 "--genes", "--column", "numreads", "-o", str(out), "-q"]) == 0
    merged = pd.read_csv(out, sep="\t")
    assert merged.columns.tolist() == ["Name", "ctrl", "treated"]
    assert merged["Name"].tolist() == list(dict.fromkeys(sim.tx.genes))
    genes = pd.read_csv(dirs[0] / "quant.genes.sf", sep="\t")
    pd.testing.assert_series_equal(merged["ctrl"], genes["NumReads"], check_names=False)


def _bad(tmp_path, args, capsys):
    out = tmp_path / "merged.tsv"
    rc = main(["quantmerge", *args, "-o", str(out), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert not out.exists() and not list(tmp_path.glob("merged.tsv*"))
    return rc, err[0]


def test_quantmerge_bad_inputs(two_samples, tmp_path, capsys):
    root, dirs = two_samples
    # a different transcript set
    fewer = tmp_path / "fewer"
    shutil.copytree(dirs[1], fewer)
    quant = pd.read_csv(fewer / "quant.sf", sep="\t")
    quant.iloc[:-1].to_csv(fewer / "quant.sf", sep="\t", index=False)
    rc, err = _bad(tmp_path, ["--quants", str(dirs[0]), str(fewer)], capsys)
    assert rc == 1 and "different transcripts" in err and quant["Name"].iloc[-1] in err
    # the same transcripts in another order
    shuffled = tmp_path / "shuffled"
    shutil.copytree(dirs[1], shuffled)
    quant.iloc[::-1].to_csv(shuffled / "quant.sf", sep="\t", index=False)
    rc, err = _bad(tmp_path, ["--quants", str(dirs[0]), str(shuffled)], capsys)
    assert rc == 1 and "another order" in err
    # no quant.sf / not a quant output / missing directory
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, err = _bad(tmp_path, ["--quants", str(dirs[0]), str(empty)], capsys)
    assert rc == 1 and "no quant.sf" in err
    other = tmp_path / "other"
    other.mkdir()
    (other / "quant.sf").write_text("gene\tcount\nA\t1\n")
    rc, err = _bad(tmp_path, ["--quants", str(dirs[0]), str(other)], capsys)
    assert rc == 1 and "not a quant.sf" in err
    rc, err = _bad(tmp_path, ["--quants", str(dirs[0]), str(tmp_path / "nosuch")], capsys)
    assert rc == 1 and "no such quantification directory" in err
    # duplicate names: given, or from base names
    rc, err = _bad(tmp_path, ["--quants", *map(str, dirs), "--names", "a", "a"], capsys)
    assert rc == 2 and "'a' is given twice" in err
    twin = tmp_path / "x" / "s1"
    shutil.copytree(dirs[1], twin)
    rc, err = _bad(tmp_path, ["--quants", str(dirs[0]), str(twin)], capsys)
    assert rc == 2 and "'s1' is given twice" in err
    rc, err = _bad(tmp_path, ["--quants", *map(str, dirs), "--names", "a"], capsys)
    assert rc == 2 and "1 --names for 2" in err
    rc, err = _bad(tmp_path, ["--quants", *map(str, dirs), "--column", "reads"], capsys)
    assert rc == 2 and "numreads" in err
    nogenes = tmp_path / "nogenes"
    shutil.copytree(dirs[1], nogenes)
    (nogenes / "quant.genes.sf").unlink()
    rc, err = _bad(tmp_path, ["--quants", str(dirs[0]), str(nogenes), "--genes"], capsys)
    assert rc == 1 and "no quant.genes.sf" in err and "gene map" in err


def test_merge_quants_reads_salmon_style_names(two_samples):
    root, dirs = two_samples
    merged = merge_quants(dirs, column="elen", id_column="transcript")
    assert merged.columns.tolist() == ["transcript", "s1", "s2"]
