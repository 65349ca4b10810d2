"""``emseq quant`` end to end: the Salmon-compatible directory, --force, bootstraps, genes."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from emseq.cli import main
from emseq.em import read_convergence


def test_quant_writes_salmon_directory(sim, tmp_path):
    out = tmp_path / "q"
    rc = main(["quant", "-a", str(sim.name_bam), "-t", str(sim.fasta_gz), "-o", str(out),
               "-p", "2", "--num-bootstraps", "3", "--tx2gene", str(sim.tx2gene), "--dump-eq",
               "-q"])
    assert rc == 0
    quant = pd.read_csv(out / "quant.sf", sep="\t")
    assert quant.columns.tolist() == ["Name", "Length", "EffectiveLength", "TPM", "NumReads"]
    assert quant["Name"].tolist() == sim.tx.names
    assert quant["TPM"].sum() == pytest.approx(1e6, rel=1e-4)
    genes = pd.read_csv(out / "quant.genes.sf", sep="\t")
    assert len(genes) == len(set(sim.tx.genes))
    meta = json.loads((out / "aux_info" / "meta_info.json").read_text())
    assert meta["salmon_version"] >= "0.8.0" and meta["emseq_version"]
    assert meta["opt_type"] == "vb" and meta["samp_type"] == "bootstrap"
    assert meta["num_bootstraps"] == 3 and meta["num_processed"] == 12_050
    assert 240 < meta["frag_length_mean"] < 260
    assert (out / "cmd_info.json").is_file()
    lib = json.loads((out / "lib_format_counts.json").read_text())
    assert lib["expected_format"] == "IU" and lib["counts"]["ISF"] > 0
    flen = np.loadtxt(out / "libParams" / "flenDist.txt")
    assert flen.sum() == pytest.approx(1.0, rel=1e-3)
    conv = read_convergence(out / "convergence.tsv")
    assert len(conv) == meta["num_iterations"]
    assert (out / "logs" / "emseq_quant.log").read_text().strip()
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"
    names = gzip.decompress((out / "aux_info" / "bootstrap" / "names.tsv.gz").read_bytes())
    assert names.decode().strip().split("\t") == sim.tx.names
    boots = np.frombuffer(gzip.decompress(
        (out / "aux_info" / "bootstrap" / "bootstraps.gz").read_bytes()), dtype="<f8")
    boots = boots.reshape(3, len(sim.tx.names))
    assert np.allclose(boots.sum(axis=1), quant["NumReads"].sum(), rtol=1e-4)
    eq = (out / "aux_info" / "eq_classes.txt").read_text().split("\n")
    assert int(eq[0]) == len(sim.tx.names) and int(eq[1]) == meta["num_eq_classes"]
    assert eq[2:2 + len(sim.tx.names)] == sim.tx.names
    counts = [int(line.split()[-1]) for line in eq[2 + len(sim.tx.names):] if line]
    assert sum(counts) == meta["num_mapped"]
    assert not list(tmp_path.glob(".q*"))


def test_output_directory_exists(sim, tmp_path, capsys):
    out = tmp_path / "q"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    argv = ["quant", "-a", str(sim.single_bam), "-t", str(sim.fasta), "-o", str(out), "--em",
            "-q", "--no-report"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "exists and is not empty; pass --force" in err and err.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert main(argv + ["--force"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert "keep.txt" not in names and "quant.sf" in names
    meta = json.loads((out / "aux_info" / "meta_info.json").read_text())
    assert meta["opt_type"] == "em"
    assert not list(tmp_path.glob(".q*"))


def test_gene_level_from_gtf(sim, tmp_path):
    gtf = tmp_path / "genes.gtf"
    lines = []
    for t, g, seq in zip(sim.tx.names, sim.tx.genes, sim.tx.seqs):
        attrs = f'gene_id "{g}"; transcript_id "{t}";'
        lines.append(f"{t}\tsim\ttranscript\t1\t{len(seq)}\t.\t+\t.\t{attrs}")
        lines.append(f"{t}\tsim\texon\t1\t{len(seq)}\t.\t+\t.\t{attrs}")
    gtf.write_text("#!simulated\n" + "\n".join(lines) + "\n")
    out = tmp_path / "g"
    assert main(["quant", "-a", str(sim.single_bam), "-o", str(out), "--gtf", str(gtf),
                 "-q", "--no-report"]) == 0
    genes = pd.read_csv(out / "quant.genes.sf", sep="\t")
    quant = pd.read_csv(out / "quant.sf", sep="\t")
    assert sorted(genes["Name"]) == sorted(set(sim.tx.genes))
    assert genes["NumReads"].sum() == pytest.approx(quant["NumReads"].sum(), rel=1e-4)
    bad = tmp_path / "bad.gtf"
    bad.write_text("chr1\tsim\texon\t1\t10\n")
    assert main(["quant", "-a", str(sim.single_bam), "-o", str(tmp_path / "h"), "--gtf",
                 str(bad), "-q"]) == 1
    assert not (tmp_path / "h").exists()


def test_help_reads_well(capsys):
    """'-p N ... (default: all available cores) (default: None)', '(default: False)' after
    every flag and '-o DIR ... (default: None)' cluttered `emseq quant -h`."""
    code = main(["quant", "-h"])
    assert code == 0
    text = " ".join(capsys.readouterr().out.split())
    for noise in ("(default: None)", "(default: False)", "(default: True)"):
        assert noise not in text
    assert text.count("default: all available cores") == 1
    assert "(default: 0.01)" in text and "(default: A)" in text  # real defaults stay
    assert "aux_info/bootstrap) (default: 0)" in text  # 0 == False, yet a real default


def test_write_into_a_previous_result_leaves_nothing_stale(sim, tmp_path):
    """QuantResult.write merged into an existing directory file by file: the genes table,
    bootstraps, eq_classes.txt and report of an earlier run stayed beside the new quant.sf.
    Now a non-empty directory is refused unless force=True, which replaces it whole."""
    from emseq.errors import OutputError
    from emseq.quant import quantify

    out = tmp_path / "q"
    quantify(sim.name_bam, sim.fasta, n_threads=1, tx2gene=sim.tx2gene,
             num_bootstraps=2).write(out, dump_eq=True, report=True)
    for name in ("quant.genes.sf", "aux_info/bootstrap/bootstraps.gz",
                 "aux_info/eq_classes.txt", "report.png"):
        assert (out / name).is_file()
    # the first run also wrote the bias models (aux_info/*_gc.gz...): gone too
    assert (out / "aux_info" / "obs_gc.gz").is_file()
    second = quantify(sim.single_bam, sim.fasta, n_threads=1, seq_bias=False, gc_bias=False)
    with pytest.raises(OutputError, match="not empty; pass --force"):
        second.write(out, report=False)
    second.write(out, report=False, force=True)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "aux_info/meta_info.json", "cmd_info.json", "convergence.tsv", "libParams/flenDist.txt",
        "lib_format_counts.json", "logs/emseq_quant.log", "quant.sf"]


def test_tx2gene_with_utf8_bom(sim, tmp_path):
    """A BOM (a map saved from Excel) glued itself to the first transcript name, which then
    silently counted as a gene of its own."""
    from emseq.quant import read_tx2gene

    path = tmp_path / "tx2gene.tsv"
    path.write_text(sim.tx2gene.read_text(), encoding="utf-8-sig")
    mapping = read_tx2gene(path)
    assert mapping[sim.tx.names[0]] == sim.tx.genes[0]
    assert len(mapping) == len(sim.tx.names)


def test_output_that_is_a_file(sim, tmp_path, capsys):
    """Said 'output directory q exists; pass --force to replace it' for a file."""
    out = tmp_path / "q"
    out.write_text("mine")
    argv = ["quant", "-a", str(sim.single_bam), "-o", str(out), "-q", "--no-report"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"{out} exists and is a file; pass --force" in err
    assert err.count("\n") == 1 and out.read_text() == "mine"


def test_gzipped_tx2gene(sim, tmp_path):
    """A gzipped map (the GTF could be gzipped, the map not) gave a raw UnicodeDecodeError."""
    from emseq.errors import InputError
    from emseq.quant import read_tx2gene

    path = tmp_path / "tx2gene.tsv.gz"
    path.write_bytes(gzip.compress(sim.tx2gene.read_bytes()))
    assert read_tx2gene(path) == read_tx2gene(sim.tx2gene)
    binary = tmp_path / "binary.tsv"
    binary.write_bytes(b"\x00\xff\xfe\x8b" * 10)
    with pytest.raises(InputError, match="binary.tsv: cannot read the transcript-to-gene map"):
        read_tx2gene(binary)
