"""Bias models against planted biases: BAMs written with pysam from a seeded simulation whose
fragments are thinned by a known GC, read-start or positional acceptance curve.

The truth is the abundance of molecules (what the fragments were drawn from before thinning),
not the kept fragment counts.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from emseq.quant import load_transcripts, quantify
from emseq.quant.bias import BiasOptions

from .simulate import Transcriptome, simulate, write_bam

GC_SD = 0.1       # planted GC curve: exp(-(g - 0.5)^2 / (2 GC_SD^2))
POS_SLOPE = 1.5   # planted 3' bias: exp(-POS_SLOPE (1 - x)), x the midpoint's relative position
#: planted read-start preference: acceptance of the first base of each fragment end
START_BASE = {"A": 0.25, "C": 0.6, "G": 1.0, "T": 0.4, "N": 0.5}
_COMP = str.maketrans("ACGTN", "TGCAN")


def gc_transcriptome(seed: int = 5, n_genes: int = 16) -> Transcriptome:
    """Genes of 5 exons whose GC content differs from gene to gene (0.3 to 0.7), with the
    isoform patterns of :func:`simulate.make_transcriptome`; one isoform carries an N run and
    one transcript is shorter than any fragment."""
    rng = np.random.default_rng(seed)
    names, seqs, genes = [], [], []
    for g in range(n_genes):
        gc = 0.3 + 0.4 * g / (n_genes - 1)
        probs = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
        exons = ["".join(rng.choice(list("ACGT"), size=int(rng.integers(250, 500)), p=probs))
                 for _ in range(5)]
        patterns = [(0, 1, 2, 3, 4), (0, 2, 3, 4), (0, 2, 4)][: 1 + g % 3]
        for i, pattern in enumerate(patterns):
            seq = "".join(exons[e] for e in pattern)
            if g == 4 and i == 0:
                seq = seq[:300] + "N" * 120 + seq[420:]
            names.append(f"G{g:02d}-T{i}")
            seqs.append(seq)
            genes.append(f"G{g:02d}")
    names.append("SHORT-T0")
    seqs.append("".join(rng.choice(list("ACGT"), size=120)))
    genes.append("SHORT")
    return Transcriptome(names, seqs, genes)


def gc_acceptance(seq: str, start: int, length: int) -> float:
    frag = seq[start:start + length]
    g = (frag.count("G") + frag.count("C")) / length
    return float(np.exp(-(g - 0.5) ** 2 / (2 * GC_SD ** 2)))


def pos_acceptance(seq: str, start: int, length: int) -> float:
    x = (start + length / 2) / len(seq)
    return float(np.exp(-POS_SLOPE * (1 - x)))


def start_acceptance(seq: str, start: int, length: int) -> float:
    five = seq[start]
    three = seq[start + length - 1].translate(_COMP)
    return START_BASE[five] * START_BASE[three]


def _quantify_planted(tmp_path, acceptance, *, paired=True, n_fragments=20_000, seed=3, **kw):
    tx = gc_transcriptome()
    rng = np.random.default_rng(seed)
    abundance = rng.lognormal(0.0, 0.8, len(tx.seqs))
    fragments, _ = simulate(tx, abundance, n_fragments, seed=seed, paired=paired,
                            acceptance=acceptance)
    bam, fasta = tmp_path / "planted.bam", tmp_path / "planted.fa"
    write_bam(bam, tx, fragments)
    tx.write_fasta(fasta)
    index = load_transcripts(fasta)
    plain = quantify(bam, index, n_threads=1, seq_bias=False, gc_bias=False)
    corrected = quantify(bam, index, n_threads=1, **kw)
    true_tpm = abundance / abundance.sum() * 1e6
    return tx, true_tpm, plain, corrected


def _log_error(result, true_tpm, names) -> float:
    """Median |log2(estimate / truth)| over the transcripts fragments can be drawn from."""
    est = result.abundances.set_index("Name").loc[names, "TPM"].to_numpy()
    keep = np.array([not n.startswith("SHORT") for n in names])
    return float(np.median(np.abs(np.log2((est[keep] + 1e-3) / true_tpm[keep]))))


@pytest.fixture(scope="module")
def gc_run(tmp_path_factory):
    return _quantify_planted(tmp_path_factory.mktemp("gc"), gc_acceptance, gc_bias=True)


def test_gc_curve_is_recovered(gc_run):
    _, _, _, corrected = gc_run
    model = corrected.bias
    assert model is not None and model.options.gc
    x, ratio = model.gc_ratio_curve()
    share = model.gc_obs / model.gc_obs.sum()
    busy = share > 0.01
    planted = np.exp(-(x - 0.5) ** 2 / (2 * GC_SD ** 2))
    # compare shapes: both normalised to their mean over the busy bins
    learnt = model.gc[busy] / model.gc[busy].mean()
    truth = planted[busy] / planted[busy].mean()
    assert busy.sum() >= 8
    assert np.corrcoef(np.log(learnt), np.log(truth))[0, 1] > 0.9
    assert np.max(np.abs(np.log(learnt / truth))) < 0.5


def test_gc_correction_moves_estimates_towards_the_truth(gc_run):
    tx, true_tpm, plain, corrected = gc_run
    before, after = _log_error(plain, true_tpm, tx.names), _log_error(corrected, true_tpm,
                                                                      tx.names)
    assert after < 0.6 * before, (before, after)
    est = corrected.abundances.set_index("Name").loc[tx.names, "TPM"].to_numpy()
    raw = plain.abundances.set_index("Name").loc[tx.names, "TPM"].to_numpy()
    assert spearmanr(est, true_tpm)[0] > spearmanr(raw, true_tpm)[0]


def test_n_runs_and_short_transcripts_stay_finite(gc_run):
    _, _, _, corrected = gc_run
    table = corrected.abundances.set_index("Name")
    assert np.all(np.isfinite(table["EffectiveLength"])) and np.all(table["EffectiveLength"] >= 1)
    assert np.all(np.isfinite(table["TPM"]))
    assert table.loc["G04-T0", "NumReads"] > 0   # the transcript with an N run is quantified


def test_objective_never_decreases_on_biased_data(gc_run):
    trace = gc_run[3].convergence["log_likelihood"].to_numpy()
    assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace[1:]))


def test_positional_profile_is_recovered(tmp_path):
    _, _, _, corrected = _quantify_planted(tmp_path, pos_acceptance, n_fragments=15_000,
                                           pos_bias=True)
    model = corrected.bias
    # the length class holding most fragments: its weights rise towards the 3' end
    c = int(np.argmax(model.pos_obs.sum(axis=1)))
    profile = model.pos[c]
    assert spearmanr(np.arange(profile.size), profile)[0] > 0.8
    # the planted curve spans e^1.5 = 4.5 from 5' to 3' (midpoints: a little less)
    assert 2.0 < profile[-3:].mean() / profile[:3].mean() < 8.0


def test_read_start_preference_is_recovered(tmp_path):
    _, _, _, corrected = _quantify_planted(tmp_path, start_acceptance, n_fragments=15_000,
                                           seq_bias=True)
    model = corrected.bias
    from emseq.quant import _bias

    j = _bias.CONTEXT_LEFT            # the read's first base
    for table in (model.log5, model.log3):
        ratio = np.exp(table[j, :4, :]).mean(axis=0)      # A, C, G, T over previous bases
        order = np.argsort(ratio)
        assert list(order) == [0, 3, 1, 2], ratio          # A < T < C < G, as planted
        assert ratio[2] / ratio[0] > 2.0


def test_single_end_gc_correction(tmp_path):
    tx, true_tpm, plain, corrected = _quantify_planted(
        tmp_path, gc_acceptance, paired=False, gc_bias=True,
        bias_options=BiasOptions(min_fragments=2_000))
    assert corrected.bias is not None
    before, after = _log_error(plain, true_tpm, tx.names), _log_error(corrected, true_tpm,
                                                                      tx.names)
    assert after < 0.75 * before, (before, after)


def test_gc_departure_hint_fires_on_biased_data_only(gc_run, tmp_path):
    from emseq.quant.bias import gc_departure

    _, _, plain, _ = gc_run
    table = plain.abundances
    fasta = tmp_path / "planted.fa"
    gc_transcriptome().write_fasta(fasta)
    index = load_transcripts(fasta)
    low, high = gc_departure(index, plain.eq_classes.sample, table["NumReads"].to_numpy(),
                             table["EffectiveLength"].to_numpy(), plain.fragment_length)
    assert high > 1.5 * low, (low, high)   # bias.GC_HINT_SPREAD


def test_gc_departure_is_small_on_unbiased_data(tmp_path):
    from emseq.quant.bias import gc_departure

    _, _, plain, _ = _quantify_planted(tmp_path, None, gc_bias=True)
    table = plain.abundances
    fasta = tmp_path / "planted.fa"
    low, high = gc_departure(load_transcripts(fasta), plain.eq_classes.sample,
                             table["NumReads"].to_numpy(), table["EffectiveLength"].to_numpy(),
                             plain.fragment_length)
    assert high < 1.3 * low, (low, high)   # with 20k fragments; biased: > 1.5
