"""`emseq motif compare` (Tomtom's method) and the --db annotation of found motifs."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control, spearmanr

from emseq.cli import main
from emseq.motif import _compare
from emseq.motif.compare import (TOMTOM_COLUMNS, MotifMatch, annotate, column_scores,
                                 compare_motifs)
from emseq.motif.meme import MemeFile, MemeMotif, read_meme_file
from emseq.motif.qvalues import bh_qvalues, storey_qvalues
from emseq.motif.result import Motif
from emseq.motif.simulate import plant

DATA = Path(__file__).resolve().parents[2] / "data" / "motif"
JASPAR = DATA / "JASPAR_CORE_vertebrates_nonredundant.meme"
TEN = DATA / "jaspar2026_core_vert10.meme"


@pytest.fixture(scope="module")
def jaspar():
    return read_meme_file(JASPAR)


def _noisy_copy(rng, pwm, n_sites=25):
    """The motif re-estimated from ``n_sites`` sampled sites plus a pseudocount."""
    counts = np.array([rng.multinomial(n_sites, row) for row in pwm], dtype=float) + 0.25
    return counts / counts.sum(axis=1, keepdims=True)


def test_database_is_jaspar_2026_core_vertebrates(jaspar):
    assert len(jaspar.motifs) == 1019
    ids = [m.id for m in jaspar.motifs]
    assert len(set(i.split(".")[0] for i in ids)) == len(ids)  # one version per matrix
    assert {"MA0139.2", "MA0080.7", "MA0106.3"} <= set(ids)


@pytest.mark.parametrize("seed", range(8))
def test_noisy_copy_finds_its_original_on_both_strands(jaspar, seed):
    """A copy re-estimated from 30 sampled sites, and its reverse complement, find the
    original with the top q-value, unless the database holds a near-duplicate of the original
    (the original itself matches it with p < 1e-8: NR3C1 with NR3C2 and Ar, which share its
    GRE; CTCF with the longer CTCF matrix MA1930.2),
    which may then take the top."""
    rng = np.random.default_rng(seed)
    originals = read_meme_file(TEN)
    self_table = compare_motifs(originals, jaspar, thresh=None, n_threads=1)
    near_duplicates = self_table[self_table["p-value"] < 1e-8]
    queries = []
    for m in originals.motifs:
        noisy = _noisy_copy(rng, m.pwm, n_sites=30)
        queries.append(MemeMotif(f"{m.id}_fwd", "", noisy))
        queries.append(MemeMotif(f"{m.id}_rev", "", noisy[::-1, ::-1].copy()))
    table = compare_motifs(MemeFile(Path("q"), queries, None), jaspar, thresh=None,
                           n_threads=1)
    assert list(table.columns[:10]) == TOMTOM_COLUMNS
    for m in originals.motifs:
        twins = set(near_duplicates.loc[near_duplicates["Query_ID"] == m.id, "Target_ID"])
        for suffix, orientation in (("_fwd", "+"), ("_rev", "-")):
            rows = table[table["Query_ID"] == m.id + suffix]
            top_q = rows["q-value"].min()
            own = rows[rows["Target_ID"] == m.id].iloc[0]
            assert own["q-value"] == top_q or rows["Target_ID"].iloc[0] in twins, \
                (m.id, suffix, rows.head(3).to_string())
            assert m.id in set(rows["Target_ID"].iloc[:3])
            assert own["q-value"] < 0.01  # the 8-column FOXA1 and KLF4: ~1e-3
            # the copy lines up with the original column for column, on the right strand
            assert own["Optimal_offset"] == 0 and own["Overlap"] == m.width
            palindromic = np.abs(m.pwm - m.pwm[::-1, ::-1]).mean() < 0.05  # CEBPB, TP53...
            assert palindromic or own["Orientation"] == orientation


def test_offset_of_a_truncated_query(jaspar):
    ctcf = next(m for m in jaspar.motifs if m.id == "MA0139.2")
    query = MemeMotif("cut", "", ctcf.pwm[3:12].copy())  # target columns 3..11
    table = compare_motifs(MemeFile(Path("q"), [query], None), jaspar, n_threads=1)
    top = table.iloc[0]
    assert top["Target_ID"] == "MA0139.2"
    assert top["Optimal_offset"] == 3 and top["Overlap"] == 9 and top["Orientation"] == "+"
    assert top["Target_consensus"] == "".join("ACGT"[i] for i in ctcf.pwm.argmax(axis=1))


def test_span_survival_against_numpy_convolution():
    rng = np.random.default_rng(3)
    w, n_bins = 6, 20
    pmf = rng.random((w, n_bins + 1)) ** 3
    pmf /= pmf.sum(axis=1, keepdims=True)
    out = np.empty((w, w, w * n_bins + 1))
    _compare.span_survival(pmf, out, n_threads=2)
    for a in range(w):
        dist = pmf[a]
        for b in range(a, w):
            if b > a:
                dist = np.convolve(dist, pmf[b])
            tail = np.cumsum(dist[::-1])[::-1]
            np.testing.assert_allclose(out[a, b, :len(tail)], tail, rtol=1e-12, atol=1e-300)


def test_best_alignments_against_brute_force():
    rng = np.random.default_rng(4)
    w, n_bins = 5, 10
    widths = [3, 5, 8, 1]
    starts = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
    scores = rng.integers(0, n_bins + 1, size=(starts[-1], w)).astype(np.int32)
    pmf = rng.random((w, n_bins + 1))
    pmf /= pmf.sum(axis=1, keepdims=True)
    medians = rng.integers(0, n_bins + 1, size=w).astype(np.int64)
    sv = np.empty((w, w, w * n_bins + 1))
    _compare.span_survival(pmf, sv)
    n = len(widths)
    out = [np.empty(n, np.int64) for _ in range(3)] + [np.empty(n)]
    _compare.best_alignments(scores, starts, 0, medians, sv, *out)
    for t, wt in enumerate(widths):
        best = None
        offsets = range(-(w - 1), wt)
        for o in offsets:
            aligned = [i for i in range(w) if 0 <= i + o < wt]
            s = sum(int(scores[starts[t] + i + o, i]) for i in aligned) + sum(
                int(medians[i]) for i in range(w) if i not in aligned)
            if best is None or s > best[0] or (s == best[0] and len(aligned) > best[2]):
                best = (s, o, len(aligned))
        assert (out[0][t], out[1][t], out[2][t]) == best
        cdf = 1.0
        for o in offsets:
            aligned = [i for i in range(w) if 0 <= i + o < wt]
            x = best[0] - sum(int(medians[i]) for i in range(w) if i not in aligned)
            tail = 1.0 if x <= 0 else (0.0 if x > len(aligned) * n_bins
                                       else sv[aligned[0], aligned[-1], x])
            cdf *= 1.0 - tail
        assert out[3][t] == pytest.approx(1.0 - cdf, rel=1e-9)


def test_column_scores():
    q = np.array([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    cols = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7], [0.4, 0.3, 0.2, 0.1]])
    pcc = column_scores(q, cols, "pearson")
    assert pcc[0, 0] == pytest.approx(1.0) and pcc[1, 0] == pytest.approx(-1 / 3)
    assert np.all(pcc[:, 1] == 0.0)  # a uniform column correlates 0 with everything
    assert pcc[2, 0] == pytest.approx(np.corrcoef(q[0], cols[2])[0, 1])
    ed = column_scores(q, cols, "ed")
    assert ed[1, 0] == pytest.approx(-np.linalg.norm(q[0] - cols[1]))


def test_qvalues():
    p = np.random.default_rng(0).random(500) ** 3
    np.testing.assert_allclose(bh_qvalues(p), false_discovery_control(p), rtol=1e-12)
    pi0 = min(1.0, np.mean(p > 0.5) / 0.5)
    np.testing.assert_allclose(storey_qvalues(p), np.minimum(bh_qvalues(p) * pi0, 1.0))
    # only the smallest of n_tests p-values kept (FIMO's hits): BH with the full count
    full = np.concatenate([p, np.ones(100)])
    np.testing.assert_allclose(bh_qvalues(p, n_tests=600), bh_qvalues(full)[:500])


def test_agrees_with_memelite_euclidean(jaspar):
    pytest.importorskip("memelite", reason="memelite absent")
    from memelite import tomtom

    queries = read_meme_file(TEN)
    pvals, _, offsets, overlaps, strands = tomtom([m.pwm.T for m in queries.motifs],
                                                  [m.pwm.T for m in jaspar.motifs])
    ours = compare_motifs(queries, jaspar, dist="ed", thresh=None, n_threads=1)
    ids = [m.id for m in jaspar.motifs]
    for i, q in enumerate(queries.motifs):
        mine = ours[ours["Query_ID"] == q.id].set_index("Target_ID").loc[ids]
        # same method (Euclidean columns, complete scores, max over offsets): ranks agree
        assert spearmanr(mine["p-value"], pvals[i]).statistic > 0.99
        top = int(np.argmin(pvals[i]))
        assert mine["p-value"].idxmin() == ids[top]
        # the top ten matches: same offsets, overlaps and strands (a palindromic query can
        # match both strands equally; ties are broken differently)
        palindromic = np.abs(q.pwm - q.pwm[::-1, ::-1]).mean() < 0.05
        for k in np.argsort(pvals[i])[:0 if palindromic else 10]:
            row = mine.loc[ids[k]]
            assert row["Optimal_offset"] == offsets[i, k]
            assert row["Overlap"] == overlaps[i, k]
            assert row["Orientation"] == ("-" if strands[i, k] else "+")
        # and the p-values of matches within 10 % in log10 from 1e-3 down to 1e-20
        sel = (pvals[i] < 1e-3) & (pvals[i] > 1e-20)
        if sel.any():
            ratio = np.log10(mine["p-value"].to_numpy()[sel]) / np.log10(pvals[i][sel])
            assert np.all(np.abs(ratio - 1) < 0.1)


def test_annotate_sets_match(jaspar):
    rng = np.random.default_rng(11)
    spi1 = next(m for m in jaspar.motifs if m.id == "MA0080.7")
    motif = Motif("1", _noisy_copy(rng, spi1.pwm)[::-1, ::-1].copy(), 25, 10.0, -5.0,
                  pd.DataFrame())
    wide = Motif("2", np.full((61, 4), 0.25), 25, 1.0, 0.0, pd.DataFrame())
    annotate([motif, wide], jaspar, n_threads=1)
    assert wide.match is None  # too wide to compare: no match, a warning
    assert isinstance(motif.match, MotifMatch)
    assert motif.match.target_id in ("MA0080.7", "MA0081.3")  # Spi1 or its paralogue SPIB
    assert motif.match.orientation == "-" and motif.match.q_value < 0.05
    assert motif.match.target_name in ("Spi1", "SPIB")


def test_found_motif_gets_its_database_match(tmp_path, jaspar):
    rng = np.random.default_rng(21)
    tp53 = next(m for m in jaspar.motifs if m.id == "MA0106.3")
    planted = plant(rng, tp53.pwm, 30, 150, model="oops")
    fasta = tmp_path / "p53.fa"
    planted.write_fasta(fasta)
    out = tmp_path / "out"
    assert main(["motif", str(fasta), "-o", str(out), "--mod", "oops", "--minw", "18",
                 "--maxw", "18", "--db", str(JASPAR), "-p", "1", "-q"]) == 0
    table = pd.read_csv(out / "motifs.tsv", sep="\t")
    assert list(table.columns[-3:]) == ["db_match", "db_match_name", "db_match_q"]
    assert table["db_match"].iloc[0] == "MA0106.3" and table["db_match_name"].iloc[0] == "TP53"
    assert table["db_match_q"].iloc[0] < 1e-3


def test_cli_writes_tomtom_tsv(tmp_path):
    out = tmp_path / "tt"
    assert main(["motif", "compare", str(TEN), "--db", str(JASPAR), "-o", str(out), "-q",
                 "--thresh", "0.1"]) == 0
    table = pd.read_csv(out / "tomtom.tsv", sep="\t", comment="#")
    # Tomtom's closing comments: program, format page, the command line
    last = (out / "tomtom.tsv").read_text().splitlines()[-3:]
    assert last[0].startswith("# Tomtom") and "tomtom-output-format" in last[1]
    assert last[2].startswith("# emseq motif compare ") and last[2].endswith("--thresh 0.1")
    assert list(table.columns) == TOMTOM_COLUMNS
    assert (table["q-value"] <= 0.1).all()
    assert set(table["Query_ID"]) == {m.id for m in read_meme_file(TEN).motifs}
    self_hits = table[table["Query_ID"] == table["Target_ID"]]
    assert len(self_hits) == 10


def test_default_output_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["motif", "compare", str(TEN), "--db", str(JASPAR), "-q"]) == 0
    assert (tmp_path / "tomtom_out" / "tomtom.tsv").is_file()


def _bad(tmp_path, capsys, args):
    out = tmp_path / "bad_out"
    code = main(["motif", "compare", *map(str, args), "-o", str(out), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("emseq motif compare: error:"), err
    assert "Traceback" not in err[0]
    assert not out.exists()
    return code, err[0]


#: bad motif files: (name, content, where it goes, what the one-line error says)
BAD_FILES = [
    ("empty", "", "query", "empty"),
    ("no motif", "MEME version 4\n\nALPHABET= ACGT\n", "query", "no motif"),
    ("short row", "MEME version 4\n\nMOTIF m1\nletter-probability matrix: alength= 4 w= 2\n"
                  "0.1 0.2 0.3 0.4\n0.5 0.6 0.7\n", "query", "bad.meme:6"),
    ("protein", "MEME version 5\n\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n", "db", "not DNA"),
    ("five letters", "MEME version 4\n\nMOTIF m\nletter-probability matrix: alength= 5 w= 1\n"
                     "0.2 0.2 0.2 0.2 0.2\n", "db", "alength= 5"),
    ("missing db", None, "db", "bad.meme"),
    ("too wide", "MEME version 4\n\nMOTIF wide\nletter-probability matrix: alength= 4 w= 61\n"
                 + "0.25 0.25 0.25 0.25\n" * 61, "query", "61 columns"),
]


@pytest.mark.parametrize("name,content,where,fragment", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_motif_file(tmp_path, capsys, name, content, where, fragment):
    bad = tmp_path / "bad.meme"
    if content is not None:
        bad.write_text(content)
    args = [bad, "--db", JASPAR] if where == "query" else [TEN, "--db", bad]
    code, msg = _bad(tmp_path, capsys, args)
    assert code == 1 and fragment in msg


@pytest.mark.parametrize("args,fragment", [([], "--db"), (["--db", JASPAR, "--dist", "x"],
                                                           "--dist")])
def test_usage_errors(tmp_path, capsys, args, fragment):
    code, msg = _bad(tmp_path, capsys, [TEN, *args])
    assert code == 2 and fragment in msg


def test_discovery_with_a_bad_db_fails_before_the_search(tmp_path, capsys):
    out = tmp_path / "o"
    code = main(["motif", str(DATA / "crp0.s"), "-o", str(out), "--db",
                 str(tmp_path / "missing.meme"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "missing.meme" in err[0]
    assert not out.exists()
