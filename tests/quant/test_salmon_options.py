"""Salmon's option spellings on ``emseq quant``: -g/--geneMap, --fldMean, --fldSD."""

from __future__ import annotations

import json

import pandas as pd

from emseq.cli import main


def test_gene_map_gtf_and_table_and_fld_spellings(sim, tmp_path, capsys):
    gtf = tmp_path / "genes.gtf"
    gtf.write_text("".join(
        f'chr1\tsim\texon\t1\t100\t.\t+\t.\tgene_id "{g}"; transcript_id "{t}";\n'
        for t, g in zip(sim.tx.names, sim.tx.genes)))
    # the FASTA's names have no version (G00-T0); the map's have one: matched with a note
    table = tmp_path / "tx2gene.tsv"
    table.write_text("".join(f"{t}.1\t{g}\n" for t, g in zip(sim.tx.names, sim.tx.genes)))
    outs = {}
    for label, gene_map in (("gtf", gtf), ("table", table)):
        out = tmp_path / label
        rc = main(["quant", "-a", str(sim.name_bam), "-t", str(sim.fasta), "-g", str(gene_map),
                   "--fldMean", "240", "--fldSD", "30", "-o", str(out), "-p", "1", "-q",
                   "--no-report"])
        assert rc == 0
        outs[label] = pd.read_csv(out / "quant.genes.sf", sep="\t")
        err = capsys.readouterr().err
        assert ("version suffix is ignored" in err) == (label == "table"), err
        cmd = json.loads((out / "cmd_info.json").read_text())
        assert cmd["fld_mean"] == 240 and cmd["fld_sd"] == 30
    assert outs["gtf"]["Name"].tolist() == list(dict.fromkeys(sim.tx.genes))
    pd.testing.assert_frame_equal(outs["gtf"], outs["table"])


def test_gene_map_with_tx2gene_is_a_usage_error(sim, tmp_path, capsys):
    rc = main(["quant", "-a", str(sim.name_bam), "-t", str(sim.fasta), "-g", str(sim.tx2gene),
               "--tx2gene", str(sim.tx2gene), "-o", str(tmp_path / "q"), "-q"])
    assert rc == 2 and "give one gene map" in capsys.readouterr().err
    assert not (tmp_path / "q").exists()
