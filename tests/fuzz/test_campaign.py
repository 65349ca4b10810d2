"""The bounded fuzz campaign of every test run: a few hundred seeded cases over BAM bytes and
records, SAM, FASTA, tables and sample sheets (tests/fuzz/cases.py), each run by the real
command line in a forked child. Every case must end in a clean refusal (exit 1 or 2, at most
three lines on stderr, no traceback, nothing left behind) or, where the mutation may leave a
valid input, in a normal run: never a crash, a hang or an invalid input accepted."""

from __future__ import annotations

from pathlib import Path

from .campaign import run_campaign, summarize

ROOT = Path(__file__).resolve().parents[2]
#: Cases of the campaign run by every test run (~1.5 min on 2 shared cores)
N_CASES = 300
SEED = 12


def test_bounded_campaign_has_no_crash_hang_or_silent_acceptance(tmp_path):
    outcomes = run_campaign(N_CASES, seed=SEED, work=tmp_path, emseq_path=ROOT, jobs=2,
                            timeout=120)
    counts = summarize(outcomes)
    bad = [o.line() for o in outcomes if o.kind in ("crash", "hang", "silent", "messy")]
    assert not bad, f"{counts}\n" + "\n".join(bad)
    assert counts["cases"] == N_CASES
    # the campaign exercises refusals, not only valid runs
    assert counts["clean"] >= N_CASES // 2, counts


def test_regression_cases_are_refused_cleanly(tmp_path):
    """Every family that once crashed or was accepted silently (issue 12), 10 cases each."""
    families = ["bam_segfault_reproducers", "bam_everything_moved", "bam_not_bgzf",
                "tx2gene_table", "sample_sheet"]
    outcomes = run_campaign(50, seed=SEED + 1, work=tmp_path, emseq_path=ROOT, jobs=2,
                            timeout=120, families=families)
    assert [o.line() for o in outcomes if o.kind != "clean"] == []
