"""The real downstream clients read emseq's output directory: tximport and tximeta (R,
Debian ``r-bioc-tximport``/``r-bioc-tximeta``) and MultiQC (PyPI ``multiqc``).

Each test skips with the reason when its client is not installed (``.ci/run`` installs them
when it runs as root). The directory is written from the shared simulated BAM with Gibbs
samples and a FASTA, so ``meta_info.json`` carries a real ``index_seq_hash``.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from emseq.quant import load_transcripts, quantify
from emseq.quant.salmon_format import index_hashes

N_SAMPLES = 8

_R_SCRIPT = r"""
suppressPackageStartupMessages({
  library(tximport); library(tximeta); library(SummarizedExperiment)
})
args <- commandArgs(TRUE)
files <- args[1]
out <- args[2]
txi <- tximport(files, type = "salmon", txOut = TRUE)
coldata <- data.frame(files = files, names = "s1")
se <- suppressWarnings(tximeta(coldata, type = "salmon", useHub = FALSE))
reps <- grep("^infRep", assayNames(se), value = TRUE)
res <- list(
  tximport_counts = unname(txi$counts[, 1]),
  tximport_names = rownames(txi$counts),
  tximport_infreps = dim(txi$infReps[[1]]),
  tximport_length = unname(txi$length[, 1]),
  tximeta_counts = unname(assay(se, "counts")[, 1]),
  tximeta_names = rownames(se),
  tximeta_n_infreps = length(reps),
  tximeta_infrep1 = unname(assay(se, reps[1])[, 1]),
  tximeta_index_hash = metadata(se)$quantInfo$index_seq_hash
)
writeLines(jsonlite::toJSON(res, digits = NA, auto_unbox = TRUE), out)
"""


@pytest.fixture(scope="module")
def quant_dir(sim, tmp_path_factory):
    out = tmp_path_factory.mktemp("clients") / "sample1"
    result = quantify(sim.name_bam, sim.fasta, n_threads=1, num_gibbs_samples=N_SAMPLES,
                      seed=1, show_progress=False)
    result.write(out, report=False)
    return out


def _r_has(*packages: str) -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript is not installed (Debian r-base-core)"
    check = "; ".join(f"if (!requireNamespace('{p}', quietly=TRUE)) quit(status=3)"
                      for p in packages)
    rc = subprocess.run(["Rscript", "-e", check], capture_output=True).returncode
    return None if rc == 0 else f"R packages {', '.join(packages)} are not installed " \
                                "(Debian r-bioc-tximport r-bioc-tximeta)"


def test_meta_info_has_the_keys_tximeta_reads(quant_dir, sim):
    meta = json.loads((quant_dir / "aux_info" / "meta_info.json").read_text())
    expected = index_hashes(load_transcripts(sim.fasta))
    assert meta["index_seq_hash"] == expected["index_seq_hash"]
    assert len(meta["index_seq_hash"]) == 64 and meta["num_valid_targets"] == len(sim.tx.names)
    # the digest is Salmon's: SHA-256 of the upper-case sequences concatenated in FASTA order
    import hashlib

    joined = "".join(s.upper() for s in sim.tx.seqs).encode()
    assert meta["index_seq_hash"] == hashlib.sha256(joined).hexdigest()
    assert meta["index_name_hash"] == hashlib.sha256("".join(sim.tx.names).encode()).hexdigest()


def test_meta_info_hash_is_empty_without_sequences(sim, tmp_path):
    """As Salmon's alignment mode: the key is present (tximeta needs it) and empty."""
    result = quantify(sim.name_bam, None, n_threads=1, show_progress=False)
    result.write(tmp_path / "q", report=False)
    meta = json.loads((tmp_path / "q" / "aux_info" / "meta_info.json").read_text())
    assert meta["index_seq_hash"] == "" and meta["index_name_hash"] == ""


def test_tximport_and_tximeta_read_counts_and_replicates(quant_dir, tmp_path):
    reason = _r_has("tximport", "tximeta", "SummarizedExperiment", "jsonlite")
    if reason:
        pytest.skip(reason)
    script = tmp_path / "read.R"
    script.write_text(_R_SCRIPT)
    out = tmp_path / "read.json"
    env = {**os.environ, "TZ": "UTC", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run(["Rscript", str(script), str(quant_dir / "quant.sf"), str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(out.read_text())
    quant = pd.read_csv(quant_dir / "quant.sf", sep="\t")
    n = len(quant)
    for client in ("tximport", "tximeta"):
        assert got[f"{client}_names"] == quant["Name"].tolist()
        np.testing.assert_allclose(got[f"{client}_counts"], quant["NumReads"], rtol=1e-6,
                                   atol=1e-6)
    np.testing.assert_allclose(got["tximport_length"], quant["EffectiveLength"], rtol=1e-6)
    assert got["tximport_infreps"] == [n, N_SAMPLES]
    assert got["tximeta_n_infreps"] == N_SAMPLES
    raw = gzip.decompress((quant_dir / "aux_info" / "bootstrap" / "bootstraps.gz").read_bytes())
    first = np.frombuffer(raw, dtype="<f8")[:n]
    np.testing.assert_allclose(got["tximeta_infrep1"], first, rtol=1e-6, atol=1e-6)
    meta = json.loads((quant_dir / "aux_info" / "meta_info.json").read_text())
    assert got["tximeta_index_hash"] == meta["index_seq_hash"]


def test_multiqc_finds_the_sample_and_its_strand_bias(quant_dir, tmp_path):
    if shutil.which("multiqc") is None:
        pytest.skip("multiqc is not installed (pip install multiqc)")
    report = tmp_path / "mqc"
    proc = subprocess.run(["multiqc", "--no-ansi", "-q", "-f", "--data-format", "json",
                           "-o", str(report), str(quant_dir.parent)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    general = json.loads((report / "multiqc_data" / "multiqc_data.json").read_text())
    stats = general["report_saved_raw_data"]["multiqc_general_stats"]
    assert "sample1" in stats, f"MultiQC did not find the sample: {sorted(stats)}"
    row = stats["sample1"]
    lib = json.loads((quant_dir / "lib_format_counts.json").read_text())
    meta = json.loads((quant_dir / "aux_info" / "meta_info.json").read_text())
    assert row["salmon-strand_mapping_bias"] == pytest.approx(lib["strand_mapping_bias"])
    assert 0.4 < lib["strand_mapping_bias"] < 0.6  # the simulated library is unstranded (IU)
    assert row["salmon-compatible_fragment_ratio"] == pytest.approx(
        100 * lib["compatible_fragment_ratio"])
    assert row["salmon-percent_mapped"] == pytest.approx(meta["percent_mapped"])
