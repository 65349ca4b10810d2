"""quantify() on simulated BAMs against the truth, in every input order."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from emseq.quant import load_transcripts, quantify


def _unambiguous(sim):
    """Transcripts that share no fragment with another transcript."""
    seen = np.zeros(len(sim.tx.names), dtype=bool)
    shared = np.zeros(len(sim.tx.names), dtype=bool)
    for f in sim.fragments:
        tids = list({a[0] for a in f.alignments})
        seen[tids] = True
        if len(tids) > 1:
            shared[tids] = True
    return seen & ~shared


@pytest.fixture(scope="module")
def vb_result(sim):
    return quantify(sim.name_bam, sim.fasta, n_threads=2)


@pytest.fixture(scope="module")
def em_result(sim):
    return quantify(sim.name_bam, sim.fasta, n_threads=2, vb=False)


@pytest.mark.parametrize("which", ["vb", "em"])
def test_close_to_truth(sim, vb_result, em_result, which):
    result = vb_result if which == "vb" else em_result
    est = result.abundances["NumReads"].to_numpy()
    expressed = sim.truth > 0
    rho = spearmanr(est[expressed], sim.truth[expressed])[0]
    assert rho > 0.9
    # fraction of fragments misassigned
    assert np.abs(est - sim.truth).sum() / 2 / sim.truth.sum() < 0.05
    assert result.abundances.columns.tolist() == ["Name", "Length", "EffectiveLength", "TPM",
                                                  "NumReads"]
    assert result.abundances["Name"].tolist() == sim.tx.names
    assert result.abundances["TPM"].sum() == pytest.approx(1e6)
    assert result.num_processed == 12_050
    assert result.num_mapped == 12_000
    assert result.mapping_rate == pytest.approx(12_000 / 12_050)
    assert result.library["expected_format"] == "IU"
    assert 240 < result.fragment_length.mean < 260


def test_objective_trace_monotone(vb_result, em_result):
    for result in (vb_result, em_result):
        ll = result.convergence["log_likelihood"].to_numpy()
        assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[1:]))


def test_vb_and_em_agree_on_unambiguous(sim, vb_result, em_result):
    unique = _unambiguous(sim) & (sim.truth > 20)
    assert unique.sum() >= 2
    vb = vb_result.abundances["NumReads"].to_numpy()[unique]
    em = em_result.abundances["NumReads"].to_numpy()[unique]
    np.testing.assert_allclose(vb, em, rtol=1e-3)
    np.testing.assert_allclose(em, sim.truth[unique], rtol=1e-9)


@pytest.mark.parametrize("bam", ["collate_bam", "coord_bam", "coord_noheader_bam"])
def test_every_input_order_gives_the_same_result(sim, vb_result, bam):
    result = quantify(getattr(sim, bam), sim.fasta, n_threads=1)
    assert result.eq_classes.stats["num_missing_mate"] == 0
    assert result.num_mapped == vb_result.num_mapped
    assert result.eq_classes.n_classes == vb_result.eq_classes.n_classes
    np.testing.assert_allclose(result.abundances["NumReads"], vb_result.abundances["NumReads"],
                               rtol=1e-6, atol=1e-6)
    grouped = result.eq_classes.stats["grouped_by_name_in_memory"]
    assert grouped == (bam != "collate_bam")


def test_single_end(sim):
    result = quantify(sim.single_bam, load_transcripts(sim.fasta_gz), vb=False, n_threads=1)
    est = result.abundances["NumReads"].to_numpy()
    expressed = sim.single_truth > 0
    assert spearmanr(est[expressed], sim.single_truth[expressed])[0] > 0.9
    assert result.eq_classes.stats["num_single_fragments"] == 8_000
    assert result.library["expected_format"] == "U"
    # single-end: the fragment length model is the Normal prior
    assert result.fragment_length.mean == pytest.approx(250, abs=1)


def test_lengths_from_header_without_fasta(sim):
    """Without a FASTA the lengths come from the header; with one and no bias correction
    (which needs the sequences, and is on by default with them) the result is the same."""
    result = quantify(sim.name_bam, None, n_threads=1)
    with_fasta = quantify(sim.name_bam, sim.fasta, n_threads=1, seq_bias=False, gc_bias=False)
    np.testing.assert_allclose(result.abundances["NumReads"], with_fasta.abundances["NumReads"],
                               rtol=1e-9)


def test_stranded_library_detected_and_enforced(sim, tmp_path):
    from .simulate import simulate, write_bam

    fragments, truth = simulate(sim.tx, np.ones(len(sim.tx.names)), 3000, seed=9,
                                stranded="ISR")
    bam = tmp_path / "isr.bam"
    write_bam(bam, sim.tx, fragments)
    auto = quantify(bam, sim.fasta, n_threads=1)
    assert auto.library["expected_format"] == "ISR"
    assert auto.library["counts"]["ISR"] == 3000
    wrong = quantify(bam, sim.fasta, n_threads=1, library_type="IU")
    np.testing.assert_allclose(wrong.abundances["NumReads"], auto.abundances["NumReads"],
                               rtol=1e-9)
    # the opposite strand drops every alignment: a clear error, not an empty result
    from emseq.errors import InputError

    with pytest.raises(InputError, match="incompatible with library type ISF"):
        quantify(bam, sim.fasta, n_threads=1, library_type="ISF")


def test_bootstraps_and_genes(sim, tmp_path):
    result = quantify(sim.name_bam, sim.fasta, n_threads=2, num_bootstraps=6,
                      tx2gene=sim.tx2gene, seed=3)
    assert result.bootstraps.shape == (6, len(sim.tx.names))
    assert np.allclose(result.bootstraps.sum(axis=1), result.num_mapped, rtol=1e-6)
    spread = result.bootstraps.std(axis=0)
    assert spread.max() > 0
    genes = result.gene_abundances
    assert genes["Name"].tolist() == sorted(set(sim.tx.genes), key=sim.tx.genes.index)
    assert genes["NumReads"].sum() == pytest.approx(result.abundances["NumReads"].sum())
    true_gene = np.bincount(np.unique(sim.tx.genes, return_inverse=True)[1],
                            weights=sim.truth)
    assert spearmanr(genes.set_index("Name").sort_index()["NumReads"], true_gene)[0] > 0.95


def test_coordinate_sorted_spills_past_memory_limit(sim, vb_result):
    result = quantify(sim.coord_bam, sim.fasta, n_threads=1, sort_memory=200_000)
    assert result.eq_classes.stats["grouped_on_disk"]
    np.testing.assert_allclose(result.abundances["NumReads"], vb_result.abundances["NumReads"],
                               rtol=1e-6, atol=1e-6)


def test_gibbs_samples_centre_on_the_estimate(sim, vb_result):
    result = quantify(sim.name_bam, sim.fasta, n_threads=1, num_gibbs_samples=40, seed=4)
    samples = result.bootstraps
    assert samples.shape == (40, len(sim.tx.names))
    assert np.allclose(samples.sum(axis=1), result.num_mapped)
    est = vb_result.abundances["NumReads"].to_numpy()
    mean = samples.mean(axis=0)
    big = est > 100
    np.testing.assert_allclose(mean[big], est[big], rtol=0.15)
    # transcripts sharing all their fragments vary more than unambiguous ones
    assert samples.std(axis=0).max() > 1.0
