"""Gene maps whose transcript names differ from the FASTA's only by a version suffix."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from emseq.errors import InputError
from emseq.quant import gene_table
from emseq.quant.gene_map import align_gene_map, strip_version


def test_strip_version():
    assert strip_version("NR_073460.1") == "NR_073460"
    assert strip_version("ENST00000456328.12") == "ENST00000456328"
    assert strip_version("G01-T0") == "G01-T0" and strip_version("tx.a") == "tx.a"


def test_versions_are_matched_with_a_note(caplog):
    names = ["NR_073460.1", "NM_1.2", "NM_2", "XM_9.1"]
    tx2gene = {"NR_073460": "A", "NM_1.2": "B", "NM_2.3": "C"}
    # the CLI tests stop "emseq" propagating to the root logger: listen on the module's own
    module_logger = logging.getLogger("emseq.quant.gene_map")
    module_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="emseq.quant.gene_map"):
            got = align_gene_map(names, tx2gene)
    finally:
        module_logger.removeHandler(caplog.handler)
    assert got == {"NR_073460.1": "A", "NM_1.2": "B", "NM_2": "C"}
    note = " ".join(r.getMessage() for r in caplog.records)
    assert "2 transcript names match the gene map only when their version suffix is ignored" \
        in note and "NR_073460.1" in note and "versions differ" in note


def test_ambiguous_versions_are_not_guessed():
    """Two versions of one transcript in the map: no unique match, left unmatched."""
    got = align_gene_map(["NM_5.1"], {"NM_5.2": "A", "NM_5.3": "B"})
    assert got == {}


def test_gene_table_with_versionless_map():
    ab = pd.DataFrame({"Name": ["NR_073460.1", "NM_1.1"], "Length": [700, 900],
                       "EffectiveLength": [450.0, 650.0], "TPM": [4e5, 6e5],
                       "NumReads": [10.0, 20.0]})
    genes = gene_table(ab, {"NR_073460": "G1", "NM_1": "G1"})
    assert genes["Name"].tolist() == ["G1"] and genes["NumReads"].iloc[0] == 30.0
    with pytest.raises(InputError, match="names none of the transcripts"):
        gene_table(ab, {"XR_1": "G"})


def test_a_fasta_index_is_not_a_gene_map(tmp_path):
    """--tx2gene transcripts.fa.fai was accepted: genes named 725, 2037, ..."""
    import pysam

    from emseq.errors import InputError
    from emseq.quant import read_tx2gene

    fasta = tmp_path / "tx.fa"
    fasta.write_text(">NM_1\n" + "ACGT" * 50 + "\n>NM_2\n" + "GGCC" * 30 + "\n")
    pysam.faidx(str(fasta))
    with pytest.raises(InputError, match=r"tx.fa.fai: looks like a FASTA index \(.fai"):
        read_tx2gene(tmp_path / "tx.fa.fai")
    with pytest.raises(InputError, match="looks like a FASTA file"):
        read_tx2gene(fasta)
    numbers = tmp_path / "lengths.tsv"
    numbers.write_text("NM_1\t200\nNM_2\t120\n")
    with pytest.raises(InputError, match=r"second column holds only numbers \(200, 120"):
        read_tx2gene(numbers)
    good = tmp_path / "map.tsv"
    good.write_text("transcript\tgene\nNM_1\tG1\nNM_2\tG1\n")
    assert read_tx2gene(good)["NM_2"] == "G1"
