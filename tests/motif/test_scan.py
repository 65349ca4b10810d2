"""`emseq motif scan` (FIMO's method): exact p-values, planted sites, the peers, bad input."""

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emseq.cli import main
from emseq.motif.alphabet import encode
from emseq.motif.meme import MemeFile, MemeMotif, read_meme_file
from emseq.motif.scan import (FIMO_COLUMNS, log_odds, scaled_matrix, scan_sequences,
                              score_pvalues)

DATA = Path(__file__).resolve().parents[2] / "data" / "motif"
TEN = DATA / "jaspar2026_core_vert10.meme"
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def _revcomp(word: str) -> str:
    return word.translate(COMPLEMENT)[::-1]


@pytest.mark.parametrize("motif_id,background", [
    ("MA0148.5", (0.25, 0.25, 0.25, 0.25)),   # FOXA1, w = 8
    ("MA0039.5", (0.3, 0.2, 0.2, 0.3)),       # KLF4, w = 8, skewed background
    ("MA0002.3", (0.25, 0.25, 0.25, 0.25)),   # Runx1, w = 9, first 7 columns
])
def test_pvalue_equals_enumeration_of_every_word(motif_id, background):
    motif = next(m for m in read_meme_file(TEN).motifs if m.id == motif_id)
    pwm = motif.pwm[:7] if motif.width > 8 else motif.pwm
    motif = MemeMotif(motif.id, motif.alt_id, pwm, motif.nsites)
    bg = np.array(background)
    ints, lo_min, scale = scaled_matrix(log_odds(motif, bg))
    survival = score_pvalues(ints, bg)
    w = len(ints)
    # every one of the 4^w words, its integer score and its probability
    words = np.array(list(itertools.product(range(4), repeat=w)))
    scores = ints[np.arange(w), words].sum(axis=1)
    probs = bg[words].prod(axis=1)
    assert probs.sum() == pytest.approx(1.0)
    for s in np.unique(scores):
        exact = probs[scores >= s].sum()
        assert survival[s] == pytest.approx(exact, rel=1e-9, abs=1e-300)


def test_scan_pvalue_against_enumerated_raw_scores():
    """Every window's p-value is the tail of its integer score, and within the rounding of
    the integer scale of the exact tail of its raw log-odds score over all 4^w words."""
    motif = next(m for m in read_meme_file(TEN).motifs if m.id == "MA0148.5")  # w = 8
    bg = np.full(4, 0.25)
    lo = log_odds(motif, bg)
    w = motif.width
    words = np.array(list(itertools.product(range(4), repeat=w)))
    raw_all = np.sort(lo[np.arange(w), words].sum(axis=1))
    rng = np.random.default_rng(2)
    seqs = ["".join(rng.choice(list("ACGT"), 3000)) for _ in range(2)]
    hits = scan_sequences(MemeFile(Path("m"), [motif], None), encode(seqs), thresh=1.0,
                          bfile="uniform", both_strands=False, n_threads=1)
    assert len(hits) == 2 * (3000 - w + 1)  # thresh 1: every window
    exact = 1.0 - np.searchsorted(raw_all, hits["score"].to_numpy() - 1e-9) / len(raw_all)
    ratio = hits["p-value"].to_numpy() / exact
    # one integer step is 1/100 of the matrix range per column: the tails agree within it
    assert np.median(np.abs(np.log(ratio))) < 0.05
    small = exact < 1e-3
    assert small.sum() > 0 and np.all(np.abs(np.log(ratio[small])) < np.log(2.0))


def test_planted_sites_found_at_their_coordinates_on_both_strands(tmp_path):
    rng = np.random.default_rng(13)
    motifs = read_meme_file(TEN)
    ctcf = next(m for m in motifs.motifs if m.id == "MA0139.2")
    site = "".join("ACGT"[i] for i in np.argmax(ctcf.pwm, axis=1))
    planted = []  # (sequence, start 1-based, strand)
    records = []
    for i in range(6):
        seq = list("".join(rng.choice(list("ACGT"), 2000)))
        for j, strand in enumerate("+-"):
            start = 200 + 700 * j + 37 * i
            word = site if strand == "+" else _revcomp(site)
            seq[start - 1:start - 1 + len(site)] = word
            planted.append((f"chr{i}", start, strand))
        records.append(f">chr{i} planted\n" + "".join(seq))
    fasta = tmp_path / "planted.fa"
    fasta.write_text("\n".join(records) + "\n")
    out = tmp_path / "scan"
    assert main(["motif", "scan", str(TEN), str(fasta), "-o", str(out), "--bfile", "uniform",
                 "--motif", "MA0139.2", "-q"]) == 0
    hits = pd.read_csv(out / "fimo.tsv", sep="\t", comment="#")
    assert list(hits.columns) == FIMO_COLUMNS
    found = set(zip(hits["sequence_name"], hits["start"], hits["strand"]))
    assert set(planted) <= found
    for name, start, strand in planted:
        row = hits[(hits["sequence_name"] == name) & (hits["start"] == start)
                   & (hits["strand"] == strand)].iloc[0]
        assert row["stop"] == start + len(site) - 1
        assert row["matched_sequence"] == site  # the site as the motif reads it
        assert row["p-value"] < 1e-8
    # q-values: BH over all tested windows, so never below the p-value times tests / rank
    assert (hits["q-value"] >= hits["p-value"]).all()


def test_sequence_background_and_single_strand(tmp_path):
    rng = np.random.default_rng(1)
    data = encode(["".join(rng.choice(list("ACGT"), 5000, p=[0.4, 0.1, 0.1, 0.4]))
                   for _ in range(4)])
    both = scan_sequences(TEN, data, bfile="sequence", n_threads=1)
    plus = scan_sequences(TEN, data, bfile="sequence", both_strands=False, n_threads=1)
    assert set(plus["strand"]) <= {"+"}
    assert both.attrs["n_tested"]["MA0139.2"] == 2 * plus.attrs["n_tested"]["MA0139.2"]
    assert "sequences" in both.attrs["background"]
    # an AT-rich background: hits are at least as many as the windows * threshold suggests
    assert len(both) > 0


def test_bfile_is_read(tmp_path):
    bfile = tmp_path / "bg.txt"
    bfile.write_text("# order 0\nA 0.3\nC 0.2\nG 0.2\nT 0.3\n")
    data = encode(["ACGT" * 500])
    hits = scan_sequences(TEN, data, bfile=bfile, thresh=1e-2, n_threads=1)
    assert str(bfile) in hits.attrs["background"]


def test_agrees_with_pymemesuite():
    pytest.importorskip("pymemesuite", reason="pymemesuite (MEME's FIMO) absent")
    from pymemesuite.common import Alphabet, Background, MotifFile, Sequence
    from pymemesuite.fimo import FIMO

    rng = np.random.default_rng(5)
    seqs = ["".join(rng.choice(list("ACGT"), 50_000)) for _ in range(4)]
    ours = scan_sequences(TEN, encode(seqs), bfile="uniform", n_threads=1)
    rows = []
    with MotifFile(str(TEN)) as motif_file:
        motifs = list(motif_file)
    sequences = [Sequence(s, name=f"seq{i + 1}".encode()) for i, s in enumerate(seqs)]
    for motif in motifs:
        pattern = FIMO(both_strands=True, threshold=1e-4).score_motif(
            motif, sequences, Background.from_uniform(Alphabet.dna()))
        for e in pattern.matched_elements:
            rows.append((motif.accession.decode(), e.source.accession.decode(),
                         min(e.start, e.stop), e.strand, e.pvalue))
    theirs = pd.DataFrame(rows, columns=["motif_id", "sequence_name", "start", "strand", "p"])
    merged = ours.merge(theirs, on=["motif_id", "sequence_name", "start", "strand"])
    # the same windows: >= 90 % of either side's hits in common (the rest sit at the threshold,
    # where MEME's pseudocount, spread by its own background, moves the integer score by one)
    assert len(merged) >= 0.9 * max(len(ours), len(theirs))
    ratio = merged["p-value"] / merged["p"]
    assert ratio.median() == pytest.approx(1.0, abs=0.05)


def test_agrees_with_memelite():
    pytest.importorskip("memelite", reason="memelite absent")
    from memelite.fimo import fimo

    rng = np.random.default_rng(6)
    seqs = ["".join(rng.choice(list("ACGT"), 20_000)) for _ in range(3)]
    onehot = np.zeros((3, 4, 20_000), dtype=np.float32)
    for i, s in enumerate(seqs):
        onehot[i, ["ACGT".index(c) for c in s], np.arange(len(s))] = 1
    motifs = read_meme_file(TEN).motifs
    frames = fimo({m.id: m.pwm.T for m in motifs}, onehot, threshold=1e-4)
    theirs = pd.concat(frames, ignore_index=True)
    theirs = pd.DataFrame({"motif_id": theirs["motif_name"],
                           "sequence_name": [f"seq{i + 1}" for i in theirs["sequence_name"]],
                           "start": theirs["start"] + 1, "strand": theirs["strand"]})
    ours = scan_sequences(MemeFile(Path("m"), motifs, None), encode(seqs), bfile="uniform",
                          n_threads=1)
    common = ours.merge(theirs, on=["motif_id", "sequence_name", "start", "strand"])
    # memelite bins scores by 0.1 bit with its own pseudocount: the hits near the threshold
    # differ (on 1 Mbp, 95 % of MEME's hits are found by each, benchmarks/bench_motif_tools.py)
    assert len(common) >= 0.85 * max(len(ours), len(theirs))


def _bad(tmp_path, capsys, args):
    out = tmp_path / "bad_out"
    code = main(["motif", "scan", *map(str, args), "-o", str(out), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("emseq motif scan: error:"), err
    assert not out.exists()
    return code, err[0]


def test_bad_inputs(tmp_path, capsys):
    fasta = tmp_path / "s.fa"
    fasta.write_text(">a\nACGTACGTACGTAAAA\n")
    empty = tmp_path / "empty.meme"
    empty.write_text("")
    assert _bad(tmp_path, capsys, [empty, fasta]) == (1, f"emseq motif scan: error: {empty}: "
                                                         "motif file is empty")
    malformed = tmp_path / "bad.meme"
    malformed.write_text("MEME version 4\n\nMOTIF x\nletter-probability matrix: alength= 4 w= 2\n"
                         "0.25 0.25 0.25 0.25\n")
    code, msg = _bad(tmp_path, capsys, [malformed, fasta])
    assert code == 1 and "w= 2" in msg
    protein = tmp_path / "protein.meme"
    protein.write_text("MEME version 4\n\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n\nMOTIF p\n")
    code, msg = _bad(tmp_path, capsys, [protein, fasta])
    assert code == 1 and "not DNA" in msg
    code, msg = _bad(tmp_path, capsys, [TEN, tmp_path / "missing.fa"])
    assert code == 1 and "missing.fa" in msg
    code, msg = _bad(tmp_path, capsys, [TEN, fasta, "--thresh", "2"])
    assert code == 2 and "--thresh" in msg
    code, msg = _bad(tmp_path, capsys, [TEN, fasta, "--motif", "NOPE"])
    assert code == 1 and "NOPE" in msg
    code, msg = _bad(tmp_path, capsys, [TEN])
    assert code == 2
