"""End-to-end motif discovery: classic sets (crp0, lex0), planted sets, EM monotonicity."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emseq.em import CONVERGENCE_COLUMNS
from emseq.motif import discover
from emseq.motif.simulate import plant, pwm_correlation, read_meme, site_accuracy

DATA = Path(__file__).resolve().parents[2] / "data" / "motif"


def _crp_truth():
    rows, lengths, name = [], {}, None
    for line in (DATA / "crp0.s").read_text().splitlines():
        if line.startswith(">"):
            fields = line[1:].split()
            name = fields[0]
            lengths[name] = 0
            rows += [(name, int(p), int(p) + 21) for p in fields[1:]]
        else:
            lengths[name] += len(line.strip())
    return pd.DataFrame(rows, columns=["sequence", "start", "end"]), lengths


@pytest.fixture(scope="module")
def crp_result():
    return discover(DATA / "crp0.s", mod="zoops", minw=8, maxw=22, nmotifs=2, n_threads=1)


def test_crp0_top_motif_is_crp(crp_result):
    top = crp_result.motifs[0]
    cons = top.consensus
    # CRP: TGTGA......TCACA (either orientation, possibly trimmed by a few columns)
    assert ("TGTGA" in cons or "TCACA" in cons) and ("GTGA" in cons and "TCAC" in cons), cons
    truth, lengths = _crp_truth()
    sites = crp_result.sites[crp_result.sites["motif"] == top.id]
    acc = site_accuracy(sites, truth, lengths)
    assert acc["sSn"] >= 0.6 and acc["sPPV"] >= 0.8, acc
    assert acc["nPC"] >= 0.4, acc
    assert top.log10_e_value < -3


def test_crp0_result_tables(crp_result):
    r = crp_result
    assert list(r.sites.columns) == ["motif", "sequence", "start", "end", "strand", "score",
                                     "p_value", "site"]
    assert list(r.motifs.table.columns[:6]) == ["motif", "consensus", "width", "sites", "llr",
                                                "e_value"]
    assert len(r.motifs) == 2 and len(r.motifs.pwms) == 2
    for m in r.motifs:
        np.testing.assert_allclose(m.pwm.sum(axis=1), 1.0)
        s = r.sites[r.sites["motif"] == m.id]
        assert len(s) == m.nsites
        assert ((s["end"] - s["start"] + 1) == m.width).all()
        assert s["site"].str.len().eq(m.width).all()
        assert ((s["p_value"] > 0) & (s["p_value"] <= 1)).all()
    # sites are the letters of the sequence (reverse complement on '-')
    seqs = {}
    name = None
    for line in (DATA / "crp0.s").read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            seqs[name] = ""
        else:
            seqs[name] += line.strip()
    comp = str.maketrans("ACGT", "TGCA")
    for row in r.sites.itertuples(index=False):
        text = seqs[row.sequence][row.start - 1:row.end].upper()
        if row.strand == "-":
            text = text.translate(comp)[::-1]
        assert text == row.site
    conv = r.convergence
    assert set(CONVERGENCE_COLUMNS) <= set(conv.columns)
    assert {"motif", "width", "start"} <= set(conv.columns)


def test_em_objective_never_decreases(crp_result):
    runs = crp_result.convergence.groupby(["motif", "width", "start", "phase"])
    assert max(len(run) for _, run in runs) >= 5
    for _, run in runs:
        ll = run["log_likelihood"].to_numpy()
        assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[1:])), ll


@pytest.mark.parametrize("mod", ["oops", "tcm"])
def test_em_monotone_other_models(mod):
    r = discover(DATA / "lex0.s", mod=mod, minw=8, maxw=16, n_threads=2, pal=(mod == "tcm"))
    for _, run in r.convergence.groupby(["motif", "width", "start", "phase"]):
        ll = run["log_likelihood"].to_numpy()
        assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[1:])), ll


def test_lex0_top_motif_is_lexa():
    r = discover(DATA / "lex0.s", mod="zoops", minw=8, maxw=20, n_threads=1)
    cons = r.motifs[0].consensus
    rc = cons.translate(str.maketrans("ACGT", "TGCA"))[::-1]
    # LexA: CTGTATATATATACAG (MEME reports TACTGTATATA...CAG on lex0)
    assert any("CTGTATATA" in c and c.rfind("CAG") > c.find("CTGT") + 8 for c in (cons, rc)), cons
    assert r.motifs[0].log10_e_value < -10
    assert r.motifs[0].nsites >= 11


def test_palindrome_option_gives_palindromic_pwm():
    r = discover(DATA / "lex0.s", mod="zoops", minw=14, maxw=16, pal=True, n_threads=1)
    pwm = r.motifs[0].pwm
    np.testing.assert_allclose(pwm, pwm[::-1, ::-1], atol=1e-12)
    cons = r.motifs[0].consensus
    assert cons.startswith("CTGT") and cons.endswith("ACAG"), cons   # LexA, centred


JASPAR = read_meme(DATA / "jaspar2026_core_vert10.meme")


@pytest.mark.parametrize("mod,motif,n,length,seed", [
    ("oops", "MA0113.4", 20, 200, 1),
    ("zoops", "MA0139.2", 40, 150, 2),
    ("tcm", "MA0106.3", 25, 200, 3),
])
def test_planted_motif_recovered(mod, motif, n, length, seed):
    rng = np.random.default_rng(seed)
    cond = rng.dirichlet(np.full(4, 8.0), size=16)   # an order-2 Markov background
    planted = plant(rng, JASPAR[motif], n, length, model=mod, cond=cond)
    names = planted.names
    from emseq.io.fasta import FastaRecord

    records = [FastaRecord(nm, "", s) for nm, s in zip(names, planted.sequences)]
    r = discover(records, mod=mod, minw=6, maxw=20, n_threads=2)
    corr = pwm_correlation(r.motifs[0].pwm, planted.pwm)
    assert corr > 0.9, (r.motifs[0].consensus, corr)
    acc = site_accuracy(r.sites, planted.sites, {nm: length for nm in names})
    assert acc["sSn"] > 0.7, acc


def test_unknown_and_lowercase_letters_never_in_sites():
    rng = np.random.default_rng(5)
    planted = plant(rng, JASPAR["MA0138.3"], 15, 120, model="oops")
    seqs = []
    for s in planted.sequences:
        s = list(s)
        for j in rng.choice(len(s), 10, replace=False):
            s[j] = "N"
        s[:30] = [c.lower() for c in s[:30]]
        seqs.append("".join(s))
    for mask in (False, True):
        r = discover(seqs, mod="zoops", minw=10, maxw=20, mask_lowercase=mask, n_threads=1)
        for row in r.sites.itertuples(index=False):
            assert "N" not in row.site
            if mask:
                assert row.start > 30
        assert pwm_correlation(r.motifs[0].pwm, planted.pwm) > 0.9


def test_short_sequences_are_skipped():
    rng = np.random.default_rng(6)
    planted = plant(rng, JASPAR["MA0138.3"], 12, 100, model="oops")
    seqs = planted.sequences + ["ACGT", "A"]
    r = discover(seqs, mod="oops", minw=8, maxw=20, n_threads=1)
    assert r.motifs[0].nsites == 12
    assert pwm_correlation(r.motifs[0].pwm, planted.pwm) > 0.9


def test_bfile_background_used(tmp_path):
    bfile = tmp_path / "bg"
    bfile.write_text("A 0.3\nC 0.2\nG 0.2\nT 0.3\n")
    r = discover(DATA / "lex0.s", mod="zoops", minw=12, maxw=16, bfile=bfile, n_threads=1)
    np.testing.assert_allclose(r.background.freqs, [0.3, 0.2, 0.2, 0.3], atol=1e-9)
    assert r.background.order == 0
    assert "CTGT" in r.motifs[0].consensus or "ACAG" in r.motifs[0].consensus


def test_two_motifs_found_by_erasing():
    rng = np.random.default_rng(11)
    a = plant(rng, JASPAR["MA0138.3"], 25, 150, model="oops")
    b = plant(rng, JASPAR["MA0113.4"], 25, 150, model="oops")
    # put motif b's sites into the second half of each sequence carrying motif a
    seqs = [sa[:75] + sb[75:] for sa, sb in zip(a.sequences, b.sequences)]
    r = discover(seqs + [""], mod="zoops", minw=8, maxw=20, nmotifs=2, n_threads=1)
    assert len(r.motifs) == 2
    corr = [[pwm_correlation(m.pwm, t) for t in (a.pwm, b.pwm)] for m in r.motifs]
    # each planted motif is matched by one of the two found motifs
    assert max(corr[0][0], corr[1][0]) > 0.8, corr
    assert max(corr[0][1], corr[1][1]) > 0.8, corr


def test_gzipped_fasta_gives_the_same_motif(tmp_path):
    import gzip

    gz = tmp_path / "lex0.fa.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write((DATA / "lex0.s").read_text())
    plain = discover(DATA / "lex0.s", mod="zoops", minw=14, maxw=16, n_threads=1)
    packed = discover(gz, mod="zoops", minw=14, maxw=16, n_threads=1)
    np.testing.assert_allclose(plain.motifs[0].pwm, packed.motifs[0].pwm)
    pd.testing.assert_frame_equal(plain.sites, packed.sites)


def test_tcm_on_one_long_sequence():
    rng = np.random.default_rng(3)
    planted = plant(rng, JASPAR["MA0113.4"], 1, 6000, model="tcm", tcm_rate=30)
    r = discover(planted.sequences, mod="tcm", minw=8, maxw=20, n_threads=1)
    assert pwm_correlation(r.motifs[0].pwm, planted.pwm) > 0.9
    acc = site_accuracy(r.sites, planted.sites, {"seq1": 6000})
    assert acc["sSn"] > 0.8 and acc["sPPV"] > 0.7, acc


def test_tcm_on_a_few_very_long_sequences():
    """300 kbp in 3 sequences: more than the scan set holds, so the starting points are
    searched on a sample cut into pieces (the route of a few long sequences, near-linear:
    ``benchmarks/bench_motif.py`` has the row)."""
    rng = np.random.default_rng(7)
    planted = plant(rng, JASPAR["MA0106.3"], 3, 100_000, model="tcm", tcm_rate=60)
    r = discover(planted.sequences, mod="tcm", minw=12, maxw=20, n_threads=2)
    assert pwm_correlation(r.motifs[0].pwm, planted.pwm) > 0.9
    acc = site_accuracy(r.sites, planted.sites, dict.fromkeys(planted.names, 100_000))
    assert acc["sSn"] > 0.6 and acc["sPPV"] > 0.8, acc


def test_sparse_sites_in_long_sequences_are_found():
    """189 CTCF sites in 400 sequences of 1 kbp: every seed alignment of the true sites is
    less significant than a chance 2-site one (the seed's columns alone do not pay for the
    alignments of 1 kbp), so the search keeps a start with many sites as well."""
    rng = np.random.default_rng(5)
    planted = plant(rng, JASPAR["MA0139.2"], 400, 1000, model="tcm", tcm_rate=0.5)
    r = discover(planted.sequences, mod="zoops", minw=12, maxw=16, n_threads=2)
    assert r.motifs[0].log10_e_value < -50, r.motifs[0].e_value_text
    assert pwm_correlation(r.motifs[0].pwm, planted.pwm) > 0.9
    acc = site_accuracy(r.sites, planted.sites, dict.fromkeys(planted.names, 1000))
    assert acc["sSn"] > 0.6 and acc["sPPV"] > 0.9, acc


def test_nsites_fixes_the_number_of_sites():
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "data" / "motif" / "crp0.s"
    result = discover(data, mod="zoops", minw=12, maxw=16, nsites=7, n_threads=1,
                      progress_bar=False)
    assert result.motifs[0].nsites == 7 and len(result.sites) == 7


def test_evt_stops_at_the_first_insignificant_motif():
    """lex0's second motif is not significant (E > 1): -evt 1 reports LexA only, and no
    reported motif has an E-value above the threshold."""
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "data" / "motif" / "lex0.s"
    every = discover(data, mod="zoops", nmotifs=2, n_threads=1, progress_bar=False)
    assert len(every.motifs) == 2 and every.motifs[1].log10_e_value > 0
    kept = discover(data, mod="zoops", nmotifs=2, evt=1.0, n_threads=1, progress_bar=False)
    assert len(kept.motifs) == 1
    assert kept.motifs[0].log10_e_value == every.motifs[0].log10_e_value
    assert set(kept.sites["motif"]) == {"1"}


def test_width_refinement_reaches_widths_off_the_grid():
    """crp0 (true sites 22 bp): the grid 8, 11, 16, 23, ... misses 17-22; the refinement
    around the grid's best reaches them (TCM: width 20 with MEME's defaults)."""
    from pathlib import Path

    from emseq.motif import width_grid

    data = Path(__file__).resolve().parents[2] / "data" / "motif" / "crp0.s"
    result = discover(data, mod="tcm", minw=8, maxw=50, n_threads=1, progress_bar=False)
    assert result.motifs[0].width not in width_grid(8, 50)
    assert "refine" in set(result.convergence["phase"])
