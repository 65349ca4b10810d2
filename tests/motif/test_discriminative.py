"""Discriminative discovery (``--neg``, ``--objfun de|se``) against planted truth, the k-mer
preserving shuffle, the enrichment tests against exact references, and bad control inputs."""

import itertools
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chisquare, hypergeom

from emseq.cli import main
from emseq.motif import discover
from emseq.motif.alphabet import decode, encode
from emseq.motif.discriminative import (enrichment_log_pvalues, kmer_shuffle, log_hypergeom_sf,
                                        shuffle_rng)
from emseq.motif.simulate import plant, pwm_correlation, read_meme, site_accuracy

DATA = Path(__file__).resolve().parents[2] / "data" / "motif"
MOTIFS = read_meme(DATA / "jaspar2026_core_vert10.meme")
TARGET, DECOY = "MA0080.7", "MA0139.2"   # Spi1 only in the primary; CTCF in both sets
#: E-values below this are significant (MEME's customary threshold)
SIGNIFICANT = math.log10(0.05)


@pytest.fixture(scope="module")
def decoy_sets():
    """Primary: the decoy (CTCF, strong) in 80 % of the sequences and the target (Spi1) in
    half of them; control: the decoy alone in 80 %."""
    rng = np.random.default_rng(2)
    decoy = plant(rng, MOTIFS[DECOY], 60, 200, zoops_fraction=0.8)
    primary = plant(rng, MOTIFS[TARGET], 60, 200, zoops_fraction=0.5, into=decoy)
    control = plant(rng, MOTIFS[DECOY], 60, 200, zoops_fraction=0.8)
    return primary, control


def _target_accuracy(result, motif, primary):
    sites = result.sites[result.sites["motif"] == motif.id]
    return site_accuracy(sites, primary.sites, {n: 200 for n in primary.names})


def test_classic_reports_the_decoy_first(decoy_sets):
    """The set is a real test: without a control the decoy is the best motif."""
    primary, _ = decoy_sets
    result = discover(primary.sequences, nmotifs=1, n_threads=1)
    assert pwm_correlation(result.motifs[0].pwm, MOTIFS[DECOY]) > 0.9


@pytest.mark.parametrize("objfun", ["de", "se"])
def test_control_removes_the_decoy(decoy_sets, objfun):
    primary, control = decoy_sets
    result = discover(primary.sequences, neg=control.sequences, objfun=objfun, nmotifs=2,
                      n_threads=1)
    first = result.motifs[0]
    assert pwm_correlation(first.pwm, MOTIFS[TARGET]) > 0.9
    # se ranks sites by its most informative columns only: less precise sites
    assert _target_accuracy(result, first, primary)["sPPV"] > (0.8 if objfun == "de" else 0.6)
    if objfun == "de":   # se's motif (its 6-7 best columns) is not significant on this set
        assert first.log10_e_value < SIGNIFICANT
    for motif in result.motifs:
        # the decoy is never reported as significant (nor any other second motif)
        if pwm_correlation(motif.pwm, MOTIFS[DECOY]) > 0.8:
            assert motif.log10_e_value > SIGNIFICANT
    assert result.motifs[1].log10_e_value > SIGNIFICANT
    assert result.params["objfun"] == objfun
    assert set(result.convergence["phase"]) >= {"full", "holdout"}


@pytest.mark.parametrize("mod", ["oops", "tcm"])
def test_control_removes_the_decoy_in_oops_and_tcm(mod):
    """OOPS (rank-sum test) and TCM (binomial test over windows) with the decoy planted by
    the same model in both sets."""
    rng = np.random.default_rng(2)
    decoy = plant(rng, MOTIFS[DECOY], 60, 200, model=mod)
    primary = plant(rng, MOTIFS[TARGET], 60, 200, zoops_fraction=0.6, into=decoy)
    control = plant(rng, MOTIFS[DECOY], 60, 200, model=mod)
    result = discover(primary.sequences, neg=control.sequences, mod=mod, n_threads=1)
    first = result.motifs[0]
    assert pwm_correlation(first.pwm, MOTIFS[TARGET]) > 0.9
    assert pwm_correlation(first.pwm, MOTIFS[DECOY]) < 0.8
    if mod == "oops":
        assert first.nsites == 60
    assert np.isfinite(first.log10_e_value)


def test_de_is_the_default_with_a_control(decoy_sets):
    primary, control = decoy_sets
    result = discover(primary.sequences, neg=control.sequences, n_threads=1)
    assert result.params["objfun"] == "de"
    assert pwm_correlation(result.motifs[0].pwm, MOTIFS[TARGET]) > 0.9


def test_no_motif_is_significant_without_enrichment():
    rng = np.random.default_rng(5)
    primary = plant(rng, MOTIFS[TARGET], 60, 200, zoops_fraction=0.0)
    control = plant(rng, MOTIFS[TARGET], 60, 200, zoops_fraction=0.0)
    result = discover(primary.sequences, neg=control.sequences, nmotifs=2, n_threads=1)
    assert all(m.log10_e_value > SIGNIFICANT for m in result.motifs)


def test_shuffled_control_finds_the_planted_motif():
    rng = np.random.default_rng(3)
    planted = plant(rng, MOTIFS[TARGET], 40, 200, zoops_fraction=0.7)
    result = discover(planted.sequences, neg="shuffle", n_threads=1)
    assert result.params["neg"] == "shuffle"
    assert pwm_correlation(result.motifs[0].pwm, MOTIFS[TARGET]) > 0.9
    assert result.motifs[0].log10_e_value < SIGNIFICANT


# --- the shuffle ------------------------------------------------------------------------------

def _kmers(text, k):
    return Counter(text[i:i + k] for i in range(len(text) - k + 1))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_shuffle_keeps_kmer_counts_exactly(k):
    rng = np.random.default_rng(11)
    texts = ["".join(rng.choice(list("ACGT"), size=n)) for n in (5, 60, 400)]
    texts.append("ACGTTGCANNNACGGGTTTAACNGCGCGATATTTACG")
    data = encode(texts)
    shuffled = kmer_shuffle(data, k, shuffle_rng(1))
    assert np.array_equal(shuffled.offsets, data.offsets)
    changed = 0
    for i, text in enumerate(texts):
        out = decode(shuffled.codes[shuffled.offsets[i]:shuffled.offsets[i + 1]])
        for run_in, run_out in zip(text.split("N"), out.split("N")):   # N stay in place
            assert _kmers(run_in, k) == _kmers(run_out, k)
            assert run_in[:k - 1] == run_out[:k - 1]
        changed += out != text
    assert changed >= 2


def test_shuffle_is_seeded():
    data = encode(["".join(np.random.default_rng(0).choice(list("ACGT"), 300))])
    a = kmer_shuffle(data, 2, shuffle_rng(4)).codes
    b = kmer_shuffle(data, 2, shuffle_rng(4)).codes
    c = kmer_shuffle(data, 2, shuffle_rng(5)).codes
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_dinucleotide_shuffle_is_uniform():
    """Every sequence with the same dinucleotide counts (and first letter) is equally likely."""
    text = "AACAGATC"
    same = {"".join(p) for p in itertools.permutations(text)
            if p[0] == text[0] and _kmers("".join(p), 2) == _kmers(text, 2)}
    assert len(same) == 12
    data = encode([text])
    rng = shuffle_rng(9)
    draws = Counter(decode(kmer_shuffle(data, 2, rng).codes) for _ in range(1500))
    assert set(draws) == same
    assert chisquare([draws[s] for s in sorted(same)]).pvalue > 0.001


# --- the tests of enrichment ------------------------------------------------------------------

def test_log_hypergeom_sf_is_exact():
    for total, succ, draws, x in [(120, 60, 10, 5), (40, 10, 30, 10), (4000, 2000, 1000, 1000),
                                  (60, 30, 31, 30), (10, 3, 5, 0)]:
        tail = sum(math.comb(succ, k) * math.comb(total - succ, draws - k)
                   for k in range(x, min(succ, draws) + 1))       # exact integers
        got = log_hypergeom_sf(x, total, succ, draws)
        assert got == pytest.approx(math.log(tail) - math.log(math.comb(total, draws)),
                                    rel=1e-9, abs=1e-12)
        assert got == pytest.approx(min(hypergeom.logsf(x - 1, total, succ, draws), 0.0),
                                    rel=1e-9, abs=1e-12)


def test_ties_rank_control_sites_first():
    primary = np.array([[3.0, 2.0, 1.0]])
    tied = enrichment_log_pvalues(primary, np.array([[3.0, 0.0]]), np.array([1]),
                                  "hypergeometric")
    below = enrichment_log_pvalues(primary, np.array([[2.5, 0.0]]), np.array([1]),
                                   "hypergeometric")
    # a control site tied with the best primary one counts above it: P(X >= 1 | 2 draws)
    assert tied[0, 0] == pytest.approx(math.log(1 - math.comb(2, 2) / math.comb(5, 2)))
    assert below[0, 0] == pytest.approx(math.log(3 / 5))


# --- the command line -------------------------------------------------------------------------

def _run(tmp_path, capsys, *args):
    out = tmp_path / "out"
    code = main(["motif", *map(str, args), "-o", str(out), "-q", "-p", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err, out


def test_cli_meme_spellings_of_a_control(tmp_path, capsys, decoy_sets):
    primary, control = decoy_sets
    primary.write_fasta(tmp_path / "p.fa")
    control.write_fasta(tmp_path / "c.fa")
    out = tmp_path / "meme_out"
    assert main(["motif", str(tmp_path / "p.fa"), "-neg", str(tmp_path / "c.fa"), "-objfun",
                 "se", "-dna", "-revcomp", "-oc", str(out), "-nostatus", "-p", "1"]) == 0
    pwm = read_meme(out / "motifs.meme")["1"]
    assert pwm_correlation(pwm, MOTIFS[TARGET]) > 0.9


@pytest.mark.parametrize("content, word", [
    ("", "empty"),
    (">a\n>b\n", "empty"),
    ("ACGTACGT\n", "header"),
    (">p\nMKVLAAGIVGLLLAQPEFWRST\n", "unexpected letter"),
    (">a\nACGNNACG\n", "--minw"),
])
def test_bad_control_is_one_line_exit_1(tmp_path, capsys, content, word):
    bad = tmp_path / "control.fa"
    bad.write_text(content)
    code, err, out = _run(tmp_path, capsys, DATA / "crp0.s", "--neg", bad)
    assert code == 1 and len(err) == 1 and err[0].startswith("emseq motif: error:"), err
    assert "control.fa" in err[0] and word.lower() in err[0].lower(), err
    assert not out.exists()


@pytest.mark.parametrize("args, word", [
    (["--neg", ""], "--neg"),
    (["--neg", "shuffle", "--objfun", "classic"], "--neg"),
    (["-neg", "shuffle", "-objfun", "zz"], "--objfun"),
    (["--neg", "shuffle", "--shuf", "9"], "--shuf"),
    (["--neg", DATA / "lex0.s", "--shuf", "3"], "--shuf"),
    (["-neg", "shuffle", "-hsfrac", "0.3"], "-hsfrac"),
    (["--neg"], "--neg"),
])
def test_bad_control_option_is_a_usage_error(tmp_path, capsys, args, word):
    code, err, out = _run(tmp_path, capsys, DATA / "crp0.s", *args)
    assert code == 2 and len(err) == 1 and err[0].startswith("emseq motif: error:"), err
    assert word in err[0]
    assert not out.exists()
