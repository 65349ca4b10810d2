"""CPU seconds of the ``emseq motif`` command on a small set, start to finish.

A seeded planted set of 20 x 200 bp (CTCF, MA0139.2, in about 70 % of the sequences, uniform
background) is written once; ``python -m emseq motif SET -o OUT -q`` then runs ``--repeats``
times as fresh processes (default threads), and each run's user + system CPU seconds and
peak memory come from ``os.wait4``. ``python -m emseq motif -h`` is timed the same way: the
cost of starting the command (interpreter, imports, parser) before any work. The median of
the repeats is reported beside MEME 5.4.1's recorded 0.6-1.9 CPU s on sets of this size
(issue 13). ``--root DIR`` runs the emseq of another checkout (e.g. the main branch, for a
before/after table).

Usage: ``python benchmarks/bench_motif_cli.py [--repeats 5] [--root DIR ...]``; results in
``benchmarks/results/motif_cli.tsv``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
#: MEME 5.4.1's CPU seconds on 20 x 200 bp sets, as recorded on this kind of machine
MEME_CPU_S = (0.6, 1.9)


def planted_set(path: Path, seed: int = 1) -> None:
    """Write the seeded 20 x 200 bp planted set (FASTA) to ``path``."""
    sys.path.insert(0, str(ROOT))
    from emseq.motif.simulate import plant, read_meme

    pwm = read_meme(ROOT / "data" / "motif" / "jaspar2026_core_vert10.meme")["MA0139.2"]
    plant(np.random.default_rng(seed), pwm, 20, 200, model="zoops",
          zoops_fraction=0.7).write_fasta(path)


def cpu_of(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(user + system CPU seconds, peak MB) of one run of ``argv`` in ``cwd``."""
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {err.strip()[-500:]}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def measure(root: Path, fasta: Path, work: Path, repeats: int) -> dict:
    """Median CPU seconds of ``emseq motif`` and of its start (``-h``) from ``root``."""
    runs, starts, peaks = [], [], []
    for i in range(repeats):
        out = work / f"out{i}"
        cpu, peak = cpu_of([sys.executable, "-m", "emseq", "motif", str(fasta), "-o", str(out),
                            "-q"], root)
        runs.append(cpu)
        peaks.append(peak)
        starts.append(cpu_of([sys.executable, "-m", "emseq", "motif", "-h"], root)[0])
    files = sorted(p.name for p in (work / "out0").iterdir())
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return {"root": str(root), "commit": commit, "repeats": repeats,
            "cpu_s": statistics.median(runs),
            "cpu_s_min": min(runs), "cpu_s_max": max(runs),
            "start_cpu_s": statistics.median(starts), "peak_mb": statistics.median(peaks),
            "meme_cpu_s": f"{MEME_CPU_S[0]}-{MEME_CPU_S[1]}",
            "ratio_to_meme_low": statistics.median(runs) / MEME_CPU_S[0],
            "ratio_to_meme_high": statistics.median(runs) / MEME_CPU_S[1],
            "load_1min": os.getloadavg()[0],
            "files": " ".join(files)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--root", type=Path, action="append", default=None,
                        help="checkout(s) whose emseq to run (default: this one)")
    parser.add_argument("--no-save", action="store_true", help="do not write the TSV")
    args = parser.parse_args()
    roots = args.root or [ROOT]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fasta = Path(tmp) / "planted_20x200.fa"
        planted_set(fasta)
        for k, root in enumerate(roots):
            work = Path(tmp) / f"runs{k}"
            work.mkdir()
            rows.append(measure(root.resolve(), fasta, work, args.repeats))
    print(f"{'emseq checkout':40s} {'commit':>9s} {'CPU s':>6s} {'(min-max)':>11s} {'start':>6s} "
          f"{'peak MB':>8s} {'MEME CPU s':>11s}")
    for row in rows:
        print(f"{row['root'][-40:]:40s} {row['commit']:>9s} {row['cpu_s']:6.2f} "
              f"({row['cpu_s_min']:.2f}-{row['cpu_s_max']:.2f}) {row['start_cpu_s']:6.2f} "
              f"{row['peak_mb']:8.0f} {row['meme_cpu_s']:>11s}")
        print(f"  files: {row['files']}; load {row['load_1min']:.1f}")
    if not args.no_save:
        import pandas as pd

        RESULTS.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(RESULTS / "motif_cli.tsv", sep="\t", index=False,
                                  float_format="%.3g")


if __name__ == "__main__":
    main()
