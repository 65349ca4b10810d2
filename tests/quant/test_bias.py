"""Bias models and the learnt alignment term, on the bundled demo (unbiased bowtie2 BAM)."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from emseq.errors import UsageError
from emseq.quant import load_transcripts, quantify

DATA = Path(__file__).resolve().parents[2] / "data" / "quant"
BAM, FASTA = DATA / "demo.bam", DATA / "demo_transcripts.fa.gz"


@pytest.fixture(scope="module")
def index():
    return load_transcripts(FASTA)


@pytest.fixture(scope="module")
def plain(index):
    return quantify(BAM, index, n_threads=1, seq_bias=False, gc_bias=False)


@pytest.fixture(scope="module")
def corrected(index):
    return quantify(BAM, index, n_threads=1, seq_bias=True, gc_bias=True, pos_bias=True)


def test_learnt_score_scale_matches_the_simulated_error_rate(plain):
    stats = plain.eq_classes.stats
    # the demo reads carry 0.5% substitutions at Q40 (bowtie2: 6 AS points per mismatch)
    assert stats["score_exp_learnt"]
    assert 0.004 < stats["error_rate"] < 0.006
    assert stats["as_penalty_per_edit"] == pytest.approx(6.0, abs=0.5)
    e = stats["error_rate"]
    assert stats["score_exp"] == pytest.approx(np.log((1 - e) / (e / 3)) / 6.0, rel=0.1)


def test_score_exp_override_is_kept(index):
    r = quantify(BAM, index, n_threads=1, score_exp=2.0)
    assert r.eq_classes.stats["score_exp"] == 2.0
    assert not r.eq_classes.stats["score_exp_learnt"]


def test_unbiased_data_changes_little(plain, corrected):
    assert corrected.bias is not None
    ratio = corrected.bias.correction
    assert np.percentile(ratio, 5) > 0.8 and np.percentile(ratio, 95) < 1.25
    x, y = plain.abundances["TPM"], corrected.abundances["TPM"]
    expressed = (x > 1) | (y > 1)
    assert spearmanr(x[expressed], y[expressed])[0] > 0.99
    _, curve = corrected.bias.gc_ratio_curve()
    obs = corrected.bias.gc_obs / corrected.bias.gc_obs.sum()
    busy = obs > 0.02   # bins holding most fragments: observed close to expected
    assert np.all(np.abs(curve[busy] - 1) < 0.25)


def test_objective_never_decreases_after_correction(corrected):
    trace = corrected.convergence["log_likelihood"].to_numpy()
    assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace[1:]))


def test_outputs_and_meta_flags(corrected, tmp_path):
    out = corrected.write(tmp_path / "q")
    meta = json.loads((out / "aux_info" / "meta_info.json").read_text())
    assert meta["seq_bias_correct"] and meta["gc_bias_correct"] and meta["pos_bias_correct"]
    for name in ("obs_gc.gz", "exp_gc.gz", "obs5_seq.gz", "exp5_seq.gz", "obs3_seq.gz",
                 "exp3_seq.gz", "obs_pos.gz", "exp_pos.gz"):
        lines = gzip.open(out / "aux_info" / name, "rt").read().splitlines()
        assert len(lines) > 5
    assert lines[0] == "length_class\tupper_bound\tbin\tweight"
    # the report grows the GC and positional panels (drawing errors are only warnings)
    png = (out / "report.png").read_bytes()
    assert png[:4] == b"\x89PNG"
    height = int.from_bytes(png[20:24], "big")
    assert height > 800   # three rows of panels at 80 dpi (two rows: 600)


def test_too_few_fragments_falls_back_with_a_warning(index):
    import logging

    from emseq.quant.bias import BiasOptions

    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("emseq.quant.bias")
    logger.addHandler(handler)
    try:
        r = quantify(BAM, index, n_threads=1, gc_bias=True,
                     bias_options=BiasOptions(min_fragments=10**9))
    finally:
        logger.removeHandler(handler)
    assert r.bias is None
    assert any("at least" in m and "needed" in m for m in messages)


def test_gc_bias_without_sequences_is_a_usage_error():
    with pytest.raises(UsageError, match="transcript sequences"):
        quantify(BAM, None, gc_bias=True)


def test_cli_gc_bias_without_fasta_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "emseq", "quant", "-a", str(BAM), "--gcBias",
                           "-o", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "transcripts" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_sequence_and_gc_correction_are_the_default_with_sequences(index):
    r = quantify(BAM, index, n_threads=1)
    assert r.bias is not None
    assert r.bias.options.seq and r.bias.options.gc and not r.bias.options.pos
    assert quantify(BAM, None, n_threads=1).bias is None   # no sequences: nothing to learn


def test_default_correction_on_a_small_sample_is_skipped_quietly(index):
    import logging

    from emseq.quant.bias import BiasOptions

    levels = []
    handler = logging.Handler()
    handler.emit = lambda record: levels.append(record.levelno)
    logger = logging.getLogger("emseq.quant.bias")
    logger.addHandler(handler)
    try:
        r = quantify(BAM, index, n_threads=1, bias_options=BiasOptions(min_fragments=10**9))
    finally:
        logger.removeHandler(handler)
    assert r.bias is None and levels and max(levels) < logging.WARNING


def test_cli_no_bias_correction(tmp_path):
    out = tmp_path / "o"
    proc = subprocess.run([sys.executable, "-m", "emseq", "quant", "-a", str(BAM), "-t",
                           str(FASTA), "--no-bias-correction", "--no-report", "-q", "-o",
                           str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((out / "aux_info" / "meta_info.json").read_text())
    assert not meta["seq_bias_correct"] and not meta["gc_bias_correct"]
    assert not (out / "aux_info" / "obs_gc.gz").exists()
    proc = subprocess.run([sys.executable, "-m", "emseq", "quant", "-a", str(BAM), "-t",
                           str(FASTA), "--no-bias-correction", "--gcBias", "-o",
                           str(tmp_path / "o2")], capture_output=True, text=True)
    assert proc.returncode == 2 and "contradicts" in proc.stderr


def test_explicit_flags_win_over_the_bias_options():
    """seq_bias=False kept sequence correction on when BiasOptions(seq=True) asked for it,
    while quantify()'s docstring says the flags override the options when set."""
    from emseq.quant.bias import BiasOptions, resolve_bias

    asked = BiasOptions(seq=True, gc=True)
    off = resolve_bias(asked, seq=False, gc=False, has_sequences=True)
    assert not off.seq and not off.gc
    kept = resolve_bias(asked, seq=None, gc=None, has_sequences=False)
    assert kept.seq and kept.gc
    default = resolve_bias(None, seq=None, gc=None, has_sequences=True)
    assert default.seq and default.gc and not default.pos
    assert not resolve_bias(None, None, None, has_sequences=False).seq
