"""Calibration of inferential replicates against a simulation's truth: emseq vs Salmon.

For each simulated sample (``benchmarks/simulate_reads.py`` output: ``aligned.bam``,
``transcripts.fa``, ``truth.tsv``), in one run:

* emseq: the EM once, then ``R`` Gibbs samples (default thinning 64, and Salmon's 16) and
  ``R`` bootstrap replicates from the same equivalence classes (the samplers' own seconds);
* Salmon 1.10 alignment mode three times: ``--numGibbsSamples R`` (thinning 16, its
  default, and 64) and ``--numBootstraps R``.

Scored, per kind of replicate, over transcripts whose true count is >= 5: the share whose
true count lies inside the central 50 %, 80 % and 95 % interval of the replicates
(percentiles), overall and binned by expression (true count) and by ambiguity (the share of
the fragments compatible with the transcript that sit in classes of more than one transcript,
from emseq's classes); transcripts with >= 10 estimated reads and zero spread; median coefficient
of variation (estimate >= 10 reads).

Two truths are scored. ``expected``: the mean count the simulation drew from,
``num_mapped * p_t`` with ``p_t`` proportional to ``SimTPM * EffectiveLength`` -- the abundance
a replicate is meant to describe. ``realized``: the fragments actually simulated from the
transcript (``truth.tsv`` NumReads). With ``R`` replicates even exact posterior draws cover
less than nominal with percentile intervals; the ``exact draws`` row gives that ceiling
(measured on Normal draws), so "nominal" for R = 30 at 95 % is ~0.895, not 0.95.

Usage::

    for s in 21 22 23 24; do python benchmarks/simulate_reads.py -o benchmarks/work/rep$s \\
        --n-transcripts 300 --n-pairs 100000 --seed $s -p 2; done
    python benchmarks/bench_replicates.py benchmarks/work/rep2? -R 30 \\
        --out benchmarks/results/replicates.tsv
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emseq.quant import quantify  # noqa: E402
from emseq.quant.model import GIBBS_THINNING, EMOptions, bootstrap, gibbs  # noqa: E402

LEVELS = (0.5, 0.8, 0.95)
EXPRESSION_BINS = [5, 20, 100, 1000, np.inf]
AMBIGUITY_BINS = [-1e-9, 0.1, 0.5, 1.0 + 1e-9]


def exact_draw_ceiling(n_replicates: int, level: float, n: int = 200_000, seed: int = 0) -> float:
    """Coverage of the central ``level`` percentile interval of ``n_replicates`` exact draws."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_replicates, n))
    t = rng.normal(size=n)
    lo, hi = np.percentile(x, [50 * (1 - level), 50 * (1 + level)], axis=0)
    return float(((t >= lo) & (t <= hi)).mean())


def read_salmon_replicates(directory: Path, names: list[str]) -> np.ndarray:
    boot = directory / "aux_info" / "bootstrap"
    order = gzip.decompress((boot / "names.tsv.gz").read_bytes()).decode().strip().split("\t")
    values = np.frombuffer(gzip.decompress((boot / "bootstraps.gz").read_bytes()), dtype="<f8")
    values = values.reshape(-1, len(order))
    return pd.DataFrame(values, columns=order)[names].to_numpy()


def run_salmon(sim: Path, out: Path, options: list[str], threads: int
               ) -> tuple[np.ndarray, float]:
    cmd = ["salmon", "quant", "-t", str(sim / "transcripts.fa"), "-l", "A", "-a",
           str(sim / "aligned.bam"), "-p", str(threads), *options, "-o", str(out), "-q"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    seconds = time.perf_counter() - t0
    names = pd.read_csv(sim / "truth.tsv", sep="\t")["Name"].tolist()
    return read_salmon_replicates(out, names), seconds


def ambiguity(result) -> np.ndarray:
    """Share of the fragments compatible with each transcript that sit in classes of more than
    one transcript (from the classes, not the estimate: a transcript whose fragments are all
    shared with a sibling is fully ambiguous even where the EM estimate set it to zero)."""
    eq = result.eq_classes
    sizes = np.diff(eq.offsets)
    n_tx = len(result.names)
    class_counts = np.repeat(eq.counts, sizes)
    compatible = np.bincount(eq.tids, weights=class_counts, minlength=n_tx)
    unique = np.bincount(eq.tids, weights=class_counts * np.repeat(sizes == 1, sizes),
                         minlength=n_tx)
    return 1.0 - np.divide(unique, compatible, out=np.ones(n_tx), where=compatible > 0)


def score(reps: np.ndarray, truth: np.ndarray, est: np.ndarray, amb: np.ndarray) -> dict:
    mask = truth >= 5
    row: dict = {}
    for level in LEVELS:
        lo, hi = np.percentile(reps, [50 * (1 - level), 50 * (1 + level)], axis=0)
        inside = (truth >= lo) & (truth <= hi)
        row[f"cov{int(level * 100)}"] = inside[mask]
    row["truth"] = truth[mask]
    row["ambiguity"] = amb[mask]
    sd = reps.std(axis=0)
    big = est >= 10
    row["zero_spread"] = int(((sd == 0) & big).sum())
    row["cv"] = (sd[big] / np.maximum(reps.mean(axis=0)[big], 1e-12)).tolist()
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sims", nargs="+", type=Path, help="simulate_reads.py output directories")
    p.add_argument("-R", "--replicates", type=int, default=30)
    p.add_argument("-p", "--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "replicates.tsv")
    p.add_argument("--no-salmon", action="store_true")
    args = p.parse_args(argv)
    R = args.replicates
    use_salmon = not args.no_salmon and shutil.which("salmon") is not None
    parts: dict[str, list[dict]] = {}
    seconds: dict[str, float] = {}
    for i, sim in enumerate(args.sims):
        truth = pd.read_csv(sim / "truth.tsv", sep="\t")
        names = truth["Name"].tolist()
        result = quantify(sim / "aligned.bam", sim / "transcripts.fa", n_threads=args.threads,
                          show_progress=False)
        est = result.abundances["NumReads"].to_numpy()
        efflen = result.abundances["EffectiveLength"].to_numpy()
        weight = truth["SimTPM"].to_numpy() * truth["EffectiveLength"].to_numpy()
        truths = {"expected": result.num_mapped * weight / weight.sum(),
                  "realized": truth["NumReads"].to_numpy(float)}
        amb = ambiguity(result)
        reps = {}
        for label, thinning in (("emseq gibbs", GIBBS_THINNING), ("emseq gibbs thinning 16", 16)):
            t0 = time.perf_counter()
            reps[label] = gibbs(result.eq_classes, efflen, est, R, thinning=thinning, seed=i)
            seconds[label] = seconds.get(label, 0) + time.perf_counter() - t0
        t0 = time.perf_counter()
        reps["emseq bootstrap"] = bootstrap(result.eq_classes, efflen,
                                            EMOptions(n_threads=1), R, start=est, seed=i,
                                            n_threads=args.threads)
        seconds["emseq bootstrap"] = seconds.get("emseq bootstrap", 0) + time.perf_counter() - t0
        if use_salmon:
            with tempfile.TemporaryDirectory() as tmp:
                for kind, options in (
                        ("gibbs", ["--numGibbsSamples", str(R)]),
                        ("gibbs thinning 64", ["--numGibbsSamples", str(R),
                                               "--thinningFactor", str(GIBBS_THINNING)]),
                        ("bootstrap", ["--numBootstraps", str(R)])):
                    reps[f"salmon {kind}"], s = run_salmon(sim, Path(tmp) / kind.split()[0],
                                                           options, args.threads)
                    seconds[f"salmon {kind} (whole run)"] = seconds.get(
                        f"salmon {kind} (whole run)", 0) + s
        for tool, r in reps.items():
            for truth_name, t in truths.items():
                parts.setdefault(f"{tool}|{truth_name}", []).append(score(r, t, est, amb))
        print(f"{sim}: {len(names)} transcripts, {result.num_mapped} mapped", file=sys.stderr)
    rows = []
    for key, runs in parts.items():
        tool, truth_name = key.split("|")
        cat = {k: np.concatenate([np.asarray(r[k]) for r in runs])
               for k in ("cov50", "cov80", "cov95", "truth", "ambiguity", "cv")}
        base = {"replicates": tool, "truth": truth_name}
        overall = {**base, "bin": "all", "n": int(cat["truth"].size),
                   **{f"cov{c}": float(cat[f"cov{c}"].mean()) for c in (50, 80, 95)},
                   "zero_spread_ge10": int(sum(r["zero_spread"] for r in runs)),
                   "median_cv_ge10": float(np.median(cat["cv"]))}
        rows.append(overall)
        for label, values, bins in (("count", cat["truth"], EXPRESSION_BINS),
                                    ("ambiguity", cat["ambiguity"], AMBIGUITY_BINS)):
            which = np.digitize(values, bins) - 1
            for b in range(len(bins) - 1):
                m = which == b
                if not m.any():
                    continue
                lo, hi = bins[b], bins[b + 1]
                rows.append({**base, "bin": f"{label} [{max(lo, 0):g}, {hi:g})", "n": int(m.sum()),
                             **{f"cov{c}": float(cat[f"cov{c}"][m].mean()) for c in (50, 80, 95)}})
    rows.append({"replicates": f"exact draws (R={R})", "truth": "-", "bin": "ceiling",
                 **{f"cov{int(lv * 100)}": exact_draw_ceiling(R, lv) for lv in LEVELS}})
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False, float_format="%.3f")
    info = {"sims": [str(s) for s in args.sims], "replicates": R, "threads": args.threads,
            "seconds": {k: round(v, 2) for k, v in seconds.items()}}
    args.out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(table[table["bin"].isin(["all", "ceiling"])].to_string(index=False,
                                                                      float_format="%.3f"))
        print(json.dumps(info["seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
