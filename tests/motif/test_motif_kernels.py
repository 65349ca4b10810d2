"""Kernels against plain NumPy references on tiny inputs; background model against brute force."""

import itertools

import numpy as np
import pytest
from scipy.special import logsumexp

from emseq.motif import _kernels
from emseq.motif.alphabet import encode, revcomp_codes
from emseq.motif.background import Background
from emseq.motif.windows import windows as site_windows


def _random_data(rng, n=5, lo=6, hi=30, unknown=True):
    seqs = []
    for _ in range(n):
        s = list(rng.choice(list("ACGT"), rng.integers(lo, hi)))
        if unknown and len(s) > 8:
            s[rng.integers(len(s))] = "N"
        seqs.append("".join(s))
    return encode(seqs)


def _reference_estep(data, bglp, lp, model, prior, revcomp, erase):
    """Plain NumPy E-step: loops over sequences and windows."""
    w = lp.shape[0]
    counts = np.zeros((w, 4))
    ll_total = 0.0
    for i in range(data.n_sequences):
        a, b = data.offsets[i], data.offsets[i + 1]
        scores, wins = [], []
        for p in range(a, b - w + 1):
            win = data.codes[p:p + w]
            if (win > 3).any():
                continue
            bgw = bglp[p:p + w].sum()
            wt = np.log(erase[p:p + w].min())
            sf = lp[np.arange(w), win].sum() - bgw + wt
            rc = revcomp_codes(win)
            sr = lp[np.arange(w), rc].sum() - bgw + wt if revcomp else -np.inf
            scores.append((sf, sr, bgw))
            wins.append((win, rc))
        if not scores:
            continue
        s = np.array(scores)
        m = len(scores) * (2 if revcomp else 1)
        if model == 2:
            a_ = np.log(prior) - np.log(2 if revcomp else 1)
            for (sf, sr, bgw), (win, rc) in zip(scores, wins):
                terms = [np.log1p(-prior), a_ + sf, a_ + sr]
                lse = logsumexp(terms)
                ll_total += lse + bgw
                counts[np.arange(w), win] += np.exp(a_ + sf - lse)
                counts[np.arange(w), rc] += np.exp(a_ + sr - lse)
            continue
        L = logsumexp(s[:, :2])
        if model == 0:
            ll_total += L - np.log(m)
            post = 1.0
        else:
            a_ = np.log(prior) - np.log(m) + L
            lse = np.logaddexp(np.log1p(-prior), a_)
            ll_total += lse
            post = np.exp(a_ - lse)
        for (sf, sr, _), (win, rc) in zip(scores, wins):
            counts[np.arange(w), win] += post * np.exp(sf - L)
            counts[np.arange(w), rc] += post * np.exp(sr - L)
    return counts, ll_total


@pytest.mark.parametrize("model,prior", [(0, 1.0), (1, 0.3), (2, 0.02)])
@pytest.mark.parametrize("revcomp", [True, False])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_estep_matches_numpy(model, prior, revcomp, n_threads):
    rng = np.random.default_rng(7 + model)
    data = _random_data(rng)
    bg = Background.estimate(data, 1, revcomp=revcomp)
    bglp = bg.logprob(data)
    w = 5
    erase = rng.uniform(0.2, 1.0, len(data.codes))
    win = site_windows(data, bglp, w, erase)
    lp = np.ascontiguousarray(np.log(rng.dirichlet(np.ones(4), size=w)))
    counts = np.zeros((n_threads, w, 4))
    ll = np.zeros(data.n_sequences)
    z = np.zeros(data.n_sequences)
    nn = np.zeros(data.n_sequences)
    buf = np.zeros((n_threads, 2 * int(data.lengths.max()) + 2))
    _kernels.estep(data.codes, data.offsets, lp, win.bgwin, win.logw, model, prior, revcomp,
                   counts, ll, z, nn, buf, n_threads)
    ref_counts, ref_ll = _reference_estep(data, bglp, lp, model, prior, revcomp, erase)
    np.testing.assert_allclose(counts.sum(axis=0), ref_counts, rtol=1e-10, atol=1e-12)
    assert ll.sum() == pytest.approx(ref_ll, rel=1e-10)


def test_best_sites_and_scores_match_numpy():
    rng = np.random.default_rng(3)
    data = _random_data(rng, n=6)
    bg = Background.estimate(data, 0)
    bglp = bg.logprob(data)
    w = 4
    win = site_windows(data, bglp, w, None)
    lps = np.ascontiguousarray(np.log(rng.dirichlet(np.ones(4), size=(3, w))))
    score = np.empty((3, data.n_sequences))
    pos = np.empty((3, data.n_sequences), dtype=np.int64)
    strand = np.empty((3, data.n_sequences), dtype=np.int8)
    _kernels.best_sites(data.codes, data.offsets, lps, win.bgwin, win.logw, True, score, pos,
                        strand, 2)
    for s in range(3):
        fwd = np.empty(len(data.codes))
        rev = np.empty(len(data.codes))
        _kernels.score_windows(data.codes, lps[s], win.bgwin, win.logw, fwd, rev, 1)
        for i in range(data.n_sequences):
            a, b = data.offsets[i], data.offsets[i + 1]
            ref = []
            for p in range(a, b - w + 1):
                win_codes = data.codes[p:p + w]
                if (win_codes > 3).any():
                    assert fwd[p] == -np.inf
                    continue
                bgw = bglp[p:p + w].sum()
                sf = lps[s][np.arange(w), win_codes].sum() - bgw
                sr = lps[s][np.arange(w), revcomp_codes(win_codes)].sum() - bgw
                assert fwd[p] == pytest.approx(sf) and rev[p] == pytest.approx(sr)
                ref += [(sf, p, 1), (sr, p, -1)]
            best = max(ref, key=lambda t: t[0])
            assert score[s, i] == pytest.approx(best[0])
            assert (pos[s, i], strand[s, i]) == (best[1], best[2])


@pytest.mark.parametrize("order", [0, 1, 3])
def test_markov_background_matches_brute_force(order):
    rng = np.random.default_rng(order)
    seqs = ["".join(rng.choice(list("ACGT"), 60)) + "N" + "".join(rng.choice(list("ACGT"), 9))
            for _ in range(4)]
    data = encode(seqs)
    bg = Background.estimate(data, order, revcomp=False, pseudocount=0.1)
    lp = bg.logprob(data)
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    for i, s in enumerate(seqs):
        for j, x in enumerate(s):
            if x == "N":
                assert lp[data.offsets[i] + j] == 0.0
                continue
            start = max(j - order, 0, s.rfind("N", 0, j) + 1)
            ctx = s[start:j]
            o = len(ctx)
            counts = {}
            for t in seqs:
                for part in t.split("N"):
                    for q in range(len(part) - o):
                        word = part[q:q + o + 1]
                        counts[word] = counts.get(word, 0) + 1
            num = counts.get(ctx + x, 0) + 0.1
            den = sum(counts.get(ctx + y, 0) for y in "ACGT") + 0.4
            assert np.exp(lp[data.offsets[i] + j]) == pytest.approx(num / den), (i, j)


def test_revcomp_background_is_strand_symmetric():
    rng = np.random.default_rng(0)
    data = encode(["".join(rng.choice(list("AACGTTT"), 300)) for _ in range(3)])
    bg = Background.estimate(data, 2, revcomp=True)
    assert bg.freqs[0] == pytest.approx(bg.freqs[3])
    assert bg.freqs[1] == pytest.approx(bg.freqs[2])
    # P(word) from the chain equals P(revcomp word) for the order-1 block (joint counts symmetric)
    cond1 = np.exp(bg.logcond[4:20]).reshape(4, 4)
    joint = bg.freqs[:, None] * cond1
    for a, b in itertools.product(range(4), repeat=2):
        assert joint[a, b] == pytest.approx(joint[3 - b, 3 - a], rel=0.05)


def test_background_file_roundtrip(tmp_path):
    path = tmp_path / "bg.txt"
    lines = ["# order 0", "A 0.3", "C 0.2", "G 0.2", "T 0.3", "# order 1"]
    joint = np.full((4, 4), 1 / 16)
    joint[0, 0] = 0.1
    joint /= joint.sum()
    for a, b in itertools.product(range(4), repeat=2):
        lines.append(f"{'ACGT'[a]}{'ACGT'[b]} {joint[a, b]:.6f}")
    path.write_text("\n".join(lines) + "\n")
    bg = Background.read(path)
    assert bg.order == 1
    np.testing.assert_allclose(bg.freqs, [0.3, 0.2, 0.2, 0.3], atol=1e-9)
    cond = np.exp(bg.logcond[4:20]).reshape(4, 4)
    np.testing.assert_allclose(cond, joint / joint.sum(axis=1, keepdims=True), atol=1e-5)
