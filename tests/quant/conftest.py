"""Simulated data shared by the quant tests (built once per session, seeded)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from .simulate import Transcriptome, make_transcriptome, simulate, write_bam


@dataclass
class SimData:
    tx: Transcriptome
    truth: np.ndarray
    fasta: Path
    fasta_gz: Path
    name_bam: Path
    collate_bam: Path
    coord_bam: Path
    coord_noheader_bam: Path
    single_bam: Path
    single_truth: np.ndarray
    tx2gene: Path
    fragments: list


@pytest.fixture(scope="session")
def sim(tmp_path_factory) -> SimData:
    root = tmp_path_factory.mktemp("quant_sim")
    tx = make_transcriptome(seed=1, n_genes=12)
    rng = np.random.default_rng(5)
    abundance = rng.lognormal(0.0, 1.5, len(tx.names))
    abundance[rng.random(len(abundance)) < 0.2] = 0.0
    fragments, truth = simulate(tx, abundance, 12_000, seed=2, n_unmapped=50)
    single, single_truth = simulate(tx, abundance, 8_000, seed=3, paired=False)
    paths = {k: root / f"{k}.bam" for k in ("name", "collate", "coord", "coord_noheader",
                                             "single")}
    write_bam(paths["name"], tx, fragments, order="name")
    write_bam(paths["collate"], tx, fragments, order="collate")
    write_bam(paths["coord"], tx, fragments, order="coordinate")
    write_bam(paths["coord_noheader"], tx, fragments, order="coordinate", sort_order_header=False)
    write_bam(paths["single"], tx, single, order="name")
    tx.write_fasta(root / "tx.fa")
    tx.write_fasta(root / "tx.fa.gz", gz=True)
    tx2gene = root / "tx2gene.tsv"
    tx2gene.write_text("".join(f"{t}\t{g}\n" for t, g in zip(tx.names, tx.genes)))
    return SimData(tx, truth, root / "tx.fa", root / "tx.fa.gz", paths["name"],
                   paths["collate"], paths["coord"], paths["coord_noheader"], paths["single"],
                   single_truth, tx2gene, fragments)
