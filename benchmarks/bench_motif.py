"""Planted-motif benchmark of ``emseq.motif.discover`` against MEME 5.4.1's recorded figures.

Background: an order-2 Markov model trained on real Drosophila sequence
(``mini-drosoph.s``); sites: the 10 JASPAR 2026 CORE vertebrate motifs of
``jaspar2026_core_vert10.meme``, on random strands. Sets (each repeated over motifs):

- ``20x200`` OOPS / ZOOPS (about half the sequences carry a site) / TCM (Poisson(1) sites
  per sequence);
- ``500x100`` ChIP-like ZOOPS (70 % of sequences carry a site);
- ``2000x500`` (1 Mbp) ZOOPS (50 %);
- ``100000x200`` (20 Mbp, ChIP-seq peaks at scale) ZOOPS (50 %);
- the classic sets with MEME's default widths 8-50: crp0 (OOPS/ZOOPS/TCM, scored against its
  24 known CRP sites) and lex0 (is LexA the top motif?);
- a few very long sequences: ``3x100000`` TCM (60 sites per sequence) beside ``300x1000`` TCM
  (0.6 per sequence), the same letters and site density;
- a scaling series of ZOOPS sets from 100 kbp to 1 Mbp (500 bp sequences) for the growth
  exponent of time with total length;
- discriminative mode (``--decoy``, ``--sets decoy``): ``60x200`` primary sets carrying a
  decoy motif (CTCF, 80 % of the sequences) and a target motif (50 %), with a control set
  carrying the decoy alone; ``classic`` (no control), ``de`` and ``se`` are scored against the
  target's sites (top motif), plus whether the decoy was reported as significant (E < 0.05)
  among the two motifs asked for.

Accuracy: nSn, nPPV, nPC, sSn, sPPV (Tompa et al. 2005; a site is found when it overlaps a
true one by >= 1/4 of its width) and PWM correlation with the planted motif. Every run is a
fresh subprocess so its peak memory (ru_maxrss) is its own. MEME is not installable here: its
figures measured on this machine (issue 4) are printed beside emseq's, with the ratio.

Usage: ``python benchmarks/bench_motif.py [--quick] [-p 2]``; results in
``benchmarks/results/motif.tsv`` (one row per set) and ``motif_runs.tsv`` (one row per run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EMSEQ_MOTIF_DATA", "/work/shared/data/motifs"))
if not SHARED.is_dir():
    SHARED = ROOT / "data" / "motif"
RESULTS = ROOT / "benchmarks" / "results"

# MEME 5.4.1 on this machine (issue 4): mean nPC and single-thread CPU seconds
MEME = {
    "20x200 oops": {"nPC": 0.86, "seconds": None},
    "20x200 zoops": {"nPC": 0.45, "seconds": None},
    "20x200 tcm": {"nPC": 0.80, "seconds": None},
    "500x100 zoops": {"nPC": 0.83, "seconds": 136.0},
    "2000x500 zoops": {"nPC": 0.80, "seconds": 246.0},
    "crp0 oops": {"nPC": 0.56, "seconds": None},
    "crp0 zoops": {"nPC": 0.56, "seconds": None},
    "crp0 tcm": {"nPC": 0.69, "seconds": None},
}
#: the decoy motif of the discriminative sets (CTCF), in the primary and the control alike
DECOY = "MA0139.2"


def _crp_truth(path: Path) -> tuple[pd.DataFrame, dict[str, int]]:
    """Known CRP sites of crp0.s: header numbers are 1-based starts of 22-bp sites."""
    rows, lengths, name = [], {}, None
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            fields = line[1:].split()
            name = fields[0]
            lengths[name] = 0
            rows += [(name, int(p), int(p) + 21) for p in fields[1:]]
        elif name is not None:
            lengths[name] += len(line.strip())
    return pd.DataFrame(rows, columns=["sequence", "start", "end"]), lengths


def run_classic(case: dict) -> dict:
    """crp0 (scored against its known sites) or lex0 (LexA found or not)."""
    sys.path.insert(0, str(ROOT))
    from emseq.motif import discover
    from emseq.motif.simulate import site_accuracy

    path = SHARED / f"{case['data']}.s"
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    # MEME's default widths (8-50), as in MEME's own reference run on crp0
    result = discover(path, mod=case["mod"], minw=8, maxw=50, nmotifs=1,
                      n_threads=case["threads"], progress_bar=False)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    top = result.motifs[0]
    row = {"set": case["set"], "motif": top.consensus, "mod": case["mod"],
           "n": result.n_sequences, "length": 0, "threads": case["threads"],
           "letters": 0, "wall_s": wall, "cpu_s": cpu,
           "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
           "pwm_corr": float("nan"), "found": top.consensus, "width": top.width}
    if case["data"] == "crp0":
        truth, lengths = _crp_truth(path)
        row.update(site_accuracy(result.sites, truth, lengths))
    else:
        comp = str.maketrans("ACGT", "TGCA")
        cons = top.consensus
        hit = any("CTGT" in c and c.rfind("CAG") > c.find("CTGT") + 8
                  for c in (cons, cons.translate(comp)[::-1]))
        row.update({"nSn": float("nan"), "nPPV": float("nan"), "nPC": float("nan"),
                    "sSn": float("nan"), "sPPV": float("nan"), "lexa_found": hit})
    return row


def _training_background(order: int = 2) -> np.ndarray:
    sys.path.insert(0, str(ROOT))
    from emseq.io.fasta import read_fasta
    from emseq.motif.alphabet import encode
    from emseq.motif.background import Background

    records = read_fasta(SHARED / "mini-drosoph.s")
    data = encode([r.sequence for r in records])
    bg = Background.estimate(data, order, revcomp=True)
    start = sum(4 ** (o + 1) for o in range(order))
    return np.exp(bg.logcond[start:start + 4 ** (order + 1)]).reshape(-1, 4)


def run_case(case: dict) -> dict:
    """One planted set, one discover() run (executed in a child process)."""
    sys.path.insert(0, str(ROOT))
    from emseq.motif import discover
    from emseq.motif.simulate import plant, pwm_correlation, read_meme, site_accuracy

    motifs = read_meme(SHARED / "jaspar2026_core_vert10.meme")
    pwm = motifs[case["motif"]]
    rng = np.random.default_rng(case["seed"])
    cond = np.array(case["cond"])
    planted = plant(rng, pwm, case["n"], case["length"], model=case["plant"], cond=cond,
                    zoops_fraction=case.get("fraction", 0.5),
                    tcm_rate=case.get("fraction", 1.0) if case["plant"] == "tcm" else 1.0)
    with tempfile.TemporaryDirectory() as tmp:
        fasta = Path(tmp) / "set.fa"
        planted.write_fasta(fasta)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        result = discover(fasta, mod=case["mod"], minw=6, maxw=20, nmotifs=1,
                          n_threads=case["threads"], progress_bar=False)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    lengths = {n: case["length"] for n in planted.names}
    acc = site_accuracy(result.sites, planted.sites, lengths)
    corr = pwm_correlation(result.motifs[0].pwm, pwm) if len(result.motifs) else float("nan")
    return {**{k: case[k] for k in ("set", "motif", "mod", "n", "length", "threads")},
            "letters": case["n"] * case["length"], "wall_s": wall, "cpu_s": cpu,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "pwm_corr": corr, "found": result.motifs[0].consensus if len(result.motifs) else "",
            "width": result.motifs[0].width if len(result.motifs) else 0, **acc}


def run_decoy(case: dict) -> dict:
    """One decoy set (see the module doc), one objective."""
    sys.path.insert(0, str(ROOT))
    from emseq.motif import discover
    from emseq.motif.simulate import plant, pwm_correlation, read_meme, site_accuracy

    motifs = read_meme(SHARED / "jaspar2026_core_vert10.meme")
    target, decoy = motifs[case["motif"]], motifs[DECOY]
    rng = np.random.default_rng(case["seed"])
    cond = np.array(case["cond"])
    n, length = case["n"], case["length"]
    with_decoy = plant(rng, decoy, n, length, cond=cond, zoops_fraction=0.8)
    primary = plant(rng, target, n, length, cond=cond, zoops_fraction=0.5, into=with_decoy)
    control = plant(rng, decoy, n, length, cond=cond, zoops_fraction=0.8)
    extra = {} if case["objfun"] == "classic" else {"neg": control.sequences,
                                                    "objfun": case["objfun"]}
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    result = discover(primary.sequences, mod="zoops", minw=6, maxw=20, nmotifs=2,
                      n_threads=case["threads"], progress_bar=False, **extra)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    top = result.motifs[0]
    sites = result.sites[result.sites["motif"] == top.id]
    acc = site_accuracy(sites, primary.sites, {name: length for name in primary.names})
    # a significant motif that is the decoy: closer to it than to the target (E2F1's GGCGCC
    # core also matches a part of CTCF)
    decoy_significant = any(
        m.log10_e_value < np.log10(0.05)
        and pwm_correlation(m.pwm, decoy) > max(0.8, pwm_correlation(m.pwm, target))
        for m in result.motifs)
    return {**{k: case[k] for k in ("set", "motif", "n", "length", "threads")},
            "mod": case["objfun"], "letters": n * length, "wall_s": wall, "cpu_s": cpu,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "pwm_corr": pwm_correlation(top.pwm, target), "found": top.consensus,
            "width": top.width, "log10_e": top.log10_e_value,
            "decoy_significant": decoy_significant, **acc}


def _spawn(case: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"case {case['set']} {case['motif']} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("-p", "--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="fewer motifs per set")
    parser.add_argument("--sets", default="all", help="comma-separated set names, or all")
    parser.add_argument("--out", type=Path, default=RESULTS / "motif.tsv",
                        help="the summary table (per-run rows beside it, *_runs.tsv)")
    parser.add_argument("--decoy", action="store_true",
                        help="only the discriminative (decoy) sets: results in motif_decoy.tsv")
    args = parser.parse_args()
    if args.case:
        case = json.loads(args.case)
        runner = (run_decoy if "objfun" in case else run_classic if "data" in case
                  else run_case)
        print(json.dumps(runner(case)))
        return
    cond = _training_background().tolist()
    names = ["MA0139.2", "MA0138.3", "MA0080.7", "MA0466.4", "MA0106.3", "MA0113.4",
             "MA0148.5", "MA0039.5", "MA0024.3", "MA0002.3"]
    small = names[:4] if args.quick else names
    big = names[:2] if args.quick else names[:3]
    plan = [
        ("20x200 oops", "oops", "oops", 20, 200, 0.5, small),
        ("20x200 zoops", "zoops", "zoops", 20, 200, 0.5, small),
        ("20x200 tcm", "tcm", "tcm", 20, 200, 1.0, small),
        ("500x100 zoops", "zoops", "zoops", 500, 100, 0.7, small),
        ("2000x500 zoops", "zoops", "zoops", 2000, 500, 0.5, big),
    ]
    # a few very long sequences (TCM, one site per ~1.7 kbp), against the same letters in
    # 1 kbp sequences: near-linear means the two take about the same time
    plan.append(("3x100000 tcm", "tcm", "tcm", 3, 100_000, 60.0, big))
    plan.append(("300x1000 tcm", "tcm", "tcm", 300, 1000, 0.6, big))
    scaling = [("scale 200x500", 200), ("scale 500x500", 500), ("scale 1000x500", 1000)]
    for label, n in scaling:
        plan.append((label, "zoops", "zoops", n, 500, 0.5, big))
    # ChIP-seq at scale: 100,000 peaks of 200 bp (20 Mbp), half with a site
    plan.append(("100000x200 zoops", "zoops", "zoops", 100_000, 200, 0.5, big))
    # the same 1 Mbp sets on one thread: the OpenMP speed-up of -p N
    plan.append(("2000x500 zoops -p 1", "zoops", "zoops", 2000, 500, 0.5, big))
    if args.decoy:
        decoy_benchmark([n for n in names if n != DECOY][:4 if args.quick else 9], cond,
                        args.threads)
        return
    wanted = None if args.sets == "all" else set(s.strip() for s in args.sets.split(","))
    runs = []
    for data, mods in (("crp0", ("oops", "zoops", "tcm")), ("lex0", ("zoops",))):
        for mod in mods:
            label = f"{data} {mod}"
            if wanted and label not in wanted:
                continue
            row = _spawn({"set": label, "data": data, "mod": mod, "threads": args.threads,
                          "motif": data})
            runs.append(row)
            print(f"  {label:16s} {row['wall_s']:6.2f} s  nPC {row['nPC']:.2f}  "
                  f"{row['found']}", file=sys.stderr, flush=True)
    for label, mod, kind, n, length, fraction, motifs in plan:
        if wanted and label not in wanted:
            continue
        for i, motif in enumerate(motifs):
            case = {"set": label, "motif": motif, "mod": mod, "plant": kind, "n": n,
                    "length": length, "fraction": fraction, "seed": 1000 + i,
                    "threads": 1 if label.endswith("-p 1") else args.threads, "cond": cond}
            row = _spawn(case)
            runs.append(row)
            print(f"  {label:16s} {motif}  {row['wall_s']:6.2f} s  nPC {row['nPC']:.2f}  "
                  f"corr {row['pwm_corr']:.2f}  {row['found']}", file=sys.stderr, flush=True)
    frame = pd.DataFrame(runs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out.with_name(args.out.stem + "_runs.tsv"), sep="\t", index=False)
    metrics = ["nSn", "nPPV", "nPC", "sSn", "sPPV", "pwm_corr", "wall_s", "cpu_s", "peak_mb"]
    summary = frame.groupby("set", sort=False).agg(
        letters=("letters", "first"), runs=("found", "size"), found=("found", "first"),
        **{m: (m, "mean") for m in metrics}).reset_index()
    summary["meme_nPC"] = [MEME.get(s, {}).get("nPC") for s in summary["set"]]
    summary["meme_cpu_s"] = [MEME.get(s, {}).get("seconds") for s in summary["set"]]
    summary["nPC_ratio"] = summary["nPC"] / summary["meme_nPC"]
    summary["speedup_vs_meme_cpu"] = summary["meme_cpu_s"] / summary["cpu_s"]
    # growth exponent of wall time with total length over the ZOOPS 500-bp series
    series = frame[frame["set"].str.startswith("scale") | (frame["set"] == "2000x500 zoops")]
    exponent = float("nan")
    if series["letters"].nunique() >= 2:
        g = series.groupby("letters")["wall_s"].mean()
        exponent = float(np.polyfit(np.log(g.index.to_numpy(float)), np.log(g.to_numpy()), 1)[0])
    summary["time_exponent"] = exponent
    summary.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(summary.round(3).to_string(index=False))
    print(f"\ngrowth exponent of wall time vs total length (100 kbp .. 1 Mbp): {exponent:.2f}")


def decoy_benchmark(targets: list[str], cond: list, threads: int) -> None:
    """classic vs de vs se on the decoy sets: ``motif_decoy.tsv`` (per run) and
    ``motif_decoy_summary.tsv``."""
    runs = []
    for i, motif in enumerate(targets):
        for objfun in ("classic", "de", "se"):
            case = {"set": "decoy 60x200", "motif": motif, "objfun": objfun, "n": 60,
                    "length": 200, "seed": 2000 + i, "threads": threads, "cond": cond}
            row = _spawn(case)
            runs.append(row)
            print(f"  {motif} {objfun:7s} {row['cpu_s']:5.2f} CPU s  nPC {row['nPC']:.2f}  "
                  f"corr {row['pwm_corr']:.2f}  E 10^{row['log10_e']:.1f}  decoy significant "
                  f"{row['decoy_significant']}  {row['found']}", file=sys.stderr, flush=True)
    frame = pd.DataFrame(runs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    frame.to_csv(RESULTS / "motif_decoy.tsv", sep="\t", index=False, float_format="%.4g")
    summary = frame.groupby("mod", sort=False).agg(
        runs=("found", "size"), nPC=("nPC", "mean"), sSn=("sSn", "mean"),
        sPPV=("sPPV", "mean"), target_found=("pwm_corr", lambda r: float((r > 0.9).mean())),
        decoy_significant=("decoy_significant", "mean"), cpu_s=("cpu_s", "mean"),
        wall_s=("wall_s", "mean")).reset_index().rename(columns={"mod": "objfun"})
    summary.to_csv(RESULTS / "motif_decoy_summary.tsv", sep="\t", index=False,
                   float_format="%.3g")
    print(summary.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
