"""Vectorised gene aggregation and the streamed GTF reader against the per-gene loops they
replace (kept here as the truth) and against hand-made annotations."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pandas as pd
import pytest

from emseq.errors import InputError
from emseq.quant.gene_map import align_gene_map, gene_table, read_gtf_tx2gene


def loop_gene_table(abundances: pd.DataFrame, tx2gene: dict) -> pd.DataFrame:
    """The per-gene loop emseq used before: a groupby and a Python loop over genes."""
    frame = abundances.copy()
    aligned = align_gene_map(frame["Name"], tx2gene)
    frame["gene"] = frame["Name"].map(aligned).fillna(frame["Name"])
    frame["_w"] = frame["TPM"].where(frame.groupby("gene")["TPM"].transform("sum") > 0, 1.0)
    rows = []
    for gene, part in frame.groupby("gene", sort=False):
        weight = part["_w"].to_numpy() / part["_w"].to_numpy().sum()
        rows.append((gene, float((part["Length"] * weight).sum()),
                     float((part["EffectiveLength"] * weight).sum()),
                     float(part["TPM"].sum()), float(part["NumReads"].sum())))
    return pd.DataFrame(rows, columns=["Name", "Length", "EffectiveLength", "TPM", "NumReads"])


def loop_gtf(path) -> dict:
    """The regex-per-line GTF reader emseq used before."""
    pattern = re.compile(r'(transcript_id|gene_id) "([^"]+)"')
    mapping = {}
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            found = dict(pattern.findall(line.rstrip("\n").split("\t")[8]))
            if "transcript_id" in found and "gene_id" in found:
                mapping.setdefault(found["transcript_id"], found["gene_id"])
    return mapping


def abundances(rng, n_tx: int, n_genes: int):
    names = [f"T{i}.{i % 3}" for i in range(n_tx)]
    genes = rng.integers(0, n_genes, n_tx)
    reads = np.where(rng.random(n_tx) < 0.4, 0.0, rng.lognormal(2, 2, n_tx))
    lengths = rng.integers(100, 8000, n_tx)
    efflen = np.maximum(lengths - 200.0, 1.0)
    rate = reads / efflen
    frame = pd.DataFrame({"Name": names, "Length": lengths, "EffectiveLength": efflen,
                          "TPM": 1e6 * rate / rate.sum(), "NumReads": reads})
    tx2gene = {n: f"G{g}" for n, g in zip(names, genes) if rng.random() > 0.05}
    return frame, tx2gene


def test_gene_table_equals_the_per_gene_loop():
    frame, tx2gene = abundances(np.random.default_rng(3), 20_000, 3000)
    fast, slow = gene_table(frame, tx2gene), loop_gene_table(frame, tx2gene)
    assert fast["Name"].tolist() == slow["Name"].tolist()
    for column in ("Length", "EffectiveLength", "TPM", "NumReads"):
        np.testing.assert_allclose(fast[column], slow[column], rtol=1e-12, atol=0)
    assert fast["NumReads"].sum() == pytest.approx(frame["NumReads"].sum())


def test_gene_table_by_hand():
    frame = pd.DataFrame({"Name": ["a", "b", "c", "d"], "Length": [100, 300, 50, 80],
                          "EffectiveLength": [50.0, 250.0, 10.0, 30.0],
                          "TPM": [3.0, 1.0, 0.0, 0.0], "NumReads": [1.5, 2.5, 0.0, 4.0]})
    genes = gene_table(frame, {"a": "g1", "b": "g1", "c": "g2", "d": "g2"})
    assert genes["Name"].tolist() == ["g1", "g2"]
    assert genes["Length"].tolist() == [0.75 * 100 + 0.25 * 300, 65.0]  # TPM 0: plain mean
    assert genes["EffectiveLength"].tolist() == [0.75 * 50 + 0.25 * 250, 20.0]
    assert genes["TPM"].tolist() == [4.0, 0.0] and genes["NumReads"].tolist() == [4.0, 4.0]


def write_gtf(path, rng, n_genes: int) -> None:
    lines = ["#!genome-build synthetic", "#!comment"]
    for g in range(n_genes):
        gid = f"ENSG{g:011d}.{g % 5 + 1}"
        lines.append(f"chr1\tHAVANA\tgene\t1\t1000\t.\t+\t.\tgene_id \"{gid}\"; "
                     f"gene_type \"protein_coding\";")
        for t in range(int(rng.integers(1, 6))):
            tid = f"ENST{g:08d}{t:03d}.{t + 1}"
            attrs = (f"gene_id \"{gid}\"; transcript_id \"{tid}\"; gene_name \"N{g}\"; "
                     f"havana_transcript \"OTT{g}\";")
            if (g + t) % 4 == 0:  # another key order
                attrs = f"transcript_id \"{tid}\"; tag \"basic\"; gene_id \"{gid}\";"
            lines.append(f"chr1\tHAVANA\ttranscript\t1\t900\t.\t+\t.\t{attrs}")
            for e in range(3):
                lines.append(f"chr1\tHAVANA\texon\t{e * 100 + 1}\t{e * 100 + 50}\t.\t+\t.\t"
                             f"{attrs} exon_number {e + 1};")
    text = "\n".join(lines) + "\n"
    if str(path).endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


@pytest.mark.parametrize("name", ["a.gtf", "a.gtf.gz"])
def test_gtf_reader_equals_the_regex_loop(tmp_path, name):
    path = tmp_path / name
    write_gtf(path, np.random.default_rng(1), 800)
    mapping = read_gtf_tx2gene(path)
    assert mapping == loop_gtf(path)
    assert len(mapping) > 800 and all(v.startswith("ENSG") for v in mapping.values())


def test_gtf_errors(tmp_path):
    bad = tmp_path / "bad.gtf"
    bad.write_text("chr1\tx\texon\t1\t2\t.\t+\t.\tgene_id \"g\"; transcript_id \"t\";\n"
                   "chr1\tx\texon\t1\t2\t.\t+\n")
    with pytest.raises(InputError, match=r"bad.gtf:2: a GTF line has 9 tab-separated fields, "
                                         r"this one has 7"):
        read_gtf_tx2gene(bad)
    bad.write_text("chr1\tx\tgene\t1\t2\t.\t+\t.\tgene_id \"g\";\n")
    with pytest.raises(InputError, match="no transcript_id/gene_id"):
        read_gtf_tx2gene(bad)
    with pytest.raises(InputError, match="no such GTF"):
        read_gtf_tx2gene(tmp_path / "none.gtf")
