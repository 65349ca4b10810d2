"""``python -m tests.fuzz --cases 5000``: a longer fuzz campaign, with its counts.

Prints one line per case that is not clean or accepted, then the counts by outcome and by
family (as TSV with ``--tsv FILE``). ``--emseq PATH`` tests the emseq tree at PATH (its
extensions built) instead of this one, e.g. to measure a campaign before a fix.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from .campaign import OUTCOMES, run_campaign, summarize

ROOT = Path(__file__).resolve().parents[2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--first", type=int, default=0, help="first case index")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=60, help="seconds per case")
    parser.add_argument("--emseq", type=Path, default=ROOT, help="emseq tree to test")
    parser.add_argument("--family", action="append", help="only these case families")
    parser.add_argument("--tsv", type=Path, help="write the counts by family here")
    parser.add_argument("--keep", action="store_true", help="keep the inputs of every case")
    args = parser.parse_args(argv)

    seen: list = []

    def report(outcome):
        seen.append(outcome)
        if outcome.kind not in ("clean", "accepted"):
            print(outcome.line(), flush=True)
        if args.tsv and len(seen) % 50 == 0:  # counts so far, should the campaign be stopped
            _write_counts(args.tsv, seen, partial=True)

    with tempfile.TemporaryDirectory(prefix="emseq-fuzz-") as tmp:
        work = Path(tmp) if not args.keep else Path(tempfile.mkdtemp(prefix="emseq-fuzz-"))
        outcomes = run_campaign(args.cases, seed=args.seed, work=work, emseq_path=args.emseq,
                                jobs=args.jobs, timeout=args.timeout, first=args.first,
                                families=args.family, keep=args.keep, on_outcome=report)
    text = _write_counts(args.tsv, outcomes, partial=False)
    print(text, end="")
    counts = summarize(outcomes)
    bad = sum(counts[k] for k in ("crash", "hang", "silent", "messy"))
    return 1 if bad else 0


def _write_counts(path: Path | None, outcomes: list, partial: bool) -> str:
    """The counts by outcome, then by family, as TSV (written to ``path`` if given)."""
    counts = summarize(outcomes)
    by_family: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        by_family[o.case.family][o.kind] += 1
    rows = ["family\t" + "\t".join(OUTCOMES)]
    for family in sorted(by_family):
        rows.append(family + "\t" + "\t".join(str(by_family[family][k]) for k in OUTCOMES))
    text = ("\t".join(counts) + "\n" + "\t".join(map(str, counts.values())) + "\n\n"
            + "\n".join(rows) + "\n" + ("(partial: the campaign was still running)\n"
                                         if partial else ""))
    if path is not None:
        path.write_text(text)
    return text


if __name__ == "__main__":
    sys.exit(main())
